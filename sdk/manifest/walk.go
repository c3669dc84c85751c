package manifest

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.yaml.in/yaml/v3"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// YAML short tags the walker tells apart.
const (
	strTag       = "!!str"
	intTag       = "!!int"
	floatTag     = "!!float"
	boolTag      = "!!bool"
	nullTag      = "!!null"
	timestampTag = "!!timestamp"
	binaryTag    = "!!binary"
	mapTag       = "!!map"
	seqTag       = "!!seq"
	mergeTag     = "!!merge"
)

// Limits that keep a hostile document from costing much.
const (
	// maxErrors is how many problems one object reports before the walker
	// gives up on it.
	maxErrors = 10
	// A document may cost at most minBudget node visits, or aliasFactor
	// times its own nodes when that is more. Visits through aliases count,
	// so alias bombs stay cheap while large documents still decode.
	minBudget   = 100_000
	aliasFactor = 10
	// maxDepth bounds nesting where the schema does not (Struct, Value).
	maxDepth = 100
)

// lenientStrings are the string fields that also accept a number and keep
// it as written: Kubernetes' int-or-string and resource quantities. For a
// map field the rule applies to its values.
var lenientStrings = map[protoreflect.FullName]bool{
	"wharf.v1.HTTPGetAction.port":              true,
	"wharf.v1.TCPSocketAction.port":            true,
	"wharf.v1.ResourceRequirements.limits":     true,
	"wharf.v1.ResourceRequirements.requests":   true,
	"wharf.v1.NodeStatus.capacity":             true,
	"wharf.v1.NodeStatus.allocatable":          true,
	"wharf.v1.ResourceFieldSelector.divisor":   true,
	"wharf.v1.EmptyDirVolumeSource.size_limit": true,
}

// fieldError is one problem the walker found, before the document's
// identity is attached.
type fieldError struct {
	path      string
	line, col int
	msg       string
}

// walker fills proto messages from YAML nodes, guided by the message
// descriptors, and records every problem with its field path. One walker
// serves one document.
type walker struct {
	errs      []fieldError
	nodes     int // visits so far
	budget    int // visits allowed
	exhausted bool
}

func newWalker(doc *yaml.Node) *walker {
	return &walker{budget: max(minBudget, aliasFactor*countNodes(doc))}
}

// countNodes counts the nodes of a tree, not following aliases.
func countNodes(n *yaml.Node) int {
	count := 0
	stack := []*yaml.Node{n}
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		count++
		stack = append(stack, n.Content...)
	}
	return count
}

func (w *walker) stopped() bool {
	return w.exhausted || len(w.errs) >= maxErrors
}

func (w *walker) fail(n *yaml.Node, path, format string, args ...any) {
	if w.stopped() {
		return
	}
	e := fieldError{path: path, msg: fmt.Sprintf(format, args...)}
	if n != nil {
		e.line, e.col = n.Line, n.Column
	}
	w.errs = append(w.errs, e)
}

// visit counts n against the document's budget and reports whether the
// walk may go on.
func (w *walker) visit(n *yaml.Node) bool {
	if w.stopped() {
		return false
	}
	w.nodes++
	if w.nodes > w.budget {
		w.fail(n, "", "document is too large once its aliases are expanded")
		w.exhausted = true
		return false
	}
	return true
}

// deref follows aliases to the node they name.
func deref(n *yaml.Node) *yaml.Node {
	for n != nil && n.Kind == yaml.AliasNode {
		n = n.Alias
	}
	return n
}

func isNull(n *yaml.Node) bool {
	n = deref(n)
	if n == nil {
		return true
	}
	switch n.Kind {
	case yaml.ScalarNode:
		return n.ShortTag() == nullTag
	case yaml.DocumentNode:
		return len(n.Content) == 0 || isNull(n.Content[0])
	}
	return false
}

// describe names a node's value for a message such as
// "want an integer, got "http"".
func describe(n *yaml.Node) string {
	n = deref(n)
	if n == nil {
		return "null"
	}
	switch n.Kind {
	case yaml.MappingNode:
		return "a mapping"
	case yaml.SequenceNode:
		return "a list"
	case yaml.ScalarNode:
		v := n.Value
		if len(v) > 40 {
			v = v[:37] + "..."
		}
		switch tag := n.ShortTag(); tag {
		case nullTag:
			return "null"
		case strTag:
			return strconv.Quote(v)
		case intTag, floatTag, boolTag, timestampTag:
			return v
		case binaryTag:
			return "binary data"
		default:
			return "a value tagged " + tag
		}
	}
	return "an unexpected YAML node"
}

func joinPath(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// pair is one key and value of a mapping.
type pair struct {
	key, val *yaml.Node
}

// pairs returns the entries of mapping n in order, with merge keys (<<)
// expanded: explicit keys win over merged ones, earlier merges over later
// ones. A key given twice is an error.
func (w *walker) pairs(n *yaml.Node, path string) []pair {
	return w.mergedPairs(n, path, nil)
}

func (w *walker) mergedPairs(n *yaml.Node, path string, expanding []*yaml.Node) []pair {
	var out []pair
	var merges []*yaml.Node
	index := make(map[string]int)
	for i := 0; i+1 < len(n.Content); i += 2 {
		k := deref(n.Content[i])
		if k == nil || !w.visit(k) {
			return out
		}
		if k.Kind != yaml.ScalarNode {
			w.fail(k, path, "want a string as a mapping key, got %s", describe(k))
			continue
		}
		if k.ShortTag() == mergeTag {
			merges = append(merges, n.Content[i+1])
			continue
		}
		if j, dup := index[k.Value]; dup {
			w.fail(k, joinPath(path, k.Value), "key given twice (first on line %d)", out[j].key.Line)
			continue
		}
		index[k.Value] = len(out)
		out = append(out, pair{k, n.Content[i+1]})
	}
	expanding = append(slices.Clip(expanding), n)
	for _, m := range merges {
		m = deref(m)
		if m == nil || !w.visit(m) {
			return out
		}
		var sources []*yaml.Node
		switch m.Kind {
		case yaml.MappingNode:
			sources = []*yaml.Node{m}
		case yaml.SequenceNode:
			for _, s := range m.Content {
				sources = append(sources, deref(s))
			}
		}
		for _, s := range sources {
			if s == nil || s.Kind != yaml.MappingNode {
				w.fail(m, path, "want a mapping or a list of mappings after <<, got %s", describe(s))
				continue
			}
			if slices.Contains(expanding, s) {
				w.fail(m, path, "<< merges a mapping into itself")
				continue
			}
			for _, p := range w.mergedPairs(s, path, expanding) {
				if _, ok := index[p.key.Value]; ok {
					continue
				}
				index[p.key.Value] = len(out)
				out = append(out, p)
			}
		}
	}
	return out
}

// message fills m from node n, a mapping.
func (w *walker) message(m protoreflect.Message, n *yaml.Node, path string) {
	n = deref(n)
	if !w.visit(n) {
		return
	}
	if n.Kind != yaml.MappingNode || n.ShortTag() != mapTag {
		w.fail(n, path, "want a mapping, got %s", describe(n))
		return
	}
	w.fields(m, w.pairs(n, path), path, nil)
}

// fields fills m from the entries of a mapping, skipping the keys in skip.
func (w *walker) fields(m protoreflect.Message, ps []pair, path string, skip []string) {
	md := m.Descriptor()
	fds := md.Fields()
	seen := make(map[protoreflect.FieldNumber]string)
	for _, p := range ps {
		if w.stopped() {
			return
		}
		key := p.key.Value
		if slices.Contains(skip, key) {
			continue
		}
		fp := joinPath(path, key)
		fd := fds.ByJSONName(key)
		if fd == nil {
			fd = fds.ByName(protoreflect.Name(key))
		}
		if fd == nil {
			w.fail(p.key, fp, "%s", unknownField(key, fieldNames(md)))
			continue
		}
		if prev, ok := seen[fd.Number()]; ok {
			w.fail(p.key, fp, "field given twice (also as %s)", prev)
			continue
		}
		if od := fd.ContainingOneof(); od != nil && !od.IsSynthetic() {
			for i := range od.Fields().Len() {
				if prev, ok := seen[od.Fields().Get(i).Number()]; ok {
					w.fail(p.key, fp, "only one of %s may be set, and %s is", oneofNames(od), prev)
				}
			}
		}
		seen[fd.Number()] = key
		w.field(m, fd, p.val, fp)
	}
}

// unknownField is the message for a key that names none of the fields
// in names.
func unknownField(key string, names []string) string {
	if s := closest(key, names); s != "" {
		return fmt.Sprintf("unknown field; did you mean %q?", s)
	}
	return "unknown field"
}

func fieldNames(md protoreflect.MessageDescriptor) []string {
	fds := md.Fields()
	names := make([]string, 0, fds.Len())
	for i := range fds.Len() {
		names = append(names, fds.Get(i).JSONName())
	}
	return names
}

func oneofNames(od protoreflect.OneofDescriptor) string {
	var names []string
	for i := range od.Fields().Len() {
		names = append(names, od.Fields().Get(i).JSONName())
	}
	return strings.Join(names, ", ")
}

// field sets fd in m from node n. A null value leaves the field unset.
func (w *walker) field(m protoreflect.Message, fd protoreflect.FieldDescriptor, n *yaml.Node, path string) {
	n = deref(n)
	if isNull(n) {
		return
	}
	lenient := lenientStrings[fd.FullName()]
	switch {
	case fd.IsList():
		if !w.visit(n) {
			return
		}
		if n.Kind != yaml.SequenceNode || n.ShortTag() != seqTag {
			w.fail(n, path, "want a list, got %s", describe(n))
			return
		}
		l := m.Mutable(fd).List()
		for i, e := range n.Content {
			if w.stopped() {
				return
			}
			ep := fmt.Sprintf("%s[%d]", path, i)
			e = deref(e)
			if isNull(e) {
				w.fail(e, ep, "want %s, got null", want(fd))
				continue
			}
			if fd.Message() != nil {
				v := l.NewElement()
				w.messageValue(v.Message(), e, ep)
				l.Append(v)
			} else if v, ok := w.scalar(fd, e, ep, lenient); ok {
				l.Append(v)
			}
		}
	case fd.IsMap():
		if !w.visit(n) {
			return
		}
		if n.Kind != yaml.MappingNode || n.ShortTag() != mapTag {
			w.fail(n, path, "want a mapping, got %s", describe(n))
			return
		}
		mp := m.Mutable(fd).Map()
		kfd, vfd := fd.MapKey(), fd.MapValue()
		for _, p := range w.pairs(n, path) {
			if w.stopped() {
				return
			}
			kp := path + "[" + p.key.Value + "]"
			k, ok := w.mapKey(kfd, p.key, kp)
			if !ok {
				continue
			}
			val := deref(p.val)
			switch {
			case vfd.Message() != nil:
				v := mp.NewValue()
				if !isNull(val) {
					w.messageValue(v.Message(), val, kp)
				}
				mp.Set(k, v)
			case isNull(val):
				mp.Set(k, vfd.Default())
			default:
				if v, ok := w.scalar(vfd, val, kp, lenient); ok {
					mp.Set(k, v)
				}
			}
		}
	case fd.Message() != nil:
		w.messageValue(m.Mutable(fd).Message(), n, path)
	default:
		if v, ok := w.scalar(fd, n, path, lenient); ok {
			m.Set(fd, v)
		}
	}
}

// messageValue fills msg from n, which is not null.
func (w *walker) messageValue(msg protoreflect.Message, n *yaml.Node, path string) {
	switch fn := msg.Descriptor().FullName(); {
	case fn == "google.protobuf.Timestamp":
		w.timestamp(msg, n, path)
	case fn.Parent() == "google.protobuf":
		w.viaProtoJSON(msg, n, path)
	default:
		w.message(msg, n, path)
	}
}

func (w *walker) mapKey(fd protoreflect.FieldDescriptor, n *yaml.Node, path string) (protoreflect.MapKey, bool) {
	switch tag := n.ShortTag(); {
	case fd.Kind() == protoreflect.StringKind:
		// Any scalar names a string key as written, as in Kubernetes.
		if tag == nullTag {
			w.fail(n, path, "want a string as a key, got null")
			return protoreflect.MapKey{}, false
		}
		return protoreflect.ValueOfString(n.Value).MapKey(), true
	default:
		v, ok := w.scalar(fd, n, path, false)
		return v.MapKey(), ok
	}
}
