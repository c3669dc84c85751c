package framework_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	st "github.com/wharfhq/wharf/daemon/scheduler/internal/schedtest"
)

// benchCluster returns n nodes: every 10th a GPU node (8 H100 or A100,
// tainted nvidia.com/gpu:NoSchedule, some devices in use), the rest CPU
// nodes in 3 zones and 2 pools, 5% tainted dedicated=infra:NoSchedule, 5%
// spot (PreferNoSchedule), 2% cordoned, each with some pods on it.
func benchCluster(b *testing.B, n int) *framework.Snapshot {
	b.Helper()
	nodes := make([]*wharfv1.Node, 0, n)
	var pods []*wharfv1.Pod
	for i := range n {
		name := fmt.Sprintf("node-%05d", i)
		opts := []st.NodeOption{st.Labels("topology.kubernetes.io/zone", fmt.Sprint("z", i%3), "pool", []string{"general", "batch"}[i%2])}
		if i%10 == 0 {
			model := []string{"NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-40GB"}[i/10%2]
			mem := []int64{81559, 40960}[i/10%2]
			opts = append(opts, st.Allocatable("cpu", "96", "memory", "1Ti"), st.GPUs(8, model, mem), st.Taint("nvidia.com/gpu", "present", "NoSchedule"))
			for j := range i / 10 % 4 {
				pods = append(pods, st.Pod(fmt.Sprintf("train-%d-%d", i, j), st.NodeName(name),
					st.Requests("cpu", "8", "memory", "64Gi", "nvidia.com/gpu", "1")))
			}
		} else {
			opts = append(opts, st.Allocatable("cpu", "32", "memory", "128Gi"))
			switch {
			case i%20 == 1:
				opts = append(opts, st.Taint("dedicated", "infra", "NoSchedule"))
			case i%20 == 7:
				opts = append(opts, st.Taint("spot", "true", "PreferNoSchedule"))
			case i%50 == 3:
				opts = append(opts, st.Unschedulable())
			}
		}
		for j := range i % 7 {
			pods = append(pods, st.Pod(fmt.Sprintf("web-%d-%d", i, j), st.NodeName(name),
				st.Requests("cpu", fmt.Sprint(250*(1+j), "m"), "memory", fmt.Sprint(512*(1+j), "Mi"))))
		}
		nodes = append(nodes, st.Node(name, opts...))
	}
	snap, err := framework.NewSnapshot(nodes, pods)
	if err != nil {
		b.Fatal(err)
	}
	return snap
}

var benchPods = map[string]*wharfv1.Pod{
	// A web pod: fits most nodes, the cycle stops after ~10% of them.
	"plain": st.Pod("web", st.Requests("cpu", "500m", "memory", "1Gi")),
	// A pod with a selector and a preferred zone.
	"affinity": st.Pod("batch", st.Requests("cpu", "1", "memory", "2Gi"), st.NodeSelector("pool", "batch"),
		st.PreferredTerm(50, st.Req("topology.kubernetes.io/zone", "In", "z1"))),
	// A GPU pod with a memory attribute: only GPU nodes fit, so every node
	// is filtered (the worst case).
	"gpu": st.Pod("train", st.Requests("cpu", "4", "memory", "32Gi", "nvidia.com/gpu", "1"),
		st.Toleration("nvidia.com/gpu", "Exists", "", "NoSchedule"),
		st.Annotation(framework.AnnotationGPUMinMemoryMiB, "40000")),
	// A GPU pod that names the models it wants.
	"gpu-model": st.Pod("train", st.Requests("cpu", "4", "memory", "32Gi", "nvidia.com/gpu", "1"),
		st.Toleration("nvidia.com/gpu", "Exists", "", "NoSchedule"),
		st.Annotation(framework.AnnotationGPUModels, "NVIDIA A100-SXM4-80GB,nvidia h100 80gb hbm3")),
}

// BenchmarkScheduleCycle is one scheduling cycle (Schedule, no Reserve) on
// 5,000 nodes with the default profile.
//
//	go test -run '^$' -bench ScheduleCycle -benchmem -cpu 2 ./daemon/scheduler/framework/
func BenchmarkScheduleCycle(b *testing.B) {
	snap := benchCluster(b, 5000)
	fw := defaultFramework(b)
	ctx := context.Background()
	for _, name := range []string{"plain", "affinity", "gpu", "gpu-model"} {
		b.Run(name, func(b *testing.B) {
			pi := framework.MustNewPodInfo(benchPods[name])
			b.ReportAllocs()
			evaluated := 0
			cpu0 := cpuTime()
			for b.Loop() {
				res, err := fw.Schedule(ctx, framework.NewCycleState(), pi, snap)
				if err != nil {
					b.Fatal(err)
				}
				evaluated += res.Evaluated
			}
			reportCPU(b, cpu0)
			b.ReportMetric(float64(evaluated)/float64(b.N), "nodes/op")
		})
	}
}

// BenchmarkScheduleAndReserve schedules pod after pod on one snapshot:
// NewPodInfo, Schedule and Reserve, as the scheduling loop will.
func BenchmarkScheduleAndReserve(b *testing.B) {
	ctx := context.Background()
	for _, name := range []string{"plain", "gpu"} {
		b.Run(name, func(b *testing.B) {
			snap := benchCluster(b, 5000)
			fw := defaultFramework(b)
			b.ReportAllocs()
			i := 0
			cpu0 := cpuTime()
			for b.Loop() {
				// A new pod object per cycle, as the informer will hand out.
				tmpl := benchPods[name]
				p := &wharfv1.Pod{
					Metadata: &wharfv1.ObjectMeta{Name: fmt.Sprint(name, "-", i), Namespace: "default", Annotations: tmpl.Metadata.Annotations},
					Spec:     tmpl.Spec,
				}
				i++
				pi, err := framework.NewPodInfo(p)
				if err != nil {
					b.Fatal(err)
				}
				state := framework.NewCycleState()
				res, err := fw.Schedule(ctx, state, pi, snap)
				if err != nil {
					// The GPU nodes are full: start over.
					b.StopTimer()
					c := cpuTime()
					snap = benchCluster(b, 5000)
					cpu0 += cpuTime() - c
					b.StartTimer()
					continue
				}
				if s := fw.Reserve(ctx, state, pi, res.Node); !s.IsSuccess() {
					b.Fatal(s)
				}
			}
			reportCPU(b, cpu0)
		})
	}
}

// reportCPU reports CPU time per op (all threads, GC included) and the pods
// per second one core sustains at that cost; wall time on a shared machine
// depends on the neighbours.
func reportCPU(b *testing.B, cpu0 time.Duration) {
	if cpu0 == 0 {
		return
	}
	perOp := float64(cpuTime()-cpu0) / float64(b.N)
	b.ReportMetric(perOp, "cpu-ns/op")
	b.ReportMetric(1e9/perOp, "pods/s/core")
}
