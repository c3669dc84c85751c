package apiserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/genproto/googleapis/rpc/errdetails"

	"github.com/wharfhq/wharf/daemon/store"
)

// apiError is an error meant for the API's user: a Connect code and a
// message that says what was wrong and what to do. The service layer returns
// these (or store sentinels); toConnect turns them into wire errors, in this
// one place.
type apiError struct {
	code   connect.Code
	msg    string
	fields []fieldError // for InvalidArgument
}

func (e *apiError) Error() string { return e.msg }

func newAPIError(code connect.Code, format string, args ...any) error {
	return &apiError{code: code, msg: fmt.Sprintf(format, args...)}
}

func errNotFound(k kindRef, ns, name string) error {
	return &apiError{code: connect.CodeNotFound, msg: k.describe(ns, name) + " not found"}
}

func errAlreadyExists(k kindRef, ns, name string) error {
	return &apiError{code: connect.CodeAlreadyExists, msg: k.describe(ns, name) +
		" already exists; use apply or update to change it, or pick another name"}
}

// errConflict says the object changed since the revision the request was
// based on. have is the current resourceVersion when known.
func errConflict(k kindRef, ns, name string, have, sent string) error {
	what := "was modified concurrently"
	switch {
	case have != "" && sent != "":
		what = fmt.Sprintf("was modified (resourceVersion is now %s, the request sent %s)", have, sent)
	case sent != "":
		what = fmt.Sprintf("was modified after resourceVersion %s", sent)
	}
	return &apiError{code: connect.CodeAborted, msg: k.describe(ns, name) + " " + what +
		"; get the latest version and apply your change to it"}
}

func errInvalid(k kindRef, name string, fields []fieldError) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %q is invalid: ", k.kind, name)
	for i, f := range fields {
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
	}
	return &apiError{code: connect.CodeInvalidArgument, msg: b.String(), fields: fields}
}

func errBadRequest(format string, args ...any) error {
	return newAPIError(connect.CodeInvalidArgument, format, args...)
}

// fieldError names one invalid field by its path in the JSON form of the
// object, e.g. spec.containers[0].image.
type fieldError struct {
	path   string
	detail string
}

func (f fieldError) String() string { return f.path + ": " + f.detail }

// toConnect maps any error the service layer returns to a Connect error. It
// is the only place that knows the mapping.
func toConnect(ctx context.Context, log *slog.Logger, procedure string, err error) error {
	if err == nil {
		return nil
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		return err
	}
	var ae *apiError
	if errors.As(err, &ae) {
		out := connect.NewError(ae.code, errors.New(ae.msg))
		if len(ae.fields) > 0 {
			br := &errdetails.BadRequest{}
			for _, f := range ae.fields {
				br.FieldViolations = append(br.FieldViolations, &errdetails.BadRequest_FieldViolation{Field: f.path, Description: f.detail})
			}
			if d, derr := connect.NewErrorDetail(br); derr == nil {
				out.AddDetail(d)
			}
		}
		return out
	}
	switch {
	case errors.Is(err, context.Canceled):
		return connect.NewError(connect.CodeCanceled, errors.New("request canceled"))
	case errors.Is(err, context.DeadlineExceeded):
		return connect.NewError(connect.CodeDeadlineExceeded, errors.New("request deadline exceeded"))
	case errors.Is(err, store.ErrCompacted):
		return connect.NewError(connect.CodeOutOfRange, errors.New(
			"the requested resourceVersion is older than the kept history; list again and watch from the list's resourceVersion"))
	case errors.Is(err, store.ErrWatcherTooSlow):
		return connect.NewError(connect.CodeUnavailable, errors.New(
			"watch fell behind and was closed; watch again from the last resourceVersion received"))
	case errors.Is(err, store.ErrClosed):
		return connect.NewError(connect.CodeUnavailable, errors.New("server is shutting down; retry against a running server"))
	}
	log.ErrorContext(ctx, "request failed", "procedure", procedure, "err", err)
	return connect.NewError(connect.CodeInternal, errors.New("internal error; the server log has the details"))
}
