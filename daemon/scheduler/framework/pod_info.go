package framework

import (
	"fmt"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// DefaultSchedulerName is the profile a pod gets when spec.schedulerName is
// empty.
const DefaultSchedulerName = "default-scheduler"

// PodInfo is the scheduler's view of a pod, computed once per pod
// (NewPodInfo) and read by every plugin for every node: parsed requests,
// compiled affinity, parsed tolerations and GPU attributes.
//
// Plugins must treat it as read-only.
type PodInfo struct {
	Pod *wharfv1.Pod
	// Key is namespace/name.
	Key string
	// SchedulerName is spec.schedulerName, or DefaultSchedulerName.
	SchedulerName string
	// NodeName is spec.nodeName (a pod that names its node).
	NodeName string

	// Requests is what the pod needs on a node, as Kubernetes computes it:
	// the sum over containers, raised to the largest init container for
	// each resource (init containers run one at a time). A resource with a
	// limit but no request requests its limit. Pods is 1.
	Requests Resource
	// NonZeroMilliCPU and NonZeroMemory are Requests with
	// DefaultMilliCPURequest and DefaultMemoryRequest in place of a
	// container's missing request: scoring uses them so that pods without
	// requests still spread.
	NonZeroMilliCPU int64
	NonZeroMemory   int64
	// ScalarNames are the names in Requests.Scalar with a non-zero amount,
	// sorted.
	ScalarNames []string

	// RequiredAffinity is spec.nodeSelector and the required node
	// affinity; nil when the pod has neither.
	RequiredAffinity *RequiredNodeAffinity
	// PreferredAffinity are the preferred node affinity terms.
	PreferredAffinity []PreferredTerm
	Tolerations       []Toleration
	// GPU is the pod's GPU request (Count is Requests.GPU).
	GPU GPURequest
}

// NewPodInfo computes a pod's scheduling view. Errors name the field in the
// pod that is wrong: `spec.containers[0].resources.requests["cpu"]: ...`.
func NewPodInfo(p *wharfv1.Pod) (*PodInfo, error) {
	meta, spec := p.GetMetadata(), p.GetSpec()
	ns := meta.GetNamespace()
	if ns == "" {
		ns = "default"
	}
	pi := &PodInfo{
		Pod:           p,
		Key:           ns + "/" + meta.GetName(),
		SchedulerName: spec.GetSchedulerName(),
		NodeName:      spec.GetNodeName(),
	}
	if pi.SchedulerName == "" {
		pi.SchedulerName = DefaultSchedulerName
	}
	var nzInitCPU, nzInitMem int64
	for i, c := range spec.GetContainers() {
		r, cpu, mem, err := containerRequests(c, fmt.Sprintf("spec.containers[%d]", i))
		if err != nil {
			return nil, err
		}
		pi.Requests.Add(&r)
		pi.NonZeroMilliCPU += cpu
		pi.NonZeroMemory += mem
	}
	for i, c := range spec.GetInitContainers() {
		r, cpu, mem, err := containerRequests(c, fmt.Sprintf("spec.initContainers[%d]", i))
		if err != nil {
			return nil, err
		}
		pi.Requests.setMax(&r)
		nzInitCPU, nzInitMem = max(nzInitCPU, cpu), max(nzInitMem, mem)
	}
	pi.NonZeroMilliCPU = max(pi.NonZeroMilliCPU, nzInitCPU)
	pi.NonZeroMemory = max(pi.NonZeroMemory, nzInitMem)
	pi.Requests.Pods = 1
	pi.ScalarNames = pi.Requests.scalarNames()

	var err error
	if pi.RequiredAffinity, pi.PreferredAffinity, err = compileAffinity(spec); err != nil {
		return nil, err
	}
	if pi.Tolerations, err = parseTolerations(spec.GetTolerations()); err != nil {
		return nil, err
	}
	if pi.GPU, err = parseGPURequest(p, pi.Requests.GPU); err != nil {
		return nil, err
	}
	return pi, nil
}

// MustNewPodInfo is NewPodInfo for tests: it panics on an error.
func MustNewPodInfo(p *wharfv1.Pod) *PodInfo {
	pi, err := NewPodInfo(p)
	if err != nil {
		panic(err)
	}
	return pi
}

// containerRequests returns a container's requests (limits where a request
// is missing) and its non-zero cpu and memory for scoring.
func containerRequests(c *wharfv1.Container, path string) (r Resource, cpu, mem int64, err error) {
	res := c.GetResources()
	if r, err = ParseResourceList(res.GetRequests(), path+".resources.requests"); err != nil {
		return r, 0, 0, err
	}
	for name, s := range res.GetLimits() {
		if _, ok := res.GetRequests()[name]; ok {
			continue
		}
		lim, err := ParseResourceList(map[string]string{name: s}, path+".resources.limits")
		if err != nil {
			return r, 0, 0, err
		}
		r.Add(&lim)
	}
	cpu, mem = r.MilliCPU, r.Memory
	if _, ok := res.GetRequests()[ResourceCPU]; !ok && cpu == 0 {
		cpu = DefaultMilliCPURequest
	}
	if _, ok := res.GetRequests()[ResourceMemory]; !ok && mem == 0 {
		mem = DefaultMemoryRequest
	}
	return r, cpu, mem, nil
}
