package framework

import (
	"fmt"
	"sync/atomic"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// NodeInfo is the scheduler's view of a node, kept by the scheduler: the
// node's parsed allocatable resources, labels, taints and GPUs, and the sums
// of what the pods assigned to it (bound or assumed) request.
//
// Plugins must treat it as read-only; the framework changes it through
// AddPod and RemovePod (Reserve and Unreserve) and SetNode.
type NodeInfo struct {
	Node *wharfv1.Node
	Name string
	// Generation changes with every change to the NodeInfo; a cache of
	// node data (inside a WASM guest) compares it to send deltas.
	Generation int64
	// ID is a small integer the Snapshot holding the node gives it: unique
	// among its nodes, kept while the node is there (Update, or Add of a
	// NodeInfo of the same name) and reused after it is removed, so that a
	// cache of per-node data can be a slice indexed by it rather than a
	// map. It is 0 outside a snapshot, and a NodeInfo added to several
	// snapshots has the last one's: a cache that may see NodeInfos of
	// more than one snapshot checks that the entry at ID is this NodeInfo.
	//
	// Generation and ID are next to the fields every filter reads, so that
	// a cache reading them for hundreds of candidate nodes finds them in
	// the processor's cache.
	ID uint32
	// Labels are the node's labels (metadata.labels), not copied.
	Labels        map[string]string
	Taints        []Taint
	Unschedulable bool
	// Allocatable is status.allocatable (status.capacity where allocatable
	// is missing). Pods defaults to DefaultMaxPods; GPU defaults to the
	// number of devices the agent reported.
	Allocatable Resource
	// Requested sums Requests of Pods; Requested.Pods is len(Pods).
	Requested Resource
	// NonZeroRequested sums the pods' NonZeroMilliCPU and NonZeroMemory
	// (only those two fields are set), for scoring.
	NonZeroRequested Resource
	// GPUs are the node's devices with their allocation.
	GPUs []GPU
	// Pods are the pods assigned to the node, bound or assumed.
	Pods []*PodInfo

	freeGPUs int
	labels   []labelPair // Labels, interned; nil: use Labels
}

var generation atomic.Int64

func nextGeneration() int64 { return generation.Add(1) }

// NewNodeInfo builds the view of node with no pods. Errors name the field:
// `node "n1": status.allocatable["cpu"]: invalid quantity ...`.
func NewNodeInfo(node *wharfv1.Node) (*NodeInfo, error) {
	n := &NodeInfo{}
	if err := n.SetNode(node); err != nil {
		return nil, err
	}
	return n, nil
}

// SetNode replaces the node object (labels, taints, allocatable, devices
// changed) and keeps the assigned pods and their device allocations.
func (n *NodeInfo) SetNode(node *wharfv1.Node) error {
	name := node.GetMetadata().GetName()
	st := node.GetStatus()
	list, field := st.GetAllocatable(), "status.allocatable"
	if len(list) == 0 {
		list, field = st.GetCapacity(), "status.capacity"
	}
	alloc, err := ParseResourceList(list, field)
	if err != nil {
		return fmt.Errorf("node %q: %w", name, err)
	}
	if _, ok := list[ResourcePods]; !ok {
		alloc.Pods = DefaultMaxPods
	}
	gpus := parseGPUs(st.GetGpus())
	if _, ok := list[ResourceGPU]; !ok {
		alloc.GPU = int64(len(gpus))
	}
	taints, err := parseTaints(node.GetSpec().GetTaints())
	if err != nil {
		return fmt.Errorf("node %q: %w", name, err)
	}
	n.Node = node
	n.Name = name
	n.Labels = node.GetMetadata().GetLabels()
	n.labels = internLabels(n.Labels)
	n.Taints = taints
	n.Unschedulable = node.GetSpec().GetUnschedulable()
	n.Allocatable = alloc
	// Devices: keep allocations by UUID (else index), then re-home pods
	// whose devices went away.
	old := n.GPUs
	n.GPUs, n.freeGPUs = gpus, len(gpus)
	for _, o := range old {
		if o.Pod == "" {
			continue
		}
		for i := range n.GPUs {
			d := &n.GPUs[i]
			if d.Pod == "" && ((o.UUID != "" && d.UUID == o.UUID) || (o.UUID == "" && d.Index == o.Index)) {
				d.Pod = o.Pod
				n.freeGPUs--
				break
			}
		}
	}
	for _, p := range n.Pods {
		if p.GPU.Count > 0 && len(n.GPUs) > 0 && int64(len(n.PodGPUs(p.Key))) < p.GPU.Count {
			n.releaseGPUs(p.Key)
			n.allocateGPUs(p)
		}
	}
	n.Generation = nextGeneration()
	return nil
}

// AddPod assumes p onto the node: adds its requests and allocates GPU
// devices to it (see allocateGPUs). It does not check that p fits.
func (n *NodeInfo) AddPod(p *PodInfo) {
	n.Pods = append(n.Pods, p)
	n.Requested.Add(&p.Requests)
	n.NonZeroRequested.MilliCPU += p.NonZeroMilliCPU
	n.NonZeroRequested.Memory += p.NonZeroMemory
	if p.GPU.Count > 0 && len(n.GPUs) > 0 {
		n.allocateGPUs(p)
	}
	n.Generation = nextGeneration()
}

// RemovePod forgets the pod with p's key: subtracts its requests and frees
// its devices. It reports whether the pod was there.
func (n *NodeInfo) RemovePod(p *PodInfo) bool {
	for i, q := range n.Pods {
		if q.Key != p.Key {
			continue
		}
		last := len(n.Pods) - 1
		n.Pods[i] = n.Pods[last]
		n.Pods[last] = nil
		n.Pods = n.Pods[:last]
		n.Requested.Sub(&q.Requests)
		n.NonZeroRequested.MilliCPU -= q.NonZeroMilliCPU
		n.NonZeroRequested.Memory -= q.NonZeroMemory
		n.releaseGPUs(q.Key)
		n.Generation = nextGeneration()
		return true
	}
	return false
}

// Clone returns a deep copy that shares the node object and PodInfos.
func (n *NodeInfo) Clone() *NodeInfo {
	c := *n
	c.Allocatable = n.Allocatable.Clone()
	c.Requested = n.Requested.Clone()
	c.Taints = append([]Taint(nil), n.Taints...)
	c.GPUs = append([]GPU(nil), n.GPUs...)
	c.Pods = append([]*PodInfo(nil), n.Pods...)
	c.labels = append([]labelPair(nil), n.labels...)
	return &c
}
