package apiserver

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
)

// The request chain: authenticate -> authorize -> admission (mutating,
// then validating) -> validate -> persist. Authentication runs in a Connect
// interceptor (it needs only headers); authorization and admission run in
// the generic resource, where the verb, kind, namespace and objects are
// known. Today authentication and authorization allow everyone; later work
// fills these links without touching the verbs.

// UserInfo is who made a request.
type UserInfo struct {
	Name   string
	Groups []string
}

// Anonymous is the user of an unauthenticated request.
var Anonymous = UserInfo{Name: "system:anonymous", Groups: []string{"system:unauthenticated"}}

// Authenticator finds the user behind a request from its headers.
type Authenticator interface {
	Authenticate(ctx context.Context, procedure string, header http.Header) (UserInfo, error)
}

// Attributes is what an authorizer decides on.
type Attributes struct {
	User      UserInfo
	Verb      string // get, list, watch, create, update, update/status, delete
	Kind      string
	Namespace string
	Name      string
}

// Authorizer allows or denies a request; a denial is an error for the user.
type Authorizer interface {
	Authorize(ctx context.Context, a Attributes) error
}

// Operation is what an admitted request does.
type Operation string

const (
	OpCreate Operation = "CREATE"
	OpUpdate Operation = "UPDATE"
	OpDelete Operation = "DELETE"
)

// AdmissionRequest is what admission plugins see. Mutating plugins may
// change Object in place; validating plugins must not.
type AdmissionRequest struct {
	Operation Operation
	Kind      string
	Namespace string
	Name      string
	// Object is the object to be stored (nil on delete).
	Object proto.Message
	// OldObject is the stored object (nil on create).
	OldObject proto.Message
	User      UserInfo
}

// MutatingAdmission may change an object before it is validated and stored.
type MutatingAdmission interface {
	Name() string
	Admit(ctx context.Context, req *AdmissionRequest) error
}

// ValidatingAdmission may refuse an object; it must not change it.
type ValidatingAdmission interface {
	Name() string
	Validate(ctx context.Context, req *AdmissionRequest) error
}

// AdmissionMatcher is implemented by admission plugins that can tell,
// without being called, whether a request of an operation, kind and
// namespace concerns them: for a request that concerns none, the server
// skips what it would prepare for them (a bind copies the pod for them to
// compare with).
type AdmissionMatcher interface {
	Matches(op Operation, kind, namespace string) bool
}

// admissionApplies reports whether an admission plugin may take a request
// of op, kind and namespace.
func (s *Server) admissionApplies(op Operation, kind, ns string) bool {
	req := &AdmissionRequest{Operation: op, Kind: kind, Namespace: ns}
	return slices.ContainsFunc(s.cfg.mutating, func(m MutatingAdmission) bool { return takes(m, req) }) ||
		slices.ContainsFunc(s.cfg.validating, func(v ValidatingAdmission) bool { return takes(v, req) })
}

type allowAll struct{}

func (allowAll) Authenticate(context.Context, string, http.Header) (UserInfo, error) {
	return Anonymous, nil
}

func (allowAll) Authorize(context.Context, Attributes) error { return nil }

type userKey struct{}

// UserFrom returns the authenticated user of a request's context.
func UserFrom(ctx context.Context) UserInfo {
	if u, ok := ctx.Value(userKey{}).(UserInfo); ok {
		return u
	}
	return Anonymous
}

// WithUser returns ctx carrying u: in-process callers (scheduler,
// controllers) name themselves this way.
func WithUser(ctx context.Context, u UserInfo) context.Context {
	return context.WithValue(ctx, userKey{}, u)
}

func (s *Server) authorize(ctx context.Context, verb, kind, ns, name string) error {
	err := s.cfg.authorizer.Authorize(ctx, Attributes{User: UserFrom(ctx), Verb: verb, Kind: kind, Namespace: ns, Name: name})
	if err == nil {
		return nil
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return err
	}
	return newAPIError(connect.CodePermissionDenied, "%s may not %s %s: %v", UserFrom(ctx).Name, verb, kind, err)
}

// admit runs the mutating, then the validating admission plugins, but
// those that say (AdmissionMatcher) the request is not theirs.
func (s *Server) admit(ctx context.Context, req *AdmissionRequest) error {
	req.User = UserFrom(ctx)
	for _, m := range s.cfg.mutating {
		if !takes(m, req) {
			continue
		}
		if err := m.Admit(ctx, req); err != nil {
			return admissionError(m.Name(), err)
		}
	}
	for _, v := range s.cfg.validating {
		if !takes(v, req) {
			continue
		}
		if err := v.Validate(ctx, req); err != nil {
			return admissionError(v.Name(), err)
		}
	}
	return nil
}

// takes reports whether admission plugin p takes req: unless it says
// otherwise, it does.
func takes(p any, req *AdmissionRequest) bool {
	m, ok := p.(AdmissionMatcher)
	return !ok || m.Matches(req.Operation, req.Kind, req.Namespace)
}

func admissionError(plugin string, err error) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return err
	}
	return &apiError{code: connect.CodePermissionDenied, msg: fmt.Sprintf("admission plugin %q denied the request: %v", plugin, err)}
}

// authInterceptor authenticates every request and puts the user in its
// context.
type authInterceptor struct{ s *Server }

func (a authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		u, err := a.s.cfg.authenticator.Authenticate(ctx, req.Spec().Procedure, req.Header())
		if err != nil {
			return nil, connect.NewError(connect.CodeUnauthenticated, err)
		}
		return next(WithUser(ctx, u), req)
	}
}

func (a authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (a authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		u, err := a.s.cfg.authenticator.Authenticate(ctx, conn.Spec().Procedure, conn.RequestHeader())
		if err != nil {
			return connect.NewError(connect.CodeUnauthenticated, err)
		}
		return next(WithUser(ctx, u), conn)
	}
}
