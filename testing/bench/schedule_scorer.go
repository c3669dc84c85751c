package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"slices"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/api/wharf/v1/wharfv1connect"
	"github.com/wharfhq/wharf/daemon/apiserver"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	"github.com/wharfhq/wharf/daemon/server"
	"github.com/wharfhq/wharf/plugins"
	"github.com/wharfhq/wharf/plugins/examples/gpuscore/scorer"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/sdk/plugin"
	"github.com/wharfhq/wharf/sdk/plugin/abi"
)

// ScheduleWASMConfig sizes the WebAssembly scorer benchmark.
type ScheduleWASMConfig struct {
	// ScheduleConfig sizes both runs; its CPUProfile profiles the timed
	// part of the WebAssembly run.
	ScheduleConfig
	// Module is a scorer built for WebAssembly. Its name (in its
	// metadata) picks the same code compiled in, for the native run: only
	// "gpu-score" (plugins/examples/gpuscore) has one.
	Module []byte
	// CacheDir holds the compiled module (default: wharf-bench-wasm-cache
	// under os.TempDir(), shared by runs).
	CacheDir string
}

// ScheduleWASMResult is what the WebAssembly scorer benchmark prints.
type ScheduleWASMResult struct {
	NativePodsPerS float64 `json:"native_pods_per_s"`
	WASMPodsPerS   float64 `json:"wasm_pods_per_s"`
	// Ratio is WASMPodsPerS / NativePodsPerS; CPURatio the same of pods
	// per CPU second, which moves less with other load on the machine.
	Ratio    float64 `json:"ratio"`
	CPURatio float64 `json:"cpu_ratio"`
	// WASMScoreUSPerPod is the mean time of the plugin's Score, as the
	// framework calls it (once per pod with more than one feasible node),
	// over every call, in microseconds: the host's work (node deltas,
	// encoding) and the module's. The scorer has no opinion on pods
	// without GPUs, and says so in its metadata (podResources), so that
	// the host does not call the module for them; WASMScoreUSPerGPUPod is
	// the mean over the calls it scored, with their p50 and p99.
	WASMScoreUSPerPod    float64 `json:"wasm_score_us_per_pod"`
	WASMScoreUSPerGPUPod float64 `json:"wasm_score_us_per_gpu_pod"`
	WASMScoreP50US       float64 `json:"wasm_score_p50_us"`
	WASMScoreP99US       float64 `json:"wasm_score_p99_us"`
	// The same in CPU time of the calling thread, which does not count
	// other load on the machine.
	WASMScoreCPUUSPerPod    float64 `json:"wasm_score_cpu_us_per_pod"`
	WASMScoreCPUUSPerGPUPod float64 `json:"wasm_score_cpu_us_per_gpu_pod"`
	// The same of the native run.
	NativeScoreUSPerPod       float64 `json:"native_score_us_per_pod"`
	NativeScoreUSPerGPUPod    float64 `json:"native_score_us_per_gpu_pod"`
	NativeScoreCPUUSPerPod    float64 `json:"native_score_cpu_us_per_pod"`
	NativeScoreCPUUSPerGPUPod float64 `json:"native_score_cpu_us_per_gpu_pod"`
	// ScoreCalls and ScoredCalls count the WebAssembly run's Score calls
	// and those the scorer scored (did not skip); Candidates are the
	// nodes per call (the feasible nodes the filters found: the scheduler
	// stops filtering at an adaptive share of the nodes it filters, 500 of
	// 5,000; with half the nodes on GPUs, 750 of the 2,500 GPU nodes a GPU
	// pod's filters start from).
	ScoreCalls              int     `json:"score_calls"`
	ScoredCalls             int     `json:"scored_calls"`
	CandidatesPerCall       float64 `json:"candidates_per_call"`
	CandidatesPerScoredCall float64 `json:"candidates_per_scored_call"`
	CandidatesMax           int     `json:"candidates_max"`
	// WASMInstallMS is how long the plugin took to install, before the
	// timed part: upload, compile (or read from the compilation cache),
	// start an instance and send it every node.
	WASMInstallMS float64 `json:"wasm_install_ms"`
	// WASMCalls are the plugin host's score calls into the module by
	// outcome (ok, timeout, crash, ...), from its metrics.
	WASMCalls map[string]int64 `json:"wasm_calls"`
	// Rounds and RoundRatios: with several rounds (MedianRound), how
	// many, and each one's ratio; the rest is of the round with the
	// median ratio.
	Rounds      int       `json:"rounds,omitempty"`
	RoundRatios []float64 `json:"round_ratios,omitempty"`
	// Native and WASM are the two runs' figures.
	Native ScheduleResult `json:"native"`
	WASM   ScheduleResult `json:"wasm"`
}

// MedianRound returns, of several rounds of ScheduleWASM (a native and a
// WebAssembly run each, back to back, so that both see the same load on
// the machine), the one with the median ratio, with Rounds and
// RoundRatios set.
func MedianRound(rounds []ScheduleWASMResult) ScheduleWASMResult {
	if len(rounds) == 0 {
		return ScheduleWASMResult{}
	}
	byRatio := slices.Clone(rounds)
	slices.SortFunc(byRatio, func(a, b ScheduleWASMResult) int { return cmp.Compare(a.Ratio, b.Ratio) })
	res := byRatio[(len(byRatio)-1)/2]
	if len(rounds) > 1 {
		res.Rounds = len(rounds)
		for _, r := range rounds {
			res.RoundRatios = append(res.RoundRatios, math.Round(r.Ratio*1000)/1000)
		}
	}
	return res
}

// nativeScorers are the scorers ScheduleWASM can compile in, by plugin
// name.
var nativeScorers = map[string]func() plugin.Scorer{
	scorer.Info.Name: func() plugin.Scorer { return scorer.New() },
}

// The framework plugin name of the scorer compiled in.
const nativeScoreName = "NativeScore"

// ScheduleWASM runs the scheduler benchmark (see Schedule) twice on fresh
// servers, nodes and pods: first with the scorer compiled into the
// scheduler as a native score plugin, then with its WebAssembly module
// installed through the API as a Plugin object (scheduler.score only) and
// run by the plugin host, as `wharf server` runs it (the aggregate
// WasmPlugins score plugin). Both runs add the scorer, with weight 1, to
// the default profile's scorers, and time every call to it.
func ScheduleWASM(ctx context.Context, cfg ScheduleWASMConfig) (ScheduleWASMResult, error) {
	if len(cfg.Module) == 0 {
		return ScheduleWASMResult{}, errors.New("bench: no WebAssembly module")
	}
	if cfg.CacheDir == "" {
		cfg.CacheDir = filepath.Join(os.TempDir(), "wharf-bench-wasm-cache")
	}
	logw := cfg.Log
	if logw == nil {
		logw = io.Discard
	}
	log := slog.New(slog.NewTextHandler(logw, &slog.HandlerOptions{Level: slog.LevelWarn}))
	hostDir, err := os.MkdirTemp("", "wharf-bench-wasm-")
	if err != nil {
		return ScheduleWASMResult{}, err
	}
	defer os.RemoveAll(hostDir)
	reg := prometheus.NewRegistry()
	host, err := plugins.New(plugins.Options{DataDir: hostDir, CacheDir: cfg.CacheDir, Logger: log.With("component", "plugins"), Registerer: reg})
	if err != nil {
		return ScheduleWASMResult{}, err
	}
	md, err := host.Engine().Inspect(ctx, cfg.Module)
	if err != nil {
		return ScheduleWASMResult{}, fmt.Errorf("bench: %w", err)
	}
	if !abi.HasPoint(md, pluginv1.PointSchedulerScore) {
		return ScheduleWASMResult{}, fmt.Errorf("bench: the module %s is not a scorer (it does not implement %s)", md.GetName(), pluginv1.PointSchedulerScore)
	}
	newNative, ok := nativeScorers[md.GetName()]
	if !ok {
		return ScheduleWASMResult{}, fmt.Errorf("bench: the module %s has no native counterpart to compare with; use the example GPU scorer (plugins/examples/gpuscore, %s)", md.GetName(), scorer.Info.Name)
	}

	// Each run has a fresh store.
	ncfg, wcfg := cfg.ScheduleConfig, cfg.ScheduleConfig
	if cfg.DataDir != "" {
		ncfg.DataDir, wcfg.DataDir = filepath.Join(cfg.DataDir, "native"), filepath.Join(cfg.DataDir, "wasm")
	}

	cpuClockCost() // calibrate outside the timed calls

	// The scorer compiled in.
	native := &scoreTimer{}
	ncfg.CPUProfile = nil
	nres, err := schedule(ctx, ncfg, scheduleHooks{
		ready: func(context.Context, *server.Daemon) (*framework.Config, framework.Registry, func(), error) {
			s := newNative()
			if c, ok := s.(plugin.Configurer); ok {
				if err := c.Configure([]byte("{}")); err != nil {
					return nil, nil, nil, fmt.Errorf("bench: configure the native %s: %w", md.GetName(), err)
				}
			}
			native.ScorePlugin = newNativeScore(nativeScoreName, s)
			registry := framework.Registry{nativeScoreName: func(framework.Args) (framework.Plugin, error) { return native, nil }}
			return scoreProfile(nativeScoreName), registry, func() {}, nil
		},
	})
	if err != nil {
		return ScheduleWASMResult{}, fmt.Errorf("bench: native run: %w", err)
	}

	// The module, through the plugin host.
	wasm := &scoreTimer{}
	var installTook time.Duration
	wres, err := schedule(ctx, wcfg, scheduleHooks{
		server: func(c *server.Config) { // as `wharf server` wires the host
			c.APIOptions = append(c.APIOptions,
				apiserver.WithMutatingAdmission(host.Admission()), apiserver.WithValidatingAdmission(host.Admission()),
				apiserver.WithService(host.Handler))
		},
		ready: func(ctx context.Context, d *server.Daemon) (*framework.Config, framework.Registry, func(), error) {
			rctx, cancel := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() {
				defer close(done)
				if err := host.Run(rctx, client.New(d.URL())); err != nil && rctx.Err() == nil {
					log.Error("plugin host stopped", "err", err)
				}
			}()
			stop := func() { cancel(); <-done }
			// As `wharf server` does, the host has the scheduler's view of
			// the nodes: the plugin receives every node when it is
			// installed, before it serves, not with its first calls.
			host.SetNodeSource(listedNodes{client.New(d.URL())})
			installStart := time.Now()
			if err := installScorer(ctx, d.URL(), md.GetName(), cfg.Module); err != nil {
				stop()
				return nil, nil, nil, err
			}
			installTook = time.Since(installStart)
			agg := host.SchedulerAggregate()[plugins.AggregateName]
			registry := framework.Registry{plugins.AggregateName: func(args framework.Args) (framework.Plugin, error) {
				p, err := agg(args)
				if err != nil {
					return nil, err
				}
				wasm.ScorePlugin = p.(framework.ScorePlugin)
				return wasm, nil
			}}
			return scoreProfile(plugins.AggregateName), registry, stop, nil
		},
	})
	if err != nil {
		return ScheduleWASMResult{}, fmt.Errorf("bench: WebAssembly run: %w", err)
	}

	res := ScheduleWASMResult{
		NativePodsPerS: nres.PodsPerS, WASMPodsPerS: wres.PodsPerS,
		WASMCalls: scoreCallsByOutcome(reg, md.GetName()),
		Native:    nres, WASM: wres,
	}
	if nres.PodsPerS > 0 {
		res.Ratio = wres.PodsPerS / nres.PodsPerS
	}
	if nres.PodsPerCPUS > 0 {
		res.CPURatio = wres.PodsPerCPUS / nres.PodsPerCPUS
	}
	ws, ns := wasm.summary(), native.summary()
	res.WASMScoreUSPerPod, res.WASMScoreUSPerGPUPod = ws.meanUS, ws.scoredMeanUS
	res.WASMScoreP50US, res.WASMScoreP99US = ws.scoredP50US, ws.scoredP99US
	res.WASMScoreCPUUSPerPod, res.WASMScoreCPUUSPerGPUPod = ws.cpuMeanUS, ws.scoredCPUMeanUS
	res.NativeScoreUSPerPod, res.NativeScoreUSPerGPUPod = ns.meanUS, ns.scoredMeanUS
	res.NativeScoreCPUUSPerPod, res.NativeScoreCPUUSPerGPUPod = ns.cpuMeanUS, ns.scoredCPUMeanUS
	res.ScoreCalls, res.ScoredCalls = ws.calls, ws.scored
	res.WASMInstallMS = float64(installTook.Microseconds()) / 1000
	res.CandidatesPerCall, res.CandidatesPerScoredCall, res.CandidatesMax = ws.nodesMean, ws.scoredNodesMean, ws.nodesMax
	return res, nil
}

// scoreProfile is the default profile with the score plugin name added,
// weight 1.
func scoreProfile(name string) *framework.Config {
	return &framework.Config{Profiles: []framework.ProfileConfig{{
		SchedulerName: framework.DefaultSchedulerName,
		Plugins: framework.PluginsConfig{Score: framework.PluginSet{
			Enabled: []framework.PluginRef{{Name: name, Weight: 1}},
		}},
	}}}
}

// installScorer uploads module and creates the Plugin name for its
// scheduler.score point alone, as `wharf plugin install` does, and waits
// until the plugin host serves it.
func installScorer(ctx context.Context, url, name string, module []byte) error {
	mc := wharfv1connect.NewPluginModuleServiceClient(client.DefaultHTTPClient(), url)
	up, err := mc.Upload(ctx, connect.NewRequest(&wharfv1.UploadPluginModuleRequest{Module: module}))
	if err != nil {
		return fmt.Errorf("bench: upload the module: %w", err)
	}
	digest := up.Msg.GetModule()
	c := client.New(url)
	p := &wharfv1.Plugin{
		Metadata: &wharfv1.ObjectMeta{Name: name},
		Spec:     &wharfv1.PluginSpec{Module: digest, ExtensionPoints: []string{pluginv1.PointSchedulerScore}},
	}
	if _, err := c.Plugins().Apply(ctx, p); err != nil {
		return fmt.Errorf("bench: create the Plugin: %w", err)
	}
	deadline := time.Now().Add(2 * time.Minute)
	for {
		got, err := c.Plugins().Get(ctx, "", name)
		if err != nil {
			return fmt.Errorf("bench: get the Plugin: %w", err)
		}
		st := got.GetStatus()
		switch {
		case st.GetPhase() == "Ready" && st.GetModule() == digest:
			return nil
		case st.GetPhase() == "Failed":
			return fmt.Errorf("bench: the plugin did not load: %s", st.GetMessage())
		case time.Now().After(deadline):
			return fmt.Errorf("bench: the plugin is not ready after 2m (status %v)", st)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// scoreCallsByOutcome reads the plugin host's count of the plugin's score
// calls, by outcome, from its metrics.
func scoreCallsByOutcome(reg prometheus.Gatherer, name string) map[string]int64 {
	out := map[string]int64{}
	for _, m := range gatherMetrics(reg, "wharf_plugin_calls_total", map[string]string{"plugin": name, "point": pluginv1.PointSchedulerScore}) {
		for _, l := range m.GetLabel() {
			if l.GetName() == "outcome" {
				out[l.GetValue()] += int64(m.GetCounter().GetValue())
			}
		}
	}
	return out
}

// scoreSummary sums up a scoreTimer's calls.
type scoreSummary struct {
	calls, scored              int
	meanUS, scoredMeanUS       float64
	cpuMeanUS, scoredCPUMeanUS float64
	scoredP50US, scoredP99US   float64
	nodesMean, scoredNodesMean float64
	nodesMax                   int
}

func (t *scoreTimer) summary() scoreSummary {
	t.mu.Lock()
	defer t.mu.Unlock()
	var s scoreSummary
	var total, scoredTotal, cpu, scoredCPU time.Duration
	var nodes, scoredNodes int
	var scored []time.Duration
	for _, c := range t.calls {
		s.calls++
		total += c.took
		cpu += c.cpu
		nodes += c.nodes
		s.nodesMax = max(s.nodesMax, c.nodes)
		if c.scored {
			scored = append(scored, c.took)
			scoredTotal += c.took
			scoredCPU += c.cpu
			scoredNodes += c.nodes
		}
	}
	s.scored = len(scored)
	us := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / 1e3 }
	if s.calls > 0 {
		s.meanUS = us(total) / float64(s.calls)
		s.cpuMeanUS = us(cpu) / float64(s.calls)
		s.nodesMean = float64(nodes) / float64(s.calls)
	}
	if s.scored > 0 {
		slices.Sort(scored)
		s.scoredMeanUS = us(scoredTotal) / float64(s.scored)
		s.scoredCPUMeanUS = us(scoredCPU) / float64(s.scored)
		s.scoredNodesMean = float64(scoredNodes) / float64(s.scored)
		s.scoredP50US = us(scored[len(scored)/2])
		s.scoredP99US = us(scored[len(scored)*99/100])
	}
	return s
}

// listedNodes is a plugins.NodeSource of the nodes and their pods as the
// API lists them: what the scheduler's snapshot holds when it starts.
type listedNodes struct{ c *client.Client }

func (l listedNodes) NodeInfos(ctx context.Context) ([]*framework.NodeInfo, error) {
	nodes, err := l.c.Nodes().List(ctx, client.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("bench: list nodes: %w", err)
	}
	pods, err := l.c.Pods().List(ctx, client.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("bench: list pods: %w", err)
	}
	snap, err := framework.NewSnapshot(nodes.Items, pods.Items)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	return snap.Nodes(), nil
}
