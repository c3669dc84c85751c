package framework

import "maps"

// Profile is one scheduler profile as a Framework runs it: the scheduler
// name pods select it by, the enabled plugins per extension point in order,
// the score weights and the plugins' args. LoadConfig builds profiles from a
// file; DefaultProfile is "default-scheduler".
type Profile struct {
	SchedulerName string
	// PercentageOfNodesToScore: 0 is adaptive (see NumFeasibleNodesToFind).
	PercentageOfNodesToScore int32

	PreFilter  []string
	Filter     []string
	PostFilter []string
	Score      []WeightedPlugin
	Reserve    []string
	Permit     []string
	Bind       []string

	// PluginArgs are each plugin's args by plugin name.
	PluginArgs map[string]Args
}

// WeightedPlugin is a score plugin and its weight (1-100).
type WeightedPlugin struct {
	Name   string
	Weight int64
}

// Names of the built-in plugins (implemented in daemon/scheduler/plugins).
const (
	NodeNamePlugin          = "NodeName"
	NodeUnschedulablePlugin = "NodeUnschedulable"
	NodeResourcesFitPlugin  = "NodeResourcesFit"
	NodeAffinityPlugin      = "NodeAffinity"
	TaintTolerationPlugin   = "TaintToleration"
	GPUFitPlugin            = "GPUFit"
	CoschedulingPlugin      = "Coscheduling"
)

// DefaultProfile returns the "default-scheduler" profile:
//
//	preFilter: NodeName, NodeResourcesFit, NodeAffinity, GPUFit,
//	           Coscheduling
//	filter:    NodeUnschedulable, NodeName, TaintToleration, NodeAffinity,
//	           NodeResourcesFit, GPUFit
//	score:     NodeResourcesFit (weight 1), NodeAffinity (2),
//	           TaintToleration (3)
//	permit:    Coscheduling
//
// NodeResourcesFit scores with its default strategy, MostAllocatedForGPUs:
// pods that request GPUs are bin-packed (MostAllocated over cpu, memory and
// nvidia.com/gpu), so GPU pods fill a GPU node before opening another and
// whole GPU nodes stay free for large jobs; other pods are spread
// (LeastAllocated over cpu and memory). Weights are Kubernetes' defaults.
func DefaultProfile() Profile {
	return Profile{
		SchedulerName: DefaultSchedulerName,
		PreFilter:     []string{NodeNamePlugin, NodeResourcesFitPlugin, NodeAffinityPlugin, GPUFitPlugin, CoschedulingPlugin},
		Filter: []string{NodeUnschedulablePlugin, NodeNamePlugin, TaintTolerationPlugin,
			NodeAffinityPlugin, NodeResourcesFitPlugin, GPUFitPlugin},
		Score: []WeightedPlugin{
			{NodeResourcesFitPlugin, 1},
			{NodeAffinityPlugin, 2},
			{TaintTolerationPlugin, 3},
		},
		Permit: []string{CoschedulingPlugin},
	}
}

// clone returns a copy that shares nothing mutable with p.
func (p Profile) clone() Profile {
	p.PreFilter = append([]string(nil), p.PreFilter...)
	p.Filter = append([]string(nil), p.Filter...)
	p.PostFilter = append([]string(nil), p.PostFilter...)
	p.Score = append([]WeightedPlugin(nil), p.Score...)
	p.Reserve = append([]string(nil), p.Reserve...)
	p.Permit = append([]string(nil), p.Permit...)
	p.Bind = append([]string(nil), p.Bind...)
	p.PluginArgs = maps.Clone(p.PluginArgs)
	return p
}
