package wasm_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/plugins/wasm"
	"github.com/wharfhq/wharf/sdk/plugin/plugintest"
	"github.com/wharfhq/wharf/testing/cputime"
)

const (
	gpuScorePkg  = "github.com/wharfhq/wharf/plugins/examples/gpuscore"
	noopScorePkg = "github.com/wharfhq/wharf/plugins/wasm/testdata/noopscore"
)

func gpuNode(i int) *pluginv1.SchedulerNode {
	models := []string{"NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-80GB", "NVIDIA L4"}
	n := &wharfv1.Node{
		Metadata: &wharfv1.ObjectMeta{Name: fmt.Sprintf("node-%05d", i), Labels: map[string]string{"zone": fmt.Sprintf("z%d", i%3)}},
		Status: &wharfv1.NodeStatus{
			Allocatable: map[string]string{"cpu": "64", "memory": "512Gi", "nvidia.com/gpu": "8", "pods": "110"},
		},
	}
	for g := range 8 {
		n.Status.Gpus = append(n.Status.Gpus, &wharfv1.GPUDevice{Index: int32(g), Model: models[i%3], MemoryMib: 81920})
	}
	var alloc []int32
	for g := range i % 8 {
		alloc = append(alloc, int32(g))
	}
	return &pluginv1.SchedulerNode{
		Id: uint32(i), Node: n,
		Allocatable:   map[string]int64{"cpu": 64000, "memory": 512 << 30, "nvidia.com/gpu": 8, "pods": 110},
		Requested:     map[string]int64{"nvidia.com/gpu": int64(i % 8)},
		AllocatedGpus: alloc,
	}
}

func gpuPod(b testing.TB) *wasm.Pod {
	pod := &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: "train", Namespace: "default", Annotations: map[string]string{"gpu.wharf.dev/models": "NVIDIA H100 80GB HBM3"}},
		Spec: &wharfv1.PodSpec{Containers: []*wharfv1.Container{{Name: "main", Image: "trainer:1.0",
			Resources: &wharfv1.ResourceRequirements{Limits: map[string]string{"nvidia.com/gpu": "2", "cpu": "8", "memory": "64Gi"}}}}},
	}
	p, err := wasm.EncodePod(pod, map[string]int64{"nvidia.com/gpu": 2, "cpu": 8000, "memory": 64 << 30, "pods": 1})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

func loadGPUScore(b testing.TB, mode string, nodes int) *wasm.Module {
	return loadPkg(b, gpuScorePkg, mode, nodes)
}

func loadPkg(b testing.TB, pkg, mode string, nodes int) *wasm.Module {
	wasmPath := plugintest.Build(b, pkg)
	bin, err := os.ReadFile(wasmPath)
	if err != nil {
		b.Fatal(err)
	}
	opts := []wasm.EngineOption{wasm.WithLogger(quiet)}
	switch mode {
	case "none":
		opts = append(opts, wasm.WithoutDeadlines())
	case "wazero":
		opts = append(opts, wasm.WithWazeroDeadlines())
	}
	e, err := wasm.NewEngine(cacheDir(b), opts...)
	if err != nil {
		b.Fatal(err)
	}
	m, err := e.Load(context.Background(), bin, wasm.Config{Name: "gpu-score", MaxInstances: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { m.Close(context.Background()) })
	var ups []*pluginv1.SchedulerNode
	for i := range nodes {
		ups = append(ups, gpuNode(i))
	}
	if err := m.UpdateNodes(ups, nil); err != nil {
		b.Fatal(err)
	}
	return m
}

// cacheDir is shared by the test binaries' runs: compiled code is reused.
func cacheDir(testing.TB) string { return filepath.Join(os.TempDir(), "wharf-wasm-cache-test") }

func ids(n int) []uint32 {
	out := make([]uint32, n)
	for i := range out {
		out[i] = uint32(i)
	}
	return out
}

// settle waits until the module's sync loop has pushed the nodes to its
// idle instance, and warms the call path.
func settle(b testing.TB, m *wasm.Module, pod *wasm.Pod, nodes int) {
	scores := make([]int64, nodes)
	for range 3 {
		if _, err := m.Score(context.Background(), pod, ids(nodes), scores); err != nil {
			time.Sleep(100 * time.Millisecond) // first sync of thousands of nodes
			continue
		}
		return
	}
	if _, err := m.Score(context.Background(), pod, ids(nodes), scores); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkScore is the per-call cost of the example GPU scorer, one pod
// over N candidate nodes (one call per pod), as the scheduler sees it.
// cpu-ns/op is the calling thread's CPU time (the call runs on it): the
// stable figure on a shared machine.
func BenchmarkScore(b *testing.B) {
	for _, nodes := range []int{500, 5000} {
		b.Run(fmt.Sprintf("nodes=%d", nodes), func(b *testing.B) {
			m := loadGPUScore(b, "instrumented", nodes)
			pod := gpuPod(b)
			settle(b, m, pod, nodes)
			scores := make([]int64, nodes)
			ctx := context.Background()
			defer cputime.LockThread()()
			b.ResetTimer()
			cpu := cputime.Thread()
			for range b.N {
				if _, err := m.Score(ctx, pod, ids(nodes), scores); err != nil {
					b.Fatal(err)
				}
			}
			cpuNs := float64((cputime.Thread() - cpu).Nanoseconds()) / float64(b.N)
			b.ReportMetric(cpuNs, "cpu-ns/op")
			b.ReportMetric(cpuNs/float64(nodes), "cpu-ns/node")
		})
	}
}

// BenchmarkFilter is one Filter call over 5,000 nodes per pod.
func BenchmarkFilter(b *testing.B) {
	const nodes = 5000
	m := loadGPUScore(b, "instrumented", nodes)
	pod := gpuPod(b)
	settle(b, m, pod, nodes)
	ctx := context.Background()
	defer cputime.LockThread()()
	b.ResetTimer()
	cpu := cputime.Thread()
	for range b.N {
		if _, err := m.Filter(ctx, pod, ids(nodes)); err != nil {
			b.Fatal(err)
		}
	}
	cpuNs := float64((cputime.Thread() - cpu).Nanoseconds()) / float64(b.N)
	b.ReportMetric(cpuNs, "cpu-ns/op")
	b.ReportMetric(cpuNs/nodes, "cpu-ns/node")
}

// BenchmarkDeadlineOverhead compares the cost of one Score call over 500
// nodes with no way to stop the guest ("none"), with the host's
// instrumentation ("instrumented", what runs), and with wazero's
// WithCloseOnContextDone and a context deadline per call ("wazero"), on the
// example scorer and on a scorer that does nothing (the SDK and host
// alone). Modes alternate, each round is measured in CPU time of the
// calling thread, and the best of many rounds counts, so that a busy
// machine skews them alike. The last line is JSON.
func BenchmarkDeadlineOverhead(b *testing.B) {
	const nodes = 500
	pod := gpuPod(b)
	ctx := context.Background()
	result := map[string]float64{}
	for _, pkg := range []struct{ name, path string }{{"noop", noopScorePkg}, {"gpuscore", gpuScorePkg}} {
		modes := []string{"none", "instrumented", "wazero"}
		mods := map[string]*wasm.Module{}
		for _, mode := range modes {
			mods[mode] = loadPkg(b, pkg.path, mode, nodes)
			settle(b, mods[mode], pod, nodes)
		}
		scores := make([]int64, nodes)
		best := map[string]time.Duration{}
		rounds := max(b.N, 30)
		unlock := cputime.LockThread()
		for range rounds {
			for _, mode := range modes {
				start := cputime.Thread()
				const calls = 20
				for range calls {
					if _, err := mods[mode].Score(ctx, pod, ids(nodes), scores); err != nil {
						b.Fatal(err)
					}
				}
				if d := (cputime.Thread() - start) / calls; best[mode] == 0 || d < best[mode] {
					best[mode] = d
				}
			}
		}
		unlock()
		for _, mode := range modes {
			result[pkg.name+"_"+mode+"_ns"] = float64(best[mode].Nanoseconds())
		}
		result[pkg.name+"_instrumented_overhead_pct"] = 100 * (float64(best["instrumented"])/float64(best["none"]) - 1)
		result[pkg.name+"_wazero_overhead_pct"] = 100 * (float64(best["wazero"])/float64(best["none"]) - 1)
	}
	line, _ := json.Marshal(result)
	fmt.Println(string(line))
}
