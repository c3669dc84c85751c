package bench

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"time"

	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	"github.com/wharfhq/wharf/sdk/plugin"
	"github.com/wharfhq/wharf/testing/cputime"
)

// nativeScore runs a plugin.Scorer compiled into the scheduler, as a
// built-in would run: a framework score plugin that hands the scorer the
// candidates as plugin.Nodes made straight from the NodeInfos (made again,
// and prepared, when a NodeInfo's generation changes), with nothing
// encoded and no sandbox, and asks a PodSelector first and scores an
// IDScorer by id (an IDByteScorer into bytes), as the SDK does. It is what
// ScheduleWASM measures the same scorer's WebAssembly module against.
type nativeScore struct {
	name string
	s    plugin.Scorer
	prep plugin.NodePreparer // nil when the scorer has none
	sel  plugin.PodSelector  // nil when the scorer has none
	ids  plugin.IDScorer     // nil when the scorer has none
	byts plugin.IDByteScorer // nil when the scorer has none

	mu    sync.Mutex   // a plugin is single-threaded
	nodes []nativeNode // by NodeInfo.ID
	cand  []*plugin.Node
	idBuf []uint32
	out   []byte
}

// nativeNode is the plugin.Node made from a NodeInfo (ptr) at a
// generation; another NodeInfo with the same ID replaces it.
type nativeNode struct {
	ptr  *framework.NodeInfo
	gen  int64
	node *plugin.Node
}

var _ framework.ScorePlugin = (*nativeScore)(nil)

func newNativeScore(name string, s plugin.Scorer) *nativeScore {
	p := &nativeScore{name: name, s: s}
	p.prep, _ = s.(plugin.NodePreparer)
	p.sel, _ = s.(plugin.PodSelector)
	p.ids, _ = s.(plugin.IDScorer)
	p.byts, _ = s.(plugin.IDByteScorer)
	return p
}

func (p *nativeScore) Name() string { return p.name }

// Score implements framework.ScorePlugin.
func (p *nativeScore) Score(_ context.Context, _ *framework.CycleState, pi *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) framework.Status {
	p.mu.Lock()
	defer p.mu.Unlock()
	pod := plugin.NewPod(pi.Pod, pi.Requests.Map())
	if p.sel != nil && !p.sel.SelectsPod(pod) {
		clear(scores)
		return framework.NewStatus(framework.Skip)
	}
	cand, ids := p.cand[:0], p.idBuf[:0]
	for _, n := range nodes {
		for int(n.ID) >= len(p.nodes) {
			p.nodes = append(p.nodes, nativeNode{})
		}
		e := &p.nodes[n.ID]
		if e.ptr != n || e.gen != n.Generation {
			e.ptr, e.gen = n, n.Generation
			e.node = pluginNode(n.ID, n)
			if p.prep != nil {
				p.prep.PrepareNode(e.node)
			}
		}
		if p.ids != nil {
			ids = append(ids, n.ID)
		} else {
			cand = append(cand, e.node)
		}
	}
	p.cand, p.idBuf = cand, ids
	var err error
	switch { // as the SDK calls it
	case p.byts != nil:
		out := p.out[:0]
		out = append(out, make([]byte, len(ids))...)
		if err = p.byts.ScoreIDBytes(pod, ids, out); err == nil {
			for i, v := range out { // as the host decodes them
				scores[i] = int64(v)
			}
		}
		p.out = out
	case p.ids != nil:
		err = p.ids.ScoreIDs(pod, ids, scores)
	default:
		err = p.s.Score(pod, cand, scores)
	}
	clear(cand) // keep no nodes alive for the garbage collector
	switch {
	case errors.Is(err, plugin.ErrSkip):
		clear(scores)
		return framework.NewStatus(framework.Skip)
	case err != nil:
		return framework.AsStatus(err)
	}
	return framework.Status{}
}

// pluginNode is n as sdk/plugin shows it to a plugin (the host sends the
// same data to a WebAssembly plugin, slimmed and encoded).
func pluginNode(id uint32, n *framework.NodeInfo) *plugin.Node {
	pn := &plugin.Node{
		ID:          id,
		Node:        n.Node,
		Allocatable: plugin.ResourcesOf(n.Allocatable.Map()),
		Requested:   plugin.ResourcesOf(n.Requested.Map()),
	}
	for _, g := range n.GPUs {
		if g.Pod != "" {
			pn.AllocatedGPUs = append(pn.AllocatedGPUs, g.Index)
		}
	}
	return pn
}

// scoreTimer times every Score call of the plugin it wraps, as the
// framework makes them: once per pod that has more than one feasible node.
type scoreTimer struct {
	framework.ScorePlugin
	mu    sync.Mutex
	calls []scoreCall
}

type scoreCall struct {
	took   time.Duration
	cpu    time.Duration // of the calling thread
	nodes  int
	scored bool // false: the plugin had no opinion (Skip)
}

// Score implements framework.ScorePlugin.
func (t *scoreTimer) Score(ctx context.Context, state *framework.CycleState, pi *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) framework.Status {
	// On its thread, the call's CPU time does not count other goroutines
	// or processes, as its wall time does on a busy machine.
	runtime.LockOSThread()
	cpu := cputime.Thread()
	start := time.Now()
	st := t.ScorePlugin.Score(ctx, state, pi, nodes, scores)
	took := time.Since(start)
	cpu = cputime.Thread() - cpu - cpuClockCost()
	runtime.UnlockOSThread()
	t.mu.Lock()
	t.calls = append(t.calls, scoreCall{took: took, cpu: cpu, nodes: len(nodes), scored: st.IsSuccess()})
	t.mu.Unlock()
	return st
}

// cpuClockCost is the CPU time a cputime.Thread call itself counts (it is a
// system call), measured once: the least of many back-to-back readings.
var cpuClockCost = sync.OnceValue(func() time.Duration {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	least := time.Duration(1 << 62)
	for range 1000 {
		t := cputime.Thread()
		least = min(least, cputime.Thread()-t)
	}
	return least
})
