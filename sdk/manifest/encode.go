package manifest

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// Formats Encode writes.
const (
	FormatYAML = "yaml"
	FormatJSON = "json"
)

// Encode writes objs to w as manifests in format FormatYAML or FormatJSON.
// Each object is a kind in wharfv1.Kinds, such as *wharfv1.Pod.
//
// An object is written with apiVersion and kind first, then metadata, spec
// and status, then any other fields in the order the proto declares them;
// fields have their JSON names and only set fields are written. YAML
// writes one document per object, separated by ---. JSON writes one
// object as itself and several as a List, indented by two spaces.
// Whatever Encode writes, Decode reads back to equal messages.
func Encode(w io.Writer, format string, objs ...proto.Message) error {
	if format != FormatYAML && format != FormatJSON {
		return fmt.Errorf("manifest: unknown format %q; want %q or %q", format, FormatYAML, FormatJSON)
	}
	docs := make([]*yaml.Node, 0, len(objs))
	for _, m := range objs {
		n, err := objectNode(m)
		if err != nil {
			return err
		}
		docs = append(docs, n)
	}
	if format == FormatYAML {
		return writeYAML(w, docs)
	}
	root := docs
	if len(docs) != 1 {
		root = []*yaml.Node{mapping(
			strNode("apiVersion"), strNode("v1"),
			strNode("kind"), strNode(listKind),
			strNode("items"), &yaml.Node{Kind: yaml.SequenceNode, Tag: seqTag, Content: docs},
		)}
	}
	bw := bufio.NewWriter(w)
	writeJSON(bw, root[0], "")
	bw.WriteByte('\n')
	return bw.Flush()
}

func writeYAML(w io.Writer, docs []*yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("manifest: yaml encoder: %v", r)
		}
	}()
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	enc.CompactSeqIndent()
	for _, d := range docs {
		if err := enc.Encode(d); err != nil {
			return err
		}
	}
	return enc.Close()
}

// objectNode builds the manifest of one object.
func objectNode(m proto.Message) (*yaml.Node, error) {
	if m == nil {
		return nil, errors.New("manifest: cannot encode a nil object")
	}
	r := m.ProtoReflect()
	k, ok := kindOf(r)
	if !ok {
		return nil, fmt.Errorf("manifest: %s is not a kind the API serves", r.Descriptor().FullName())
	}
	e := &encoder{}
	n := mapping(strNode("apiVersion"), strNode(k.APIVersion), strNode("kind"), strNode(k.Kind))
	fds := r.Descriptor().Fields()
	order := make([]protoreflect.FieldDescriptor, 0, fds.Len())
	for _, name := range []protoreflect.Name{"metadata", "spec", "status"} {
		if fd := fds.ByName(name); fd != nil {
			order = append(order, fd)
		}
	}
	for i := range fds.Len() {
		if fd := fds.Get(i); !slices.Contains(order, fd) {
			order = append(order, fd)
		}
	}
	e.fields(n, r, order, "")
	if e.err != nil {
		return nil, fmt.Errorf("manifest: %s %q: %w", k.Kind, nameOf(r), e.err)
	}
	return n, nil
}

func nameOf(r protoreflect.Message) string {
	if m, ok := r.Interface().(interface{ GetMetadata() *wharfv1.ObjectMeta }); ok {
		return m.GetMetadata().GetName()
	}
	return ""
}

// encoder turns messages into YAML nodes; the first problem sticks in err.
type encoder struct {
	err error
}

func (e *encoder) fail(path, format string, args ...any) {
	if e.err == nil {
		e.err = fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...))
	}
}

func (e *encoder) message(m protoreflect.Message, path string) *yaml.Node {
	if fn := m.Descriptor().FullName(); fn.Parent() == "google.protobuf" {
		return e.wellKnown(m, path)
	}
	n := mapping()
	fds := m.Descriptor().Fields()
	order := make([]protoreflect.FieldDescriptor, fds.Len())
	for i := range order {
		order[i] = fds.Get(i)
	}
	e.fields(n, m, order, path)
	return n
}

func (e *encoder) fields(n *yaml.Node, m protoreflect.Message, order []protoreflect.FieldDescriptor, path string) {
	for _, fd := range order {
		if !m.Has(fd) {
			continue
		}
		fp := joinPath(path, fd.JSONName())
		n.Content = append(n.Content, strNode(fd.JSONName()), e.field(fd, m.Get(fd), fp))
	}
}

func (e *encoder) field(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) *yaml.Node {
	switch {
	case fd.IsList():
		l := v.List()
		n := &yaml.Node{Kind: yaml.SequenceNode, Tag: seqTag}
		for i := range l.Len() {
			n.Content = append(n.Content, e.singular(fd, l.Get(i), fmt.Sprintf("%s[%d]", path, i)))
		}
		return n
	case fd.IsMap():
		type entry struct {
			k protoreflect.MapKey
			v protoreflect.Value
		}
		var entries []entry
		v.Map().Range(func(k protoreflect.MapKey, v protoreflect.Value) bool {
			entries = append(entries, entry{k, v})
			return true
		})
		slices.SortFunc(entries, func(a, b entry) int { return compareKeys(a.k, b.k) })
		n := mapping()
		for _, en := range entries {
			key := en.k.String()
			kp := path + "[" + key + "]"
			n.Content = append(n.Content, e.str(key, kp), e.singular(fd.MapValue(), en.v, kp))
		}
		return n
	}
	return e.singular(fd, v, path)
}

func compareKeys(a, b protoreflect.MapKey) int {
	switch a.Interface().(type) {
	case string:
		return strings.Compare(a.String(), b.String())
	case bool:
		return cmp.Compare(boolInt(a.Bool()), boolInt(b.Bool()))
	case int32, int64:
		return cmp.Compare(a.Int(), b.Int())
	default:
		return cmp.Compare(a.Uint(), b.Uint())
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (e *encoder) singular(fd protoreflect.FieldDescriptor, v protoreflect.Value, path string) *yaml.Node {
	switch fd.Kind() {
	case protoreflect.MessageKind, protoreflect.GroupKind:
		return e.message(v.Message(), path)
	case protoreflect.StringKind:
		return e.str(v.String(), path)
	case protoreflect.BoolKind:
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: boolTag, Value: strconv.FormatBool(v.Bool())}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind,
		protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind:
		return intNode(strconv.FormatInt(v.Int(), 10))
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		return intNode(strconv.FormatUint(v.Uint(), 10))
	case protoreflect.FloatKind:
		return floatNode(v.Float(), 32)
	case protoreflect.DoubleKind:
		return floatNode(v.Float(), 64)
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return strNode(string(ev.Name()))
		}
		return intNode(strconv.FormatInt(int64(v.Enum()), 10))
	case protoreflect.BytesKind:
		return strNode(base64.StdEncoding.EncodeToString(v.Bytes()))
	}
	e.fail(path, "unsupported field kind %s", fd.Kind())
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: nullTag, Value: "null"}
}

// wellKnown writes a google.protobuf message as protojson does.
func (e *encoder) wellKnown(m protoreflect.Message, path string) *yaml.Node {
	b, err := protojson.Marshal(m.Interface())
	if err != nil {
		e.fail(path, "%v", err)
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: nullTag, Value: "null"}
	}
	doc, err := newJSONStream(b).next()
	if err != nil {
		e.fail(path, "%v", err)
		return &yaml.Node{Kind: yaml.ScalarNode, Tag: nullTag, Value: "null"}
	}
	n := doc.Content[0]
	clearPositions(n)
	return n
}

func clearPositions(n *yaml.Node) {
	n.Line, n.Column = 0, 0
	if n.Kind == yaml.ScalarNode && n.Tag == strTag {
		n.Style = 0
	}
	for _, c := range n.Content {
		clearPositions(c)
	}
}

func (e *encoder) str(s, path string) *yaml.Node {
	if !utf8.ValidString(s) {
		e.fail(path, "string is not valid UTF-8")
	}
	return strNode(s)
}

func strNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: strTag, Value: s}
	if strings.Contains(s, "\n") && !literalSafe(s) {
		// The YAML encoder writes multi-line strings as literal blocks,
		// and some of those it cannot read back (a tab at the start of a
		// line, for one). Quoted strings escape what they must.
		n.Style = yaml.DoubleQuotedStyle
	}
	return n
}

// literalSafe reports whether s, a multi-line string, reads back
// unchanged from a YAML literal block: only printable characters, spaces
// and plain line feeds.
func literalSafe(s string) bool {
	for _, r := range s {
		switch {
		case r == '\n' || r == ' ':
		case r == '\u0085' || r == '\u2028' || r == '\u2029' || r == '\ufeff':
			return false
		case !unicode.IsPrint(r):
			return false
		}
	}
	return true
}

func intNode(s string) *yaml.Node {
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: intTag, Value: s}
}

// floatNode writes f so that YAML reads it back as a float: 1.0, not 1.
func floatNode(f float64, bits int) *yaml.Node {
	var s string
	switch {
	case math.IsNaN(f):
		s = ".nan"
	case math.IsInf(f, 1):
		s = ".inf"
	case math.IsInf(f, -1):
		s = "-.inf"
	default:
		s = strconv.FormatFloat(f, 'g', -1, bits)
		if !strings.ContainsAny(s, ".eE") {
			s += ".0"
		}
	}
	return &yaml.Node{Kind: yaml.ScalarNode, Tag: floatTag, Value: s}
}

func mapping(content ...*yaml.Node) *yaml.Node {
	return &yaml.Node{Kind: yaml.MappingNode, Tag: mapTag, Content: content}
}

// writeJSON writes a node tree built by the encoder as indented JSON.
func writeJSON(w *bufio.Writer, n *yaml.Node, indent string) {
	inner := indent + "  "
	switch n.Kind {
	case yaml.MappingNode:
		if len(n.Content) == 0 {
			w.WriteString("{}")
			return
		}
		w.WriteString("{\n")
		for i := 0; i+1 < len(n.Content); i += 2 {
			w.WriteString(inner)
			writeJSONString(w, n.Content[i].Value)
			w.WriteString(": ")
			writeJSON(w, n.Content[i+1], inner)
			if i+2 < len(n.Content) {
				w.WriteByte(',')
			}
			w.WriteByte('\n')
		}
		w.WriteString(indent)
		w.WriteByte('}')
	case yaml.SequenceNode:
		if len(n.Content) == 0 {
			w.WriteString("[]")
			return
		}
		w.WriteString("[\n")
		for i, c := range n.Content {
			w.WriteString(inner)
			writeJSON(w, c, inner)
			if i+1 < len(n.Content) {
				w.WriteByte(',')
			}
			w.WriteByte('\n')
		}
		w.WriteString(indent)
		w.WriteByte(']')
	default:
		switch n.Tag {
		case strTag:
			writeJSONString(w, n.Value)
		case floatTag:
			switch n.Value {
			case ".nan":
				w.WriteString(`"NaN"`)
			case ".inf":
				w.WriteString(`"Infinity"`)
			case "-.inf":
				w.WriteString(`"-Infinity"`)
			default:
				w.WriteString(n.Value)
			}
		default: // int, bool, null: the same text in JSON
			w.WriteString(n.Value)
		}
	}
}

func writeJSONString(w *bufio.Writer, s string) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(s) // a string always encodes
	w.Write(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}
