package manifest

import (
	"encoding/base64"
	"fmt"
	"math"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// want names what a field's values must be, for error messages.
func want(fd protoreflect.FieldDescriptor) string {
	if fd.Message() != nil {
		switch fd.Message().FullName() {
		case "google.protobuf.Timestamp":
			return "an RFC 3339 timestamp"
		}
		return "a mapping"
	}
	switch fd.Kind() {
	case protoreflect.StringKind:
		return "a string"
	case protoreflect.BoolKind:
		return "true or false"
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return "a number"
	case protoreflect.EnumKind:
		return "one of " + enumNames(fd.Enum())
	case protoreflect.BytesKind:
		return "base64 data"
	default:
		return "an integer"
	}
}

func enumNames(ed protoreflect.EnumDescriptor) string {
	var names []string
	for i := range ed.Values().Len() {
		names = append(names, string(ed.Values().Get(i).Name()))
	}
	return strings.Join(names, ", ")
}

// scalar converts n to a value of fd's kind. lenient lets a string field
// take a number as written.
func (w *walker) scalar(fd protoreflect.FieldDescriptor, n *yaml.Node, path string, lenient bool) (protoreflect.Value, bool) {
	var none protoreflect.Value
	if !w.visit(n) {
		return none, false
	}
	bad := func() (protoreflect.Value, bool) {
		w.fail(n, path, "want %s, got %s", want(fd), describe(n))
		return none, false
	}
	if n.Kind != yaml.ScalarNode {
		return bad()
	}
	tag := n.ShortTag()
	switch fd.Kind() {
	case protoreflect.StringKind:
		switch {
		case tag == strTag:
			return protoreflect.ValueOfString(n.Value), true
		case tag == timestampTag && n.Style&yaml.TaggedStyle == 0:
			// A plain 2024-05-01 is a string to a string field.
			return protoreflect.ValueOfString(n.Value), true
		case lenient && (tag == intTag || tag == floatTag):
			return protoreflect.ValueOfString(n.Value), true
		case tag == intTag || tag == floatTag || tag == boolTag:
			w.fail(n, path, "want a string, got %s (write %q for the string)", describe(n), n.Value)
			return none, false
		}
		return bad()

	case protoreflect.BoolKind:
		var b bool
		if tag != boolTag || n.Decode(&b) != nil {
			return bad()
		}
		return protoreflect.ValueOfBool(b), true

	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		i, ok := w.signed(n, path, math.MinInt32, math.MaxInt32)
		return protoreflect.ValueOfInt32(int32(i)), ok
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		i, ok := w.signed(n, path, math.MinInt64, math.MaxInt64)
		return protoreflect.ValueOfInt64(i), ok
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		u, ok := w.unsigned(n, path, math.MaxUint32)
		return protoreflect.ValueOfUint32(uint32(u)), ok
	case protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		u, ok := w.unsigned(n, path, math.MaxUint64)
		return protoreflect.ValueOfUint64(u), ok

	case protoreflect.FloatKind, protoreflect.DoubleKind:
		var f float64
		switch {
		case tag == intTag || tag == floatTag:
			if n.Decode(&f) != nil {
				return bad()
			}
		case tag == strTag && n.Value == "NaN":
			f = math.NaN()
		case tag == strTag && n.Value == "Infinity":
			f = math.Inf(1)
		case tag == strTag && n.Value == "-Infinity":
			f = math.Inf(-1)
		default:
			return bad()
		}
		if fd.Kind() == protoreflect.FloatKind {
			if !math.IsInf(f, 0) && math.Abs(f) > math.MaxFloat32 {
				w.fail(n, path, "want a 32-bit floating point number, got %s", describe(n))
				return none, false
			}
			return protoreflect.ValueOfFloat32(float32(f)), true
		}
		return protoreflect.ValueOfFloat64(f), true

	case protoreflect.EnumKind:
		ed := fd.Enum()
		switch tag {
		case strTag:
			if v := ed.Values().ByName(protoreflect.Name(n.Value)); v != nil {
				return protoreflect.ValueOfEnum(v.Number()), true
			}
			var names []string
			for i := range ed.Values().Len() {
				names = append(names, string(ed.Values().Get(i).Name()))
			}
			msg := fmt.Sprintf("want one of %s, got %s", strings.Join(names, ", "), describe(n))
			if s := closest(n.Value, names); s != "" {
				msg += fmt.Sprintf("; did you mean %q?", s)
			}
			w.fail(n, path, "%s", msg)
			return none, false
		case intTag:
			i, ok := w.signed(n, path, math.MinInt32, math.MaxInt32)
			return protoreflect.ValueOfEnum(protoreflect.EnumNumber(i)), ok
		}
		return bad()

	case protoreflect.BytesKind:
		if tag != strTag && tag != binaryTag {
			return bad()
		}
		b, err := decodeBase64(n.Value)
		if err != nil {
			return bad()
		}
		return protoreflect.ValueOfBytes(b), true
	}
	return bad()
}

func decodeBase64(s string) ([]byte, error) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\n', '\r':
			return -1
		}
		return r
	}, s)
	var err error
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		var b []byte
		if b, err = enc.DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, err
}

// integer reads an integer scalar: a YAML int, or a float with no
// fractional part (1e3). neg is set for values below zero, which are then
// in i; others are in u.
func integer(n *yaml.Node) (i int64, u uint64, neg, ok bool) {
	switch n.ShortTag() {
	case intTag:
		var v any
		if n.Decode(&v) != nil {
			return 0, 0, false, false
		}
		switch v := v.(type) {
		case int:
			return int64(v), uint64(v), v < 0, true
		case int64:
			return v, uint64(v), v < 0, true
		case uint64:
			return 0, v, false, true
		}
	case floatTag:
		var f float64
		if n.Decode(&f) != nil || f != math.Trunc(f) || math.IsInf(f, 0) {
			return 0, 0, false, false
		}
		switch {
		case f >= -(1<<63) && f < 0:
			return int64(f), 0, true, true
		case f >= 0 && f < (1<<64):
			return 0, uint64(f), false, true
		}
		return 0, 0, false, false // out of every range; reported as such
	}
	return 0, 0, false, false
}

func (w *walker) signed(n *yaml.Node, path string, lo, hi int64) (int64, bool) {
	i, u, neg, ok := integer(n)
	if !ok {
		if t := n.ShortTag(); t == intTag || t == floatTag && isIntegral(n) {
			w.fail(n, path, "want an integer from %d to %d, got %s", lo, hi, describe(n))
		} else {
			w.fail(n, path, "want an integer, got %s", describe(n))
		}
		return 0, false
	}
	if neg && i >= lo || !neg && u <= uint64(hi) {
		if !neg {
			i = int64(u)
		}
		return i, true
	}
	w.fail(n, path, "want an integer from %d to %d, got %s", lo, hi, describe(n))
	return 0, false
}

func (w *walker) unsigned(n *yaml.Node, path string, hi uint64) (uint64, bool) {
	_, u, neg, ok := integer(n)
	if ok && !neg && u <= hi {
		return u, true
	}
	if ok || n.ShortTag() == intTag {
		w.fail(n, path, "want an integer from 0 to %d, got %s", hi, describe(n))
	} else {
		w.fail(n, path, "want an integer, got %s", describe(n))
	}
	return 0, false
}

func isIntegral(n *yaml.Node) bool {
	var f float64
	return n.Decode(&f) == nil && f == math.Trunc(f)
}
