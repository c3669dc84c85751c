package plugin

import "google.golang.org/protobuf/proto"

// AdmissionRequest is one write under admission.
type AdmissionRequest struct {
	// Operation is CREATE, UPDATE or DELETE.
	Operation string
	// Kind is the object's kind, e.g. "Pod"; Object and OldObject are its
	// wharf.v1 message (*wharfv1.Pod).
	Kind      string
	Namespace string
	Name      string
	// Object is the object to be stored; nil on DELETE. A Mutator changes
	// it in place.
	Object proto.Message
	// OldObject is the stored object; nil on CREATE.
	OldObject proto.Message
	User      UserInfo
	// DryRun: nothing will be stored.
	DryRun bool

	warnings []string
}

// UserInfo is who made a request.
type UserInfo struct {
	Name   string
	Groups []string
}

// Warn adds a warning the user sees even when the request is allowed.
func (r *AdmissionRequest) Warn(msg string) { r.warnings = append(r.warnings, msg) }

// Mutator changes objects before they are validated and stored
// (admission.mutate).
type Mutator interface {
	// Mutate changes req.Object in place (or leaves it). An error refuses
	// the request with its text, unless it is a Fail.
	Mutate(req *AdmissionRequest) error
}

// Validator refuses objects (admission.validate).
type Validator interface {
	// Validate returns nil to allow the request, or an error whose text
	// tells the user what is wrong and what to do. It must not change
	// req.Object.
	Validate(req *AdmissionRequest) error
}
