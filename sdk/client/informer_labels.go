package client

import (
	"fmt"
	"slices"
	"strings"
)

// LabelSelector is a parsed label selector, for matching cached objects
// (Informer.ListByLabels) with the syntax the server takes. The zero
// value matches everything.
type LabelSelector struct {
	reqs []labelRequirement
}

type labelOp uint8

const (
	labelEquals labelOp = iota
	labelNotEquals
	labelIn
	labelNotIn
	labelExists
	labelDoesNotExist
)

type labelRequirement struct {
	key    string
	op     labelOp
	values []string
}

// ParseLabelSelector parses a selector such as
// "app=web,tier!=cache,env in (prod,staging),env notin (dev),gpu,!spot".
// Requirements separated by commas must all hold.
func ParseLabelSelector(s string) (LabelSelector, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return LabelSelector{}, nil
	}
	var sel LabelSelector
	for _, part := range splitOutsideParens(s) {
		part = strings.TrimSpace(part)
		if part == "" {
			return LabelSelector{}, fmt.Errorf("label selector %q: empty requirement; separate requirements with single commas", s)
		}
		r, err := parseLabelRequirement(part)
		if err != nil {
			return LabelSelector{}, fmt.Errorf("label selector %q: %w", s, err)
		}
		sel.reqs = append(sel.reqs, r)
	}
	return sel, nil
}

// Matches reports whether labels satisfy every requirement.
func (sel LabelSelector) Matches(labels map[string]string) bool {
	for _, r := range sel.reqs {
		v, ok := labels[r.key]
		switch r.op {
		case labelEquals:
			if !ok || v != r.values[0] {
				return false
			}
		case labelNotEquals:
			if ok && v == r.values[0] {
				return false
			}
		case labelIn:
			if !ok || !slices.Contains(r.values, v) {
				return false
			}
		case labelNotIn:
			if ok && slices.Contains(r.values, v) {
				return false
			}
		case labelExists:
			if !ok {
				return false
			}
		case labelDoesNotExist:
			if ok {
				return false
			}
		}
	}
	return true
}

// Empty reports whether the selector matches everything.
func (sel LabelSelector) Empty() bool { return len(sel.reqs) == 0 }

func splitOutsideParens(s string) []string {
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
	if rest, ok := strings.CutPrefix(p, "!"); ok {
		key := strings.TrimSpace(rest)
		if err := checkLabelKey(key); err != nil {
			return labelRequirement{}, err
		}
		return labelRequirement{key: key, op: labelDoesNotExist}, nil
	}
	for _, sep := range []struct {
		s  string
		op labelOp
	}{{"!=", labelNotEquals}, {"==", labelEquals}, {"=", labelEquals}} {
		if k, v, ok := strings.Cut(p, sep.s); ok {
			k, v = strings.TrimSpace(k), strings.TrimSpace(v)
			if err := checkLabelKey(k); err != nil {
				return labelRequirement{}, err
			}
			return labelRequirement{key: k, op: sep.op, values: []string{v}}, nil
		}
	}
	fields := strings.Fields(p)
	if len(fields) == 1 && !strings.ContainsAny(p, "()") {
		if err := checkLabelKey(fields[0]); err != nil {
			return labelRequirement{}, err
		}
		return labelRequirement{key: fields[0], op: labelExists}, nil
	}
	open := strings.Index(p, "(")
	trimmed := strings.TrimSpace(p)
	if open < 0 || !strings.HasSuffix(trimmed, ")") {
		return labelRequirement{}, fmt.Errorf("cannot parse %q; use key=value, key!=value, key in (a,b), key notin (a,b), key or !key", p)
	}
	head := strings.Fields(p[:open])
	if len(head) != 2 {
		return labelRequirement{}, fmt.Errorf("cannot parse %q; want key in (a,b) or key notin (a,b)", p)
	}
	var op labelOp
	switch head[1] {
	case "in":
		op = labelIn
	case "notin":
		op = labelNotIn
	default:
		return labelRequirement{}, fmt.Errorf("unknown operator %q in %q; use in or notin", head[1], p)
	}
	if err := checkLabelKey(head[0]); err != nil {
		return labelRequirement{}, err
	}
	inner := trimmed[strings.Index(trimmed, "(")+1 : len(trimmed)-1]
	var values []string
	for v := range strings.SplitSeq(inner, ",") {
		values = append(values, strings.TrimSpace(v))
	}
	return labelRequirement{key: head[0], op: op, values: values}, nil
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
