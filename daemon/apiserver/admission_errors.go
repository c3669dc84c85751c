package apiserver

import (
	"fmt"

	"connectrpc.com/connect"
)

// AdmissionDenied is the error an admission plugin that stands for other
// plugins (the plugin host's registry) returns to refuse a request in the
// name of the plugin that decided: the user reads
// `admission plugin "<plugin>" denied the request: <reason>` (PermissionDenied).
func AdmissionDenied(plugin, reason string) error {
	return &apiError{code: connect.CodePermissionDenied, msg: fmt.Sprintf("admission plugin %q denied the request: %s", plugin, reason)}
}

// AdmissionFailed is the error for an admission plugin that failed (crashed,
// timed out or answered garbage) under failurePolicy Fail: the request is
// refused with Unavailable, so a client may retry once the plugin is fixed.
func AdmissionFailed(plugin string, err error) error {
	return &apiError{code: connect.CodeUnavailable, msg: fmt.Sprintf(
		"admission plugin %q failed, so the request was refused (its failurePolicy is Fail): %v; see `wharf plugin describe %s`", plugin, err, plugin)}
}
