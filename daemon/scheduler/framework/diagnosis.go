package framework

import (
	"errors"
	"slices"
	"strconv"
	"strings"
)

// ErrUnschedulable is what a *FitError wraps: no node can run the pod now.
var ErrUnschedulable = errors.New("pod is unschedulable")

// FitError is Schedule's error when no node fits the pod. Its message is
// the Kubernetes-style summary, "0/5 nodes are available: 3 Insufficient
// nvidia.com/gpu, 2 node(s) had untolerated taint {gpu: true}."
type FitError struct {
	// Pod is the pod's key.
	Pod       string
	Diagnosis *Diagnosis
}

func (e *FitError) Error() string { return e.Diagnosis.Summary() }

// Unwrap returns ErrUnschedulable.
func (e *FitError) Unwrap() error { return ErrUnschedulable }

// Diagnosis explains a scheduling cycle: why each evaluated node was
// rejected, and how each feasible node scored.
type Diagnosis struct {
	// NumAllNodes is the number of nodes in the snapshot.
	NumAllNodes int
	// Evaluated is the number of nodes filtered. It is below NumAllNodes
	// when enough feasible nodes were found early.
	Evaluated int
	// PreFilter is the rejection of the pod by a PreFilter plugin (then no
	// node was evaluated).
	PreFilter Status
	// Excluded nodes were left out by a PreFilterResult, for ExcludedReason.
	Excluded       int
	ExcludedReason string
	// PostFilter is the outcome of PostFilter, and NominatedNode the node a
	// PostFilter plugin made room on.
	PostFilter    Status
	NominatedNode string

	// Rejections: counts[i] nodes were rejected with statuses[i]; when
	// recorded per node, rejNodes[j] with statuses[rejIDs[j]].
	statuses []Status
	counts   []int32
	rejNodes []*NodeInfo
	rejIDs   []uint32

	scored  []*NodeInfo
	plugins []string
	scores  []int64 // plugin-major: scores[p*len(scored)+n], weighted
	totals  []int64
}

// NodeStatus is one node's rejection; Status.Plugin() names the plugin.
type NodeStatus struct {
	Node   string
	Status Status
}

// NodeScore is one feasible node's scores.
type NodeScore struct {
	Node  string
	Total int64
	// Plugins holds each score plugin's normalised score times its weight,
	// in profile order.
	Plugins []PluginScore
}

// PluginScore is one plugin's weighted, normalised score for a node.
type PluginScore struct {
	Plugin string
	Score  int64
}

// Scores returns the feasible nodes' scores, best first (then by name).
// Only Explain records them; it is empty when fewer than two nodes were
// feasible (nothing to rank).
func (d *Diagnosis) Scores() []NodeScore {
	n := len(d.scored)
	out := make([]NodeScore, n)
	for j, node := range d.scored {
		ps := make([]PluginScore, len(d.plugins))
		for p, name := range d.plugins {
			ps[p] = PluginScore{name, d.scores[p*n+j]}
		}
		out[j] = NodeScore{Node: node.Name, Total: d.totals[j], Plugins: ps}
	}
	slices.SortFunc(out, func(a, b NodeScore) int {
		if a.Total != b.Total {
			if a.Total > b.Total {
				return -1
			}
			return 1
		}
		return strings.Compare(a.Node, b.Node)
	})
	return out
}

// Rejected lists every evaluated node that did not fit, with the first
// plugin that rejected it (Status.Plugin) and why, in evaluation order.
// Explain records them; Schedule only when the profile has PostFilter
// plugins (preemption needs them), else it counts rejections by reason
// (Summary, NumRejected) and Rejected is empty.
func (d *Diagnosis) Rejected() []NodeStatus {
	out := make([]NodeStatus, len(d.rejNodes))
	for i, n := range d.rejNodes {
		out[i] = NodeStatus{Node: n.Name, Status: d.statuses[d.rejIDs[i]]}
	}
	return out
}

// NumRejected returns the number of evaluated nodes that did not fit.
func (d *Diagnosis) NumRejected() int {
	n := 0
	for _, c := range d.counts {
		n += int(c)
	}
	return n
}

// NodeStatus returns the rejection of the node with name, if it was
// evaluated, rejected and recorded (see Rejected).
func (d *Diagnosis) NodeStatus(name string) (Status, bool) {
	for i, n := range d.rejNodes {
		if n.Name == name {
			return d.statuses[d.rejIDs[i]], true
		}
	}
	return Status{}, false
}

// Summary is the message for a pod that fits no node, as Kubernetes words
// it: "0/5 nodes are available: 3 Insufficient nvidia.com/gpu, 2 node(s) had
// untolerated taint {gpu: true}." Each rejection reason is counted over the
// nodes, and the "count reason" strings are sorted as strings (so "10 x"
// sorts before "2 y", as in Kubernetes). A PreFilter rejection replaces the
// counts; a PostFilter message follows them.
func (d *Diagnosis) Summary() string {
	var b strings.Builder
	b.WriteString("0/")
	b.WriteString(strconv.Itoa(d.NumAllNodes))
	b.WriteString(" nodes are available")
	var parts []string
	if d.PreFilter.IsRejection() {
		parts = []string{d.PreFilter.Message()}
	} else {
		hist := map[string]int{}
		for id, c := range d.counts {
			d.statuses[id].eachReason(func(r string) { hist[r] += int(c) })
		}
		if d.Excluded > 0 {
			hist[d.ExcludedReason] += d.Excluded
		}
		for r, c := range hist {
			parts = append(parts, strconv.Itoa(c)+" "+r)
		}
		slices.Sort(parts)
	}
	if len(parts) > 0 {
		b.WriteString(": ")
		b.WriteString(strings.Join(parts, ", "))
	}
	b.WriteString(".")
	if m := d.PostFilter.Message(); m != "" && !d.PostFilter.IsSuccess() {
		b.WriteString(" ")
		b.WriteString(m)
		b.WriteString(".")
	}
	return b.String()
}
