package scheduler

import (
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
)

// cache is the scheduler's picture of the cluster: the snapshot the
// framework schedules onto (nodes with the pods assigned to them) and which
// pods it counts where, bound or assumed. Informer events keep it current
// (never a store read per pod); the scheduling loop owns it.
//
// An assumed pod was reserved on a node by the scheduler and is not bound
// yet (it waits in Permit, or its binding is being written): it counts
// against the node like a bound one, so the next pod sees the room it took.
// Once the informer shows it bound it is an ordinary bound pod; when its
// binding fails it is forgotten.
type cache struct {
	snap *framework.Snapshot
	pods map[string]*cachedPod
	// orphans are bound pods whose node the cache does not know (yet): the
	// node's informer event may come after its pods'.
	orphans map[string]map[string]*framework.PodInfo
}

type cachedPod struct {
	info    *framework.PodInfo
	node    string
	assumed bool // reserved by this scheduler, not seen bound yet
}

func newCache() *cache {
	snap, _ := framework.NewSnapshot(nil, nil)
	return &cache{snap: snap, pods: map[string]*cachedPod{}, orphans: map[string]map[string]*framework.PodInfo{}}
}

// upsertNode applies a node object. It reports whether the change can make
// a pod fit where it did not (a new node; more allocatable; changed labels,
// taints, cordon or GPUs); heartbeats change nothing the scheduler reads
// and are not applied at all.
func (c *cache) upsertNode(old, n *wharfv1.Node) (relevant bool, err error) {
	name := n.GetMetadata().GetName()
	if old != nil && c.snap.Get(name) != nil && !nodeSchedulingChanged(old, n) {
		return false, nil
	}
	ni, err := c.snap.Update(n)
	if err != nil {
		return false, err
	}
	for key, pi := range c.orphans[name] {
		ni.AddPod(pi)
		c.pods[key] = &cachedPod{info: pi, node: name}
	}
	delete(c.orphans, name)
	return true, nil
}

// nodeSchedulingChanged compares what NodeInfo reads.
func nodeSchedulingChanged(a, b *wharfv1.Node) bool {
	am, bm := a.GetMetadata(), b.GetMetadata()
	as, bs := a.GetStatus(), b.GetStatus()
	return !mapsEqual(am.GetLabels(), bm.GetLabels()) ||
		a.GetSpec().GetUnschedulable() != b.GetSpec().GetUnschedulable() ||
		!taintsEqual(a.GetSpec().GetTaints(), b.GetSpec().GetTaints()) ||
		!mapsEqual(as.GetAllocatable(), bs.GetAllocatable()) ||
		!mapsEqual(as.GetCapacity(), bs.GetCapacity()) ||
		!gpusEqual(as.GetGpus(), bs.GetGpus())
}

func taintsEqual(a, b []*wharfv1.Taint) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].GetKey() != b[i].GetKey() || a[i].GetValue() != b[i].GetValue() || a[i].GetEffect() != b[i].GetEffect() {
			return false
		}
	}
	return true
}

func gpusEqual(a, b []*wharfv1.GPUDevice) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if !proto.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// removeNode forgets a node. Its bound pods become orphans (the node may
// come back); assumed ones stay assumed (their binding decides).
func (c *cache) removeNode(name string) {
	ni := c.snap.Get(name)
	if ni == nil {
		return
	}
	for _, pi := range ni.Pods {
		cp := c.pods[pi.Key]
		if cp == nil || cp.assumed {
			continue
		}
		delete(c.pods, pi.Key)
		c.addOrphan(name, pi)
	}
	c.snap.Remove(name)
}

func (c *cache) addOrphan(node string, pi *framework.PodInfo) {
	m := c.orphans[node]
	if m == nil {
		m = map[string]*framework.PodInfo{}
		c.orphans[node] = m
	}
	m[pi.Key] = pi
}

// assume records that the framework reserved pi on node (Reserve has added
// it there).
func (c *cache) assume(pi *framework.PodInfo, node string) {
	c.pods[pi.Key] = &cachedPod{info: pi, node: node, assumed: true}
}

// isAssumed reports whether the pod with key is assumed (reserved, not yet
// seen bound).
func (c *cache) isAssumed(key string) bool {
	cp := c.pods[key]
	return cp != nil && cp.assumed
}

// forget drops an assumed pod whose reservation was undone
// (Framework.Unreserve has removed it from its node).
func (c *cache) forget(key string) {
	if cp := c.pods[key]; cp != nil && cp.assumed {
		delete(c.pods, key)
	}
}

// boundPod applies a pod the informer shows bound to a node and running or
// about to. It reports whether the pod is new to the cache.
func (c *cache) boundPod(key string, p *wharfv1.Pod) (added bool, err error) {
	node := p.GetSpec().GetNodeName()
	if cp := c.pods[key]; cp != nil {
		if cp.node == node {
			cp.assumed = false // confirmed
			return false, nil
		}
		// Bound elsewhere than assumed (another scheduler won): move it.
		c.removePod(key)
	}
	if m := c.orphans[node]; m != nil && m[key] != nil {
		return false, nil
	}
	pi, err := framework.NewPodInfo(p)
	if err != nil {
		return false, err
	}
	ni := c.snap.Get(node)
	if ni == nil {
		c.addOrphan(node, pi)
		return true, nil
	}
	ni.AddPod(pi)
	c.pods[key] = &cachedPod{info: pi, node: node}
	return true, nil
}

// removePod forgets a pod (deleted, finished, or moved) and reports whether
// it held room on a known node.
func (c *cache) removePod(key string) bool {
	if cp := c.pods[key]; cp != nil {
		delete(c.pods, key)
		if ni := c.snap.Get(cp.node); ni != nil {
			return ni.RemovePod(cp.info)
		}
		return false
	}
	for node, m := range c.orphans {
		if _, ok := m[key]; ok {
			delete(m, key)
			if len(m) == 0 {
				delete(c.orphans, node)
			}
		}
	}
	return false
}
