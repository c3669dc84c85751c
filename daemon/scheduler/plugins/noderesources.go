package plugins

import (
	"context"
	"fmt"
	"sync"

	"github.com/wharfhq/wharf/daemon/scheduler/framework"
)

// NodeResourcesFit rejection reasons; "Insufficient <name>" for any other
// resource (InsufficientReason).
const (
	ReasonTooManyPods     = "Too many pods"
	ReasonInsufficientCPU = "Insufficient cpu"
	ReasonInsufficientMem = "Insufficient memory"
	ReasonInsufficientGPU = "Insufficient nvidia.com/gpu"
)

var insufficient sync.Map // resource name -> "Insufficient <name>"

// InsufficientReason returns "Insufficient <name>".
func InsufficientReason(name string) string {
	if r, ok := insufficient.Load(name); ok {
		return r.(string)
	}
	r, _ := insufficient.LoadOrStore(name, "Insufficient "+name)
	return r.(string)
}

// Scoring strategies of NodeResourcesFit.
const (
	// LeastAllocated prefers the nodes with the most room left (spread).
	LeastAllocated = "LeastAllocated"
	// MostAllocated prefers the fullest nodes that still fit (bin-pack).
	MostAllocated = "MostAllocated"
	// MostAllocatedForGPUs bin-packs pods that request nvidia.com/gpu and
	// spreads the others. The default.
	MostAllocatedForGPUs = "MostAllocatedForGPUs"
)

// NodeResourcesFitArgs configure NodeResourcesFit (pluginConfig args):
//
//	scoringStrategy:
//	  type: MostAllocatedForGPUs   # or LeastAllocated, MostAllocated
//	  resources:                   # default cpu 1, memory 1, nvidia.com/gpu 3
//	    - {name: cpu, weight: 1}
//	    - {name: memory, weight: 1}
//	    - {name: nvidia.com/gpu, weight: 3}
type NodeResourcesFitArgs struct {
	ScoringStrategy ScoringStrategy `json:"scoringStrategy"`
}

// ScoringStrategy picks how NodeResourcesFit scores.
type ScoringStrategy struct {
	Type      string           `json:"type"`
	Resources []ResourceWeight `json:"resources"`
}

// ResourceWeight weighs one resource in the score.
type ResourceWeight struct {
	Name   string `json:"name"`
	Weight int64  `json:"weight"`
}

// DefaultScoringResources weigh GPUs above cpu and memory, so that for a GPU
// pod filling GPUs counts more than filling cores.
var DefaultScoringResources = []ResourceWeight{
	{framework.ResourceCPU, 1},
	{framework.ResourceMemory, 1},
	{framework.ResourceGPU, 3},
}

// NodeResourcesFit rejects nodes whose allocatable resources, less what
// their pods request, cannot hold the pod's requests: pods ("Too many
// pods"), cpu, memory, nvidia.com/gpu and any other resource ("Insufficient
// cpu", ...); every shortfall is a reason. It scores by its strategy:
//
//   - LeastAllocated: (allocatable - requested) / allocatable per
//     resource, weighted average, times 100 (spread);
//   - MostAllocated: requested / allocatable (bin-pack);
//   - MostAllocatedForGPUs (default): MostAllocated for pods that request
//     GPUs, so GPU pods fill a GPU node before opening another and whole
//     GPU nodes stay free for large jobs; LeastAllocated for others.
//
// "requested" includes the pod; cpu and memory use the non-zero requests
// (pods without requests count as 100m and 200Mi), as Kubernetes does. A
// resource the node has none of, or an extended resource (GPUs included)
// the pod does not request, is left out of the average.
type NodeResourcesFit struct {
	strategy  string
	resources []scoredResource
}

type resKind uint8

const (
	resCPU resKind = iota
	resMemory
	resGPU
	resScalar
)

type scoredResource struct {
	kind   resKind
	name   string
	weight int64
}

var (
	_ framework.PreFilterPlugin = (*NodeResourcesFit)(nil)
	_ framework.FilterPlugin    = (*NodeResourcesFit)(nil)
	_ framework.ScorePlugin     = (*NodeResourcesFit)(nil)
)

// NewNodeResourcesFit is the plugin's factory.
func NewNodeResourcesFit(args framework.Args) (framework.Plugin, error) {
	var a NodeResourcesFitArgs
	if err := args.Decode(&a); err != nil {
		return nil, err
	}
	p := &NodeResourcesFit{strategy: a.ScoringStrategy.Type}
	switch p.strategy {
	case "":
		p.strategy = MostAllocatedForGPUs
	case LeastAllocated, MostAllocated, MostAllocatedForGPUs:
	default:
		return nil, fmt.Errorf("args.scoringStrategy.type: unknown strategy %q; want %s, %s or %s",
			p.strategy, LeastAllocated, MostAllocated, MostAllocatedForGPUs)
	}
	res := a.ScoringStrategy.Resources
	if len(res) == 0 {
		res = DefaultScoringResources
	}
	seen := map[string]bool{}
	for i, r := range res {
		switch {
		case r.Name == "":
			return nil, fmt.Errorf("args.scoringStrategy.resources[%d].name: required", i)
		case seen[r.Name]:
			return nil, fmt.Errorf("args.scoringStrategy.resources[%d].name: %q is listed twice", i, r.Name)
		case r.Weight < 1 || r.Weight > 100:
			return nil, fmt.Errorf("args.scoringStrategy.resources[%d].weight: %d is out of range; want 1 to 100", i, r.Weight)
		}
		seen[r.Name] = true
		sr := scoredResource{kind: resScalar, name: r.Name, weight: r.Weight}
		switch r.Name {
		case framework.ResourceCPU:
			sr.kind = resCPU
		case framework.ResourceMemory:
			sr.kind = resMemory
		case framework.ResourceGPU:
			sr.kind = resGPU
		case framework.ResourcePods:
			return nil, fmt.Errorf("args.scoringStrategy.resources[%d].name: pods cannot be scored", i)
		}
		p.resources = append(p.resources, sr)
	}
	return p, nil
}

// Name returns "NodeResourcesFit".
func (*NodeResourcesFit) Name() string { return framework.NodeResourcesFitPlugin }

// PreFilter warms the reason strings for the pod's extended resources and,
// for a pod that requests GPUs, limits the cycle to the nodes with GPUs (an
// index result: the others would all be "Insufficient nvidia.com/gpu").
func (*NodeResourcesFit) PreFilter(_ context.Context, state *framework.CycleState, pod *framework.PodInfo) (*framework.PreFilterResult, framework.Status) {
	for _, name := range pod.ScalarNames {
		InsufficientReason(name)
	}
	if snap := state.Snapshot(); snap != nil && pod.Requests.GPU > 0 {
		return &framework.PreFilterResult{Nodes: snap.NodesWithGPUs(), Reason: ReasonInsufficientGPU, Index: true}, framework.Status{}
	}
	return nil, framework.Status{}
}

// Filter rejects nodes that cannot hold the pod's requests.
func (*NodeResourcesFit) Filter(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, out []framework.Status) {
	req := &pod.Requests
	var buf [8]string
	for i, n := range nodes {
		reasons := buf[:0]
		a, r := &n.Allocatable, &n.Requested
		if r.Pods+1 > a.Pods {
			reasons = append(reasons, ReasonTooManyPods)
		}
		if req.MilliCPU > 0 && req.MilliCPU > a.MilliCPU-r.MilliCPU {
			reasons = append(reasons, ReasonInsufficientCPU)
		}
		if req.Memory > 0 && req.Memory > a.Memory-r.Memory {
			reasons = append(reasons, ReasonInsufficientMem)
		}
		if req.GPU > 0 && req.GPU > a.GPU-r.GPU {
			reasons = append(reasons, ReasonInsufficientGPU)
		}
		for _, name := range pod.ScalarNames {
			if v := req.Scalar[name]; v > a.Scalar[name]-r.Scalar[name] {
				reasons = append(reasons, InsufficientReason(name))
			}
		}
		if len(reasons) > 0 {
			out[i] = framework.NewStatus(framework.Unschedulable, reasons...)
		}
	}
}

// Score scores each node by the strategy, in [0, 100].
func (p *NodeResourcesFit) Score(_ context.Context, _ *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) framework.Status {
	most := p.strategy == MostAllocated || (p.strategy == MostAllocatedForGPUs && pod.Requests.GPU > 0)
	for i, n := range nodes {
		var sum, weights int64
		for _, r := range p.resources {
			var alloc, req int64
			switch r.kind {
			case resCPU:
				alloc, req = n.Allocatable.MilliCPU, n.NonZeroRequested.MilliCPU+pod.NonZeroMilliCPU
			case resMemory:
				alloc, req = n.Allocatable.Memory, n.NonZeroRequested.Memory+pod.NonZeroMemory
			case resGPU:
				if pod.Requests.GPU == 0 {
					continue
				}
				alloc, req = n.Allocatable.GPU, n.Requested.GPU+pod.Requests.GPU
			default:
				pr := pod.Requests.Scalar[r.name]
				if pr == 0 {
					continue
				}
				alloc, req = n.Allocatable.Scalar[r.name], n.Requested.Scalar[r.name]+pr
			}
			if alloc <= 0 {
				continue
			}
			var s int64
			if most {
				s = min(req, alloc) * framework.MaxNodeScore / alloc
			} else if req <= alloc {
				s = (alloc - req) * framework.MaxNodeScore / alloc
			}
			sum += s * r.weight
			weights += r.weight
		}
		if weights > 0 {
			scores[i] = sum / weights
		} else {
			scores[i] = 0
		}
	}
	return framework.Status{}
}
