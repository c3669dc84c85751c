package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	"github.com/wharfhq/wharf/daemon/server"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/testing/sim"
)

// ScheduleConfig sizes the scheduler benchmark.
type ScheduleConfig struct {
	// Nodes simulated nodes (default 5000), of which GPUNodes have 8 GPUs
	// each (alternately H100 80GB and A100 40GB, tainted
	// nvidia.com/gpu=present:NoSchedule).
	Nodes    int
	GPUNodes int
	// Pods pending pods (default 10000), of which GPUPods request GPUs
	// (mixed in evenly): 1 GPU (70%), 2 (20%), 4 (5%) or 8 (5%), a third
	// asking at least 80,000 MiB per GPU, a third the A100 model, a third
	// any GPU.
	Pods    int
	GPUPods int
	// CreateClients create the pods before the clock starts (default 64).
	CreateClients int
	// StallTimeout ends the run when no pod was bound for this long
	// (default 30s): pods left over are reported as unscheduled.
	StallTimeout time.Duration
	DataDir      string    // default: a temp dir, removed afterwards
	Log          io.Writer // the server's and scheduler's warnings
	// CPUProfile, when set, receives a CPU profile of the timed part.
	CPUProfile io.Writer
}

// ScheduleResult is what the benchmark prints.
type ScheduleResult struct {
	Nodes    int     `json:"nodes"`
	Pods     int     `json:"pods"`
	PodsPerS float64 `json:"pods_per_s"`
	// P50MS and P99MS are queue-to-bind latencies: from the scheduler
	// queueing the pod to its binding being durable.
	P50MS float64 `json:"p50_ms"`
	P99MS float64 `json:"p99_ms"`
	// RSSMiB is the peak resident memory of the benchmark's process: the
	// server, the scheduler and the simulated nodes together.
	RSSMiB float64 `json:"rss_mib"`
	// GPUOccupancy is the share of GPU nodes that are full or empty at the
	// end (GPU scenario only).
	GPUOccupancy *float64 `json:"gpu_occupancy,omitempty"`
	GPUNodes     int      `json:"gpu_nodes,omitempty"`
	GPUPods      int      `json:"gpu_pods,omitempty"`
	Unscheduled  int      `json:"unscheduled"`
	DurationS    float64  `json:"duration_s"`
	// FirstBindS is from the scheduler's start to its first durable
	// binding: mostly listing the nodes and pods.
	FirstBindS float64 `json:"first_bind_s"`
	// CPUS is the CPU time the whole process (server, scheduler, simulated
	// nodes) used in the timed part; PodsPerCPUS = pods / CPUS is the figure
	// that does not move with other load on a shared machine.
	CPUS        float64 `json:"cpu_s"`
	PodsPerCPUS float64 `json:"pods_per_cpu_s"`
	// BindCalls is the number of BindPods calls (batches); StoreCommits the
	// durable group commits during the timed part.
	BindCalls    int64  `json:"bind_calls"`
	StoreCommits uint64 `json:"store_commits"`
}

// Schedule runs the scheduler benchmark: a server with the durable store on
// a temp dir, Nodes simulated nodes registered through the API, Pods
// pending pods created through the API (not timed); then the clock runs
// from the scheduler's start (it lists nodes and pods like any start)
// until the last binding is durable. The scheduler runs as in `wharf
// server`: in the server's process, binding through the service layer.
func Schedule(ctx context.Context, cfg ScheduleConfig) (ScheduleResult, error) {
	return schedule(ctx, cfg, scheduleHooks{})
}

// scheduleHooks let a variant of the scheduler benchmark (ScheduleWASM)
// add to the server and to the scheduler's profiles.
type scheduleHooks struct {
	// server adjusts the server's config before it starts.
	server func(*server.Config)
	// ready runs once the nodes and pods exist, before the scheduler is
	// made and the clock starts: it returns the scheduler's profiles and
	// extra plugins, and a stop function that runs before the server
	// shuts down.
	ready func(ctx context.Context, d *server.Daemon) (*framework.Config, framework.Registry, func(), error)
}

func schedule(ctx context.Context, cfg ScheduleConfig, hooks scheduleHooks) (ScheduleResult, error) {
	if cfg.Nodes == 0 {
		cfg.Nodes = 5000
	}
	if cfg.Pods == 0 {
		cfg.Pods = 10000
	}
	if cfg.GPUNodes > cfg.Nodes || cfg.GPUPods > cfg.Pods {
		return ScheduleResult{}, errors.New("bench: GPU nodes and pods are among the nodes and pods: --gpu-nodes <= --nodes, --gpu-pods <= --pods")
	}
	if cfg.GPUPods > 0 && cfg.GPUNodes == 0 {
		return ScheduleResult{}, errors.New("bench: GPU pods need GPU nodes (--gpu-nodes)")
	}
	if cfg.CreateClients == 0 {
		cfg.CreateClients = 64
	}
	if cfg.StallTimeout == 0 {
		cfg.StallTimeout = 30 * time.Second
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	dir := cfg.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "wharf-bench-schedule-")
		if err != nil {
			return ScheduleResult{}, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	log := slog.New(slog.NewTextHandler(cfg.Log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	scfg := server.Config{DataDir: dir, Listen: "127.0.0.1:0", Logger: log}
	if hooks.server != nil {
		hooks.server(&scfg)
	}
	d, err := server.Start(ctx, scfg)
	if err != nil {
		return ScheduleResult{}, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Shutdown(sctx)
	}()
	c := client.New(d.URL())

	nodes, err := sim.Start(ctx, sim.Config{Client: c, Nodes: cfg.Nodes, GPUNodes: cfg.GPUNodes, Logger: log})
	if err != nil {
		return ScheduleResult{}, err
	}
	defer nodes.Stop()
	if err := createPods(ctx, c, cfg); err != nil {
		return ScheduleResult{}, err
	}
	var profiles *framework.Config
	var registry framework.Registry
	if hooks.ready != nil {
		var stopHook func()
		if profiles, registry, stopHook, err = hooks.ready(ctx, d); err != nil {
			return ScheduleResult{}, err
		}
		defer stopHook()
	}

	var (
		mu        sync.Mutex
		latencies = make([]time.Duration, 0, cfg.Pods)
		last      time.Time
		first     time.Time
		boundN    atomic.Int64
		progress  = make(chan struct{}, 1)
		bindCalls atomic.Int64
	)
	onBound := func(b scheduler.BoundPod) {
		mu.Lock()
		latencies = append(latencies, b.Bound.Sub(b.Queued))
		if b.Bound.After(last) {
			last = b.Bound
		}
		if first.IsZero() || b.Bound.Before(first) {
			first = b.Bound
		}
		mu.Unlock()
		boundN.Add(1)
		select {
		case progress <- struct{}{}:
		default:
		}
	}
	binder := countingBinder{d.API, &bindCalls}
	// As in `wharf server`: the in-process scheduler's informers talk to
	// the server over loopback, where compressing lists only costs CPU.
	local := client.New(d.URL(), client.WithConnectOptions(connect.WithAcceptCompression("gzip", nil, nil)))
	sched, err := scheduler.New(scheduler.Config{Client: local, Binder: binder, Logger: log, OnBound: onBound,
		Profiles: profiles, Registry: registry})
	if err != nil {
		return ScheduleResult{}, err
	}
	sctx, stop := context.WithCancel(ctx)
	defer stop()
	if cfg.CPUProfile != nil {
		if err := pprof.StartCPUProfile(cfg.CPUProfile); err != nil {
			return ScheduleResult{}, fmt.Errorf("bench: cpu profile: %w", err)
		}
	}
	commits0 := d.Store.Stats().Commits
	cpu0 := processCPU()
	start := time.Now()
	done := make(chan error, 1)
	go func() { done <- sched.Run(sctx) }()
	stall := time.NewTimer(cfg.StallTimeout)
	for boundN.Load() < int64(cfg.Pods) {
		select {
		case <-progress:
			stall.Reset(cfg.StallTimeout)
			continue
		case err := <-done:
			if cfg.CPUProfile != nil {
				pprof.StopCPUProfile()
			}
			return ScheduleResult{}, fmt.Errorf("bench: the scheduler stopped: %v", err)
		case <-ctx.Done():
			if cfg.CPUProfile != nil {
				pprof.StopCPUProfile()
			}
			return ScheduleResult{}, ctx.Err()
		case <-stall.C:
		}
		break
	}
	stall.Stop()
	cpu := processCPU() - cpu0
	if cfg.CPUProfile != nil {
		pprof.StopCPUProfile()
	}
	commits := d.Store.Stats().Commits - commits0
	stop()
	<-done

	mu.Lock()
	defer mu.Unlock()
	bound := len(latencies)
	res := ScheduleResult{
		Nodes: cfg.Nodes, Pods: cfg.Pods, GPUNodes: cfg.GPUNodes, GPUPods: cfg.GPUPods,
		Unscheduled: cfg.Pods - bound, BindCalls: bindCalls.Load(), StoreCommits: commits,
		RSSMiB: peakRSSMiB(),
	}
	if bound > 0 {
		elapsed := last.Sub(start)
		res.DurationS = elapsed.Seconds()
		res.FirstBindS = first.Sub(start).Seconds()
		if cpu > 0 {
			res.CPUS = cpu.Seconds()
			res.PodsPerCPUS = float64(bound) / cpu.Seconds()
		}
		res.PodsPerS = float64(bound) / elapsed.Seconds()
		res.P50MS, res.P99MS = percentiles([][]time.Duration{latencies})
	}
	if cfg.GPUNodes > 0 {
		occ, err := gpuOccupancy(ctx, c, nodes, cfg.GPUNodes)
		if err != nil {
			return res, err
		}
		res.GPUOccupancy = &occ
	}
	return res, nil
}

// countingBinder counts BindPods calls.
type countingBinder struct {
	b scheduler.Binder
	n *atomic.Int64
}

func (c countingBinder) BindPods(ctx context.Context, bs []*wharfv1.Binding) []error {
	c.n.Add(1)
	return c.b.BindPods(ctx, bs)
}

// createPods creates the pending pods, CreateClients at a time.
func createPods(ctx context.Context, c *client.Client, cfg ScheduleConfig) error {
	var next atomic.Int64
	var first error
	var once sync.Once
	var wg sync.WaitGroup
	every := 0
	if cfg.GPUPods > 0 {
		every = cfg.Pods / cfg.GPUPods
	}
	for range cfg.CreateClients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= cfg.Pods {
					return
				}
				gpu := -1
				if every > 0 && i%every == 0 && i/every < cfg.GPUPods {
					gpu = i / every
				}
				if _, err := c.Pods().Create(ctx, schedulePod(i, gpu)); err != nil {
					once.Do(func() { first = fmt.Errorf("bench: create pod %d: %w", i, err) })
					return
				}
			}
		})
	}
	wg.Wait()
	return first
}

// schedulePod is pending pod i; gpu >= 0 makes it the gpu-th GPU pod.
func schedulePod(i, gpu int) *wharfv1.Pod {
	cpus := []string{"100m", "250m", "500m", "1"}
	mems := []string{"128Mi", "256Mi", "512Mi", "1Gi"}
	p := &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: fmt.Sprintf("pod-%05d", i), Labels: map[string]string{"app": "bench"}},
		Spec: &wharfv1.PodSpec{Containers: []*wharfv1.Container{{
			Name: "app", Image: "registry.local/bench:1.0",
			Resources: &wharfv1.ResourceRequirements{Requests: map[string]string{"cpu": cpus[i%4], "memory": mems[(i/4)%4]}},
		}}},
	}
	if gpu < 0 {
		return p
	}
	count := 1
	switch r := gpu % 20; {
	case r >= 14 && r < 18:
		count = 2
	case r == 18:
		count = 4
	case r == 19:
		count = 8
	}
	n := strconv.Itoa(count)
	res := p.Spec.Containers[0].Resources
	res.Requests = map[string]string{"cpu": strconv.Itoa(4 * count), "memory": strconv.Itoa(32*count) + "Gi"}
	res.Limits = map[string]string{"nvidia.com/gpu": n}
	p.Spec.Tolerations = []*wharfv1.Toleration{{Key: sim.TaintGPU, Operator: "Exists", Effect: "NoSchedule"}}
	p.Metadata.Annotations = map[string]string{}
	switch gpu % 3 {
	case 0:
		p.Metadata.Annotations["gpu.wharf.dev/min-memory-mib"] = "80000"
	case 1:
		p.Metadata.Annotations["gpu.wharf.dev/models"] = "NVIDIA A100-SXM4-40GB"
	}
	return p
}

// gpuOccupancy is the share of GPU nodes whose GPUs are all allocated or
// all free, from the pods bound to them.
func gpuOccupancy(ctx context.Context, c *client.Client, nodes *sim.Sim, gpuNodes int) (float64, error) {
	used := map[string]int{}
	var cont string
	for {
		l, err := c.Pods().List(ctx, client.ListOptions{FieldSelector: "spec.nodeName!=", Limit: 2000, Continue: cont})
		if err != nil {
			return 0, err
		}
		for _, p := range l.Items {
			if devs := p.GetMetadata().GetAnnotations()["gpu.wharf.dev/devices"]; devs != "" {
				used[p.GetSpec().GetNodeName()] += strings.Count(devs, ",") + 1
			}
		}
		if cont = l.Continue; cont == "" {
			break
		}
	}
	whole := 0
	for i := range gpuNodes {
		if n := used[nodes.NodeName(i)]; n == 0 || n == 8 {
			whole++
		}
	}
	return float64(whole) / float64(gpuNodes), nil
}

// peakRSSMiB is the process's peak resident set (VmHWM), in MiB.
func peakRSSMiB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}
