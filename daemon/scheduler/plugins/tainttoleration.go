package plugins

import (
	"context"

	"github.com/wharfhq/wharf/daemon/scheduler/framework"
)

// TaintToleration rejects nodes with a NoSchedule or NoExecute taint the pod
// does not tolerate (reason "node(s) had untolerated taint {key: value}",
// the first such taint), and scores nodes lower the more PreferNoSchedule
// taints the pod does not tolerate.
type TaintToleration struct{}

var (
	_ framework.FilterPlugin    = TaintToleration{}
	_ framework.ScorePlugin     = TaintToleration{}
	_ framework.NormalizeScorer = TaintToleration{}
)

// Name returns "TaintToleration".
func (TaintToleration) Name() string { return framework.TaintTolerationPlugin }

// Filter rejects nodes with an untolerated NoSchedule or NoExecute taint.
func (TaintToleration) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, out []framework.Status) {
	for i, n := range nodes {
		for j := range n.Taints {
			t := &n.Taints[j]
			if t.Effect == framework.EffectPreferNoSchedule || framework.Tolerated(pod.Tolerations, t) {
				continue
			}
			out[i] = framework.NewStatus(framework.UnschedulableAndUnresolvable, t.Reason())
			break
		}
	}
}

// Score counts untolerated PreferNoSchedule taints (NormalizeScore turns
// fewer into higher).
func (TaintToleration) Score(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) framework.Status {
	for i, n := range nodes {
		var c int64
		for j := range n.Taints {
			t := &n.Taints[j]
			if t.Effect == framework.EffectPreferNoSchedule && !framework.Tolerated(pod.Tolerations, t) {
				c++
			}
		}
		scores[i] = c
	}
	return framework.Status{}
}

// NormalizeScore maps counts to [0, 100], fewest taints highest.
func (TaintToleration) NormalizeScore(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, _ []*framework.NodeInfo, scores []int64) framework.Status {
	normalize(scores, true)
	return framework.Status{}
}

// normalize maps scores to [0, MaxNodeScore] relative to the highest;
// reverse turns highest into lowest (Kubernetes' DefaultNormalizeScore).
func normalize(scores []int64, reverse bool) {
	var top int64
	for _, s := range scores {
		top = max(top, s)
	}
	if top == 0 {
		if reverse {
			for i := range scores {
				scores[i] = framework.MaxNodeScore
			}
		}
		return
	}
	for i, s := range scores {
		s = framework.MaxNodeScore * s / top
		if reverse {
			s = framework.MaxNodeScore - s
		}
		scores[i] = s
	}
}
