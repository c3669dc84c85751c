package client

import (
	"errors"

	"connectrpc.com/connect"
)

// ErrWatchClosed is returned by Watcher.Next when the server ended the
// watch without an error (for instance on shutdown): watch again.
var ErrWatchClosed = errors.New("watch closed by the server")

// IsNotFound reports whether err says the object does not exist.
func IsNotFound(err error) bool { return connect.CodeOf(err) == connect.CodeNotFound }

// IsAlreadyExists reports whether err says the name is taken.
func IsAlreadyExists(err error) bool { return connect.CodeOf(err) == connect.CodeAlreadyExists }

// IsConflict reports whether err says the object changed since the
// resourceVersion the request named: get it again and retry.
func IsConflict(err error) bool { return connect.CodeOf(err) == connect.CodeAborted }

// IsInvalid reports whether err says the object was invalid.
func IsInvalid(err error) bool { return connect.CodeOf(err) == connect.CodeInvalidArgument }

// IsCompacted reports whether a watch or continue token named a revision
// older than the server's kept history: list again.
func IsCompacted(err error) bool { return connect.CodeOf(err) == connect.CodeOutOfRange }

// IsWatchCutOff reports whether the server closed a watch that fell
// behind, or ended it on shutdown: watch again from the last revision.
func IsWatchCutOff(err error) bool {
	return connect.CodeOf(err) == connect.CodeUnavailable || errors.Is(err, ErrWatchClosed)
}
