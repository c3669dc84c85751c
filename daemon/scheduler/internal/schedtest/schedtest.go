// Package schedtest builds nodes and pods for the scheduler's tests and
// benchmarks. Only tests under daemon/scheduler import it.
package schedtest

import (
	"fmt"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// NodeOption changes a node under construction.
type NodeOption func(*wharfv1.Node)

// Node returns a node with 8 cpu, 32Gi memory and 110 pods allocatable,
// changed by opts.
func Node(name string, opts ...NodeOption) *wharfv1.Node {
	n := &wharfv1.Node{
		Metadata: &wharfv1.ObjectMeta{Name: name, Labels: map[string]string{"kubernetes.io/hostname": name}},
		Spec:     &wharfv1.NodeSpec{},
		Status: &wharfv1.NodeStatus{Allocatable: map[string]string{
			"cpu": "8", "memory": "32Gi", "pods": "110",
		}},
	}
	for _, o := range opts {
		o(n)
	}
	return n
}

// Allocatable sets allocatable quantities (name, value pairs), keeping the
// others.
func Allocatable(kv ...string) NodeOption {
	return func(n *wharfv1.Node) {
		for i := 0; i+1 < len(kv); i += 2 {
			n.Status.Allocatable[kv[i]] = kv[i+1]
		}
	}
}

// Labels adds labels (key, value pairs).
func Labels(kv ...string) NodeOption {
	return func(n *wharfv1.Node) {
		for i := 0; i+1 < len(kv); i += 2 {
			n.Metadata.Labels[kv[i]] = kv[i+1]
		}
	}
}

// Taint adds a taint.
func Taint(key, value, effect string) NodeOption {
	return func(n *wharfv1.Node) {
		n.Spec.Taints = append(n.Spec.Taints, &wharfv1.Taint{Key: key, Value: value, Effect: effect})
	}
}

// Unschedulable cordons the node.
func Unschedulable() NodeOption {
	return func(n *wharfv1.Node) { n.Spec.Unschedulable = true }
}

// GPUs gives the node count devices of model with memMiB each, sets
// allocatable nvidia.com/gpu and the GPU feature discovery labels as the
// node agent does.
func GPUs(count int, model string, memMiB int64) NodeOption {
	return func(n *wharfv1.Node) {
		for i := range count {
			n.Status.Gpus = append(n.Status.Gpus, &wharfv1.GPUDevice{
				Index: int32(i), Uuid: fmt.Sprintf("GPU-%s-%d", n.Metadata.Name, i),
				Model: model, MemoryMib: memMiB,
			})
		}
		n.Status.Allocatable["nvidia.com/gpu"] = fmt.Sprint(count)
		n.Metadata.Labels["nvidia.com/gpu.product"] = gfdName(model)
		n.Metadata.Labels["nvidia.com/gpu.memory"] = fmt.Sprint(memMiB)
		n.Metadata.Labels["nvidia.com/gpu.count"] = fmt.Sprint(count)
	}
}

// gfdName writes a model the way GPU feature discovery labels it (spaces
// become dashes).
func gfdName(model string) string {
	b := []byte(model)
	for i, c := range b {
		if c == ' ' {
			b[i] = '-'
		}
	}
	return string(b)
}

// PodOption changes a pod under construction.
type PodOption func(*wharfv1.Pod)

// Pod returns a pod in namespace "default" with one container and no
// requests, changed by opts.
func Pod(name string, opts ...PodOption) *wharfv1.Pod {
	p := &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: name, Namespace: "default", Annotations: map[string]string{}},
		Spec: &wharfv1.PodSpec{Containers: []*wharfv1.Container{{
			Name: "main", Image: "busybox", Resources: &wharfv1.ResourceRequirements{},
		}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

// Requests sets the first container's requests (name, value pairs).
func Requests(kv ...string) PodOption {
	return func(p *wharfv1.Pod) {
		r := p.Spec.Containers[0].Resources
		if r.Requests == nil {
			r.Requests = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			r.Requests[kv[i]] = kv[i+1]
		}
	}
}

// Limits sets the first container's limits (name, value pairs).
func Limits(kv ...string) PodOption {
	return func(p *wharfv1.Pod) {
		r := p.Spec.Containers[0].Resources
		if r.Limits == nil {
			r.Limits = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			r.Limits[kv[i]] = kv[i+1]
		}
	}
}

// Container adds a container with requests (name, value pairs).
func Container(kv ...string) PodOption {
	return func(p *wharfv1.Pod) {
		c := &wharfv1.Container{Name: fmt.Sprint("c", len(p.Spec.Containers)), Resources: &wharfv1.ResourceRequirements{Requests: map[string]string{}}}
		for i := 0; i+1 < len(kv); i += 2 {
			c.Resources.Requests[kv[i]] = kv[i+1]
		}
		p.Spec.Containers = append(p.Spec.Containers, c)
	}
}

// InitContainer adds an init container with requests (name, value pairs).
func InitContainer(kv ...string) PodOption {
	return func(p *wharfv1.Pod) {
		c := &wharfv1.Container{Name: fmt.Sprint("init", len(p.Spec.InitContainers)), Resources: &wharfv1.ResourceRequirements{Requests: map[string]string{}}}
		for i := 0; i+1 < len(kv); i += 2 {
			c.Resources.Requests[kv[i]] = kv[i+1]
		}
		p.Spec.InitContainers = append(p.Spec.InitContainers, c)
	}
}

// NodeName sets spec.nodeName.
func NodeName(name string) PodOption {
	return func(p *wharfv1.Pod) { p.Spec.NodeName = name }
}

// NodeSelector sets spec.nodeSelector entries (key, value pairs).
func NodeSelector(kv ...string) PodOption {
	return func(p *wharfv1.Pod) {
		if p.Spec.NodeSelector == nil {
			p.Spec.NodeSelector = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

// Req is a NodeSelectorRequirement.
func Req(key, op string, values ...string) *wharfv1.NodeSelectorRequirement {
	return &wharfv1.NodeSelectorRequirement{Key: key, Operator: op, Values: values}
}

func nodeAffinity(p *wharfv1.Pod) *wharfv1.NodeAffinity {
	if p.Spec.Affinity == nil {
		p.Spec.Affinity = &wharfv1.Affinity{}
	}
	if p.Spec.Affinity.NodeAffinity == nil {
		p.Spec.Affinity.NodeAffinity = &wharfv1.NodeAffinity{}
	}
	return p.Spec.Affinity.NodeAffinity
}

// RequiredTerm adds a required node affinity term (terms are ORed, the
// requirements of one term ANDed).
func RequiredTerm(reqs ...*wharfv1.NodeSelectorRequirement) PodOption {
	return func(p *wharfv1.Pod) {
		na := nodeAffinity(p)
		if na.RequiredDuringSchedulingIgnoredDuringExecution == nil {
			na.RequiredDuringSchedulingIgnoredDuringExecution = &wharfv1.NodeSelector{}
		}
		r := na.RequiredDuringSchedulingIgnoredDuringExecution
		r.NodeSelectorTerms = append(r.NodeSelectorTerms, &wharfv1.NodeSelectorTerm{MatchExpressions: reqs})
	}
}

// RequiredFieldTerm adds a required term on fields (metadata.name).
func RequiredFieldTerm(reqs ...*wharfv1.NodeSelectorRequirement) PodOption {
	return func(p *wharfv1.Pod) {
		na := nodeAffinity(p)
		if na.RequiredDuringSchedulingIgnoredDuringExecution == nil {
			na.RequiredDuringSchedulingIgnoredDuringExecution = &wharfv1.NodeSelector{}
		}
		r := na.RequiredDuringSchedulingIgnoredDuringExecution
		r.NodeSelectorTerms = append(r.NodeSelectorTerms, &wharfv1.NodeSelectorTerm{MatchFields: reqs})
	}
}

// PreferredTerm adds a preferred node affinity term.
func PreferredTerm(weight int32, reqs ...*wharfv1.NodeSelectorRequirement) PodOption {
	return func(p *wharfv1.Pod) {
		na := nodeAffinity(p)
		na.PreferredDuringSchedulingIgnoredDuringExecution = append(na.PreferredDuringSchedulingIgnoredDuringExecution,
			&wharfv1.PreferredSchedulingTerm{Weight: weight, Preference: &wharfv1.NodeSelectorTerm{MatchExpressions: reqs}})
	}
}

// Toleration adds a toleration.
func Toleration(key, op, value, effect string) PodOption {
	return func(p *wharfv1.Pod) {
		p.Spec.Tolerations = append(p.Spec.Tolerations, &wharfv1.Toleration{Key: key, Operator: op, Value: value, Effect: effect})
	}
}

// Annotation sets an annotation.
func Annotation(key, value string) PodOption {
	return func(p *wharfv1.Pod) { p.Metadata.Annotations[key] = value }
}

// SchedulerName sets spec.schedulerName.
func SchedulerName(name string) PodOption {
	return func(p *wharfv1.Pod) { p.Spec.SchedulerName = name }
}
