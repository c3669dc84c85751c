package manifest

import (
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// Object is one object decoded from a manifest.
type Object struct {
	// Kind is the object's entry in wharfv1.Kinds.
	Kind wharfv1.KindInfo
	// Message is the decoded object, of the type Kind.New returns (for
	// example *wharfv1.Pod).
	Message proto.Message
	// Source is the name given to Decode or NewDecoder.
	Source string
	// Index is the 0-based position of the document in the source, counting
	// empty documents.
	Index int
	// Item is the 0-based position of the object in a List document's
	// items, or -1 when the document is the object itself.
	Item int
	// Line is the line (1-based) where the object starts, or 0 if unknown.
	Line int
}

// Metadata returns the object's metadata, or nil when it has none.
func (o Object) Metadata() *wharfv1.ObjectMeta {
	if m, ok := o.Message.(interface{ GetMetadata() *wharfv1.ObjectMeta }); ok {
		return m.GetMetadata()
	}
	return nil
}
