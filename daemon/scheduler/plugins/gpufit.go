package plugins

import (
	"context"

	"github.com/wharfhq/wharf/daemon/scheduler/framework"
)

// GPUFit rejection reasons.
const (
	// ReasonGPUAttributes: the node has fewer GPUs with the requested model
	// and memory than the pod asks for, free or not.
	ReasonGPUAttributes = "node(s) didn't have enough GPUs matching the Pod's model/memory requirements"
	// ReasonGPUFree: the node has enough such GPUs, but not enough free.
	ReasonGPUFree = "Insufficient free GPUs matching the Pod's model/memory requirements"
)

var (
	statusGPUAttributes = framework.NewStatus(framework.UnschedulableAndUnresolvable, ReasonGPUAttributes)
	statusGPUFree       = framework.NewStatus(framework.Unschedulable, ReasonGPUFree)
)

// GPUFit keeps a pod that asks for N GPUs (resource nvidia.com/gpu) with
// attributes (annotations gpu.wharf.dev/min-memory-mib and
// gpu.wharf.dev/models) to nodes with N free devices that have them, as the
// node agent reports its devices (NodeStatus.gpus). The count alone is
// NodeResourcesFit's check; GPUFit skips pods without attributes.
//
// On Reserve the framework allocates the matching devices (best fit: the
// smallest memory that suffices, lowest index first); see NodeInfo.PodGPUs.
type GPUFit struct{}

var (
	_ framework.PreFilterPlugin = GPUFit{}
	_ framework.FilterPlugin    = GPUFit{}
)

// Name returns "GPUFit".
func (GPUFit) Name() string { return framework.GPUFitPlugin }

// PreFilter skips Filter for pods without GPU attributes.
func (GPUFit) PreFilter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo) (*framework.PreFilterResult, framework.Status) {
	if !pod.GPU.Constrained() {
		return nil, framework.NewStatus(framework.Skip)
	}
	return nil, framework.Status{}
}

// Filter rejects nodes without enough free matching devices.
func (GPUFit) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, out []framework.Status) {
	if !pod.GPU.Constrained() {
		return
	}
	want := int(pod.GPU.Count)
	for i, n := range nodes {
		free, total := n.MatchingGPUs(&pod.GPU)
		switch {
		case total < want:
			out[i] = statusGPUAttributes
		case free < want:
			out[i] = statusGPUFree
		}
	}
}
