package framework

import (
	"context"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// Adaptive node count, as in Kubernetes.
const (
	// MinFeasibleNodesToFind: below this many nodes, all are evaluated.
	MinFeasibleNodesToFind = 100
	// MinFeasibleNodesPercentageToFind is the floor of the adaptive
	// percentage.
	MinFeasibleNodesPercentageToFind = 5
)

// NumFeasibleNodesToFind returns how many feasible nodes a cycle looks for
// among numNodes before it stops filtering. With percentage 0 (adaptive) it
// is 50% of the nodes at 100 nodes, falling by 1% per 125 nodes to 5% (from
// 5,625 nodes on), and never fewer than MinFeasibleNodesToFind: 100 nodes ->
// 100, 1,000 -> 420, 5,000 -> 500, 10,000 -> 500, 50,000 -> 2,500.
func NumFeasibleNodesToFind(percentage int32, numNodes int) int {
	if numNodes < MinFeasibleNodesToFind {
		return numNodes
	}
	p := int(percentage)
	if p == 0 {
		p = max(50-numNodes/125, MinFeasibleNodesPercentageToFind)
	}
	if p >= 100 {
		return numNodes
	}
	return max(numNodes*p/100, MinFeasibleNodesToFind)
}

// maxWorkers bounds the goroutines of one cycle.
const maxWorkers = 256

const closedBit = 1 << 62

// chunkSize is how many nodes one Filter call gets: about sqrt(n) (so early
// stopping wastes little), at least 16 (so a plugin across a process
// boundary is not called too often), and no more than an even share of the
// workers.
func chunkSize(n, workers int) int {
	s := max(int(math.Sqrt(float64(n))), 16)
	if r := (n + workers - 1) / workers; s > r {
		s = r
	}
	return max(s, 1)
}

// cycleScratch is the per-cycle working memory of a Framework, pooled.
type cycleScratch struct {
	feasible []*NodeInfo // chunk k's feasible nodes at [k*c, k*c+count[k])
	result   []*NodeInfo // the feasible nodes, merged
	used     int         // prefix of feasible written
	count    []int32
	rej      []rejRange
	workers  []workerScratch
	scores   []int64

	// The IDs and Generations of feasible and result, in the same places
	// (CycleState.Feasible): each written by the worker that filtered the
	// node, while the node was in its processor's cache.
	feasibleRefs, resultRefs NodeRefs
}

type rejRange struct{ worker, lo, hi int32 }

type workerScratch struct {
	batch []*NodeInfo
	// out: every code is Success between Filter calls (findFeasible resets
	// the code of each rejection; a plugin writes whole Status values).
	out      []Status
	statuses []Status // distinct rejection statuses of this worker
	counts   []int32  // nodes per status
	filterOf []int32  // filter plugin index per status
	last     int      // index of the status used last, -1 for none
	rejNodes []*NodeInfo
	rejIDs   []uint32 // into statuses
}

// reject counts a rejection of node by filter plugin pi with st, interning
// st among the worker's statuses (a chunk's rejections mostly share one),
// and records the node when keepNodes.
func (ws *workerScratch) reject(f *Framework, node *NodeInfo, st *Status, pi int, keepNodes bool) {
	id := ws.last
	if id < 0 || ws.filterOf[id] != int32(pi) || !sameStatus(&ws.statuses[id], st) {
		id = -1
		for i := len(ws.statuses) - 1; i >= 0 && i >= len(ws.statuses)-8; i-- {
			if ws.filterOf[i] == int32(pi) && sameStatus(&ws.statuses[i], st) {
				id = i
				break
			}
		}
		if id < 0 {
			s := *st
			s.plugin = f.filterNames[pi]
			ws.statuses = append(ws.statuses, s)
			ws.counts = append(ws.counts, 0)
			ws.filterOf = append(ws.filterOf, int32(pi))
			id = len(ws.statuses) - 1
		}
		ws.last = id
	}
	ws.counts[id]++
	if keepNodes {
		ws.rejNodes = append(ws.rejNodes, node)
		ws.rejIDs = append(ws.rejIDs, uint32(id))
	}
}

// sameStatus compares everything but the plugin.
func sameStatus(a, b *Status) bool {
	return a.code == b.code && a.reason == b.reason && len(a.more) == 0 && len(b.more) == 0 && a.err == nil && b.err == nil
}

func (f *Framework) getScratch() *cycleScratch {
	sc, _ := f.scratch.Get().(*cycleScratch)
	if sc == nil {
		sc = &cycleScratch{}
	}
	return sc
}

// size readies the filter buffers for n nodes in chunks of c.
func (sc *cycleScratch) size(n, chunks, workers, c int) {
	if cap(sc.feasible) < n {
		sc.feasible = make([]*NodeInfo, n)
		sc.result = make([]*NodeInfo, 0, n)
		sc.feasibleRefs = NodeRefs{make([]uint32, n), make([]int64, n)}
		sc.resultRefs = NodeRefs{make([]uint32, 0, n), make([]int64, 0, n)}
	}
	sc.feasible = sc.feasible[:n]
	sc.feasibleRefs.IDs, sc.feasibleRefs.Gens = sc.feasibleRefs.IDs[:n], sc.feasibleRefs.Gens[:n]
	if cap(sc.count) < chunks {
		sc.count = make([]int32, chunks)
		sc.rej = make([]rejRange, chunks)
	}
	sc.count, sc.rej = sc.count[:chunks], sc.rej[:chunks]
	for len(sc.workers) < workers {
		sc.workers = append(sc.workers, workerScratch{})
	}
	for w := range sc.workers[:workers] {
		ws := &sc.workers[w]
		ws.last = -1
		if cap(ws.batch) < c {
			ws.batch = make([]*NodeInfo, 0, c)
			ws.out = make([]Status, c) // all Success; kept so by findFeasible
		}
	}
}

func (sc *cycleScratch) scoreBuf(n int) []int64 {
	if cap(sc.scores) < n {
		sc.scores = make([]int64, n)
	}
	sc.scores = sc.scores[:n]
	clear(sc.scores)
	return sc.scores
}

func (f *Framework) putScratch(sc *cycleScratch) {
	// Drop node pointers so a pooled buffer keeps no old snapshot alive.
	clear(sc.feasible[:sc.used])
	clear(sc.result)
	sc.result, sc.used = sc.result[:0], 0
	sc.resultRefs.IDs, sc.resultRefs.Gens = sc.resultRefs.IDs[:0], sc.resultRefs.Gens[:0]
	for w := range sc.workers {
		ws := &sc.workers[w]
		clear(ws.rejNodes)
		clear(ws.statuses)
		clear(ws.batch[:cap(ws.batch)])
		clear(ws.out)
		ws.rejNodes, ws.rejIDs = ws.rejNodes[:0], ws.rejIDs[:0]
		ws.statuses, ws.counts, ws.filterOf = ws.statuses[:0], ws.counts[:0], ws.filterOf[:0]
	}
	f.scratch.Put(sc)
}

// findFeasible filters nodes for pod, starting where the previous cycle
// stopped (so every node gets its turn), in chunks on up to parallelism
// workers, until numToFind feasible nodes are found or all nodes are done.
// Every filter plugin not in skip runs on a chunk's nodes that are still
// feasible, so a node is rejected by the first plugin that rejects it.
//
// The result lives in sc. diag gets the rejections counted by status, and
// per node when keepNodes.
func (f *Framework) findFeasible(ctx context.Context, state *CycleState, pod *PodInfo, nodes []*NodeInfo, skip uint64, numToFind int, diag *Diagnosis, sc *cycleScratch, keepNodes bool) ([]*NodeInfo, error) {
	n := len(nodes)
	start := int(f.nextStart.Load() % uint64(n))
	var active [maxFilterPlugins]int
	na := 0
	for i := range f.filter {
		if skip&(1<<i) == 0 {
			active[na] = i
			na++
		}
	}
	if na == 0 {
		if cap(sc.result) < numToFind {
			sc.result = make([]*NodeInfo, 0, numToFind)
		}
		out, refs := sc.result[:0], NodeRefs{sc.resultRefs.IDs[:0], sc.resultRefs.Gens[:0]}
		for j := range numToFind {
			nd := nodes[(start+j)%n]
			out = append(out, nd)
			refs.IDs, refs.Gens = append(refs.IDs, nd.ID), append(refs.Gens, nd.Generation)
		}
		sc.result, sc.resultRefs = out, refs
		diag.Evaluated = numToFind
		f.nextStart.Add(uint64(numToFind))
		return out, nil
	}

	c := chunkSize(n, f.parallelism)
	chunks := (n + c - 1) / c
	workers := min(f.parallelism, chunks, maxWorkers)
	sc.size(n, chunks, workers, c)

	var (
		next, found atomic.Int64
		stop        atomic.Bool
		errOnce     sync.Once
		cycleErr    error
	)
	fail := func(err error) {
		errOnce.Do(func() { cycleErr = err })
		stop.Store(true)
	}
	work := func(w int) {
		ws := &sc.workers[w]
		for !stop.Load() && found.Load() < int64(numToFind) {
			k := int(next.Add(1) - 1)
			if k >= chunks {
				return
			}
			if k > 0 && ctx.Err() != nil {
				fail(ctx.Err())
				return
			}
			lo, hi := k*c, min(k*c+c, n)
			batch := ws.batch[:0]
			for j := lo; j < hi; j++ {
				idx := start + j
				if idx >= n {
					idx -= n
				}
				batch = append(batch, nodes[idx])
			}
			r0 := len(ws.rejNodes)
			for _, pi := range active[:na] {
				if len(batch) == 0 {
					break
				}
				out := ws.out[:len(batch)]
				f.filter[pi].Filter(ctx, state, pod, batch, out)
				kept := 0
				for j := range batch {
					st := &out[j]
					switch st.code {
					case Success:
						batch[kept] = batch[j]
						kept++
						continue
					case Skip:
						batch[kept] = batch[j]
						kept++
					case Error:
						fail(fmt.Errorf("filter plugin %q on node %q: %w", f.filterNames[pi], batch[j].Name, st.Err()))
					default:
						ws.reject(f, batch[j], st, pi, keepNodes)
					}
					st.code = Success
				}
				batch = batch[:kept]
			}
			copy(sc.feasible[lo:], batch)
			ids, gens := sc.feasibleRefs.IDs[lo:lo+len(batch)], sc.feasibleRefs.Gens[lo:lo+len(batch)]
			for j, nd := range batch {
				ids[j], gens[j] = nd.ID, nd.Generation
			}
			sc.count[k] = int32(len(batch))
			sc.rej[k] = rejRange{int32(w), int32(r0), int32(len(ws.rejNodes))}
			found.Add(int64(len(batch)))
		}
	}
	if workers == 1 {
		work(0)
	} else {
		// Helpers are opportunistic: one that gets a CPU only after the
		// calling goroutine finished exits without touching anything, so a
		// short cycle never waits for a goroutine to be scheduled. The
		// calling goroutine waits only for helpers that joined.
		var gate atomic.Int64 // closedBit | helpers working
		for w := 1; w < workers; w++ {
			go func() {
				for {
					g := gate.Load()
					if g&closedBit != 0 {
						return
					}
					if gate.CompareAndSwap(g, g+1) {
						break
					}
				}
				work(w)
				gate.Add(-1)
			}()
		}
		work(0)
		for g := gate.Or(closedBit); g&^closedBit != 0; g = gate.Load() {
			runtime.Gosched() // joined helpers finish their chunk
		}
	}
	sc.used = min(int(next.Load())*c, n)
	if cycleErr != nil {
		return nil, cycleErr
	}

	// Chunks are handed out in order and each is finished, so the chunks
	// done are 0..done-1.
	done := min(int(next.Load()), chunks)
	feasible, refs := sc.result[:0], NodeRefs{sc.resultRefs.IDs[:0], sc.resultRefs.Gens[:0]}
	nrej, nstatus := 0, 0
	var offset [maxWorkers]uint32
	for w := range sc.workers[:workers] {
		offset[w] = uint32(nstatus)
		nstatus += len(sc.workers[w].statuses)
		nrej += len(sc.workers[w].rejNodes)
	}
	if nstatus > 0 {
		diag.statuses = make([]Status, 0, nstatus)
		diag.counts = make([]int32, 0, nstatus)
		for w := range sc.workers[:workers] {
			diag.statuses = append(diag.statuses, sc.workers[w].statuses...)
			diag.counts = append(diag.counts, sc.workers[w].counts...)
		}
	}
	if nrej > 0 {
		diag.rejNodes = make([]*NodeInfo, 0, nrej)
		diag.rejIDs = make([]uint32, 0, nrej)
	}
	evaluated := 0
	for k := range done {
		lo := k * c
		evaluated += min(lo+c, n) - lo
		take := sc.feasible[lo : lo+int(sc.count[k])]
		if room := numToFind - len(feasible); len(take) > room {
			take = take[:room]
		}
		feasible = append(feasible, take...)
		refs.IDs = append(refs.IDs, sc.feasibleRefs.IDs[lo:lo+len(take)]...)
		refs.Gens = append(refs.Gens, sc.feasibleRefs.Gens[lo:lo+len(take)]...)
		if nrej == 0 {
			continue
		}
		r := sc.rej[k]
		ws := &sc.workers[r.worker]
		diag.rejNodes = append(diag.rejNodes, ws.rejNodes[r.lo:r.hi]...)
		for _, id := range ws.rejIDs[r.lo:r.hi] {
			diag.rejIDs = append(diag.rejIDs, id+offset[r.worker])
		}
	}
	sc.result, sc.resultRefs = feasible, refs
	diag.Evaluated = evaluated
	f.nextStart.Add(uint64(evaluated))
	return feasible, nil
}
