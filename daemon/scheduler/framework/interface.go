package framework

import (
	"context"
	"time"
)

// Scores a Score plugin gives are in [MinNodeScore, MaxNodeScore] after
// NormalizeScore; the framework multiplies them by the plugin's weight.
const (
	MinNodeScore int64 = 0
	MaxNodeScore int64 = 100
)

// Plugin is what every scheduling plugin is: a name, unique in a profile.
// A plugin implements one or more of the extension-point interfaces below;
// a profile enables it per point.
type Plugin interface {
	Name() string
}

// PreFilterPlugin checks or precomputes what the pod needs once per cycle.
type PreFilterPlugin interface {
	Plugin
	// PreFilter runs once per pod before any Filter. It may write per-pod
	// state into state for Filter and Score to read. A rejection status
	// rejects the pod on every node; Skip means this plugin's Filter has
	// nothing to check for this pod and is not called. A non-nil result
	// limits the nodes considered.
	PreFilter(ctx context.Context, state *CycleState, pod *PodInfo) (*PreFilterResult, Status)
}

// PreFilterResult limits a cycle to some nodes (a node name, the nodes with
// GPUs). When several plugins return one, the cycle considers the nodes in
// all of them.
type PreFilterResult struct {
	// NodeNames are the only nodes to consider.
	NodeNames []string
	// Nodes are the only nodes to consider, as NodeInfos of the cycle's
	// snapshot (CycleState.Snapshot): cheaper than NodeNames for long lists.
	Nodes []*NodeInfo
	// Reason explains, in the diagnosis, why the other nodes were left out;
	// default "node(s) didn't satisfy plugin <name>".
	Reason string
	// Index says the result is only a shortcut: every other node would fail
	// the plugin's Filter for Reason. Schedule takes it; Explain ignores it
	// and filters every node, so that each gets its own verdict.
	Index bool
}

// FilterPlugin says which nodes can run the pod.
type FilterPlugin interface {
	Plugin
	// Filter checks pod against each of nodes and writes the outcome for
	// nodes[i] into out[i]; len(out) == len(nodes). out arrives all Success
	// (zero): write only the rejections, with Unschedulable or
	// UnschedulableAndUnresolvable and a reason (the framework records the
	// plugin). An Error status aborts the cycle. out is the framework's
	// memory: do not keep it.
	//
	// Filter is called once per chunk of nodes, concurrently for different
	// chunks of the same pod.
	Filter(ctx context.Context, state *CycleState, pod *PodInfo, nodes []*NodeInfo, out []Status)
}

// PostFilterPlugin runs when no node fits (preemption, autoscaling hints).
type PostFilterPlugin interface {
	Plugin
	// PostFilter may make room for the pod and return the node it made room
	// on (nominated), or a status explaining why it could not.
	PostFilter(ctx context.Context, state *CycleState, pod *PodInfo, diag *Diagnosis) (nominatedNode string, st Status)
}

// ScorePlugin ranks feasible nodes.
type ScorePlugin interface {
	Plugin
	// Score writes a score for nodes[i] into scores[i]; len(scores) ==
	// len(nodes). Scores must be in [MinNodeScore, MaxNodeScore] unless the
	// plugin also implements NormalizeScorer, which then maps them there.
	// Skip means no opinion (all zero). Score is called once per pod with all
	// feasible nodes; a built-in plugin may parallelise inside.
	Score(ctx context.Context, state *CycleState, pod *PodInfo, nodes []*NodeInfo, scores []int64) Status
}

// NormalizeScorer is implemented by a ScorePlugin whose raw scores need
// mapping into [MinNodeScore, MaxNodeScore] once all nodes are scored (for
// example, relative to the best node).
type NormalizeScorer interface {
	NormalizeScore(ctx context.Context, state *CycleState, pod *PodInfo, nodes []*NodeInfo, scores []int64) Status
}

// ReservePlugin holds resources for the pod on the chosen node before it is
// bound, and gives them back on failure.
type ReservePlugin interface {
	Plugin
	// Reserve runs after the framework assumed the pod onto node (its
	// requests and GPU devices are already counted there).
	Reserve(ctx context.Context, state *CycleState, pod *PodInfo, node *NodeInfo) Status
	// Unreserve undoes Reserve. It runs, in reverse order, for every reserve
	// plugin when a later step fails, also for plugins whose Reserve did not
	// run: it must be idempotent.
	Unreserve(ctx context.Context, state *CycleState, pod *PodInfo, node *NodeInfo)
}

// PermitPlugin approves, rejects or delays the binding of a reserved pod.
type PermitPlugin interface {
	Plugin
	// Permit returns Success, a rejection, or Wait with how long to wait at
	// most (gang scheduling waits for the rest of its group).
	Permit(ctx context.Context, state *CycleState, pod *PodInfo, nodeName string) (Status, time.Duration)
}

// BindPlugin writes the binding. Skip leaves it to the next binder.
type BindPlugin interface {
	Plugin
	Bind(ctx context.Context, state *CycleState, pod *PodInfo, nodeName string) Status
}
