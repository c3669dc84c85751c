package plugins

import (
	"context"

	"github.com/wharfhq/wharf/daemon/scheduler/framework"
)

// ReasonNodeName rejects nodes other than the one a pod names.
const ReasonNodeName = "node(s) didn't match the requested node name"

var statusNodeName = framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonNodeName)

// NodeName keeps a pod that sets spec.nodeName to that node. Its PreFilter
// limits the cycle to the node, so the other nodes are not filtered at all.
type NodeName struct{}

var (
	_ framework.PreFilterPlugin = NodeName{}
	_ framework.FilterPlugin    = NodeName{}
)

// Name returns "NodeName".
func (NodeName) Name() string { return framework.NodeNamePlugin }

// PreFilter limits the cycle to spec.nodeName; Skip without one.
func (NodeName) PreFilter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo) (*framework.PreFilterResult, framework.Status) {
	if pod.NodeName == "" {
		return nil, framework.NewStatus(framework.Skip)
	}
	return &framework.PreFilterResult{NodeNames: []string{pod.NodeName}, Reason: ReasonNodeName}, framework.Status{}
}

// Filter rejects nodes not named by the pod.
func (NodeName) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, out []framework.Status) {
	if pod.NodeName == "" {
		return
	}
	for i, n := range nodes {
		if n.Name != pod.NodeName {
			out[i] = statusNodeName
		}
	}
}
