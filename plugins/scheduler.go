package plugins

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	"github.com/wharfhq/wharf/plugins/wasm"
)

// SchedulerRegistry returns a framework factory for every loaded
// scheduling plugin, under its Plugin object's name. Merge it into the
// built-in registry when building a profile from SchedulerProfile.
func (h *Host) SchedulerRegistry() framework.Registry {
	r := framework.Registry{}
	if set := h.scheduling.Load(); set != nil {
		for _, p := range *set {
			sp := p.sch
			r[p.name] = func(framework.Args) (framework.Plugin, error) { return sp, nil }
		}
	}
	return r
}

// SchedulerProfile returns base with the loaded scheduling plugins added:
// filters after base's filters, scorers with their Plugin's scoreWeight.
func (h *Host) SchedulerProfile(base framework.Profile) framework.Profile {
	p := base
	p.Filter = append([]string(nil), base.Filter...)
	p.Score = append([]framework.WeightedPlugin(nil), base.Score...)
	if set := h.scheduling.Load(); set != nil {
		for _, pl := range *set {
			v := pl.cur.Load()
			if v == nil {
				continue
			}
			if v.points[pluginv1.PointSchedulerFilter] {
				p.Filter = append(p.Filter, pl.name)
			}
			if v.points[pluginv1.PointSchedulerScore] {
				p.Score = append(p.Score, framework.WeightedPlugin{Name: pl.name, Weight: v.weight})
			}
		}
	}
	return p
}

// OnSchedulerChange registers fn to be called after a scheduling plugin is
// installed or removed, or its points or weight change: rebuild the
// framework then from SchedulerProfile and SchedulerRegistry. An upgrade
// does not call it; the framework's plugins forward to the version loaded.
func (h *Host) OnSchedulerChange(fn func()) {
	h.mu.Lock()
	h.schedNotify = append(h.schedNotify, fn)
	h.mu.Unlock()
}

// SchedulerPlugin returns the framework plugin for the Plugin object name:
// it forwards to the loaded version; while none is, Filter accepts every
// node and Score has no opinion. nil when no such plugin was ever loaded.
func (h *Host) SchedulerPlugin(name string) framework.Plugin {
	h.mu.Lock()
	defer h.mu.Unlock()
	if p := h.plugins[name]; p != nil {
		return p.sch
	}
	return nil
}

// ForgetNode drops a deleted node from every scheduling plugin's copy of
// the nodes. (Nodes unseen for a while are dropped anyway.)
func (h *Host) ForgetNode(name string) {
	if set := h.scheduling.Load(); set != nil {
		for _, p := range *set {
			if v := p.cur.Load(); v != nil {
				v.nodes.forget(v.mod, name)
			}
		}
	}
}

// schedulerPlugin adapts a Plugin's scheduling points to the framework.
type schedulerPlugin struct {
	h       *Host
	p       *plugin
	lastPod atomic.Pointer[encodedPod]
}

var (
	_ framework.FilterPlugin = (*schedulerPlugin)(nil)
	_ framework.ScorePlugin  = (*schedulerPlugin)(nil)
)

type encodedPod struct {
	pi  *framework.PodInfo
	enc *wasm.Pod
}

func (s *schedulerPlugin) Name() string { return s.p.name }

// pod encodes a pod once for all the calls of its cycle.
func (s *schedulerPlugin) pod(pi *framework.PodInfo) (*wasm.Pod, error) {
	if e := s.lastPod.Load(); e != nil && e.pi == pi {
		return e.enc, nil
	}
	enc, err := wasm.EncodePod(pi.Pod, resourceMap(&pi.Requests))
	if err != nil {
		return nil, err
	}
	s.lastPod.Store(&encodedPod{pi, enc})
	return enc, nil
}

// Filter implements framework.FilterPlugin.
func (s *schedulerPlugin) Filter(ctx context.Context, _ *framework.CycleState, pi *framework.PodInfo, nodes []*framework.NodeInfo, out []framework.Status) {
	if v := s.p.cur.Load(); v == nil || !v.points[pluginv1.PointSchedulerFilter] || len(nodes) == 0 {
		return
	}
	start := time.Now()
	var rejected []wasm.Rejection
	v, err := s.p.call(func(v *version) error {
		pod, err := s.pod(pi)
		if err != nil {
			return err
		}
		ids, err := v.nodes.refs(v.mod, nodes)
		if err != nil {
			return err
		}
		rejected, err = v.mod.Filter(ctx, pod, ids)
		return err
	})
	if err == errGone {
		return
	}
	s.h.metrics.observe(s.p.name, pluginv1.PointSchedulerFilter, start, err)
	if err != nil {
		s.h.failed(s.p.name, pluginv1.PointSchedulerFilter, v.ignore, err)
		if v.ignore {
			return
		}
		st := framework.NewStatus(framework.Unschedulable, fmt.Sprintf("plugin %s failed: %v", s.p.name, err))
		for i := range out {
			out[i] = st
		}
		return
	}
	var last framework.Status
	var lastReasons []string
	for _, r := range rejected {
		code := framework.Unschedulable
		if r.Unresolvable {
			code = framework.UnschedulableAndUnresolvable
		}
		// Rejections that repeat share their reasons: share the status too.
		if len(r.Reasons) == 0 || len(lastReasons) == 0 || &r.Reasons[0] != &lastReasons[0] || last.Code() != code {
			last, lastReasons = framework.NewStatus(code, r.Reasons...), r.Reasons
		}
		out[r.Index] = last
	}
}

// Score implements framework.ScorePlugin. A failure under failurePolicy
// Fail is an Error status (the cycle is retried); under Ignore the plugin
// has no opinion.
func (s *schedulerPlugin) Score(ctx context.Context, _ *framework.CycleState, pi *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) framework.Status {
	if v := s.p.cur.Load(); v == nil || !v.points[pluginv1.PointSchedulerScore] || len(nodes) == 0 {
		return framework.NewStatus(framework.Skip)
	}
	start := time.Now()
	var skip bool
	v, err := s.p.call(func(v *version) error {
		pod, err := s.pod(pi)
		if err != nil {
			return err
		}
		ids, err := v.nodes.refs(v.mod, nodes)
		if err != nil {
			return err
		}
		skip, err = v.mod.Score(ctx, pod, ids, scores)
		return err
	})
	if err == errGone {
		return framework.NewStatus(framework.Skip)
	}
	s.h.metrics.observe(s.p.name, pluginv1.PointSchedulerScore, start, err)
	if err != nil {
		clear(scores)
		s.h.failed(s.p.name, pluginv1.PointSchedulerScore, v.ignore, err)
		if v.ignore {
			return framework.NewStatus(framework.Skip)
		}
		return framework.AsStatus(fmt.Errorf("plugin %s failed: %w", s.p.name, err))
	}
	if skip {
		return framework.NewStatus(framework.Skip)
	}
	return framework.Status{}
}

// resourceMap turns a parsed Resource into the ABI's integer map.
func resourceMap(r *framework.Resource) map[string]int64 {
	m := make(map[string]int64, 4+len(r.Scalar))
	if r.MilliCPU != 0 {
		m[framework.ResourceCPU] = r.MilliCPU
	}
	if r.Memory != 0 {
		m[framework.ResourceMemory] = r.Memory
	}
	if r.GPU != 0 {
		m[framework.ResourceGPU] = r.GPU
	}
	if r.Pods != 0 {
		m[framework.ResourcePods] = r.Pods
	}
	for k, v := range r.Scalar {
		m[k] = v
	}
	return m
}

// nodeCache maps the framework's NodeInfos to the ids one loaded module
// knows nodes by, and sends the module a node when it is new or its
// NodeInfo's generation changed.
type nodeCache struct {
	mu        sync.Mutex
	byName    map[string]*nodeRef
	byPtr     map[*framework.NodeInfo]*nodeRef
	free      []uint32
	next      uint32
	lastSweep time.Time
	ids       []uint32
}

type nodeRef struct {
	id   uint32
	name string
	ptr  *framework.NodeInfo
	gen  int64
	seen time.Time
}

// nodeIdle is how long a node may go unseen in any call before it is
// dropped from a module's copy.
const nodeIdle = 10 * time.Minute

func newNodeCache() *nodeCache {
	return &nodeCache{byName: map[string]*nodeRef{}, byPtr: map[*framework.NodeInfo]*nodeRef{}, lastSweep: time.Now()}
}

// refs returns the ids of nodes (valid until the next call), after sending
// mod the nodes that are new or changed.
func (c *nodeCache) refs(mod *wasm.Module, nodes []*framework.NodeInfo) ([]uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	ids := make([]uint32, len(nodes))
	var ups []*pluginv1.SchedulerNode
	for i, n := range nodes {
		r := c.byPtr[n]
		if r == nil {
			if r = c.byName[n.Name]; r == nil {
				r = &nodeRef{id: c.alloc(), name: n.Name, gen: -1}
				c.byName[n.Name] = r
			}
			if r.ptr != nil {
				delete(c.byPtr, r.ptr)
			}
			r.ptr = n
			c.byPtr[n] = r
		}
		if r.gen != n.Generation {
			r.gen = n.Generation
			ups = append(ups, schedulerNode(r.id, n))
		}
		r.seen = now
		ids[i] = r.id
	}
	var removed []uint32
	if now.Sub(c.lastSweep) > time.Minute {
		c.lastSweep = now
		for name, r := range c.byName {
			if now.Sub(r.seen) > nodeIdle {
				removed = append(removed, c.drop(name, r))
			}
		}
	}
	if len(ups) > 0 || len(removed) > 0 {
		if err := mod.UpdateNodes(ups, removed); err != nil {
			return nil, err
		}
	}
	return ids, nil
}

func (c *nodeCache) alloc() uint32 {
	if n := len(c.free); n > 0 {
		id := c.free[n-1]
		c.free = c.free[:n-1]
		return id
	}
	c.next++
	return c.next - 1
}

func (c *nodeCache) drop(name string, r *nodeRef) uint32 {
	delete(c.byName, name)
	if r.ptr != nil {
		delete(c.byPtr, r.ptr)
	}
	c.free = append(c.free, r.id)
	return r.id
}

func (c *nodeCache) forget(mod *wasm.Module, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.byName[name]; r != nil {
		_ = mod.UpdateNodes(nil, []uint32{c.drop(name, r)})
	}
}

// schedulerNode is a node as the ABI sends it: the Node object slimmed to
// what scheduling reads (docs/abi.md), and the framework's accounting.
func schedulerNode(id uint32, n *framework.NodeInfo) *pluginv1.SchedulerNode {
	src := n.Node
	node := &wharfv1.Node{
		Metadata: &wharfv1.ObjectMeta{
			Name:        src.GetMetadata().GetName(),
			Uid:         src.GetMetadata().GetUid(),
			Labels:      src.GetMetadata().GetLabels(),
			Annotations: src.GetMetadata().GetAnnotations(),
		},
		Spec: &wharfv1.NodeSpec{Unschedulable: src.GetSpec().GetUnschedulable()},
		Status: &wharfv1.NodeStatus{
			Capacity:    src.GetStatus().GetCapacity(),
			Allocatable: src.GetStatus().GetAllocatable(),
			Gpus:        src.GetStatus().GetGpus(),
		},
	}
	for _, t := range src.GetSpec().GetTaints() {
		node.Spec.Taints = append(node.Spec.Taints, &wharfv1.Taint{Key: t.GetKey(), Value: t.GetValue(), Effect: t.GetEffect()})
	}
	sn := &pluginv1.SchedulerNode{
		Id:          id,
		Node:        node,
		Allocatable: resourceMap(&n.Allocatable),
		Requested:   resourceMap(&n.Requested),
	}
	for _, g := range n.GPUs {
		if g.Pod != "" {
			sn.AllocatedGpus = append(sn.AllocatedGpus, g.Index)
		}
	}
	return sn
}
