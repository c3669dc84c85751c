package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	"github.com/wharfhq/wharf/sdk/plugin/abi"
)

// Module is one loaded plugin version: a compiled module, its metadata and
// a pool of instances. Make one with Engine.Load.
type Module struct {
	cfg      Config
	engine   *Engine
	log      *slog.Logger
	rt       wazero.Runtime
	compiled wazero.CompiledModule
	md       *pluginv1.PluginMetadata
	hasInit  bool

	idle  chan *instance
	slots chan struct{} // a token per live instance

	mu     sync.RWMutex
	closed bool
	calls  sync.WaitGroup

	nodes  nodeLog
	syncCh chan struct{} // node changes to push to idle instances
	stop   chan struct{} // closed by Close

	// collects: the module exports wharf_collect, which collectLoop calls
	// on instances that served collectEvery calls since the last time;
	// collectFailed: a call of it failed, and it is not called again.
	collects      bool
	collectFailed atomic.Bool
	collectCh     chan struct{}

	created     atomic.Int64
	discarded   atomic.Int64
	starting    atomic.Int64 // instances being started in the background
	collecting  atomic.Int64 // collectLoop at work: an instance may be in wharf_collect
	collections atomic.Int64 // that collected
	nodeUpdates atomic.Int64 // calls of wharf_scheduler_nodes
}

// startupTimeout bounds instantiation (the guest's _initialize and
// wharf_configure).
func (c Config) startupTimeout() time.Duration { return max(time.Second, 10*c.Timeout) }

// Load checks wasm against the ABI, compiles it (or takes it from the
// compilation cache), reads its metadata and starts one instance, which
// validates cfg.PluginConfig. Errors wrap ErrABI or ErrConfig and say what
// to fix.
func (e *Engine) Load(ctx context.Context, wasm []byte, cfg Config) (*Module, error) {
	return e.load(ctx, wasm, cfg, true)
}

func (e *Engine) load(ctx context.Context, wasm []byte, cfg Config, start bool) (*Module, error) {
	cfg = cfg.withDefaults()
	section, hasSection, err := abi.CustomSection(wasm, abi.SectionMetadata)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrABI, err)
	}
	code := wasm
	if e.interruptible {
		if code, err = instrument(wasm); err != nil {
			return nil, err
		}
	}
	rt := wazero.NewRuntimeWithConfig(ctx, e.runtimeConfig(cfg.memoryPages()))
	m := &Module{
		cfg:    cfg,
		engine: e,
		log:    e.log.With("plugin", cfg.Name),
		rt:     rt,
		idle:   make(chan *instance, cfg.MaxInstances),
		slots:  make(chan struct{}, cfg.MaxInstances),
		syncCh: make(chan struct{}, 1),
		stop:   make(chan struct{}),

		collectCh: make(chan struct{}, 1),
	}
	fail := func(err error) (*Module, error) {
		_ = rt.Close(context.WithoutCancel(ctx))
		return nil, err
	}
	if m.compiled, err = rt.CompileModule(ctx, code); err != nil {
		if strings.Contains(err.Error(), "over limit of") {
			// wazero checks the memory section against the limit first.
			return fail(fmt.Errorf("%w of %d MiB (%v); raise the Plugin's memoryLimitMiB (wharf plugin install --memory-limit)",
				ErrMemoryLimit, cfg.MemoryLimitMiB, err))
		}
		return fail(fmt.Errorf("%w: it does not compile: %v", ErrABI, err))
	}
	if err := checkModule(m.compiled); err != nil {
		return fail(err)
	}
	_, m.hasInit = m.compiled.ExportedFunctions()[abi.ExportInitialize]
	_, m.collects = m.compiled.ExportedFunctions()[abi.ExportCollect]
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return fail(fmt.Errorf("wasm: instantiate WASI: %w", err))
	}
	if hasSection {
		if m.md, err = abi.DecodeMetadataJSON(section); err != nil {
			return fail(fmt.Errorf("%w: %v", ErrABI, err))
		}
	} else if m.md, err = m.probeMetadata(ctx); err != nil {
		return fail(err)
	}
	if err := abi.ValidateMetadata(m.md); err != nil {
		return fail(fmt.Errorf("%w: %v", ErrABI, err))
	}
	if err := checkPoints(m.compiled, m.md); err != nil {
		return fail(err)
	}
	if _, ok := m.compiled.ExportedFunctions()[abi.ExportConfigure]; !ok && string(cfg.PluginConfig) != "{}" {
		return fail(fmt.Errorf("%w: %s takes no config (it does not export %s); remove the config", ErrConfig, m.md.GetName(), abi.ExportConfigure))
	}
	if !start {
		close(m.stop)
		return m, nil
	}
	m.slots <- struct{}{}
	in, err := m.newInstance(ctx)
	if err != nil {
		return fail(err)
	}
	m.idle <- in
	if m.scheduling() {
		go m.syncLoop()
	}
	if m.collects {
		go m.collectLoop()
	}
	return m, nil
}

// syncLoopMin is how many node changes an idle instance may be behind
// before the sync loop brings it up to date; fewer ride along with its
// next scheduling call (a few changes cost that call microseconds).
const syncLoopMin = 64

// syncLoopDelay is how long the sync loop waits after node changes come.
const syncLoopDelay = 5 * time.Millisecond

// syncLoopIdle is how long an instance must have been idle for the sync
// loop to bring it up to date.
const syncLoopIdle = 100 * time.Millisecond

// syncLoop pushes node changes to idle instances when many have come
// (after a burst of node changes, or while an instance sat idle), so that
// scheduling calls seldom wait for them.
func (m *Module) syncLoop() {
	for {
		select {
		case <-m.stop:
			return
		case <-m.syncCh:
		}
		// Changes usually come from a scheduling call about to take an
		// instance and send them itself: let it, and take the changes that
		// keep coming meanwhile together.
		select {
		case <-m.stop:
			return
		case <-time.After(syncLoopDelay):
		}
		if !m.acquire() {
			return
		}
		for range cap(m.idle) {
			var in *instance
			select {
			case in = <-m.idle:
			default:
			}
			if in == nil {
				break
			}
			// An instance in steady use takes the changes with its calls;
			// taking it away from them would make a caller start another.
			if m.nodes.behind(in.nodeSeq) < syncLoopMin || time.Since(in.used) < syncLoopIdle {
				m.idle <- in
				continue
			}
			if err := in.syncNodes(); err != nil && Discarded(err) {
				m.discard(in, err)
				continue
			}
			m.idle <- in
		}
		m.calls.Done()
	}
}

// deadline is a call's deadline from now: the module's timeout, or ctx's
// deadline when earlier.
func (m *Module) deadline(ctx context.Context) time.Time {
	deadline := time.Now().Add(m.cfg.Timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	return deadline
}

// Inspect checks wasm against the ABI and returns its metadata, without
// configuring it: what the server does when a module is uploaded. Errors
// wrap ErrABI and say what to fix.
func (e *Engine) Inspect(ctx context.Context, wasm []byte) (*pluginv1.PluginMetadata, error) {
	m, err := e.load(ctx, wasm, Config{Name: "inspect", MaxInstances: 1}, false)
	if err != nil {
		return nil, err
	}
	md := m.md
	_ = m.Close(ctx)
	return md, nil
}

// probeMetadata asks a throwaway instance for its metadata (modules whose
// toolchain cannot write custom sections, such as Go).
func (m *Module) probeMetadata(ctx context.Context) (*pluginv1.PluginMetadata, error) {
	if _, ok := m.compiled.ExportedFunctions()[abi.ExportMetadata]; !ok {
		return nil, fmt.Errorf("%w: it has no metadata: neither a %q custom section nor a %s export", ErrABI, abi.SectionMetadata, abi.ExportMetadata)
	}
	in, err := m.instantiate(ctx, m.log)
	if err != nil {
		return nil, err
	}
	defer in.close()
	if err := in.run(abi.ExportMetadata, time.Now().Add(m.cfg.startupTimeout())); err != nil {
		return nil, err
	}
	ptr, n := abi.Unpack(in.stack[0])
	b, ok := in.mem.Read(ptr, n)
	if !ok || n > abi.MaxMessageBytes {
		return nil, fmt.Errorf("%w: %s returned an address outside its memory", ErrABI, abi.ExportMetadata)
	}
	md := &pluginv1.PluginMetadata{}
	if err := proto.Unmarshal(b, md); err != nil {
		return nil, fmt.Errorf("%w: %s returned bytes that are not PluginMetadata: %v", ErrABI, abi.ExportMetadata, err)
	}
	return md, nil
}

// Metadata returns what the module says about itself; do not modify it.
func (m *Module) Metadata() *pluginv1.PluginMetadata { return m.md }

// Config returns the config the module was loaded with, defaults applied.
func (m *Module) Config() Config { return m.cfg }

// Stats are counters of a module's instances.
type Stats struct {
	// Created counts instances started, Discarded those closed after a
	// failure.
	Created, Discarded int64
	// Collections counts the calls of wharf_collect that collected.
	Collections int64
	// NodeUpdates counts the calls of wharf_scheduler_nodes: node changes
	// too many to ride in a scheduling call, every node for a new
	// instance, and SyncNodes.
	NodeUpdates int64
}

// Stats returns the module's instance counters.
func (m *Module) Stats() Stats {
	return Stats{Created: m.created.Load(), Discarded: m.discarded.Load(), Collections: m.collections.Load(), NodeUpdates: m.nodeUpdates.Load()}
}

// instantiate starts an instance, running _initialize, with output going
// to log.
func (m *Module) instantiate(ctx context.Context, log *slog.Logger) (*instance, error) {
	in := &instance{m: m}
	var stdout, stderr io.Writer = io.Discard, io.Discard
	if m.md == nil || has(m.md, pluginv1.CapabilityLog) {
		stdout = &lineWriter{log: log, stream: "stdout"}
		stderr = &lineWriter{log: log, stream: "stderr"}
	}
	// _initialize runs below, under the deadline, not inside
	// InstantiateModule where nothing could stop it.
	mc := wazero.NewModuleConfig().
		WithName("").
		WithStdout(stdout).
		WithStderr(stderr).
		WithRandSource(rand.Reader).
		WithStartFunctions()
	if m.md != nil && has(m.md, pluginv1.CapabilityClock) {
		mc = mc.WithSysWalltime().WithSysNanotime()
	}
	mod, err := m.rt.InstantiateModule(withReservedMemory(ctx), m.compiled, mc)
	if err != nil {
		return nil, fmt.Errorf("%w: starting an instance: %v", ErrTrap, err)
	}
	in.mod = mod
	in.mem = mod.Memory()
	in.alloc = mod.ExportedFunction(abi.ExportAlloc)
	if g, ok := mod.ExportedGlobal(InterruptGlobal).(api.MutableGlobal); ok && m.engine.interruptible {
		in.interrupt = g
	}
	in.timer = time.AfterFunc(time.Hour, in.expire)
	in.timer.Stop()
	m.created.Add(1)
	if m.hasInit {
		if err := in.run(abi.ExportInitialize, time.Now().Add(m.cfg.startupTimeout())); err != nil {
			in.close()
			return nil, fmt.Errorf("starting an instance: %w", err)
		}
	}
	return in, nil
}

// newInstance starts an instance and configures it. The caller holds a
// slot.
func (m *Module) newInstance(ctx context.Context) (*instance, error) {
	in, err := m.instantiate(ctx, m.log)
	if err != nil {
		return nil, err
	}
	if in.fn(abi.ExportConfigure) == nil {
		return in, nil
	}
	req, _ := proto.Marshal(&pluginv1.ConfigureRequest{Name: m.cfg.Name, Config: m.cfg.PluginConfig,
		MemoryLimitBytes: uint64(m.cfg.MemoryLimitMiB) << 20})
	resp := &pluginv1.ConfigureResponse{}
	if err := in.call(time.Now().Add(m.cfg.startupTimeout()), abi.ExportConfigure, req, resp); err != nil {
		in.close()
		if errors.Is(err, ErrPlugin) {
			return nil, fmt.Errorf("%w: %s", ErrConfig, resp.GetError())
		}
		return nil, fmt.Errorf("configure: %w", err)
	}
	return in, nil
}

// get takes an idle instance or waits for one until deadline. When none
// is idle and the pool may grow, a new instance starts in the background:
// starting a Go guest takes milliseconds, which must not count against a
// call's deadline, and an instance that is busy now is usually free sooner.
// fresh reports whether the wait was for instances starting, in which case
// the call gets a new deadline.
func (m *Module) get(ctx context.Context, deadline time.Time) (in *instance, fresh bool, err error) {
	select {
	case in := <-m.idle:
		return in, false, nil
	default:
	}
	// An instance busy with a short call, or with node changes in the sync
	// loop, is usually back within growAfter: wait that long before
	// starting another, which takes milliseconds and, for a scheduling
	// plugin, a copy of every node that every change must then reach.
	busy := m.starting.Load() + m.collecting.Load()
	if len(m.slots) > int(busy) {
		t := time.NewTimer(min(growAfter, time.Until(deadline)))
		select {
		case in := <-m.idle:
			t.Stop()
			return in, false, nil
		case <-ctx.Done():
			t.Stop()
			return nil, false, ctx.Err()
		case <-t.C:
		}
	}
	// An instance collecting its garbage is back within milliseconds, and
	// another would cost more (for a scheduling plugin, a copy of every
	// node): wait for it.
	collecting := m.collecting.Load() > 0
	if !collecting {
		select {
		case m.slots <- struct{}{}:
			m.startInstance()
		default:
		}
	}
	// When every instance is still starting (after a crash, say) or
	// collecting, waiting for one is bounded by the startup deadline, not
	// the call's: the call then gets its own deadline (see do). A
	// collection may run to its own startup deadline and fail, and then a
	// replacement starts: twice that.
	if collecting || int(m.starting.Load()) >= len(m.slots) {
		wait := m.cfg.startupTimeout()
		if collecting {
			wait *= 2
		}
		if d := time.Now().Add(wait); d.After(deadline) {
			deadline, fresh = d, true
		}
	}
	t := time.NewTimer(time.Until(deadline))
	defer t.Stop()
	select {
	case in := <-m.idle:
		return in, fresh, nil
	case <-t.C:
		return nil, false, fmt.Errorf("%w (%d instances busy or starting)", ErrBusy, m.cfg.MaxInstances)
	case <-ctx.Done():
		return nil, false, ctx.Err()
	}
}

// growAfter is how long a call waits for a busy instance before the pool
// grows.
const growAfter = time.Millisecond

// startInstance starts an instance into the pool in the background. The
// caller took a slot for it and holds a call (Close waits for it).
func (m *Module) startInstance() {
	m.calls.Add(1)
	m.starting.Add(1)
	go m.grow()
}

func (m *Module) grow() {
	defer m.calls.Done()
	defer m.starting.Add(-1)
	in, err := m.newInstance(context.Background())
	if err == nil && m.scheduling() {
		// A new instance of a scheduling plugin holds no nodes yet: send
		// them all now, not in a caller's call, and collect the garbage
		// that decoding them left.
		if err = in.syncNodes(); err == nil {
			err = m.collect(in)
		}
		if err != nil {
			in.close()
		}
	}
	if err != nil {
		<-m.slots
		m.log.Warn("plugin instance failed to start", "err", err)
		return
	}
	m.idle <- in // never blocks: there are as many places as slots
}

// scheduling reports whether the module has a scheduling point (and so
// keeps nodes).
func (m *Module) scheduling() bool {
	return abi.HasPoint(m.md, pluginv1.PointSchedulerFilter) || abi.HasPoint(m.md, pluginv1.PointSchedulerScore)
}

// put returns a healthy instance to the pool after a call.
func (m *Module) put(in *instance) {
	in.used = time.Now()
	in.calls++
	due := m.collects && in.calls >= collectEvery && !m.collectFailed.Load()
	m.idle <- in // another goroutine may have it from here on
	if due {
		select {
		case m.collectCh <- struct{}{}:
		default:
		}
	}
}

// collectEvery is how many calls an instance serves between two calls of
// wharf_collect. A Go guest holding 5,000 nodes (19 MiB) makes about 200
// bytes of garbage a scheduling call and collects every few tens of
// thousands of calls. The check takes the instance from the pool, and a
// scheduling call that comes meanwhile waits for it: in bench:wasm, every
// 64 calls made 30-40 of 5,000 score calls wait (0.3-0.7 ms each), every
// 512 calls 6-14. A guest that makes much more garbage a call holds
// little else, and its own collections inside calls are short.
const collectEvery = 256

// collectLoop calls wharf_collect on instances that served collectEvery
// calls since the last time, so that a guest collects its garbage between
// calls rather than inside one. It waits for such an instance to come
// back to the pool: one in steady use is idle for microseconds at a time,
// and a waiting receiver gets it before the next caller.
func (m *Module) collectLoop() {
	t := time.NewTimer(collectWait)
	t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-m.collectCh:
		}
		if !m.acquire() {
			return
		}
		// Counted as collecting from before it takes an instance: a caller
		// that finds none idle meanwhile must wait, not start another.
		m.collecting.Add(1)
		for range cap(m.idle) {
			t.Reset(collectWait)
			var in *instance
			select {
			case in = <-m.idle:
			case <-t.C:
			case <-m.stop:
			}
			if in == nil {
				break
			}
			t.Stop()
			if in.calls >= collectEvery {
				if err := m.collect(in); err != nil {
					m.discard(in, err)
					break
				}
				m.idle <- in
				break
			}
			m.idle <- in
		}
		m.collecting.Add(-1)
		m.calls.Done()
	}
}

// collectWait is how long collectLoop waits for an instance to come back.
const collectWait = 100 * time.Millisecond

// collect calls wharf_collect on an instance no caller holds, under the
// startup deadline: a collection takes tens of milliseconds on a heap of
// thousands of nodes. Callers that find no idle instance meanwhile wait
// for it rather than start another (see get). When it fails the instance
// must go, and wharf_collect is not called again: the module is left to
// collect inside its calls, as it would without the export, rather than
// lose an instance, and its copy of the nodes, every collectEvery calls.
func (m *Module) collect(in *instance) error {
	if !m.collects || m.collectFailed.Load() {
		return nil
	}
	in.calls = 0
	if err := in.run(abi.ExportCollect, time.Now().Add(m.cfg.startupTimeout())); err != nil {
		m.collectFailed.Store(true)
		m.log.Warn("plugin's "+abi.ExportCollect+" failed; it is not called again", "err", err)
		return err
	}
	if uint32(in.stack[0]) != 0 {
		m.collections.Add(1)
	}
	return nil
}

// discard closes a failed instance and starts its replacement at once, in
// the background, in its slot.
func (m *Module) discard(in *instance, cause error) {
	in.close()
	m.discarded.Add(1)
	m.log.Warn("plugin instance discarded", "err", cause)
	m.startInstance()
}

// acquire registers a call; false once the module is closed.
func (m *Module) acquire() bool {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return false
	}
	m.calls.Add(1)
	return true
}

// Close waits for calls in flight, then closes every instance and the
// runtime. Later calls fail with ErrClosed.
func (m *Module) Close(ctx context.Context) error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	m.mu.Unlock()
	select {
	case <-m.stop:
	default:
		close(m.stop)
	}
	m.calls.Wait()
	for {
		select {
		case in := <-m.idle:
			in.close()
			continue
		default:
		}
		break
	}
	return m.rt.Close(context.WithoutCancel(ctx))
}

// Call runs export on req, a protobuf request, and decodes the response
// into resp, applying the module's deadline (or ctx's, when earlier). A
// non-empty error field in resp is returned as ErrPlugin.
func (m *Module) Call(ctx context.Context, export string, req []byte, resp proto.Message) error {
	return m.do(ctx, func(in *instance, deadline time.Time) error {
		return in.call(deadline, export, req, resp)
	})
}

// do runs f on an instance, with the call's deadline, and returns the
// instance to the pool or discards it.
func (m *Module) do(ctx context.Context, f func(in *instance, deadline time.Time) error) error {
	if !m.acquire() {
		return ErrClosed
	}
	defer m.calls.Done()
	deadline := m.deadline(ctx)
	in, fresh, err := m.get(ctx, deadline)
	if err != nil {
		return fmt.Errorf("plugin %q: %w", m.cfg.Name, err)
	}
	if fresh {
		deadline = m.deadline(ctx) // waited for instances to start
	}
	err = f(in, deadline)
	if Discarded(err) {
		m.discard(in, err)
	} else {
		m.put(in)
	}
	if err != nil {
		return fmt.Errorf("plugin %q: %w", m.cfg.Name, err)
	}
	return nil
}
