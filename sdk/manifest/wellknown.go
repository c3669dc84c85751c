package manifest

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// timestamp fills a google.protobuf.Timestamp from an RFC 3339 string (or
// a YAML timestamp such as 2024-05-01).
func (w *walker) timestamp(msg protoreflect.Message, n *yaml.Node, path string) {
	if !w.visit(n) {
		return
	}
	bad := func() {
		w.fail(n, path, "want an RFC 3339 timestamp such as 2024-05-01T12:00:00Z, got %s", describe(n))
	}
	if n.Kind != yaml.ScalarNode {
		bad()
		return
	}
	tag := n.ShortTag()
	if tag != strTag && tag != timestampTag {
		bad()
		return
	}
	t, err := time.Parse(time.RFC3339Nano, n.Value)
	if err != nil && tag == timestampTag {
		err = n.Decode(&t)
	}
	if err != nil {
		bad()
		return
	}
	ts := timestamppb.New(t)
	if ts.CheckValid() != nil {
		w.fail(n, path, "want a timestamp from year 0001 to 9999, got %s", describe(n))
		return
	}
	fds := msg.Descriptor().Fields()
	msg.Set(fds.ByName("seconds"), protoreflect.ValueOfInt64(ts.Seconds))
	msg.Set(fds.ByName("nanos"), protoreflect.ValueOfInt32(ts.Nanos))
}

// viaProtoJSON fills a well-known type other than Timestamp (Duration,
// Struct, wrappers...) by handing n, as JSON, to protojson.
func (w *walker) viaProtoJSON(msg protoreflect.Message, n *yaml.Node, path string) {
	v, ok := w.generic(n, path, 0)
	if !ok {
		return
	}
	b, err := json.Marshal(v)
	if err != nil {
		w.fail(n, path, "cannot convert to JSON: %v", err)
		return
	}
	if err := protojson.Unmarshal(b, msg.Interface()); err != nil {
		// protojson's positions are in JSON made here, not in the source.
		text := strings.ReplaceAll(err.Error(), "\u00a0", " ")
		text = strings.TrimSpace(strings.TrimPrefix(text, "proto:"))
		if _, after, ok := strings.Cut(text, "): "); ok && strings.HasPrefix(text, "(line ") {
			text = after
		}
		w.fail(n, path, "invalid %s: %s", msg.Descriptor().Name(), text)
	}
}

// generic converts n to the value encoding/json would decode from the
// same data.
func (w *walker) generic(n *yaml.Node, path string, depth int) (any, bool) {
	n = deref(n)
	if n == nil {
		return nil, true
	}
	if !w.visit(n) {
		return nil, false
	}
	if depth > maxDepth {
		w.fail(n, path, "nested more than %d levels deep", maxDepth)
		return nil, false
	}
	switch n.Kind {
	case yaml.MappingNode:
		out := make(map[string]any)
		for _, p := range w.pairs(n, path) {
			v, ok := w.generic(p.val, joinPath(path, p.key.Value), depth+1)
			if !ok {
				return nil, false
			}
			out[p.key.Value] = v
		}
		return out, true
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for i, e := range n.Content {
			v, ok := w.generic(e, fmt.Sprintf("%s[%d]", path, i), depth+1)
			if !ok {
				return nil, false
			}
			out = append(out, v)
		}
		return out, true
	case yaml.ScalarNode:
		switch n.ShortTag() {
		case nullTag:
			return nil, true
		case strTag, timestampTag:
			return n.Value, true
		case boolTag:
			var b bool
			if n.Decode(&b) == nil {
				return b, true
			}
		case intTag, floatTag:
			if i, u, neg, ok := integer(n); ok && neg {
				return i, true
			} else if ok {
				return u, true
			}
			var f float64
			if n.Decode(&f) == nil {
				switch {
				case math.IsNaN(f):
					return "NaN", true
				case math.IsInf(f, 1):
					return "Infinity", true
				case math.IsInf(f, -1):
					return "-Infinity", true
				}
				return f, true
			}
		}
	}
	w.fail(n, path, "unsupported value %s", describe(n))
	return nil, false
}
