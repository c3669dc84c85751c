package manifest

import (
	"fmt"
	"strings"
)

// Error describes one problem with one document of a manifest. Decode and
// Decoder.Next return it, joined with errors.Join when a document has more
// than one problem; use errors.As to get at its fields.
//
// Its message reads
//
//	pod.yaml: document 2 (Pod "web"): spec.containers[0].imagePullPolcy: unknown field; did you mean "imagePullPolicy"?
type Error struct {
	// Source is the name given to Decode or NewDecoder, such as a file name.
	Source string
	// Index is the 0-based position of the document in the source, counting
	// empty documents.
	Index int
	// Item is the 0-based position of the object in a List document's items,
	// or -1 when the document is not a List.
	Item int
	// Kind and Name identify the object as far as the document says; either
	// may be empty.
	Kind, Name string
	// Path is the field path, such as spec.containers[0].image, or empty
	// when the problem is with the document as a whole.
	Path string
	// Line and Column locate the problem in the source (1-based), or are 0
	// when unknown.
	Line, Column int
	// Msg says what is wrong and, where it can, what to write instead.
	Msg string
}

func (e *Error) Error() string {
	var b strings.Builder
	if e.Source != "" {
		b.WriteString(e.Source)
		b.WriteString(": ")
	}
	fmt.Fprintf(&b, "document %d", e.Index+1)
	if e.Item >= 0 {
		fmt.Fprintf(&b, ", items[%d]", e.Item)
	}
	switch {
	case e.Kind != "" && e.Name != "":
		fmt.Fprintf(&b, " (%s %q)", e.Kind, e.Name)
	case e.Kind != "":
		fmt.Fprintf(&b, " (%s)", e.Kind)
	}
	b.WriteString(": ")
	if e.Path != "" {
		b.WriteString(e.Path)
		b.WriteString(": ")
	}
	b.WriteString(e.Msg)
	return b.String()
}
