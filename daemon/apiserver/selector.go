package apiserver

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

// labelSelector is a parsed Kubernetes label selector: requirements that
// must all hold.
type labelSelector []labelRequirement

type labelOp uint8

const (
	opEquals labelOp = iota
	opNotEquals
	opIn
	opNotIn
	opExists
	opDoesNotExist
)

type labelRequirement struct {
	key    string
	op     labelOp
	values []string
}

// parseLabelSelector parses "a=b,c!=d,e in (x,y),f notin (z),g,!h".
func parseLabelSelector(s string) (labelSelector, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var sel labelSelector
	for _, part := range splitTopLevel(s) {
		part = strings.TrimSpace(part)
		if part == "" {
			return nil, fmt.Errorf("label selector %q: empty requirement; separate requirements with single commas", s)
		}
		r, err := parseLabelRequirement(part)
		if err != nil {
			return nil, fmt.Errorf("label selector %q: %w", s, err)
		}
		sel = append(sel, r)
	}
	return sel, nil
}

// splitTopLevel splits on commas outside parentheses.
func splitTopLevel(s string) []string {
	var out []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '(':
			depth++
		case ')':
			depth--
		case ',':
			if depth == 0 {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

func parseLabelRequirement(p string) (labelRequirement, error) {
	if strings.HasPrefix(p, "!") {
		key := strings.TrimSpace(p[1:])
		if err := checkLabelKey(key); err != nil {
			return labelRequirement{}, err
		}
		return labelRequirement{key: key, op: opDoesNotExist}, nil
	}
	if i := strings.Index(p, "!="); i >= 0 {
		return simpleRequirement(p[:i], opNotEquals, p[i+2:])
	}
	if i := strings.Index(p, "=="); i >= 0 {
		return simpleRequirement(p[:i], opEquals, p[i+2:])
	}
	if i := strings.Index(p, "="); i >= 0 {
		return simpleRequirement(p[:i], opEquals, p[i+1:])
	}
	fields := strings.Fields(p)
	if len(fields) == 1 && !strings.ContainsAny(p, "()") {
		key := fields[0]
		if err := checkLabelKey(key); err != nil {
			return labelRequirement{}, err
		}
		return labelRequirement{key: key, op: opExists}, nil
	}
	// key in (a,b) / key notin (a,b)
	open := strings.Index(p, "(")
	if open < 0 || !strings.HasSuffix(strings.TrimSpace(p), ")") {
		return labelRequirement{}, fmt.Errorf("cannot parse %q; use key=value, key!=value, key in (a,b), key notin (a,b), key or !key", p)
	}
	head := strings.Fields(p[:open])
	if len(head) != 2 {
		return labelRequirement{}, fmt.Errorf("cannot parse %q; want key in (a,b) or key notin (a,b)", p)
	}
	var op labelOp
	switch head[1] {
	case "in":
		op = opIn
	case "notin":
		op = opNotIn
	default:
		return labelRequirement{}, fmt.Errorf("unknown operator %q in %q; use in or notin", head[1], p)
	}
	if err := checkLabelKey(head[0]); err != nil {
		return labelRequirement{}, err
	}
	inner := strings.TrimSpace(p)
	inner = inner[open+1 : len(inner)-1]
	var values []string
	for _, v := range strings.Split(inner, ",") {
		values = append(values, strings.TrimSpace(v))
	}
	return labelRequirement{key: head[0], op: op, values: values}, nil
}

func simpleRequirement(key string, op labelOp, value string) (labelRequirement, error) {
	key, value = strings.TrimSpace(key), strings.TrimSpace(value)
	if err := checkLabelKey(key); err != nil {
		return labelRequirement{}, err
	}
	return labelRequirement{key: key, op: op, values: []string{value}}, nil
}

func checkLabelKey(key string) error {
	if key == "" {
		return fmt.Errorf("empty label key")
	}
	if strings.ContainsAny(key, " \t()=!,") {
		return fmt.Errorf("invalid label key %q", key)
	}
	return nil
}

func (sel labelSelector) matches(labels map[string]string) bool {
	for _, r := range sel {
		v, ok := labels[r.key]
		switch r.op {
		case opEquals:
			if !ok || v != r.values[0] {
				return false
			}
		case opNotEquals:
			if ok && v == r.values[0] {
				return false
			}
		case opIn:
			if !ok || !contains(r.values, v) {
				return false
			}
		case opNotIn:
			if ok && contains(r.values, v) {
				return false
			}
		case opExists:
			if !ok {
				return false
			}
		case opDoesNotExist:
			if ok {
				return false
			}
		}
	}
	return true
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// fieldSelector is a parsed field selector: path=value / path!=value terms
// over scalar fields, named by their JSON paths (spec.nodeName,
// status.phase, metadata.name, involvedObject.uid).
type fieldSelector []fieldRequirement

type fieldRequirement struct {
	path  []protoreflect.FieldDescriptor
	name  string
	value string
	not   bool
}

// parseFieldSelector resolves every path against the kind's message
// descriptor, so an unknown field is refused up front with its name.
func parseFieldSelector(s string, md protoreflect.MessageDescriptor) (fieldSelector, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, nil
	}
	var sel fieldSelector
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		var r fieldRequirement
		var name string
		switch {
		case strings.Contains(part, "!="):
			i := strings.Index(part, "!=")
			name, r.value, r.not = part[:i], part[i+2:], true
		case strings.Contains(part, "=="):
			i := strings.Index(part, "==")
			name, r.value = part[:i], part[i+2:]
		case strings.Contains(part, "="):
			i := strings.Index(part, "=")
			name, r.value = part[:i], part[i+1:]
		default:
			return nil, fmt.Errorf("field selector %q: cannot parse %q; use path=value or path!=value, e.g. spec.nodeName=node-1", s, part)
		}
		name, r.value = strings.TrimSpace(name), strings.TrimSpace(r.value)
		path, err := resolveFieldPath(md, name)
		if err != nil {
			return nil, fmt.Errorf("field selector %q: %w", s, err)
		}
		r.path, r.name = path, name
		sel = append(sel, r)
	}
	return sel, nil
}

// resolveFieldPath finds a scalar field by its dotted JSON path.
func resolveFieldPath(md protoreflect.MessageDescriptor, name string) ([]protoreflect.FieldDescriptor, error) {
	var path []protoreflect.FieldDescriptor
	cur := md
	parts := strings.Split(name, ".")
	for i, p := range parts {
		fd := cur.Fields().ByJSONName(p)
		if fd == nil {
			fd = cur.Fields().ByTextName(p)
		}
		if fd == nil {
			return nil, fmt.Errorf("%s has no field %q", md.Name(), name)
		}
		path = append(path, fd)
		last := i == len(parts)-1
		switch {
		case fd.IsList() || fd.IsMap():
			return nil, fmt.Errorf("field %q is a list or map; select on a single-valued field such as spec.nodeName or status.phase", name)
		case fd.Kind() == protoreflect.MessageKind:
			if last {
				return nil, fmt.Errorf("field %q is an object; select on one of its scalar fields", name)
			}
			cur = fd.Message()
		default:
			if !last {
				return nil, fmt.Errorf("%s has no field %q", md.Name(), name)
			}
		}
	}
	return path, nil
}

func (sel fieldSelector) matches(m protoreflect.Message) bool {
	for _, r := range sel {
		if (fieldString(m, r.path) == r.value) == r.not {
			return false
		}
	}
	return true
}

// fieldString reads a scalar field along path as the string a selector
// compares with.
func fieldString(m protoreflect.Message, path []protoreflect.FieldDescriptor) string {
	for _, fd := range path[:len(path)-1] {
		if !m.Has(fd) {
			return ""
		}
		m = m.Get(fd).Message()
	}
	fd := path[len(path)-1]
	v := m.Get(fd)
	switch fd.Kind() {
	case protoreflect.StringKind:
		return v.String()
	case protoreflect.BoolKind:
		if v.Bool() {
			return "true"
		}
		return "false"
	case protoreflect.EnumKind:
		if ev := fd.Enum().Values().ByNumber(v.Enum()); ev != nil {
			return string(ev.Name())
		}
		return fmt.Sprint(v.Enum())
	default:
		return fmt.Sprint(v.Interface())
	}
}

// equalsValue reports the value the selector pins path to with "=", if any;
// the watch hub indexes watchers on it (spec.nodeName=node-1).
func (sel fieldSelector) equalsValue(name string) (string, bool) {
	for _, r := range sel {
		if r.name == name && !r.not {
			return r.value, true
		}
	}
	return "", false
}
