package scheduler

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"

	"connectrpc.com/connect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	"github.com/wharfhq/wharf/daemon/scheduler/plugins"
	"github.com/wharfhq/wharf/sdk/client"
)

// Binder writes bindings: one BindPods call per batch, one error per
// binding (nil for success), in order. apiserver.Server implements it in
// the server's process; NewRemoteBinder implements it over the API.
type Binder interface {
	BindPods(ctx context.Context, bindings []*wharfv1.Binding) []error
}

// Config configures a Scheduler.
type Config struct {
	// Client reaches the API: informers, events, conditions. Required.
	Client *client.Client
	// Binder writes the bindings; nil binds through the API
	// (SchedulerService.Bind), as a scheduler in another process does.
	Binder Binder
	// Profiles is the scheduler configuration (framework.LoadConfig); nil
	// runs the default profile alone.
	Profiles *framework.Config
	// Registry adds plugin factories to the built-in ones (the plugin host
	// registers WASM and subprocess plugins here).
	Registry framework.Registry
	// Logger gets the scheduler's log (default slog.Default()).
	Logger *slog.Logger
	// OnBound, when set, is called for every pod once its binding is
	// durable, from a binder goroutine (metrics, benchmarks). It must not
	// block.
	OnBound func(BoundPod)
	// BindBatchSize caps the bindings of one BindPods call (default 1024);
	// a gang is never split.
	BindBatchSize int
	// BindWorkers is how many BindPods calls may run at once (default 2):
	// one batch commits while the next one fills.
	BindWorkers int
}

// BoundPod is a pod whose binding is durable.
type BoundPod struct {
	Key  string // namespace/name
	Node string
	// Queued is when the scheduler first queued the pod; Bound when its
	// binding was acknowledged (durable).
	Queued, Bound time.Time
}

// Scheduler schedules pending pods; see the package doc.
//
// # Notes
//
// New checks the configuration; Run does the work until its context ends.
// Explain may be called from any goroutine once Run has started; it waits
// for the scheduler to have synced.
type Scheduler struct {
	cfg    Config
	log    *slog.Logger
	binder Binder
	fws    map[string]*framework.Framework // by scheduler name
	// explainFws are the profiles with percentageOfNodesToScore 100, so
	// that explain gives every node its verdict.
	explainFws map[string]*framework.Framework
	bindPlugs  map[string]bool // profiles with Bind plugins

	nodes  *client.Informer[*wharfv1.Node]
	pods   *client.Informer[*wharfv1.Pod]
	groups *client.Informer[*wharfv1.PodGroup]
	rec    *recorder

	inMu    sync.Mutex
	inbox   []delta
	inSpare []delta
	inSig   chan struct{}

	bindMu  sync.Mutex
	bindQ   []bindUnit
	bindSig chan struct{}

	loopCh    chan func() // run in the loop (it owns the cache): explain, NodeInfos
	ready     chan struct{}
	started   chan struct{}
	stopped   chan struct{}
	startOnce sync.Once

	// Owned by the loop goroutine.
	ctx     context.Context
	q       *queue
	cache   *cache
	assumed map[string]*assumedPod // reserved: waiting in Permit or binding
	gangs   map[string]*gang
	waitG   map[*gang]bool         // gangs with members waiting in Permit
	solo    map[string]*assumedPod // waiting in Permit, not in a gang
}

// assumedPod is a pod reserved on a node and not bound yet.
type assumedPod struct {
	qp       *queuedPod
	info     *framework.PodInfo
	fw       *framework.Framework
	state    *framework.CycleState
	node     *framework.NodeInfo
	gang     *gang
	waiting  bool      // in Permit
	deadline time.Time // of the Permit wait
}

// bindUnit is what is bound together: one pod, or a gang.
type bindUnit []bindItem

type bindItem struct {
	key     string
	binding *wharfv1.Binding
	queued  time.Time
	fw      *framework.Framework
	state   *framework.CycleState
	info    *framework.PodInfo
}

type bindOutcome struct {
	key string
	err error
}

type deltaKind uint8

const (
	deltaNode deltaKind = iota + 1
	deltaNodeDelete
	deltaPod
	deltaPodDelete
	deltaGroup
	deltaGroupDelete
	deltaBound
)

// delta is a change handed to the loop.
type delta struct {
	kind     deltaKind
	node     *wharfv1.Node
	oldNode  *wharfv1.Node
	pod      *wharfv1.Pod
	group    *wharfv1.PodGroup
	outcomes []bindOutcome
}

// CheckProfiles reports what New would find wrong with profiles (nil: the
// default profile) and the extra plugins, without building a scheduler: a
// server checks its --scheduler-config before it starts.
func CheckProfiles(profiles *framework.Config, extra framework.Registry) error {
	reg := plugins.NewRegistry()
	if err := reg.Merge(extra); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	if profiles == nil {
		profiles = &framework.Config{}
	}
	if _, err := profiles.Frameworks(reg); err != nil {
		return fmt.Errorf("scheduler: %w", err)
	}
	return nil
}

// New builds a scheduler: one framework per profile. Errors name the
// profile and plugin that is wrong.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Client == nil {
		return nil, errors.New("scheduler: Config.Client is required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.BindBatchSize <= 0 {
		cfg.BindBatchSize = 1024
	}
	if cfg.BindWorkers <= 0 {
		cfg.BindWorkers = 2
	}
	reg := plugins.NewRegistry()
	if err := reg.Merge(cfg.Registry); err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	profiles := cfg.Profiles
	if profiles == nil {
		profiles = &framework.Config{}
	}
	resolved, err := profiles.Resolve(reg)
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	s := &Scheduler{
		cfg:        cfg,
		log:        cfg.Logger,
		binder:     cfg.Binder,
		fws:        map[string]*framework.Framework{},
		explainFws: map[string]*framework.Framework{},
		bindPlugs:  map[string]bool{},
		inSig:      make(chan struct{}, 1),
		bindSig:    make(chan struct{}, 1),
		loopCh:     make(chan func()),
		ready:      make(chan struct{}),
		started:    make(chan struct{}),
		stopped:    make(chan struct{}),
		q:          newQueue(),
		cache:      newCache(),
		assumed:    map[string]*assumedPod{},
		gangs:      map[string]*gang{},
		waitG:      map[*gang]bool{},
		solo:       map[string]*assumedPod{},
	}
	for i, p := range resolved {
		fw, err := framework.New(p, reg)
		if err != nil {
			return nil, fmt.Errorf("scheduler: profiles[%d]: %w", i, err)
		}
		all := p
		all.PercentageOfNodesToScore = 100
		efw, err := framework.New(all, reg)
		if err != nil {
			return nil, fmt.Errorf("scheduler: profiles[%d]: %w", i, err)
		}
		s.fws[p.SchedulerName], s.explainFws[p.SchedulerName] = fw, efw
		s.bindPlugs[p.SchedulerName] = len(p.Bind) > 0
	}
	if s.binder == nil {
		s.binder = NewRemoteBinder(cfg.Client.BaseURL())
	}
	c := cfg.Client
	logger := cfg.Logger.With("component", "scheduler-informer")
	s.nodes = client.NewInformer(c.Nodes(), client.InformerOptions{PageSize: 1000, Logger: logger})
	s.pods = client.NewInformer(c.Pods(), client.InformerOptions{PageSize: 1000, Logger: logger})
	s.groups = client.NewInformer(c.PodGroups(), client.InformerOptions{Logger: logger})
	s.rec = newRecorder(c, s.pods, s.groups, framework.DefaultSchedulerName, cfg.Logger)
	s.nodes.AddEventHandler(client.EventHandler[*wharfv1.Node]{
		AddFunc:    func(n *wharfv1.Node) { s.push(delta{kind: deltaNode, node: n}) },
		UpdateFunc: func(o, n *wharfv1.Node) { s.push(delta{kind: deltaNode, node: n, oldNode: o}) },
		DeleteFunc: func(n *wharfv1.Node) { s.push(delta{kind: deltaNodeDelete, node: n}) },
	})
	s.pods.AddEventHandler(client.EventHandler[*wharfv1.Pod]{
		AddFunc:    func(p *wharfv1.Pod) { s.push(delta{kind: deltaPod, pod: p}) },
		UpdateFunc: func(_, p *wharfv1.Pod) { s.push(delta{kind: deltaPod, pod: p}) },
		DeleteFunc: func(p *wharfv1.Pod) { s.push(delta{kind: deltaPodDelete, pod: p}) },
	})
	s.groups.AddEventHandler(client.EventHandler[*wharfv1.PodGroup]{
		AddFunc:    func(g *wharfv1.PodGroup) { s.push(delta{kind: deltaGroup, group: g}) },
		UpdateFunc: func(_, g *wharfv1.PodGroup) { s.push(delta{kind: deltaGroup, group: g}) },
		DeleteFunc: func(g *wharfv1.PodGroup) { s.push(delta{kind: deltaGroupDelete, group: g}) },
	})
	return s, nil
}

// SchedulerNames returns the profiles' scheduler names, sorted.
func (s *Scheduler) SchedulerNames() []string {
	return slices.Sorted(maps.Keys(s.fws))
}

// Run schedules until ctx ends. It returns nil then, or an error that
// retrying cannot cure (the server does not serve a kind the scheduler
// needs). It may be called once.
func (s *Scheduler) Run(ctx context.Context) error {
	first := false
	s.startOnce.Do(func() { first = true })
	if !first {
		return errors.New("scheduler: Run called twice")
	}
	close(s.started)
	defer close(s.stopped)
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var wg sync.WaitGroup
	errc := make(chan error, 3)
	for _, run := range []func(context.Context) error{s.nodes.Run, s.pods.Run, s.groups.Run} {
		wg.Go(func() {
			if err := run(ctx); err != nil {
				errc <- err
				cancel()
			}
		})
	}
	wg.Go(func() { s.rec.run(ctx) })
	for range s.cfg.BindWorkers {
		wg.Go(func() { s.bindLoop(ctx) })
	}
	defer wg.Wait()
	for _, sync := range []func(context.Context) error{s.nodes.WaitForSync, s.pods.WaitForSync, s.groups.WaitForSync} {
		if err := sync(ctx); err != nil {
			cancel()
			wg.Wait()
			select {
			case err := <-errc:
				return fmt.Errorf("scheduler: %w", err)
			default:
			}
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("scheduler: %w", err)
		}
	}
	s.log.Info("scheduler started", "profiles", s.SchedulerNames(), "nodes", s.nodes.Len(), "pods", s.pods.Len())
	s.ctx = ctx
	close(s.ready)
	s.loop(ctx)
	cancel()
	wg.Wait()
	select {
	case err := <-errc:
		return fmt.Errorf("scheduler: %w", err)
	default:
	}
	return nil
}

// push hands a delta to the loop.
func (s *Scheduler) push(d delta) {
	s.inMu.Lock()
	s.inbox = append(s.inbox, d)
	s.inMu.Unlock()
	select {
	case s.inSig <- struct{}{}:
	default:
	}
}

// flushEvery is how often the loop looks for pods unschedulable for
// UnschedulableTimeout.
const flushEvery = time.Second

// loop is the scheduling loop.
func (s *Scheduler) loop(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var nextFlush time.Time
	for {
		now := time.Now()
		s.drain(now)
		s.expireWaiting(now)
		if !now.Before(nextFlush) {
			s.q.FlushUnschedulable(now)
			nextFlush = now.Add(flushEvery)
		}
		for n := 0; n < 256; n++ {
			qp := s.q.Pop(now)
			if qp == nil {
				break
			}
			s.scheduleOne(ctx, qp, now)
			now = time.Now()
			s.drain(now)
		}
		if ctx.Err() != nil {
			return
		}
		select {
		case f := <-s.loopCh:
			f()
		default:
		}
		if s.q.active.Len() > 0 {
			continue
		}
		wake := s.q.NextBackoff()
		if d := s.nextDeadline(); !d.IsZero() && (wake.IsZero() || d.Before(wake)) {
			wake = d
		}
		if len(s.q.unsched) > 0 && (wake.IsZero() || nextFlush.Before(wake)) {
			wake = nextFlush
		}
		wait := time.Hour
		if !wake.IsZero() {
			wait = max(time.Until(wake), time.Millisecond)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-s.inSig:
		case f := <-s.loopCh:
			f()
		case <-timer.C:
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
	}
}

// drain applies the deltas handed in since the last call.
func (s *Scheduler) drain(now time.Time) {
	s.inMu.Lock()
	batch := s.inbox
	s.inbox = s.inSpare[:0]
	s.inMu.Unlock()
	if len(batch) == 0 {
		s.inSpare = batch
		return
	}
	moved := false
	for i := range batch {
		if s.apply(&batch[i], now) {
			moved = true
		}
		batch[i] = delta{}
	}
	s.inSpare = batch[:0]
	if moved {
		s.q.MoveAll(now)
	}
}

// apply applies one delta; true means the cluster changed in a way that
// may let unschedulable pods fit.
func (s *Scheduler) apply(d *delta, now time.Time) (move bool) {
	switch d.kind {
	case deltaNode:
		relevant, err := s.cache.upsertNode(d.oldNode, d.node)
		if err != nil {
			s.log.Warn("node left out of scheduling: its status does not parse", "node", d.node.GetMetadata().GetName(), "err", err)
		}
		return relevant
	case deltaNodeDelete:
		s.cache.removeNode(d.node.GetMetadata().GetName())
	case deltaPod:
		return s.applyPod(d.pod, now)
	case deltaPodDelete:
		return s.deletePod(d.pod, now)
	case deltaGroup:
		g := s.gang(d.group.GetMetadata().GetNamespace(), d.group.GetMetadata().GetName())
		isNew := g.obj == nil
		g.obj = d.group
		if isNew {
			// Members tried before it arrived were turned away for want of
			// it alone; others may fit now.
			member := func(qp *queuedPod) bool { return podGroupKey(qp.pod) == g.key }
			s.q.Ungate(now, member)
			s.q.MoveIf(now, member)
		}
	case deltaGroupDelete:
		if g := s.gangs[objKey(d.group.GetMetadata())]; g != nil {
			g.obj = nil
			s.dropGangIfIdle(g)
		}
	case deltaBound:
		return s.bound(d.outcomes, now)
	}
	return false
}

func objKey(m *wharfv1.ObjectMeta) string { return m.GetNamespace() + "/" + m.GetName() }

func terminal(p *wharfv1.Pod) bool {
	ph := p.GetStatus().GetPhase()
	return ph == "Succeeded" || ph == "Failed"
}

// applyPod applies an added or changed pod.
func (s *Scheduler) applyPod(p *wharfv1.Pod, now time.Time) (move bool) {
	key := objKey(p.GetMetadata())
	if p.GetSpec().GetNodeName() != "" {
		s.q.Delete(key)
		if terminal(p) {
			freed := s.cache.removePod(key)
			s.gangMember(p, key, false)
			return freed
		}
		if _, err := s.cache.boundPod(key, p); err != nil {
			s.log.Warn("bound pod not counted on its node: its spec does not parse", "pod", key, "err", err)
		}
		s.gangMember(p, key, true)
		return false
	}
	if _, ok := s.assumed[key]; ok || s.cache.isAssumed(key) {
		// Reserved (waiting in Permit or binding), or bound by us and this
		// is an older version from before the binding.
		return false
	}
	if terminal(p) || p.GetMetadata().GetDeletionTimestamp() != nil || s.fws[schedulerName(p)] == nil {
		s.q.Delete(key)
		return false
	}
	s.q.Add(key, p, now)
	return false
}

func schedulerName(p *wharfv1.Pod) string {
	if n := p.GetSpec().GetSchedulerName(); n != "" {
		return n
	}
	return framework.DefaultSchedulerName
}

// deletePod applies a deleted pod.
func (s *Scheduler) deletePod(p *wharfv1.Pod, now time.Time) (move bool) {
	key := objKey(p.GetMetadata())
	s.q.Delete(key)
	if ap := s.assumed[key]; ap != nil && ap.waiting {
		s.release(ap)
		move = true
	}
	if s.cache.removePod(key) {
		move = true
	}
	s.gangMember(p, key, false)
	return move
}

// scheduleOne runs one scheduling cycle for qp.
func (s *Scheduler) scheduleOne(ctx context.Context, qp *queuedPod, now time.Time) {
	fw := s.fws[schedulerName(qp.pod)]
	if fw == nil {
		return
	}
	info, err := qp.podInfo()
	if err != nil {
		msg := "the pod cannot be scheduled until its spec is fixed: " + err.Error()
		s.q.Requeue(qp, true, now)
		s.rec.unschedulable(qp.key, qp.pod, msg)
		return
	}
	state := framework.NewCycleState()
	g := s.gangOf(qp.pod)
	if g != nil {
		state.Write(framework.GangStateKey, g.info(qp.key))
	}
	qp.groupMissing = g != nil && g.obj == nil
	res, err := fw.Schedule(ctx, state, info, s.cache.snap)
	if err != nil {
		var fe *framework.FitError
		if !errors.As(err, &fe) {
			if ctx.Err() == nil {
				s.log.Error("scheduling cycle failed", "pod", qp.key, "err", err)
			}
			s.q.Requeue(qp, false, now)
			return
		}
		s.q.Requeue(qp, true, now)
		s.rec.unschedulable(qp.key, qp.pod, fe.Error())
		if g != nil && len(g.waiting) > 0 {
			s.rejectGang(g, fmt.Sprintf("member %s fits no node", qp.key), false, now)
		}
		return
	}
	node := res.Node
	if st := fw.Reserve(ctx, state, info, node); !st.IsSuccess() {
		s.log.Warn("reserve failed", "pod", qp.key, "node", node.Name, "status", st.String())
		s.q.Requeue(qp, false, now)
		return
	}
	s.cache.assume(info, node.Name)
	ap := &assumedPod{qp: qp, info: info, fw: fw, state: state, node: node, gang: g}
	s.assumed[qp.key] = ap
	if g != nil {
		g.reserved[qp.key] = ap
	}
	st, wait := fw.Permit(ctx, state, info, node.Name)
	switch {
	case st.IsSuccess():
		unit := []*assumedPod{ap}
		if g != nil {
			unit = append(unit, g.takeWaiting()...)
			delete(s.waitG, g)
		}
		s.sendBind(unit)
	case st.Code() == framework.Wait:
		ap.waiting, ap.deadline = true, now.Add(wait)
		if g != nil {
			g.waiting = append(g.waiting, ap)
			s.waitG[g] = true
		} else {
			s.solo[qp.key] = ap
		}
	default:
		s.release(ap)
		s.q.Requeue(qp, true, now)
		s.rec.unschedulable(qp.key, qp.pod, st.Message())
	}
}

// release undoes a reservation: Unreserve (the pod's room on its node is
// free again) and forget it.
func (s *Scheduler) release(ap *assumedPod) {
	key := ap.qp.key
	ap.fw.Unreserve(s.ctx, ap.state, ap.info, ap.node)
	s.cache.forget(key)
	delete(s.assumed, key)
	delete(s.solo, key)
	if g := ap.gang; g != nil {
		delete(g.reserved, key)
		g.waiting = slices.DeleteFunc(g.waiting, func(w *assumedPod) bool { return w == ap })
		if len(g.waiting) == 0 {
			delete(s.waitG, g)
		}
		s.dropGangIfIdle(g)
	}
	ap.waiting = false
}

// sendBind hands reserved pods to the binders as one unit.
func (s *Scheduler) sendBind(aps []*assumedPod) {
	unit := make(bindUnit, 0, len(aps))
	for _, ap := range aps {
		ap.waiting = false
		delete(s.solo, ap.qp.key)
		m := ap.qp.pod.GetMetadata()
		b := &wharfv1.Binding{Namespace: m.GetNamespace(), Name: m.GetName(), Uid: m.GetUid(), NodeName: ap.node.Name}
		if ap.info.GPU.Count > 0 {
			if devs := ap.node.PodGPUs(ap.qp.key); len(devs) > 0 {
				b.Annotations = map[string]string{framework.AnnotationGPUDevices: joinInts(devs)}
			}
		}
		unit = append(unit, bindItem{key: ap.qp.key, binding: b, queued: ap.qp.added, fw: ap.fw, state: ap.state, info: ap.info})
	}
	s.bindMu.Lock()
	s.bindQ = append(s.bindQ, unit)
	s.bindMu.Unlock()
	select {
	case s.bindSig <- struct{}{}:
	default:
	}
}

func joinInts(v []int32) string {
	b := make([]byte, 0, 4*len(v))
	for i, x := range v {
		if i > 0 {
			b = append(b, ',')
		}
		b = fmt.Appendf(b, "%d", x)
	}
	return string(b)
}

// bindLoop writes queued bindings, a batch per BindPods call, until ctx
// ends.
func (s *Scheduler) bindLoop(ctx context.Context) {
	for {
		units := s.takeBinds()
		if units == nil {
			select {
			case <-ctx.Done():
				return
			case <-s.bindSig:
			}
			continue
		}
		s.bindBatch(ctx, units)
	}
}

// takeBinds takes queued units up to BindBatchSize bindings (at least one
// unit); nil when none are queued.
func (s *Scheduler) takeBinds() []bindUnit {
	s.bindMu.Lock()
	defer s.bindMu.Unlock()
	if len(s.bindQ) == 0 {
		return nil
	}
	n, i := 0, 0
	for i < len(s.bindQ) && (i == 0 || n+len(s.bindQ[i]) <= s.cfg.BindBatchSize) {
		n += len(s.bindQ[i])
		i++
	}
	units := slices.Clone(s.bindQ[:i])
	clear(s.bindQ[:i])
	s.bindQ = s.bindQ[i:]
	if len(s.bindQ) > 0 {
		select { // more for another binder
		case s.bindSig <- struct{}{}:
		default:
		}
	}
	return units
}

func (s *Scheduler) bindBatch(ctx context.Context, units []bindUnit) {
	var items []bindItem
	var bindings []*wharfv1.Binding
	outcomes := make([]bindOutcome, 0, len(units))
	for _, u := range units {
		for _, it := range u {
			if s.bindPlugs[it.info.SchedulerName] {
				// A Bind plugin may bind by itself; Skip leaves it to us.
				st := it.fw.Bind(ctx, it.state, it.info, it.binding.GetNodeName())
				if st.Code() != framework.Skip {
					var err error
					if !st.IsSuccess() {
						err = fmt.Errorf("bind plugin %s: %s", st.Plugin(), st.Message())
					} else {
						s.boundOne(it, time.Now())
					}
					outcomes = append(outcomes, bindOutcome{key: it.key, err: err})
					continue
				}
			}
			items = append(items, it)
			bindings = append(bindings, it.binding)
		}
	}
	if len(bindings) > 0 {
		errs := s.binder.BindPods(ctx, bindings)
		now := time.Now()
		for i, it := range items {
			var err error
			if i < len(errs) {
				err = errs[i]
			} else {
				err = errors.New("the binder returned too few results")
			}
			outcomes = append(outcomes, bindOutcome{key: it.key, err: err})
			if err == nil {
				s.boundOne(it, now)
			}
		}
	}
	s.push(delta{kind: deltaBound, outcomes: outcomes})
}

func (s *Scheduler) boundOne(it bindItem, now time.Time) {
	if s.cfg.OnBound != nil {
		s.cfg.OnBound(BoundPod{Key: it.key, Node: it.binding.GetNodeName(), Queued: it.queued, Bound: now})
	}
	s.rec.scheduled(it, now)
}

// bound applies binding outcomes.
func (s *Scheduler) bound(outcomes []bindOutcome, now time.Time) (move bool) {
	for _, o := range outcomes {
		ap := s.assumed[o.key]
		if ap == nil {
			continue // deleted meanwhile
		}
		if o.err == nil {
			delete(s.assumed, o.key)
			if g := ap.gang; g != nil {
				delete(g.reserved, o.key)
				g.bound[o.key] = true
				s.gangStatus(g, "", now)
			}
			continue
		}
		s.release(ap)
		move = true
		if connect.CodeOf(o.err) == connect.CodeNotFound || s.ctx.Err() != nil {
			continue
		}
		s.log.Warn("binding failed; the pod goes back to the queue", "pod", o.key, "node", ap.node.Name, "err", o.err)
		m := ap.qp.pod.GetMetadata()
		if cur, ok := s.pods.Get(m.GetNamespace(), m.GetName()); ok && cur.GetSpec().GetNodeName() == "" && cur.GetMetadata().GetUid() == m.GetUid() {
			ap.qp.pod, ap.qp.lastAttempt = cur, now
			s.q.Requeue(ap.qp, false, now)
		}
	}
	return move
}

// Informers returns the scheduler's informers of every node and every pod,
// for other components in the process (controllers) to share instead of
// keeping copies of their own. The scheduler runs them: they fill once
// its Run starts. Do not modify the objects they hold.
func (s *Scheduler) Informers() (*client.Informer[*wharfv1.Node], *client.Informer[*wharfv1.Pod]) {
	return s.nodes, s.pods
}

// NodeInfos returns a copy of every node the scheduler schedules onto,
// as its snapshot has them (ids and generations too), once it has listed
// the cluster; it waits for that until ctx ends. The plugin host sends
// them to a scheduling plugin before the plugin serves, so that its first
// calls need not.
func (s *Scheduler) NodeInfos(ctx context.Context) ([]*framework.NodeInfo, error) {
	reply := make(chan []*framework.NodeInfo, 1)
	err := s.inLoop(ctx, func() {
		nodes := s.cache.snap.Nodes()
		out := make([]*framework.NodeInfo, len(nodes))
		for i, n := range nodes {
			out[i] = n.Clone()
		}
		reply <- out
	})
	if err != nil {
		return nil, fmt.Errorf("scheduler: %w", err)
	}
	return <-reply, nil // f runs to the end once the loop took it
}

// errStopped: the scheduler's loop has ended.
var errStopped = errors.New("the scheduler has stopped")

// inLoop waits until the scheduler is ready (it has listed the cluster),
// then hands f to its loop, which runs it between cycles: the loop owns
// the cache. It fails with errStopped or ctx's error, f not run.
func (s *Scheduler) inLoop(ctx context.Context, f func()) error {
	select {
	case <-s.ready:
	case <-s.stopped:
		return errStopped
	case <-ctx.Done():
		return fmt.Errorf("waiting to be ready: %w", ctx.Err())
	}
	select {
	case s.loopCh <- f:
		return nil
	case <-s.stopped:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Explain implements apiserver.Explainer: it runs a scheduling cycle for
// the pod in the loop, with every node evaluated, without reserving.
func (s *Scheduler) Explain(ctx context.Context, req *wharfv1.ExplainRequest) (*wharfv1.ExplainResponse, error) {
	select {
	case <-s.started:
	default:
		return nil, connect.NewError(connect.CodeUnavailable, errors.New("the scheduler is not running"))
	}
	type reply struct {
		res *wharfv1.ExplainResponse
		err error
	}
	done := make(chan reply, 1)
	err := s.inLoop(ctx, func() {
		res, err := s.explain(ctx, req)
		done <- reply{res, err}
	})
	switch {
	case errors.Is(err, errStopped):
		return nil, connect.NewError(connect.CodeUnavailable, err)
	case err != nil:
		return nil, ctx.Err()
	}
	select {
	case r := <-done:
		return r.res, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
