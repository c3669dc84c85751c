package framework

import (
	"fmt"
	"strconv"
	"strings"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// GPU is one device of a node, with its allocation.
type GPU struct {
	Index     int32
	UUID      string
	Model     string
	MemoryMiB int64
	// Pod is the key (namespace/name) of the pod the device is allocated
	// to, "" while free.
	Pod string
	// model is Model's id (see modelID); 0: none.
	model int32
}

// GPURequest is what a pod asks of GPUs: a count (resource nvidia.com/gpu)
// and optional attributes every device must have (annotations
// gpu.wharf.dev/min-memory-mib and gpu.wharf.dev/models).
type GPURequest struct {
	Count        int64
	MinMemoryMiB int64
	// Models, as written in the annotation (trimmed); empty means any.
	Models []string
	// Devices are indices already allocated to a bound pod
	// (gpu.wharf.dev/devices); UUIDs those the node agent reports in the
	// pod's container statuses. The snapshot restores accounting from them.
	Devices []int32
	UUIDs   []string
	// models are the ids of Models (see modelID), when every one has one.
	models []int32
}

// Constrained reports whether the request names attributes beyond a count.
func (g *GPURequest) Constrained() bool {
	return g.Count > 0 && (g.MinMemoryMiB > 0 || len(g.Models) > 0)
}

// Matches reports whether device d has the requested attributes.
func (g *GPURequest) Matches(d *GPU) bool {
	if d.MemoryMiB < g.MinMemoryMiB {
		return false
	}
	if len(g.Models) == 0 {
		return true
	}
	// By id: the filters ask this of every device of every candidate node.
	if d.model != 0 && len(g.models) == len(g.Models) {
		for _, id := range g.models {
			if id == d.model {
				return true
			}
		}
		return false
	}
	for _, m := range g.Models {
		if strings.EqualFold(m, d.Model) {
			return true
		}
	}
	return false
}

// modelIDs numbers GPU model names, compared without case as Matches does,
// so that matching a device is comparing two integers. It holds at most
// maxModels names; past that, names get no id (0) and are compared as
// strings.
var modelIDs = newTable[int32](maxModels)

const maxModels = 4096

// modelID returns name's id, 0 for none.
func modelID(name string) int32 {
	id, _ := modelIDs.get(strings.ToLower(name), func(n int) int32 { return int32(n + 1) })
	return id
}

func parseGPURequest(p *wharfv1.Pod, count int64) (GPURequest, error) {
	g := GPURequest{Count: count}
	ann := p.GetMetadata().GetAnnotations()
	const path = "metadata.annotations[%q]"
	if s, ok := ann[AnnotationGPUMinMemoryMiB]; ok {
		v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
		if err != nil || v < 0 {
			return g, fmt.Errorf(path+": %q is not a whole number of MiB (e.g. \"40000\")", AnnotationGPUMinMemoryMiB, s)
		}
		g.MinMemoryMiB = v
	}
	if s, ok := ann[AnnotationGPUModels]; ok {
		for m := range strings.SplitSeq(s, ",") {
			if m = strings.TrimSpace(m); m != "" {
				g.Models = append(g.Models, m)
			}
		}
		if len(g.Models) == 0 {
			return g, fmt.Errorf(path+": empty; want comma-separated model names (e.g. \"NVIDIA H100 80GB HBM3\")", AnnotationGPUModels)
		}
		for _, m := range g.Models {
			id := modelID(m)
			if id == 0 {
				g.models = nil
				break
			}
			g.models = append(g.models, id)
		}
	}
	if count == 0 && (g.MinMemoryMiB > 0 || len(g.Models) > 0) {
		return g, fmt.Errorf("%s: set, but the pod requests no %s; request GPUs in spec.containers[].resources", "metadata.annotations[gpu.wharf.dev/*]", ResourceGPU)
	}
	if s, ok := ann[AnnotationGPUDevices]; ok && count > 0 {
		for d := range strings.SplitSeq(s, ",") {
			i, err := strconv.ParseInt(strings.TrimSpace(d), 10, 32)
			if err != nil {
				return g, fmt.Errorf(path+": %q is not a comma-separated list of device indices", AnnotationGPUDevices, s)
			}
			g.Devices = append(g.Devices, int32(i))
		}
	}
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		g.UUIDs = append(g.UUIDs, cs.GetAllocatedDevices()...)
	}
	return g, nil
}

func parseGPUs(ds []*wharfv1.GPUDevice) []GPU {
	if len(ds) == 0 {
		return nil
	}
	out := make([]GPU, len(ds))
	for i, d := range ds {
		out[i] = GPU{Index: d.GetIndex(), UUID: d.GetUuid(), Model: d.GetModel(), MemoryMiB: d.GetMemoryMib(), model: modelID(d.GetModel())}
	}
	return out
}

// FreeGPUs returns how many devices are not allocated.
func (n *NodeInfo) FreeGPUs() int { return n.freeGPUs }

// MatchingGPUs returns how many devices have the attributes g asks for, and
// how many of those are free.
func (n *NodeInfo) MatchingGPUs(g *GPURequest) (free, total int) {
	for i := range n.GPUs {
		if g.Matches(&n.GPUs[i]) {
			total++
			if n.GPUs[i].Pod == "" {
				free++
			}
		}
	}
	return free, total
}

// PodGPUs returns the indices of the devices allocated to the pod with key.
func (n *NodeInfo) PodGPUs(key string) []int32 {
	var out []int32
	for i := range n.GPUs {
		if n.GPUs[i].Pod == key {
			out = append(out, n.GPUs[i].Index)
		}
	}
	return out
}

// allocateGPUs gives p's requested count of free devices to p: the devices
// it already holds (annotation, container statuses) first, then the
// smallest free matching devices (best fit, lowest index first), then, for
// accounting only, any free device.
func (n *NodeInfo) allocateGPUs(p *PodInfo) {
	want := int(p.GPU.Count)
	take := func(i int) {
		n.GPUs[i].Pod = p.Key
		n.freeGPUs--
		want--
	}
	for _, idx := range p.GPU.Devices {
		for i := range n.GPUs {
			if want > 0 && n.GPUs[i].Index == idx && n.GPUs[i].Pod == "" {
				take(i)
			}
		}
	}
	for _, u := range p.GPU.UUIDs {
		for i := range n.GPUs {
			if want > 0 && u != "" && n.GPUs[i].UUID == u && n.GPUs[i].Pod == "" {
				take(i)
			}
		}
	}
	for pass := 0; pass < 2 && want > 0; pass++ {
		for want > 0 {
			best := -1
			for i := range n.GPUs {
				d := &n.GPUs[i]
				if d.Pod != "" || (pass == 0 && !p.GPU.Matches(d)) {
					continue
				}
				if best < 0 || d.MemoryMiB < n.GPUs[best].MemoryMiB ||
					(d.MemoryMiB == n.GPUs[best].MemoryMiB && d.Index < n.GPUs[best].Index) {
					best = i
				}
			}
			if best < 0 {
				break
			}
			take(best)
		}
	}
}

// releaseGPUs frees the devices allocated to key.
func (n *NodeInfo) releaseGPUs(key string) {
	for i := range n.GPUs {
		if n.GPUs[i].Pod == key {
			n.GPUs[i].Pod = ""
			n.freeGPUs++
		}
	}
}
