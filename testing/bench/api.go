// Package bench holds Wharf's end-to-end benchmarks: each starts real
// components, drives them through the API and returns figures that the
// `wharf bench` commands print as one JSON line.
//
// Only cmd/wharf and tests import it.
package bench

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/apiserver"
	"github.com/wharfhq/wharf/daemon/server"
	"github.com/wharfhq/wharf/sdk/client"
)

// APIConfig sizes the API benchmark.
type APIConfig struct {
	Clients  int           // concurrent creators (default 256)
	Watchers int           // concurrent watchers (default 1000)
	Warmup   time.Duration // load before measuring (default 2s)
	Duration time.Duration // measured window (default 10s)
	// Conns is how many HTTP/2 connections the creators and the watchers
	// each spread over (default 8).
	Conns   int
	DataDir string // default: a temp dir, removed afterwards
	Log     io.Writer
}

// APIResult is what the benchmark prints.
type APIResult struct {
	CreatesPerS float64 `json:"creates_per_s"`
	CreateP50MS float64 `json:"create_p50_ms"`
	CreateP99MS float64 `json:"create_p99_ms"`
	// ServerCreateP50MS and ServerCreateP99MS are the same as the server
	// sees them: from the request decoded to the answer ready, the
	// server's own latency histogram over the measured window (its native
	// buckets, about 9% wide). The rest of a create's latency is the
	// HTTP/2 transport and waiting to run, on both sides.
	ServerCreateP50MS float64 `json:"server_create_p50_ms"`
	ServerCreateP99MS float64 `json:"server_create_p99_ms"`
	WatchP50MS        float64 `json:"watch_p50_ms"`
	WatchP99MS        float64 `json:"watch_p99_ms"`
	Delivered         int64   `json:"watch_events"`
	Missed            int64   `json:"watch_missed"` // acknowledged creates no watcher received`
	Watchers          int     `json:"watchers"`
	Clients           int     `json:"clients"`
	Creates           int64   `json:"creates"`
	Errors            int64   `json:"errors"`
	DurationS         float64 `json:"duration_s"`
	StoreCommits      uint64  `json:"store_commits"`
	OpsPerCommit      float64 `json:"ops_per_commit"`
	// CPUUSPerCreate is the process's CPU time (server and in-process
	// clients together) over the creates of the measured window: steadier
	// than creates/s on a shared machine. CPUCores is that CPU time over
	// the window's wall time: below the core count, the load is bound by
	// latency somewhere rather than by CPU.
	CPUUSPerCreate float64 `json:"cpu_us_per_create"`
	CPUCores       float64 `json:"cpu_cores"`
}

// API runs the API benchmark: a server with a durable store on a temp dir;
// Watchers watch pods bound to "their" node (field selector spec.nodeName,
// as node agents do); Clients create pods bound round-robin to those nodes
// as fast as the server acknowledges them. Create latency is measured at
// the client; watch delivery latency is from the pod's creationTimestamp
// (set by the server just before the durable commit) to the watcher's
// receipt.
func API(ctx context.Context, cfg APIConfig) (APIResult, error) {
	if cfg.Clients == 0 {
		cfg.Clients = 256
	}
	if cfg.Watchers == 0 {
		cfg.Watchers = 1000
	}
	if cfg.Warmup == 0 {
		cfg.Warmup = 2 * time.Second
	}
	if cfg.Duration == 0 {
		cfg.Duration = 10 * time.Second
	}
	if cfg.Conns == 0 {
		cfg.Conns = 8
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	dir := cfg.DataDir
	if dir == "" {
		d, err := os.MkdirTemp("", "wharf-bench-api-")
		if err != nil {
			return APIResult{}, err
		}
		defer os.RemoveAll(d)
		dir = d
	}
	log := slog.New(slog.NewTextHandler(cfg.Log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	reg := prometheus.NewRegistry()
	d, err := server.Start(ctx, server.Config{DataDir: dir, Listen: "127.0.0.1:0", Logger: log,
		APIOptions: []apiserver.Option{apiserver.WithRegistry(reg)}})
	if err != nil {
		return APIResult{}, err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = d.Shutdown(sctx)
	}()
	clients := make([]*client.Client, cfg.Conns)
	watchClients := make([]*client.Client, cfg.Conns)
	for i := range clients {
		clients[i] = client.New(d.URL(), client.WithHTTPClient(client.DefaultHTTPClient()))
		watchClients[i] = client.New(d.URL(), client.WithHTTPClient(client.DefaultHTTPClient()))
	}

	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var measuring atomic.Bool
	var delivered atomic.Int64
	watchLat := make([][]time.Duration, cfg.Watchers)
	// seen records every pod any watcher received, by sequence number, to
	// check that every acknowledged create reached its node's watcher.
	var seenMu sync.Mutex
	seen := map[int64]bool{}
	var wg sync.WaitGroup
	ready := make(chan error, cfg.Watchers)
	rev := strconv.FormatInt(d.Store.Revision(), 10)
	for i := range cfg.Watchers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			w, err := watchClients[i%cfg.Conns].Pods().Watch(ctx, client.WatchOptions{
				FieldSelector:   "spec.nodeName=" + nodeName(i),
				ResourceVersion: rev,
			})
			ready <- err
			if err != nil {
				return
			}
			defer w.Stop()
			for {
				ev, err := w.Next()
				if err != nil {
					return
				}
				if ev.Type != client.Added {
					continue
				}
				n, _ := strconv.ParseInt(strings.TrimPrefix(ev.Object.GetMetadata().GetName(), "bench-"), 10, 64)
				seenMu.Lock()
				seen[n] = true
				seenMu.Unlock()
				if !measuring.Load() {
					continue
				}
				lat := time.Since(ev.Object.GetMetadata().GetCreationTimestamp().AsTime())
				watchLat[i] = append(watchLat[i], lat)
				delivered.Add(1)
			}
		}()
	}
	for range cfg.Watchers {
		if err := <-ready; err != nil {
			return APIResult{}, fmt.Errorf("bench: start watcher: %w", err)
		}
	}

	var seq, creates, errs atomic.Int64
	createLat := make([][]time.Duration, cfg.Clients)
	acked := make([][]int64, cfg.Clients)
	stop := make(chan struct{})
	var cwg sync.WaitGroup
	for i := range cfg.Clients {
		cwg.Add(1)
		go func() {
			defer cwg.Done()
			pods := clients[i%cfg.Conns].Pods()
			for {
				select {
				case <-stop:
					return
				default:
				}
				n := seq.Add(1)
				p := benchPod(n, nodeName(int(n)%cfg.Watchers))
				start := time.Now()
				_, err := pods.Create(ctx, p)
				lat := time.Since(start)
				if !measuring.Load() {
					continue
				}
				if err != nil {
					errs.Add(1)
					continue
				}
				creates.Add(1)
				createLat[i] = append(createLat[i], lat)
				acked[i] = append(acked[i], n)
			}
		}()
	}
	time.Sleep(cfg.Warmup)
	commits0 := d.Store.Stats()
	createHist := map[string]string{"service": "wharf.v1.PodService", "method": "Create"}
	hist0, _ := gatherNative(reg, "wharf_api_request_duration_seconds", createHist)
	measuring.Store(true)
	start, cpu0 := time.Now(), processCPU()
	time.Sleep(cfg.Duration)
	measuring.Store(false)
	elapsed, cpu := time.Since(start), processCPU()-cpu0
	commits1 := d.Store.Stats()
	hist1, _ := gatherNative(reg, "wharf_api_request_duration_seconds", createHist)
	close(stop)
	cwg.Wait()
	// Every create acknowledged in the window must reach its watcher; give
	// the last ones a moment, then count what never arrived.
	var missed int64
	for deadline := time.Now().Add(5 * time.Second); ; {
		missed = 0
		seenMu.Lock()
		for _, ns := range acked {
			for _, n := range ns {
				if !seen[n] {
					missed++
				}
			}
		}
		seenMu.Unlock()
		if missed == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()

	res := APIResult{
		Watchers:     cfg.Watchers,
		Clients:      cfg.Clients,
		Creates:      creates.Load(),
		Errors:       errs.Load(),
		Delivered:    delivered.Load(),
		Missed:       missed,
		DurationS:    elapsed.Seconds(),
		StoreCommits: commits1.Commits - commits0.Commits,
	}
	res.CreatesPerS = float64(res.Creates) / elapsed.Seconds()
	if res.Creates > 0 {
		res.CPUUSPerCreate = float64(cpu.Microseconds()) / float64(res.Creates)
	}
	res.CPUCores = cpu.Seconds() / elapsed.Seconds()
	if res.StoreCommits > 0 {
		res.OpsPerCommit = float64(commits1.CommittedOps-commits0.CommittedOps) / float64(res.StoreCommits)
	}
	res.CreateP50MS, res.CreateP99MS = percentiles(createLat)
	if h, ok := hist1.since(hist0); ok {
		res.ServerCreateP50MS, res.ServerCreateP99MS = 1e3*h.quantile(0.50), 1e3*h.quantile(0.99)
	}
	res.WatchP50MS, res.WatchP99MS = percentiles(watchLat)
	return res, nil
}

func nodeName(i int) string { return "node-" + strconv.Itoa(i) }

func benchPod(n int64, node string) *wharfv1.Pod {
	return &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{
			Name:   "bench-" + strconv.FormatInt(n, 10),
			Labels: map[string]string{"app": "bench"},
		},
		Spec: &wharfv1.PodSpec{
			NodeName: node,
			Containers: []*wharfv1.Container{{
				Name:  "app",
				Image: "registry.local/bench:1.0",
				Resources: &wharfv1.ResourceRequirements{
					Requests: map[string]string{"cpu": "100m", "memory": "128Mi"},
				},
			}},
		},
	}
}

// percentiles returns p50 and p99 in milliseconds.
func percentiles(per [][]time.Duration) (p50, p99 float64) {
	var all []time.Duration
	for _, l := range per {
		all = append(all, l...)
	}
	if len(all) == 0 {
		return 0, 0
	}
	slices.Sort(all)
	at := func(q float64) float64 {
		i := int(q * float64(len(all)-1))
		return float64(all[i]) / float64(time.Millisecond)
	}
	return at(0.50), at(0.99)
}
