package framework

import (
	"fmt"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// TaintEffect is what a taint does to pods that do not tolerate it.
type TaintEffect uint8

const (
	// EffectAll, on a toleration only, matches every effect.
	EffectAll TaintEffect = iota
	// EffectNoSchedule: new pods that do not tolerate it are not scheduled.
	EffectNoSchedule
	// EffectPreferNoSchedule: the scheduler avoids the node for such pods.
	EffectPreferNoSchedule
	// EffectNoExecute: like NoSchedule, and running pods are evicted.
	EffectNoExecute
)

var effectNames = [...]string{"", "NoSchedule", "PreferNoSchedule", "NoExecute"}

func (e TaintEffect) String() string {
	if int(e) < len(effectNames) {
		return effectNames[e]
	}
	return fmt.Sprintf("TaintEffect(%d)", e)
}

func parseEffect(s string, allowAll bool) (TaintEffect, bool) {
	for i, n := range effectNames {
		if s == n && (i != 0 || allowAll) {
			return TaintEffect(i), true
		}
	}
	return 0, false
}

// Taint is a node taint, parsed.
type Taint struct {
	Key    string
	Value  string
	Effect TaintEffect
	reason string
}

// Reason is the rejection reason for a pod that does not tolerate the taint:
// "node(s) had untolerated taint {key: value}" (computed once per node).
func (t *Taint) Reason() string {
	if t.reason == "" {
		return taintReason(t.Key, t.Value)
	}
	return t.reason
}

func taintReason(key, value string) string {
	return "node(s) had untolerated taint {" + key + ": " + value + "}"
}

func parseTaints(ts []*wharfv1.Taint) ([]Taint, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	out := make([]Taint, 0, len(ts))
	for i, t := range ts {
		e, ok := parseEffect(t.GetEffect(), false)
		if !ok {
			return nil, fmt.Errorf("spec.taints[%d].effect: unknown effect %q; want NoSchedule, PreferNoSchedule or NoExecute", i, t.GetEffect())
		}
		if t.GetKey() == "" {
			return nil, fmt.Errorf("spec.taints[%d].key: required", i)
		}
		out = append(out, Taint{Key: intern(t.GetKey()), Value: intern(t.GetValue()), Effect: e, reason: taintReason(t.GetKey(), t.GetValue())})
	}
	return out, nil
}

// Toleration is a pod toleration, parsed.
type Toleration struct {
	// Key empty with Exists tolerates every taint.
	Key string
	// Exists tolerates any value; otherwise the value must equal Value.
	Exists bool
	Value  string
	// Effect EffectAll tolerates every effect.
	Effect TaintEffect
}

// Tolerates reports whether t tolerates taint (Kubernetes' rules).
func (t *Toleration) Tolerates(taint *Taint) bool {
	if t.Effect != EffectAll && t.Effect != taint.Effect {
		return false
	}
	if t.Key != "" && t.Key != taint.Key {
		return false
	}
	return t.Exists || t.Value == taint.Value
}

// Tolerated reports whether any of tols tolerates taint.
func Tolerated(tols []Toleration, taint *Taint) bool {
	for i := range tols {
		if tols[i].Tolerates(taint) {
			return true
		}
	}
	return false
}

func parseTolerations(ts []*wharfv1.Toleration) ([]Toleration, error) {
	if len(ts) == 0 {
		return nil, nil
	}
	out := make([]Toleration, 0, len(ts))
	for i, t := range ts {
		e, ok := parseEffect(t.GetEffect(), true)
		if !ok {
			return nil, fmt.Errorf("spec.tolerations[%d].effect: unknown effect %q; want NoSchedule, PreferNoSchedule, NoExecute or empty for all", i, t.GetEffect())
		}
		tol := Toleration{Key: intern(t.GetKey()), Value: intern(t.GetValue()), Effect: e} // interned: comparing them with a node's taints is comparing pointers
		switch t.GetOperator() {
		case "", "Equal":
			if t.GetKey() == "" {
				return nil, fmt.Errorf("spec.tolerations[%d].operator: Equal needs a key; use Exists to tolerate every taint", i)
			}
		case "Exists":
			if t.GetValue() != "" {
				return nil, fmt.Errorf("spec.tolerations[%d].value: must be empty with operator Exists", i)
			}
			tol.Exists = true
		default:
			return nil, fmt.Errorf("spec.tolerations[%d].operator: unknown operator %q; want Equal or Exists", i, t.GetOperator())
		}
		out = append(out, tol)
	}
	return out, nil
}
