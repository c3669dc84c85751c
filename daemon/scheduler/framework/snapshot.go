package framework

import (
	"errors"
	"fmt"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// Snapshot is the set of nodes one scheduling loop schedules onto, with the
// pods assigned to each. The loop owns it: Schedule reads it, Reserve
// changes it (see the package notes on concurrency).
type Snapshot struct {
	nodes  []*NodeInfo
	byName map[string]*NodeInfo

	gpuNodes []*NodeInfo // nodes with allocatable GPUs; nil: not computed

	// NodeInfo.IDs: those of removed nodes, to reuse, and the next new one.
	freeIDs []uint32
	nextID  uint32
}

// NewSnapshot builds a snapshot of nodes with the pods bound to them
// (spec.nodeName set, not Succeeded or Failed). A node that cannot be
// parsed, or a pod, is left out and reported in the returned error; the
// snapshot holds everything else.
func NewSnapshot(nodes []*wharfv1.Node, pods []*wharfv1.Pod) (*Snapshot, error) {
	s := &Snapshot{byName: make(map[string]*NodeInfo, len(nodes))}
	var errs []error
	for _, n := range nodes {
		ni, err := NewNodeInfo(n)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		s.Add(ni)
	}
	for _, p := range pods {
		name := p.GetSpec().GetNodeName()
		ph := p.GetStatus().GetPhase()
		if name == "" || ph == "Succeeded" || ph == "Failed" {
			continue
		}
		ni := s.byName[name]
		if ni == nil {
			continue
		}
		pi, err := NewPodInfo(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("pod %s/%s: %w", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), err))
			continue
		}
		ni.AddPod(pi)
	}
	return s, errors.Join(errs...)
}

// NewSnapshotFromNodeInfos returns a snapshot of ready-made NodeInfos.
func NewSnapshotFromNodeInfos(nodes ...*NodeInfo) *Snapshot {
	s := &Snapshot{byName: make(map[string]*NodeInfo, len(nodes))}
	for _, n := range nodes {
		s.Add(n)
	}
	return s
}

// Update applies a changed node object: the node's NodeInfo keeps its pods
// (NodeInfo.SetNode), or a new NodeInfo is added. Change the nodes of a
// snapshot through Update, Add and Remove so its indexes stay right.
func (s *Snapshot) Update(node *wharfv1.Node) (*NodeInfo, error) {
	s.gpuNodes = nil
	if n := s.byName[node.GetMetadata().GetName()]; n != nil {
		return n, n.SetNode(node)
	}
	n, err := NewNodeInfo(node)
	if err != nil {
		return nil, err
	}
	s.Add(n)
	return n, nil
}

// NodesWithGPUs returns the nodes with allocatable nvidia.com/gpu, in
// snapshot order (an index, kept until the nodes change); do not modify.
func (s *Snapshot) NodesWithGPUs() []*NodeInfo {
	if s.gpuNodes == nil {
		s.gpuNodes = make([]*NodeInfo, 0)
		for _, n := range s.nodes {
			if n.Allocatable.GPU > 0 {
				s.gpuNodes = append(s.gpuNodes, n)
			}
		}
	}
	return s.gpuNodes
}

// Add adds or replaces a node. A replacement takes the NodeInfo.ID of the
// node it replaces; a new node gets an ID that is free.
func (s *Snapshot) Add(n *NodeInfo) {
	s.gpuNodes = nil
	if old, ok := s.byName[n.Name]; ok {
		for i := range s.nodes {
			if s.nodes[i] == old {
				s.nodes[i] = n
			}
		}
		n.ID = old.ID
	} else {
		s.nodes = append(s.nodes, n)
		n.ID = s.allocID()
	}
	s.byName[n.Name] = n
}

func (s *Snapshot) allocID() uint32 {
	if k := len(s.freeIDs); k > 0 {
		id := s.freeIDs[k-1]
		s.freeIDs = s.freeIDs[:k-1]
		return id
	}
	s.nextID++
	return s.nextID - 1
}

// Remove removes a node by name; its NodeInfo.ID goes to a later node.
func (s *Snapshot) Remove(name string) {
	old, ok := s.byName[name]
	if !ok {
		return
	}
	s.gpuNodes = nil
	delete(s.byName, name)
	s.freeIDs = append(s.freeIDs, old.ID)
	for i := range s.nodes {
		if s.nodes[i] == old {
			s.nodes = append(s.nodes[:i], s.nodes[i+1:]...)
			return
		}
	}
}

// Nodes returns the nodes, in a stable order; do not modify the slice.
func (s *Snapshot) Nodes() []*NodeInfo { return s.nodes }

// Get returns the node with name, or nil.
func (s *Snapshot) Get(name string) *NodeInfo { return s.byName[name] }

// Len returns the number of nodes.
func (s *Snapshot) Len() int { return len(s.nodes) }
