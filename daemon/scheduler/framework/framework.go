package framework

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"time"
)

// MaxPermitWait caps the wait a Permit plugin can ask for.
const MaxPermitWait = 15 * time.Minute

// maxFilterPlugins bounds a profile's filter plugins (a bit mask per cycle).
const maxFilterPlugins = 64

// Framework runs scheduling cycles for one profile. It is safe for
// concurrent use; see the package notes for snapshots.
type Framework struct {
	profile Profile

	preFilter     []PreFilterPlugin
	preFilterSkip []int // index in filter of the same plugin, or -1
	filter        []FilterPlugin
	filterNames   []string
	postFilter    []PostFilterPlugin
	score         []ScorePlugin
	scoreNames    []string
	scoreWeights  []int64
	normalize     []NormalizeScorer // nil where the plugin has none
	reserve       []ReservePlugin
	permit        []PermitPlugin
	bind          []BindPlugin

	parallelism int
	nextStart   atomic.Uint64
	scratch     sync.Pool
}

// New builds a framework for profile p, instantiating each plugin it names
// once from r with its args. Errors name the profile, plugin and point.
func New(p Profile, r Registry, opts ...Option) (*Framework, error) {
	if p.SchedulerName == "" {
		return nil, errors.New("profile: schedulerName is required")
	}
	if v := p.PercentageOfNodesToScore; v < 0 || v > 100 {
		return nil, fmt.Errorf("profile %q: percentageOfNodesToScore %d is out of range; want 0 (adaptive) to 100", p.SchedulerName, v)
	}
	o := newOptions(opts)
	f := &Framework{profile: p.clone(), parallelism: o.parallelism}
	instances := map[string]Plugin{}
	get := func(pt, name string) (Plugin, error) {
		if pl, ok := instances[name]; ok {
			return pl, nil
		}
		factory, ok := r[name]
		if !ok {
			return nil, fmt.Errorf("profile %q: %s plugin %q: unknown plugin; registered plugins are %s", p.SchedulerName, pt, name, registered(r))
		}
		pl, err := factory(p.PluginArgs[name])
		if err != nil {
			return nil, fmt.Errorf("profile %q: plugin %q: %w", p.SchedulerName, name, err)
		}
		instances[name] = pl
		return pl, nil
	}
	notImpl := func(pt, name string) error {
		return fmt.Errorf("profile %q: plugin %q does not implement %s", p.SchedulerName, name, pt)
	}
	seen := func(pt string, names []string) error {
		m := map[string]bool{}
		for _, n := range names {
			if m[n] {
				return fmt.Errorf("profile %q: %s plugin %q is enabled twice", p.SchedulerName, pt, n)
			}
			m[n] = true
		}
		return nil
	}
	scoreNames := make([]string, len(p.Score))
	for i, w := range p.Score {
		scoreNames[i] = w.Name
	}
	for _, pt := range []struct {
		name  string
		names []string
	}{{"preFilter", p.PreFilter}, {"filter", p.Filter}, {"postFilter", p.PostFilter}, {"score", scoreNames},
		{"reserve", p.Reserve}, {"permit", p.Permit}, {"bind", p.Bind}} {
		if err := seen(pt.name, pt.names); err != nil {
			return nil, err
		}
	}
	if len(p.Filter) > maxFilterPlugins {
		return nil, fmt.Errorf("profile %q: %d filter plugins; at most %d", p.SchedulerName, len(p.Filter), maxFilterPlugins)
	}
	for _, name := range p.Filter {
		pl, err := get("filter", name)
		if err != nil {
			return nil, err
		}
		fp, ok := pl.(FilterPlugin)
		if !ok {
			return nil, notImpl("Filter", name)
		}
		f.filter = append(f.filter, fp)
		f.filterNames = append(f.filterNames, name)
	}
	for _, name := range p.PreFilter {
		pl, err := get("preFilter", name)
		if err != nil {
			return nil, err
		}
		pp, ok := pl.(PreFilterPlugin)
		if !ok {
			return nil, notImpl("PreFilter", name)
		}
		f.preFilter = append(f.preFilter, pp)
		skip := -1
		for i, fn := range f.filterNames {
			if fn == name {
				skip = i
			}
		}
		f.preFilterSkip = append(f.preFilterSkip, skip)
	}
	for _, name := range p.PostFilter {
		pl, err := get("postFilter", name)
		if err != nil {
			return nil, err
		}
		pp, ok := pl.(PostFilterPlugin)
		if !ok {
			return nil, notImpl("PostFilter", name)
		}
		f.postFilter = append(f.postFilter, pp)
	}
	for _, w := range p.Score {
		pl, err := get("score", w.Name)
		if err != nil {
			return nil, err
		}
		sp, ok := pl.(ScorePlugin)
		if !ok {
			return nil, notImpl("Score", w.Name)
		}
		weight := w.Weight
		if weight == 0 {
			weight = 1
		}
		if weight < 0 || weight > 100 {
			return nil, fmt.Errorf("profile %q: score plugin %q: weight %d is out of range; want 1 to 100", p.SchedulerName, w.Name, w.Weight)
		}
		norm, _ := pl.(NormalizeScorer)
		f.score = append(f.score, sp)
		f.scoreNames = append(f.scoreNames, w.Name)
		f.scoreWeights = append(f.scoreWeights, weight)
		f.normalize = append(f.normalize, norm)
	}
	for _, name := range p.Reserve {
		pl, err := get("reserve", name)
		if err != nil {
			return nil, err
		}
		rp, ok := pl.(ReservePlugin)
		if !ok {
			return nil, notImpl("Reserve", name)
		}
		f.reserve = append(f.reserve, rp)
	}
	for _, name := range p.Permit {
		pl, err := get("permit", name)
		if err != nil {
			return nil, err
		}
		pp, ok := pl.(PermitPlugin)
		if !ok {
			return nil, notImpl("Permit", name)
		}
		f.permit = append(f.permit, pp)
	}
	for _, name := range p.Bind {
		pl, err := get("bind", name)
		if err != nil {
			return nil, err
		}
		bp, ok := pl.(BindPlugin)
		if !ok {
			return nil, notImpl("Bind", name)
		}
		f.bind = append(f.bind, bp)
	}
	return f, nil
}

// Profile returns (a copy of) the profile the framework runs.
func (f *Framework) Profile() Profile { return f.profile.clone() }

// SchedulerName returns the profile's scheduler name.
func (f *Framework) SchedulerName() string { return f.profile.SchedulerName }

// Result is the outcome of a scheduling cycle.
type Result struct {
	// Node is the chosen node; nil when the pod fits none.
	Node *NodeInfo
	// Evaluated nodes were filtered; Feasible of them fit (the cycle
	// stops once NumFeasibleNodesToFind fit).
	Evaluated int
	Feasible  int
	// Diagnosis explains the decision; also set on a FitError.
	Diagnosis *Diagnosis
}

// Schedule runs one scheduling cycle for pod over snap: PreFilter, Filter
// (parallel, stopping early), PostFilter when nothing fits, Score,
// NormalizeScore, and picks the node with the highest weighted score. It
// does not change snap: call Reserve with the result to assume the pod.
//
// When no node fits, the error is a *FitError (errors.Is ErrUnschedulable)
// whose Diagnosis counts the rejections by reason (its Summary). A plugin
// Error status, or ctx ending, gives another error.
//
// Schedule keeps per-node detail only where the profile needs it (see
// Diagnosis.Rejected) and reuses its buffers; Explain records everything.
func (f *Framework) Schedule(ctx context.Context, state *CycleState, pod *PodInfo, snap *Snapshot) (Result, error) {
	return f.schedule(ctx, state, pod, snap, false)
}

// Explain is Schedule that also records, for the explain verb, every
// evaluated node's rejection (Diagnosis.Rejected) and every feasible node's
// per-plugin scores (Diagnosis.Scores). It allocates per node.
func (f *Framework) Explain(ctx context.Context, state *CycleState, pod *PodInfo, snap *Snapshot) (Result, error) {
	return f.schedule(ctx, state, pod, snap, true)
}

func (f *Framework) schedule(ctx context.Context, state *CycleState, pod *PodInfo, snap *Snapshot, explain bool) (Result, error) {
	if state == nil {
		state = NewCycleState()
	}
	all := snap.Nodes()
	diag := &Diagnosis{NumAllNodes: len(all)}
	res := Result{Diagnosis: diag}
	fitErr := func() (Result, error) {
		f.runPostFilter(ctx, state, pod, diag)
		return res, &FitError{Pod: pod.Key, Diagnosis: diag}
	}

	// PreFilter.
	state.snapshot = snap
	var skip uint64
	nodes := all
	var results []*PreFilterResult
	for i, p := range f.preFilter {
		r, st := p.PreFilter(ctx, state, pod)
		switch {
		case st.code == Skip:
			if j := f.preFilterSkip[i]; j >= 0 {
				skip |= 1 << j
			}
		case st.IsRejection():
			diag.PreFilter = st.WithPlugin(p.Name())
			return fitErr()
		case !st.IsSuccess():
			return res, fmt.Errorf("prefilter plugin %q: %w", p.Name(), st.Err())
		}
		if r == nil || (r.Index && explain) {
			continue
		}
		if r.Reason == "" {
			r.Reason = "node(s) didn't satisfy plugin " + p.Name()
		}
		results = append(results, r)
	}
	if len(results) > 0 {
		nodes = intersect(snap, results)
		diag.Excluded = len(all) - len(nodes)
		diag.ExcludedReason = results[0].Reason
	}
	if len(nodes) == 0 {
		return fitErr()
	}

	// Filter.
	sc := f.getScratch()
	defer f.putScratch(sc)
	numToFind := NumFeasibleNodesToFind(f.profile.PercentageOfNodesToScore, len(nodes))
	keepNodes := explain || len(f.postFilter) > 0
	feasible, err := f.findFeasible(ctx, state, pod, nodes, skip, numToFind, diag, sc, keepNodes)
	if err != nil {
		return res, err
	}
	res.Evaluated, res.Feasible = diag.Evaluated, len(feasible)
	switch len(feasible) {
	case 0:
		return fitErr()
	case 1:
		res.Node = feasible[0]
		return res, nil
	}

	// Score.
	var scores []int64
	n := len(feasible)
	if explain {
		scores = make([]int64, len(f.score)*n+n)
		feasible = append([]*NodeInfo(nil), feasible...)
	} else {
		scores = sc.scoreBuf(len(f.score)*n + n)
	}
	totals := scores[len(f.score)*n:]
	state.feasible = sc.resultRefs
	err = f.runScore(ctx, state, pod, feasible, scores, totals)
	state.feasible = NodeRefs{} // sc goes back to its pool
	if err != nil {
		return res, err
	}
	if explain {
		diag.scored, diag.plugins, diag.scores, diag.totals = feasible, f.scoreNames, scores, totals
	}
	res.Node = selectHost(feasible, totals)
	return res, nil
}

// intersect returns the nodes in every result.
func intersect(snap *Snapshot, results []*PreFilterResult) []*NodeInfo {
	list := func(r *PreFilterResult) []*NodeInfo {
		if r.NodeNames == nil {
			return r.Nodes
		}
		out := make([]*NodeInfo, 0, len(r.NodeNames))
		for _, name := range r.NodeNames {
			if n := snap.Get(name); n != nil {
				out = append(out, n)
			}
		}
		return out
	}
	nodes := list(results[0])
	for _, r := range results[1:] {
		in := map[*NodeInfo]bool{}
		for _, n := range list(r) {
			in[n] = true
		}
		kept := make([]*NodeInfo, 0, len(nodes))
		for _, n := range nodes {
			if in[n] {
				kept = append(kept, n)
			}
		}
		nodes = kept
	}
	return nodes
}

func (f *Framework) runPostFilter(ctx context.Context, state *CycleState, pod *PodInfo, diag *Diagnosis) {
	for _, p := range f.postFilter {
		node, st := p.PostFilter(ctx, state, pod, diag)
		diag.PostFilter = st.WithPlugin(p.Name())
		if st.IsSuccess() {
			diag.NominatedNode = node
			return
		}
		if st.code == Error || st.code == UnschedulableAndUnresolvable {
			return
		}
	}
}

// runScore fills scores (plugin-major, weighted) and totals, both zero.
func (f *Framework) runScore(ctx context.Context, state *CycleState, pod *PodInfo, nodes []*NodeInfo, scores, totals []int64) error {
	n := len(nodes)
	for i, p := range f.score {
		s := scores[i*n : (i+1)*n]
		st := p.Score(ctx, state, pod, nodes, s)
		if st.code == Skip {
			clear(s)
			continue
		}
		if !st.IsSuccess() {
			return fmt.Errorf("score plugin %q: %w", p.Name(), st.Err())
		}
		if norm := f.normalize[i]; norm != nil {
			if st := norm.NormalizeScore(ctx, state, pod, nodes, s); !st.IsSuccess() {
				return fmt.Errorf("score plugin %q: normalize: %w", p.Name(), st.Err())
			}
		}
		w := f.scoreWeights[i]
		for j, v := range s {
			if v < MinNodeScore || v > MaxNodeScore {
				return fmt.Errorf("score plugin %q gave node %q the score %d, outside [%d, %d]", p.Name(), nodes[j].Name, v, MinNodeScore, MaxNodeScore)
			}
			s[j] = v * w
			totals[j] += v * w
		}
	}
	return nil
}

// selectHost returns the node with the highest total, choosing uniformly at
// random among ties (reservoir sampling, as Kubernetes does).
func selectHost(nodes []*NodeInfo, totals []int64) *NodeInfo {
	best, ties := 0, 1
	for j := 1; j < len(totals); j++ {
		switch t := totals[j]; {
		case t > totals[best]:
			best, ties = j, 1
		case t == totals[best]:
			ties++
			if rand.IntN(ties) == 0 {
				best = j
			}
		}
	}
	return nodes[best]
}

// Reserve assumes pod onto node (NodeInfo.AddPod: its requests count there
// and GPU devices matching its request are allocated to it), then runs the
// Reserve plugins. On a failure it undoes everything (Unreserve) and returns
// the failing status. After Reserve the next Schedule on the same snapshot
// sees the pod on the node.
func (f *Framework) Reserve(ctx context.Context, state *CycleState, pod *PodInfo, node *NodeInfo) Status {
	for _, p := range node.Pods {
		if p.Key == pod.Key {
			return AsStatus(fmt.Errorf("pod %s is already assigned to node %s", pod.Key, node.Name))
		}
	}
	node.AddPod(pod)
	for _, p := range f.reserve {
		if st := p.Reserve(ctx, state, pod, node); !st.IsSuccess() {
			f.Unreserve(ctx, state, pod, node)
			return st.WithPlugin(p.Name())
		}
	}
	return Status{}
}

// Unreserve runs every Reserve plugin's Unreserve in reverse order and
// forgets pod on node (its requests and devices are free again).
func (f *Framework) Unreserve(ctx context.Context, state *CycleState, pod *PodInfo, node *NodeInfo) {
	for i := len(f.reserve) - 1; i >= 0; i-- {
		f.reserve[i].Unreserve(ctx, state, pod, node)
	}
	node.RemovePod(pod)
}

// Permit runs the Permit plugins: Success when all allow; the first
// rejection; or Wait with the shortest wait asked for (at most
// MaxPermitWait). Waiting, and allowing or rejecting a waiting pod, is the
// scheduling queue's job.
func (f *Framework) Permit(ctx context.Context, state *CycleState, pod *PodInfo, nodeName string) (Status, time.Duration) {
	var wait time.Duration
	var waiting Status
	for _, p := range f.permit {
		st, d := p.Permit(ctx, state, pod, nodeName)
		switch st.code {
		case Success:
		case Wait:
			d = min(max(d, 0), MaxPermitWait)
			if waiting.code != Wait || d < wait {
				wait = d
			}
			waiting = st.WithPlugin(p.Name())
		default:
			return st.WithPlugin(p.Name()), 0
		}
	}
	if waiting.code == Wait {
		return waiting, wait
	}
	return Status{}, 0
}

// Bind runs the Bind plugins until one does not Skip. Skip from all of them
// (or none configured) returns Skip: the caller binds by itself.
func (f *Framework) Bind(ctx context.Context, state *CycleState, pod *PodInfo, nodeName string) Status {
	for _, p := range f.bind {
		st := p.Bind(ctx, state, pod, nodeName)
		if st.code != Skip {
			return st.WithPlugin(p.Name())
		}
	}
	return NewStatus(Skip, "no bind plugin bound the pod")
}
