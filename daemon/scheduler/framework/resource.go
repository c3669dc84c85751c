package framework

import (
	"fmt"
	"maps"
	"slices"

	"github.com/wharfhq/wharf/sdk/quantity"
)

// Resource is an amount of each resource, parsed once: cpu in millicores,
// memory in bytes, GPUs and pods as counts, other resources (extended
// resources, ephemeral-storage, hugepages-*) by name in whole units.
type Resource struct {
	MilliCPU int64
	Memory   int64
	GPU      int64 // nvidia.com/gpu
	Pods     int64
	// Scalar holds every other resource; nil when there is none.
	Scalar map[string]int64
}

// Map returns r as integers by resource name ("cpu" in millicores,
// "memory" in bytes, the rest as counts): the form scheduling plugins
// receive. cpu, memory, GPUs and pods are left out when zero; other
// resources are there as listed, zero or not.
func (r *Resource) Map() map[string]int64 {
	m := make(map[string]int64, 4+len(r.Scalar))
	if r.MilliCPU != 0 {
		m[ResourceCPU] = r.MilliCPU
	}
	if r.Memory != 0 {
		m[ResourceMemory] = r.Memory
	}
	if r.GPU != 0 {
		m[ResourceGPU] = r.GPU
	}
	if r.Pods != 0 {
		m[ResourcePods] = r.Pods
	}
	for k, v := range r.Scalar {
		m[k] = v
	}
	return m
}

// ParseResourceList parses a map of quantities (requests, limits,
// allocatable). field prefixes errors: `status.allocatable["cpu"]: ...`.
func ParseResourceList(list map[string]string, field string) (Resource, error) {
	var r Resource
	for name, s := range list {
		q, err := quantity.Parse(s)
		if err != nil {
			return Resource{}, fmt.Errorf("%s[%q]: %w", field, name, err)
		}
		if q.Sign() < 0 {
			return Resource{}, fmt.Errorf("%s[%q]: %q is negative; want 0 or more", field, name, s)
		}
		r.set(name, q)
	}
	return r, nil
}

func (r *Resource) set(name string, q quantity.Quantity) {
	switch name {
	case ResourceCPU:
		r.MilliCPU = q.MilliValue()
	case ResourceMemory:
		r.Memory = q.Value()
	case ResourceGPU:
		r.GPU = q.Value()
	case ResourcePods:
		r.Pods = q.Value()
	default:
		if r.Scalar == nil {
			r.Scalar = make(map[string]int64)
		}
		r.Scalar[name] = q.Value()
	}
}

// Get returns the amount of one resource by name.
func (r *Resource) Get(name string) int64 {
	switch name {
	case ResourceCPU:
		return r.MilliCPU
	case ResourceMemory:
		return r.Memory
	case ResourceGPU:
		return r.GPU
	case ResourcePods:
		return r.Pods
	}
	return r.Scalar[name]
}

// Add adds o to r.
func (r *Resource) Add(o *Resource) {
	r.MilliCPU += o.MilliCPU
	r.Memory += o.Memory
	r.GPU += o.GPU
	r.Pods += o.Pods
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = make(map[string]int64, len(o.Scalar))
		}
		r.Scalar[k] += v
	}
}

// Sub subtracts o from r.
func (r *Resource) Sub(o *Resource) {
	r.MilliCPU -= o.MilliCPU
	r.Memory -= o.Memory
	r.GPU -= o.GPU
	r.Pods -= o.Pods
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = make(map[string]int64, len(o.Scalar))
		}
		r.Scalar[k] -= v
	}
}

// setMax raises each amount of r to o's where o's is larger (init
// containers run one at a time, so a pod needs the largest of them).
func (r *Resource) setMax(o *Resource) {
	r.MilliCPU = max(r.MilliCPU, o.MilliCPU)
	r.Memory = max(r.Memory, o.Memory)
	r.GPU = max(r.GPU, o.GPU)
	r.Pods = max(r.Pods, o.Pods)
	for k, v := range o.Scalar {
		if r.Scalar == nil {
			r.Scalar = make(map[string]int64, len(o.Scalar))
		}
		r.Scalar[k] = max(r.Scalar[k], v)
	}
}

// Clone returns a deep copy.
func (r Resource) Clone() Resource {
	r.Scalar = maps.Clone(r.Scalar)
	return r
}

// scalarNames returns the sorted names of the non-zero scalar resources.
func (r *Resource) scalarNames() []string {
	var names []string
	for k, v := range r.Scalar {
		if v != 0 {
			names = append(names, k)
		}
	}
	slices.Sort(names)
	return names
}
