package plugins

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	"github.com/wharfhq/wharf/plugins/wasm"
	"github.com/wharfhq/wharf/sdk/client"
)

// Options configure a Host.
type Options struct {
	// DataDir holds uploaded modules (DataDir/modules) and the compilation
	// cache (DataDir/cache). Required.
	DataDir string
	// Logger (default slog.Default()).
	Logger *slog.Logger
	// Registerer receives the host's metrics (default: none).
	Registerer prometheus.Registerer
	// CacheDir holds the compilation cache (default DataDir/cache); tests
	// share one to compile each module once.
	CacheDir string
	// Engine options, for tests and benchmarks.
	EngineOptions []wasm.EngineOption
	// ModuleGrace is how long an uploaded module that no Plugin names is
	// kept (default an hour: `wharf plugin install` uploads, then creates
	// the Plugin; a dry run uploads and creates nothing). ModuleGCInterval
	// is how often such modules are looked for (default 10 minutes).
	ModuleGrace      time.Duration
	ModuleGCInterval time.Duration
}

// Host runs the plugins Plugin objects describe. See the package doc.
type Host struct {
	log     *slog.Logger
	engine  *wasm.Engine
	modules *ModuleStore
	metrics *metrics
	service *moduleService
	events  *client.EventRecorder

	client atomic.Pointer[client.Client]
	nodes  atomic.Pointer[NodeSource]

	mu      sync.Mutex // guards plugins and the snapshots' rebuilding
	plugins map[string]*plugin

	admission   atomic.Pointer[[]*plugin]  // with an admission point, by name
	scheduling  atomic.Pointer[[]*plugin]  // with a scheduling point, by name
	lastPod     atomic.Pointer[encodedPod] // the pod of the latest scheduling call, encoded (see Host.pod)
	schedNotify []func()

	queue  chan string
	queued sync.Map

	moduleGrace, moduleGCInterval time.Duration
}

// Default timeouts per call.
const (
	defaultTimeout           = 100 * time.Millisecond
	defaultControllerTimeout = time.Second
)

// New returns a host over opts.DataDir. It serves uploads at once; Run
// starts following Plugin objects.
func New(opts Options) (*Host, error) {
	if opts.DataDir == "" {
		return nil, errors.New("plugins: no data dir")
	}
	log := opts.Logger
	if log == nil {
		log = slog.Default()
	}
	cacheDir := opts.CacheDir
	if cacheDir == "" {
		cacheDir = filepath.Join(opts.DataDir, "cache")
	}
	engine, err := wasm.NewEngine(cacheDir, append([]wasm.EngineOption{wasm.WithLogger(log)}, opts.EngineOptions...)...)
	if err != nil {
		return nil, err
	}
	modules, err := NewModuleStore(filepath.Join(opts.DataDir, "modules"))
	if err != nil {
		return nil, err
	}
	h := &Host{
		log:     log,
		engine:  engine,
		modules: modules,
		metrics: newMetrics(opts.Registerer),
		plugins: map[string]*plugin{},
		queue:   make(chan string, 1024),

		moduleGrace:      cmp.Or(opts.ModuleGrace, time.Hour),
		moduleGCInterval: cmp.Or(opts.ModuleGCInterval, 10*time.Minute),
	}
	h.service = &moduleService{h: h, info: map[string]*wharfv1.PluginModuleInfo{}}
	h.events = client.NewEventRecorder(client.EventRecorderConfig{Component: "wharf-plugin-host", Logger: log})
	return h, nil
}

// Engine returns the WebAssembly engine (for the CLI's dry run).
func (h *Host) Engine() *wasm.Engine { return h.engine }

// plugin is one Plugin object's runtime state.
type plugin struct {
	name string
	cur  atomic.Pointer[version]
	ctrl *controller
	sch  *schedulerPlugin
}

// version is one loaded module with the settings of the Plugin object it
// was loaded for. It never changes: a change makes a new version (sharing
// the module when only settings changed).
type version struct {
	mod     *wasm.Module
	obj     *wharfv1.Plugin
	module  string
	loadKey string
	points  map[string]bool
	podRes  []string // the module's podResources: no calls for other pods
	ignore  bool     // failurePolicy Ignore
	weight  int64
	rules   []*wharfv1.AdmissionRule
	watches []*wharfv1.ControllerWatch
	nodes   *nodeCache
}

var errGone = errors.New("plugin is not loaded")

// call runs f on the current version, again on a newer one if an upgrade
// closed the one it started on.
func (p *plugin) call(f func(v *version) error) (*version, error) {
	for range 5 {
		v := p.cur.Load()
		if v == nil {
			return nil, errGone
		}
		err := f(v)
		if !errors.Is(err, wasm.ErrClosed) {
			return v, err
		}
	}
	return nil, errGone
}

// Run follows Plugin objects through c until ctx ends, loading, upgrading
// and removing plugins as they change, and writing their status. It
// returns after unloading every plugin.
func (h *Host) Run(ctx context.Context, c *client.Client) error {
	h.client.Store(c)
	var wg sync.WaitGroup
	wg.Go(func() { h.events.Run(ctx, c) })
	inf := client.NewInformer(c.Plugins(), client.InformerOptions{ResyncPeriod: time.Minute, Logger: h.log})
	enqueue := func(p *wharfv1.Plugin) { h.enqueue(p.GetMetadata().GetName()) }
	inf.AddEventHandler(client.EventHandler[*wharfv1.Plugin]{
		AddFunc:    enqueue,
		UpdateFunc: func(_, p *wharfv1.Plugin) { enqueue(p) },
		DeleteFunc: enqueue,
	})
	wg.Go(func() { _ = inf.Run(ctx) })
	defer func() {
		wg.Wait()
		h.unloadAll()
	}()
	gc := time.NewTicker(h.moduleGCInterval)
	defer gc.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-gc.C:
			if inf.HasSynced() { // an empty cache would name no module at all
				h.collectModules(inf.List())
			}
		case name := <-h.queue:
			h.queued.Delete(name)
			obj, ok := inf.Get("", name)
			h.sync(ctx, name, obj, ok)
		}
	}
}

// collectModules removes uploaded modules that none of objs names and no
// loaded plugin runs, once they are older than the grace period.
func (h *Host) collectModules(objs []*wharfv1.Plugin) {
	keep := map[string]bool{}
	for _, obj := range objs {
		keep[obj.GetSpec().GetModule()] = true
		keep[obj.GetStatus().GetModule()] = true
	}
	h.mu.Lock()
	for _, p := range h.plugins {
		if v := p.cur.Load(); v != nil {
			keep[v.module] = true
		}
	}
	h.mu.Unlock()
	removed, err := h.modules.Collect(func(d string) bool { return keep[d] }, time.Now().Add(-h.moduleGrace))
	for _, d := range removed {
		h.service.forget(d)
		h.log.Info("plugin module removed: no Plugin names it", "module", d)
	}
	if err != nil {
		h.log.Warn("plugin modules not collected", "err", err)
	}
}

func (h *Host) enqueue(name string) {
	if _, loaded := h.queued.LoadOrStore(name, true); loaded {
		return
	}
	go func() { h.queue <- name }()
}

// sync makes plugin name match obj (absent: remove it).
func (h *Host) sync(ctx context.Context, name string, obj *wharfv1.Plugin, exists bool) {
	h.mu.Lock()
	p := h.plugins[name]
	if p == nil && exists {
		p = &plugin{name: name}
		p.sch = &schedulerPlugin{h: h, p: p}
		h.plugins[name] = p
	}
	h.mu.Unlock()
	if p == nil {
		return
	}
	if !exists || obj.GetMetadata().GetDeletionTimestamp() != nil {
		h.unload(ctx, p)
		return
	}
	old := p.cur.Load()
	key := loadKey(obj)
	var mod *wasm.Module
	if old != nil && old.loadKey == key {
		mod = old.mod
	} else {
		var err error
		if mod, err = h.load(ctx, name, obj); err != nil {
			h.log.Warn("plugin failed to load", "plugin", name, "module", obj.GetSpec().GetModule(), "err", err)
			h.event(name, "Warning", "LoadFailed", err.Error())
			msg := err.Error()
			if old != nil {
				msg += fmt.Sprintf(" (%s %s keeps serving)", old.mod.Metadata().GetName(), old.mod.Metadata().GetVersion())
			}
			h.setStatus(ctx, obj, old, "Failed", msg)
			return
		}
	}
	v := newVersion(obj, mod, key, old)
	if old == nil || old.mod != mod {
		h.prime(ctx, name, v)
	}
	p.cur.Store(v)
	h.metrics.loaded.WithLabelValues(name).Set(1)
	switch {
	case old != nil && old.mod != mod && old.module == v.module:
		// Same module, new settings (config, timeout, memory limit).
		go func() { _ = old.mod.Close(context.WithoutCancel(ctx)) }()
		h.log.Info("plugin reloaded with new settings", "plugin", name, "module", v.module,
			"version", mod.Metadata().GetVersion())
		h.event(name, "Normal", "Reloaded", fmt.Sprintf("serving %s %s (%s) with new settings", mod.Metadata().GetName(), mod.Metadata().GetVersion(), v.module))
	case old != nil && old.mod != mod:
		// Calls in flight finish on the old module; Close waits for them.
		go func() { _ = old.mod.Close(context.WithoutCancel(ctx)) }()
		h.log.Info("plugin upgraded", "plugin", name, "from", old.module, "to", v.module,
			"version", mod.Metadata().GetVersion())
		h.event(name, "Normal", "Upgraded", fmt.Sprintf("now serving %s %s (%s)", mod.Metadata().GetName(), mod.Metadata().GetVersion(), v.module))
	case old == nil:
		h.log.Info("plugin loaded", "plugin", name, "module", v.module, "version", mod.Metadata().GetVersion(),
			"points", strings.Join(v.pointList(), ","))
		h.event(name, "Normal", "Loaded", fmt.Sprintf("serving %s %s (%s) at %s", mod.Metadata().GetName(), mod.Metadata().GetVersion(), v.module, strings.Join(v.pointList(), ", ")))
	}
	h.restartController(ctx, p, old, v)
	h.rebuild()
	h.setStatus(ctx, obj, v, "Ready", fmt.Sprintf("serving %s %s", mod.Metadata().GetName(), mod.Metadata().GetVersion()))
}

// NodeSource lists the nodes the scheduler schedules onto, as its
// snapshot has them; daemon/scheduler.Scheduler is one.
type NodeSource interface {
	NodeInfos(ctx context.Context) ([]*framework.NodeInfo, error)
}

// SetNodeSource gives the host the scheduler's nodes: a scheduling
// plugin's new version (installed, or upgraded to a new module) then
// receives every node before it serves, rather than with its first
// calls. Without it the first calls send each candidate node the plugin
// has not seen (about 75 us a node inside a Go guest).
func (h *Host) SetNodeSource(src NodeSource) { h.nodes.Store(&src) }

// primeTimeout bounds priming a new version: waiting for the scheduler to
// be ready (at the server's start), and sending every node.
const primeTimeout = 30 * time.Second

// prime sends a new scheduling version every node of the node source, and
// has an instance take them, before the version serves. It is an
// optimisation: when it fails, the version's calls send the nodes as they
// need them.
func (h *Host) prime(ctx context.Context, name string, v *version) {
	src := h.nodes.Load()
	if src == nil || !(v.points[pluginv1.PointSchedulerFilter] || v.points[pluginv1.PointSchedulerScore]) {
		return
	}
	ctx, cancel := context.WithTimeout(ctx, primeTimeout)
	defer cancel()
	start := time.Now()
	nodes, err := (*src).NodeInfos(ctx)
	if err == nil {
		err = v.nodes.prime(v.mod, nodes)
	}
	if err == nil {
		err = v.mod.SyncNodes(ctx)
	}
	if err != nil {
		h.log.Warn("plugin serves without the nodes; its first calls send them", "plugin", name, "err", err)
		return
	}
	h.log.Info("plugin received the nodes", "plugin", name, "nodes", len(nodes), "took", time.Since(start).Round(time.Millisecond))
}

// loadKey is what needs a new load when it changes: the module and how it
// runs. failurePolicy, rules, weight and watches apply without one.
func loadKey(obj *wharfv1.Plugin) string {
	s := obj.GetSpec()
	cfg, _ := proto.MarshalOptions{Deterministic: true}.Marshal(s.GetConfig())
	return fmt.Sprintf("%s|%x|%s|%d|%d|%s", s.GetModule(), cfg, s.GetTimeout(), s.GetMemoryLimitMib(), s.GetMaxInstances(), strings.Join(s.GetExtensionPoints(), ","))
}

// load reads, checks and starts a Plugin object's module; the plugin's
// Configure validates its config.
func (h *Host) load(ctx context.Context, name string, obj *wharfv1.Plugin) (*wasm.Module, error) {
	s := obj.GetSpec()
	b, err := h.modules.Get(s.GetModule())
	if err != nil {
		return nil, err
	}
	cfg := wasm.Config{Name: name, MemoryLimitMiB: int(s.GetMemoryLimitMib()), MaxInstances: int(s.GetMaxInstances())}
	if s.GetConfig() != nil {
		if cfg.PluginConfig, err = json.Marshal(s.GetConfig().AsMap()); err != nil {
			return nil, fmt.Errorf("spec.config: %w", err)
		}
	}
	if t := s.GetTimeout(); t != "" {
		if cfg.Timeout, err = time.ParseDuration(t); err != nil {
			return nil, fmt.Errorf("spec.timeout: %w", err)
		}
	}
	// Inspect first: the default timeout depends on the points.
	md, err := h.engine.Inspect(ctx, b)
	if err != nil {
		return nil, err
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = defaultTimeout
		if len(md.GetExtensionPoints()) == 1 && md.GetExtensionPoints()[0] == pluginv1.PointControllerReconcile {
			cfg.Timeout = defaultControllerTimeout
		}
	}
	for _, p := range s.GetExtensionPoints() {
		if !slices.Contains(md.GetExtensionPoints(), p) {
			return nil, fmt.Errorf("spec.extensionPoints names %s, but %s %s implements only %s", p, md.GetName(), md.GetVersion(), strings.Join(md.GetExtensionPoints(), ", "))
		}
	}
	return h.engine.Load(ctx, b, cfg)
}

// newVersion is the version of obj served by mod. A version of the same
// module (new settings: weight, failurePolicy, rules) keeps old's node
// cache: the module's instances hold those nodes already, and a new cache
// would send them all again.
func newVersion(obj *wharfv1.Plugin, mod *wasm.Module, key string, old *version) *version {
	s := obj.GetSpec()
	v := &version{
		mod:     mod,
		obj:     obj,
		module:  s.GetModule(),
		loadKey: key,
		points:  map[string]bool{},
		podRes:  mod.Metadata().GetPodResources(),
		ignore:  s.GetFailurePolicy() == pluginv1.FailurePolicyIgnore,
		weight:  int64(max(s.GetScoreWeight(), 1)),
		rules:   canonicalRules(s.GetAdmissionRules()),
		watches: s.GetWatches(),
		nodes:   newNodeCache(),
	}
	if old != nil && old.mod == mod {
		v.nodes = old.nodes
	}
	enabled := s.GetExtensionPoints()
	if len(enabled) == 0 {
		enabled = mod.Metadata().GetExtensionPoints()
	}
	for _, p := range enabled {
		v.points[p] = true
	}
	if len(v.watches) == 0 {
		for _, w := range mod.Metadata().GetWatches() {
			v.watches = append(v.watches, &wharfv1.ControllerWatch{Kind: w.GetKind(), Namespace: w.GetNamespace(), LabelSelector: w.GetLabelSelector()})
		}
	}
	return v
}

// canonicalRules spells kinds as the API does ("pods" -> "Pod").
func canonicalRules(rules []*wharfv1.AdmissionRule) []*wharfv1.AdmissionRule {
	out := make([]*wharfv1.AdmissionRule, len(rules))
	for i, r := range rules {
		c := proto.Clone(r).(*wharfv1.AdmissionRule)
		for j, k := range c.Kinds {
			if info, ok := wharfv1.LookupKind(k); ok {
				c.Kinds[j] = info.Kind
			}
		}
		out[i] = c
	}
	return out
}

func (v *version) pointList() []string {
	var out []string
	for _, p := range pluginv1.ExtensionPoints {
		if v.points[p] {
			out = append(out, p)
		}
	}
	return out
}

func (h *Host) unload(ctx context.Context, p *plugin) {
	h.mu.Lock()
	delete(h.plugins, p.name)
	h.mu.Unlock()
	old := p.cur.Swap(nil)
	h.stopController(p)
	h.rebuild()
	h.metrics.loaded.DeleteLabelValues(p.name)
	if old != nil {
		go func() { _ = old.mod.Close(context.WithoutCancel(ctx)) }()
		h.log.Info("plugin removed", "plugin", p.name, "module", old.module)
	}
}

func (h *Host) unloadAll() {
	h.mu.Lock()
	ps := make([]*plugin, 0, len(h.plugins))
	for _, p := range h.plugins {
		ps = append(ps, p)
	}
	h.mu.Unlock()
	for _, p := range ps {
		h.unload(context.Background(), p)
	}
}

// rebuild recomputes the admission and scheduling snapshots, and tells
// the scheduler when the set of scheduling plugins changed.
func (h *Host) rebuild() {
	h.mu.Lock()
	var adm, sch []*plugin
	for _, p := range h.plugins {
		v := p.cur.Load()
		if v == nil {
			continue
		}
		if v.points[pluginv1.PointAdmissionMutate] || v.points[pluginv1.PointAdmissionValidate] {
			adm = append(adm, p)
		}
		if v.points[pluginv1.PointSchedulerFilter] || v.points[pluginv1.PointSchedulerScore] {
			sch = append(sch, p)
		}
	}
	sort.Slice(adm, func(i, j int) bool { return adm[i].name < adm[j].name })
	sort.Slice(sch, func(i, j int) bool { return sch[i].name < sch[j].name })
	h.admission.Store(&adm)
	old := h.scheduling.Swap(&sch)
	changed := old == nil || !sameScheduling(*old, sch)
	notify := slices.Clone(h.schedNotify)
	h.mu.Unlock()
	if changed {
		for _, fn := range notify {
			fn()
		}
	}
}

func sameScheduling(a, b []*plugin) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// setStatus writes the Plugin's status when it differs.
func (h *Host) setStatus(ctx context.Context, obj *wharfv1.Plugin, v *version, phase, msg string) {
	c := h.client.Load()
	if c == nil {
		return
	}
	st := &wharfv1.PluginStatus{Phase: phase, Message: msg, ObservedGeneration: obj.GetMetadata().GetGeneration()}
	if v != nil {
		md := v.mod.Metadata()
		st.Module = v.module
		st.PluginName = md.GetName()
		st.PluginVersion = md.GetVersion()
		st.ExtensionPoints = v.pointList()
	}
	if proto.Equal(st, obj.GetStatus()) {
		return
	}
	upd := proto.Clone(obj).(*wharfv1.Plugin)
	upd.Status = st
	if _, err := c.Plugins().UpdateStatus(ctx, upd); err != nil && !client.IsConflict(err) && !client.IsNotFound(err) {
		h.log.Warn("could not write plugin status", "plugin", obj.GetMetadata().GetName(), "err", err)
	}
}

// failed logs a plugin failure and records an event (rate-limited).
func (h *Host) failed(name, point string, ignore bool, err error) {
	policy := "Fail"
	if ignore {
		policy = "Ignore"
	}
	h.log.Warn("plugin call failed", "plugin", name, "point", point, "failurePolicy", policy, "err", err)
	h.event(name, "Warning", "CallFailed", fmt.Sprintf("%s failed (failurePolicy %s): %v", point, policy, err))
}

// event records an event about the Plugin object name (in namespace
// default: Plugins are cluster-scoped).
func (h *Host) event(name, typ, reason, msg string) {
	h.events.Event(&wharfv1.ObjectReference{Kind: "Plugin", ApiVersion: "v1", Name: name}, typ, reason, msg)
}
