package plugins

import (
	"context"

	"github.com/wharfhq/wharf/daemon/scheduler/framework"
)

// ReasonUnschedulable rejects cordoned nodes (spec.unschedulable).
const ReasonUnschedulable = "node(s) were unschedulable"

var (
	statusUnschedulable = framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonUnschedulable)
	unschedulableTaint  = framework.Taint{Key: framework.TaintNodeUnschedulable, Effect: framework.EffectNoSchedule}
)

// NodeUnschedulable rejects nodes marked unschedulable (cordoned), unless
// the pod tolerates the taint node.kubernetes.io/unschedulable:NoSchedule.
type NodeUnschedulable struct{}

var _ framework.FilterPlugin = NodeUnschedulable{}

// Name returns "NodeUnschedulable".
func (NodeUnschedulable) Name() string { return framework.NodeUnschedulablePlugin }

// Filter rejects unschedulable nodes the pod does not tolerate.
func (NodeUnschedulable) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, out []framework.Status) {
	if framework.Tolerated(pod.Tolerations, &unschedulableTaint) {
		return
	}
	for i, n := range nodes {
		if n.Unschedulable {
			out[i] = statusUnschedulable
		}
	}
}
