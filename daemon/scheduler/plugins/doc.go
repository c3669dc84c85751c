// Package plugins holds Wharf's built-in scheduling plugins, one file per
// plugin, and NewRegistry, which registers them all:
//
//	NodeName           prefilter, filter
//	NodeUnschedulable  filter
//	NodeResourcesFit   prefilter, filter, score (LeastAllocated,
//	                   MostAllocated, MostAllocatedForGPUs)
//	NodeAffinity       prefilter, filter (nodeSelector and required
//	                   affinity), score (preferred affinity)
//	TaintToleration    filter (NoSchedule, NoExecute), score
//	                   (PreferNoSchedule)
//	GPUFit             prefilter, filter (GPU model and memory)
//	Coscheduling       prefilter, permit (gangs: PodGroup minMember)
//
// Their rejection reasons are the Reason* constants, worded as Kubernetes
// words them where Kubernetes has the same check.
//
// Only the scheduler imports this package.
package plugins

import "github.com/wharfhq/wharf/daemon/scheduler/framework"

// NewRegistry returns a registry of the built-in plugins.
func NewRegistry() framework.Registry {
	return framework.Registry{
		framework.NodeNamePlugin:          noArgs(NodeName{}),
		framework.NodeUnschedulablePlugin: noArgs(NodeUnschedulable{}),
		framework.NodeResourcesFitPlugin:  NewNodeResourcesFit,
		framework.NodeAffinityPlugin:      noArgs(NodeAffinity{}),
		framework.TaintTolerationPlugin:   noArgs(TaintToleration{}),
		framework.GPUFitPlugin:            noArgs(GPUFit{}),
		framework.CoschedulingPlugin:      noArgs(Coscheduling{}),
	}
}

// noArgs is the factory of a plugin that takes no args.
func noArgs(p framework.Plugin) framework.Factory {
	return func(args framework.Args) (framework.Plugin, error) {
		if !args.IsZero() {
			return nil, errNoArgs
		}
		return p, nil
	}
}
