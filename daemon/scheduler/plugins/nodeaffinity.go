package plugins

import (
	"context"

	"github.com/wharfhq/wharf/daemon/scheduler/framework"
)

// ReasonNodeAffinity rejects nodes that do not match the pod's nodeSelector
// or required node affinity.
const ReasonNodeAffinity = "node(s) didn't match Pod's node affinity/selector"

var statusNodeAffinity = framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeAffinity)

// NodeAffinity filters on spec.nodeSelector and required node affinity
// (operators In, NotIn, Exists, DoesNotExist, Gt, Lt; matchFields on
// metadata.name) and scores by preferred node affinity: the sum of the
// weights of the matching preferred terms, relative to the best node.
//
// Node labels in the names of NVIDIA's GPU feature discovery
// (nvidia.com/gpu.product, nvidia.com/gpu.memory, nvidia.com/gpu.count),
// which the node agent sets, select GPU nodes through this plugin like any
// other label.
type NodeAffinity struct{}

var (
	_ framework.PreFilterPlugin = NodeAffinity{}
	_ framework.FilterPlugin    = NodeAffinity{}
	_ framework.ScorePlugin     = NodeAffinity{}
	_ framework.NormalizeScorer = NodeAffinity{}
)

// Name returns "NodeAffinity".
func (NodeAffinity) Name() string { return framework.NodeAffinityPlugin }

// PreFilter skips Filter for pods without nodeSelector or required affinity.
func (NodeAffinity) PreFilter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo) (*framework.PreFilterResult, framework.Status) {
	if pod.RequiredAffinity == nil {
		return nil, framework.NewStatus(framework.Skip)
	}
	return nil, framework.Status{}
}

// Filter rejects nodes that do not match.
func (NodeAffinity) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, out []framework.Status) {
	a := pod.RequiredAffinity
	if a == nil {
		return
	}
	for i, n := range nodes {
		if !a.Match(n) {
			out[i] = statusNodeAffinity
		}
	}
}

// Score sums the weights of the preferred terms each node matches; Skip
// for pods without preferred terms.
func (NodeAffinity) Score(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) framework.Status {
	if len(pod.PreferredAffinity) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	for i, n := range nodes {
		var s int64
		for j := range pod.PreferredAffinity {
			if t := &pod.PreferredAffinity[j]; t.Match(n) {
				s += t.Weight
			}
		}
		scores[i] = s
	}
	return framework.Status{}
}

// NormalizeScore maps the sums to [0, 100] relative to the best node.
func (NodeAffinity) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, _ []*framework.NodeInfo, scores []int64) framework.Status {
	normalize(scores, false)
	return framework.Status{}
}
