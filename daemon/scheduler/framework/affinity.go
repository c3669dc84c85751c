package framework

import (
	"fmt"
	"strconv"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

type selectorOp uint8

const (
	opIn selectorOp = iota
	opNotIn
	opExists
	opDoesNotExist
	opGt
	opLt
)

// requirement is one compiled NodeSelectorRequirement.
type requirement struct {
	key    string
	op     selectorOp
	values []string
	num    int64 // Gt, Lt
	field  bool  // matchFields: the key is metadata.name
}

func (r *requirement) match(n *NodeInfo) bool {
	var v string
	var ok bool
	if r.field {
		v, ok = n.Name, true
	} else {
		v, ok = n.Label(r.key)
	}
	switch r.op {
	case opIn:
		return ok && contains(r.values, v)
	case opNotIn:
		return !ok || !contains(r.values, v)
	case opExists:
		return ok
	case opDoesNotExist:
		return !ok
	case opGt, opLt:
		if !ok {
			return false
		}
		x, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return false
		}
		if r.op == opGt {
			return x > r.num
		}
		return x < r.num
	}
	return false
}

func contains(vs []string, v string) bool {
	for _, x := range vs {
		if x == v {
			return true
		}
	}
	return false
}

// selectorTerm is a compiled NodeSelectorTerm: all requirements must match.
// An empty term matches no node (as in Kubernetes).
type selectorTerm []requirement

func (t selectorTerm) match(n *NodeInfo) bool {
	if len(t) == 0 {
		return false
	}
	for i := range t {
		if !t[i].match(n) {
			return false
		}
	}
	return true
}

// RequiredNodeAffinity is a pod's nodeSelector and required node affinity,
// compiled once: a node must match both.
type RequiredNodeAffinity struct {
	selector []labelPair
	terms    []selectorTerm
	hasTerms bool
}

// Match reports whether n satisfies the pod's nodeSelector and required
// node affinity.
func (a *RequiredNodeAffinity) Match(n *NodeInfo) bool {
	for i := range a.selector {
		if v, ok := n.Label(a.selector[i].key); !ok || v != a.selector[i].value {
			return false
		}
	}
	if !a.hasTerms {
		return true
	}
	for _, t := range a.terms {
		if t.match(n) {
			return true
		}
	}
	return false
}

// PreferredTerm is one compiled preferred node affinity term.
type PreferredTerm struct {
	Weight int64
	term   selectorTerm
}

// Match reports whether n satisfies the term.
func (p *PreferredTerm) Match(n *NodeInfo) bool { return p.term.match(n) }

const affinityPath = "spec.affinity.nodeAffinity."

func compileAffinity(spec *wharfv1.PodSpec) (*RequiredNodeAffinity, []PreferredTerm, error) {
	var req *RequiredNodeAffinity
	if len(spec.GetNodeSelector()) > 0 {
		req = &RequiredNodeAffinity{}
		for k, v := range spec.GetNodeSelector() {
			req.selector = append(req.selector, labelPair{intern(k), intern(v)})
		}
	}
	na := spec.GetAffinity().GetNodeAffinity()
	if r := na.GetRequiredDuringSchedulingIgnoredDuringExecution(); r != nil {
		if req == nil {
			req = &RequiredNodeAffinity{}
		}
		req.hasTerms = true
		for i, t := range r.GetNodeSelectorTerms() {
			path := fmt.Sprintf("%srequiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[%d]", affinityPath, i)
			ct, err := compileTerm(t, path)
			if err != nil {
				return nil, nil, err
			}
			req.terms = append(req.terms, ct)
		}
	}
	var pref []PreferredTerm
	for i, p := range na.GetPreferredDuringSchedulingIgnoredDuringExecution() {
		path := fmt.Sprintf("%spreferredDuringSchedulingIgnoredDuringExecution[%d]", affinityPath, i)
		if w := p.GetWeight(); w < 1 || w > 100 {
			return nil, nil, fmt.Errorf("%s.weight: %d is out of range; want 1 to 100", path, w)
		}
		ct, err := compileTerm(p.GetPreference(), path+".preference")
		if err != nil {
			return nil, nil, err
		}
		pref = append(pref, PreferredTerm{Weight: int64(p.GetWeight()), term: ct})
	}
	return req, pref, nil
}

func compileTerm(t *wharfv1.NodeSelectorTerm, path string) (selectorTerm, error) {
	var out selectorTerm
	for i, r := range t.GetMatchExpressions() {
		c, err := compileRequirement(r, fmt.Sprintf("%s.matchExpressions[%d]", path, i), false)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	for i, r := range t.GetMatchFields() {
		p := fmt.Sprintf("%s.matchFields[%d]", path, i)
		if r.GetKey() != "metadata.name" {
			return nil, fmt.Errorf("%s.key: %q is not supported; want metadata.name", p, r.GetKey())
		}
		c, err := compileRequirement(r, p, true)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, nil
}

func compileRequirement(r *wharfv1.NodeSelectorRequirement, path string, field bool) (requirement, error) {
	c := requirement{key: intern(r.GetKey()), field: field}
	for _, v := range r.GetValues() {
		c.values = append(c.values, intern(v))
	}
	if c.key == "" {
		return c, fmt.Errorf("%s.key: required", path)
	}
	n := len(c.values)
	switch r.GetOperator() {
	case "In", "NotIn":
		c.op = opIn
		if r.GetOperator() == "NotIn" {
			c.op = opNotIn
		}
		if n == 0 {
			return c, fmt.Errorf("%s.values: %s needs at least one value", path, r.GetOperator())
		}
	case "Exists", "DoesNotExist":
		c.op = opExists
		if r.GetOperator() == "DoesNotExist" {
			c.op = opDoesNotExist
		}
		if n != 0 {
			return c, fmt.Errorf("%s.values: must be empty with %s", path, r.GetOperator())
		}
	case "Gt", "Lt":
		c.op = opGt
		if r.GetOperator() == "Lt" {
			c.op = opLt
		}
		if n != 1 {
			return c, fmt.Errorf("%s.values: %s needs exactly one integer value", path, r.GetOperator())
		}
		v, err := strconv.ParseInt(c.values[0], 10, 64)
		if err != nil {
			return c, fmt.Errorf("%s.values[0]: %q is not an integer", path, c.values[0])
		}
		c.num = v
	default:
		return c, fmt.Errorf("%s.operator: unknown operator %q; want In, NotIn, Exists, DoesNotExist, Gt or Lt", path, r.GetOperator())
	}
	if field && c.op != opIn && c.op != opNotIn {
		return c, fmt.Errorf("%s.operator: matchFields supports In and NotIn only", path)
	}
	return c, nil
}
