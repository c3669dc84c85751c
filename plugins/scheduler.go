package plugins

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

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
	h *Host
	p *plugin
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

// pod encodes a pod once for all the calls of its cycle, whichever
// plugins make them: the encoding is the same for every module.
func (h *Host) pod(pi *framework.PodInfo) (*wasm.Pod, error) {
	if e := h.lastPod.Load(); e != nil && e.pi == pi {
		return e.enc, nil
	}
	enc, err := wasm.EncodePodRequests(pi.Pod, appendResources(make([]byte, 0, 96), 3, &pi.Requests))
	if err != nil {
		return nil, err
	}
	h.lastPod.Store(&encodedPod{pi, enc})
	return enc, nil
}

// idBufs hold the candidates' ids of scheduling calls, from one call to
// the next. Over 500 candidates they take 2 KiB: allocated for each call,
// every fourth call took a new span, often of memory the runtime had given
// back to the system, and so a page fault, which on a virtual machine
// costs tens of microseconds.
var idBufs = sync.Pool{New: func() any { return new([]uint32) }}

// selects reports whether the plugin version has an opinion on the pod:
// it requests one of the module's podResources, if there are any.
func (v *version) selects(pi *framework.PodInfo) bool {
	return len(v.podRes) == 0 || slices.ContainsFunc(v.podRes, func(r string) bool { return pi.Requests.Get(r) != 0 })
}

// Filter implements framework.FilterPlugin.
func (s *schedulerPlugin) Filter(ctx context.Context, _ *framework.CycleState, pi *framework.PodInfo, nodes []*framework.NodeInfo, out []framework.Status) {
	if v := s.p.cur.Load(); v == nil || !v.points[pluginv1.PointSchedulerFilter] || len(nodes) == 0 || !v.selects(pi) {
		return
	}
	start := time.Now()
	var rejected []wasm.Rejection
	v, err := s.p.call(func(v *version) error {
		pod, err := s.h.pod(pi)
		if err != nil {
			return err
		}
		buf := idBufs.Get().(*[]uint32)
		defer idBufs.Put(buf)
		ids, err := v.nodes.refs(v.mod, nodes, *buf)
		*buf = ids
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
func (s *schedulerPlugin) Score(ctx context.Context, state *framework.CycleState, pi *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) framework.Status {
	if v := s.p.cur.Load(); v == nil || !v.points[pluginv1.PointSchedulerScore] || len(nodes) == 0 || !v.selects(pi) {
		return framework.NewStatus(framework.Skip)
	}
	start := time.Now()
	var skip bool
	v, err := s.p.call(func(v *version) error {
		pod, err := s.h.pod(pi)
		if err != nil {
			return err
		}
		buf := idBufs.Get().(*[]uint32)
		defer idBufs.Put(buf)
		var known framework.NodeRefs
		if state != nil {
			known = state.Feasible()
		}
		ids, err := v.nodes.refsOf(v.mod, nodes, known, *buf)
		*buf = ids
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

// nodeCache maps the framework's NodeInfos to the ids one loaded module
// knows nodes by, and sends the module a node when it is new or its
// NodeInfo's generation changed.
//
// It runs for every candidate node of every scheduling call, so the common
// case reads two fields of the NodeInfo (next to what the filters read)
// and one entry of gens: a node's id is its NodeInfo.ID where that was free
// when the node came, and a NodeInfo's generation is unique to its version
// (a Clone keeps it along with the same content), so a candidate whose
// generation is at gens[NodeInfo.ID] is that node, sent as it is. Anything
// else takes the slow path: byPtr finds NodeInfos of another snapshot,
// byName a node's id after its NodeInfo was replaced.
type nodeCache struct {
	mu     sync.Mutex
	byName map[string]*nodeRef
	byPtr  map[*framework.NodeInfo]uint32
	gens   []int64      // by id: the generation last sent; -1: none (or a free id)
	nodes  []cachedNode // by id; ref is nil for a free id
	used   []uint64     // a bit by id: named by a call since the last sweep
	free   []uint32     // ids dropped (some may have been taken since)
	// lastSweep is when nodes no call named were last looked for.
	lastSweep time.Time
}

// cachedNode is an id's node.
type cachedNode struct {
	ptr  *framework.NodeInfo // the NodeInfo last seen with this id
	ref  *nodeRef
	idle int // sweeps in a row that found the node unused
}

type nodeRef struct {
	id   uint32
	name string
	// obj is the node object last sent, enc its encoding (SchedulerNode
	// fields 2 and 3): most changes are to what the node's pods request,
	// and the object goes again as the same bytes, so that the module
	// sends instances only the accounting.
	obj *wharfv1.Node
	enc []byte
}

// nodeIdle is how long a node may go unseen in any call before it is
// dropped from a module's copy (checked once a minute).
const nodeIdle = 10 * time.Minute

func newNodeCache() *nodeCache {
	return &nodeCache{byName: map[string]*nodeRef{}, byPtr: map[*framework.NodeInfo]uint32{}, lastSweep: time.Now()}
}

// refs returns the ids of nodes, in ids (grown as needed), after sending
// mod the nodes that are new or changed.
func (c *nodeCache) refs(mod *wasm.Module, nodes []*framework.NodeInfo, ids []uint32) ([]uint32, error) {
	return c.refsOf(mod, nodes, framework.NodeRefs{}, ids)
}

// refsOf is refs with the nodes' IDs and Generations, when known (the
// framework's CycleState.Feasible, in the order of nodes): the common case
// then reads two arrays, not each NodeInfo.
func (c *nodeCache) refsOf(mod *wasm.Module, nodes []*framework.NodeInfo, known framework.NodeRefs, ids []uint32) ([]uint32, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ids = slices.Grow(ids[:0], len(nodes))[:len(nodes)]
	var ups []wasm.EncodedNode
	if len(known.IDs) != len(nodes) || len(known.Gens) != len(nodes) {
		known = framework.NodeRefs{}
	}
	for i, n := range nodes {
		var id uint32
		var gen int64
		if known.IDs != nil {
			id, gen = known.IDs[i], known.Gens[i]
		} else {
			id, gen = n.ID, n.Generation
		}
		if int(id) >= len(c.gens) || c.gens[id] != gen {
			var err error
			if id, ups, err = c.sync(n, ups); err != nil {
				return nil, err
			}
		}
		c.used[id>>6] |= 1 << (id & 63)
		ids[i] = id
	}
	var removed []uint32
	if now := time.Now(); now.Sub(c.lastSweep) > time.Minute {
		c.lastSweep = now
		removed = c.sweep()
	}
	if len(ups) > 0 || len(removed) > 0 {
		mod.UpdateEncodedNodes(ups, removed)
	}
	return ids, nil
}

// prime sends mod every node of nodes (copies of the scheduler's, which
// the cache does not keep: the scheduler's own NodeInfos find their ids
// and generations without them).
func (c *nodeCache) prime(mod *wasm.Module, nodes []*framework.NodeInfo) error {
	if _, err := c.refs(mod, nodes, nil); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range nodes {
		if id, ok := c.byPtr[n]; ok {
			delete(c.byPtr, n)
			c.nodes[id].ptr = nil
		}
	}
	return nil
}

// sync finds n's id, giving it one if its node is new, and appends n's
// encoding to ups unless its generation is the one sent.
func (c *nodeCache) sync(n *framework.NodeInfo, ups []wasm.EncodedNode) (uint32, []wasm.EncodedNode, error) {
	id := n.ID
	if int(id) >= len(c.nodes) || c.nodes[id].ptr != n {
		var ok bool
		if id, ok = c.byPtr[n]; !ok {
			id = c.attach(n)
		}
	}
	if c.gens[id] != n.Generation {
		up, err := c.nodes[id].ref.encode(n)
		if err != nil {
			return 0, ups, err
		}
		c.gens[id] = n.Generation
		ups = append(ups, up)
	}
	return id, ups, nil
}

// sweep drops the nodes that no call named for nodeIdle, and returns their
// ids.
func (c *nodeCache) sweep() []uint32 {
	var removed []uint32
	for name, r := range c.byName {
		e := &c.nodes[r.id]
		if c.used[r.id>>6]&(1<<(r.id&63)) != 0 {
			e.idle = 0
		} else if e.idle++; e.idle >= int(nodeIdle/time.Minute) {
			removed = append(removed, c.drop(name, r))
		}
	}
	clear(c.used)
	return removed
}

// attach gives n the id of its node (by name), a new one for a new node,
// and returns it.
func (c *nodeCache) attach(n *framework.NodeInfo) uint32 {
	r := c.byName[n.Name]
	if r == nil {
		r = &nodeRef{id: c.alloc(n.ID), name: n.Name}
		c.byName[n.Name] = r
		for int(r.id) >= len(c.nodes) {
			c.nodes = append(c.nodes, cachedNode{})
			c.gens = append(c.gens, -1)
		}
		for int(r.id) >= 64*len(c.used) {
			c.used = append(c.used, 0)
		}
		c.nodes[r.id] = cachedNode{ref: r}
		c.gens[r.id] = -1
	}
	e := &c.nodes[r.id]
	if e.ptr != nil {
		delete(c.byPtr, e.ptr)
	}
	e.ptr = n
	c.byPtr[n] = r.id
	return r.id
}

// encode encodes n as a SchedulerNode for the module: the node object and
// allocatable as the same bytes as last time unless the object changed
// (the module then sends instances only the accounting), and what
// changes with every pod placed on the node. An object of the version
// last encoded is not encoded again.
func (r *nodeRef) encode(n *framework.NodeInfo) (wasm.EncodedNode, error) {
	if r.enc == nil || r.obj != n.Node && !sameVersion(r.obj, n.Node) {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(slimNode(n.Node))
		if err != nil {
			return wasm.EncodedNode{}, fmt.Errorf("encode node %s: %w", n.Name, err)
		}
		enc := protowire.AppendBytes(protowire.AppendTag(nil, 2, protowire.BytesType), b)
		r.enc = appendResources(enc, 3, &n.Allocatable)
	}
	r.obj = n.Node
	acct := appendResources(make([]byte, 0, 64), 4, &n.Requested)
	var gpus []byte
	for _, g := range n.GPUs {
		if g.Pod != "" {
			gpus = protowire.AppendVarint(gpus, uint64(g.Index))
		}
	}
	if len(gpus) > 0 {
		acct = protowire.AppendBytes(protowire.AppendTag(acct, 5, protowire.BytesType), gpus)
	}
	return wasm.EncodedNode{ID: r.id, Object: r.enc, Accounting: acct}, nil
}

// sameVersion reports whether a and b are the same version of one object
// (equal uid and resourceVersion), as after a re-list, or in NodeInfos
// that another snapshot made from the same objects.
func sameVersion(a, b *wharfv1.Node) bool {
	am, bm := a.GetMetadata(), b.GetMetadata()
	return am.GetResourceVersion() != "" && am.GetResourceVersion() == bm.GetResourceVersion() && am.GetUid() == bm.GetUid()
}

// appendResources appends r as the map<string, int64> field num, entries
// in a fixed order (equal resources, equal bytes), leaving out zeros as
// resourceMap does.
func appendResources(b []byte, num protowire.Number, r *framework.Resource) []byte {
	entry := func(b []byte, name string, v int64) []byte {
		if v == 0 {
			return b
		}
		b = protowire.AppendTag(b, num, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(1+protowire.SizeBytes(len(name))+1+protowire.SizeVarint(uint64(v))))
		b = protowire.AppendString(protowire.AppendTag(b, 1, protowire.BytesType), name)
		return protowire.AppendVarint(protowire.AppendTag(b, 2, protowire.VarintType), uint64(v))
	}
	b = entry(b, framework.ResourceCPU, r.MilliCPU)
	b = entry(b, framework.ResourceMemory, r.Memory)
	b = entry(b, framework.ResourceGPU, r.GPU)
	b = entry(b, framework.ResourcePods, r.Pods)
	switch len(r.Scalar) {
	case 0:
	case 1:
		for name, v := range r.Scalar {
			b = entry(b, name, v)
		}
	default:
		for _, name := range slices.Sorted(maps.Keys(r.Scalar)) {
			b = entry(b, name, r.Scalar[name])
		}
	}
	return b
}

// alloc returns want if it is free, else another free id.
func (c *nodeCache) alloc(want uint32) uint32 {
	if int(want) >= len(c.nodes) || c.nodes[want].ref == nil {
		return want
	}
	for len(c.free) > 0 {
		id := c.free[len(c.free)-1]
		c.free = c.free[:len(c.free)-1]
		if c.nodes[id].ref == nil {
			return id
		}
	}
	return uint32(len(c.nodes))
}

func (c *nodeCache) drop(name string, r *nodeRef) uint32 {
	delete(c.byName, name)
	if p := c.nodes[r.id].ptr; p != nil {
		delete(c.byPtr, p)
	}
	c.nodes[r.id], c.gens[r.id] = cachedNode{}, -1
	c.free = append(c.free, r.id)
	return r.id
}

func (c *nodeCache) forget(mod *wasm.Module, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if r := c.byName[name]; r != nil {
		mod.UpdateEncodedNodes(nil, []uint32{c.drop(name, r)})
	}
}

// slimNode is the Node object slimmed to what scheduling reads
// (docs/abi.md).
func slimNode(src *wharfv1.Node) *wharfv1.Node {
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
	return node
}
