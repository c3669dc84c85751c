package manifest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"unicode/utf8"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// FuzzDecode checks that no input crashes Decode, that every error it
// returns names a document, and that every object it returns survives
// Encode and Decode again unchanged, in both formats. Seeds are in
// testdata/fuzz/FuzzDecode.
func FuzzDecode(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := Decode(bytes.NewReader(data), "fuzz")
		if err != nil {
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %T is not an *Error: %v", err, err)
			}
		}
		if len(objs) == 0 {
			return
		}
		msgs := make([]proto.Message, len(objs))
		for i, o := range objs {
			msgs[i] = o.Message
		}
		for _, format := range []string{FormatYAML, FormatJSON} {
			var buf bytes.Buffer
			if err := Encode(&buf, format, msgs...); err != nil {
				t.Fatalf("Encode %s: %v", format, err)
			}
			out := buf.String()
			back, err := Decode(&buf, "encoded")
			if err != nil {
				t.Fatalf("Decode of %s from Encode: %v\n%s", format, err, out)
			}
			if len(back) != len(msgs) {
				t.Fatalf("%s: got %d objects back, want %d\n%s", format, len(back), len(msgs), out)
			}
			for i := range msgs {
				if !proto.Equal(back[i].Message, msgs[i]) {
					t.Fatalf("%s: object %d changed in a round trip\ngot\n%s\nwant\n%s\nencoded\n%s", format, i,
						prototext.Format(back[i].Message), prototext.Format(msgs[i]), out)
				}
			}
		}
	})
}

// FuzzEncodeString checks that any string, as a map key, a map value and
// a list element, survives Encode and Decode in both formats: the YAML
// encoder picks a style per string, and not every style reads back.
func FuzzEncodeString(f *testing.F) {
	for _, s := range []string{"", "plain", "a\nb", "\t\n", " lead", "trail ", "a  b", "- x", "k: v", "#", "\u2028", "\ufeffx", "\x00", "0x1F", "~", "'\"", strings.Repeat("word ", 40)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if !utf8.ValidString(s) {
			return
		}
		pod := &wharfv1.Pod{
			Metadata: &wharfv1.ObjectMeta{Name: s, Labels: map[string]string{s: s}},
			Spec:     &wharfv1.PodSpec{Containers: []*wharfv1.Container{{Name: "c", Command: []string{s, s + "\n" + s}}}},
		}
		for _, format := range []string{FormatYAML, FormatJSON} {
			var buf bytes.Buffer
			if err := Encode(&buf, format, pod); err != nil {
				t.Fatalf("Encode %s: %v", format, err)
			}
			out := buf.String()
			back, err := Decode(&buf, "encoded")
			if err != nil || len(back) != 1 {
				t.Fatalf("Decode of %s from Encode: %d objects, %v\n%s", format, len(back), err, out)
			}
			if !proto.Equal(back[0].Message, pod) {
				t.Fatalf("%s: changed in a round trip\ngot\n%s\nencoded\n%s", format, prototext.Format(back[0].Message), out)
			}
		}
	})
}
