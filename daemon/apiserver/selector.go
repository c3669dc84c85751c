package apiserver

import (
	"fmt"
	"strings"

	"google.golang.org/protobuf/reflect/protoreflect"
)

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
