package framework_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	st "github.com/wharfhq/wharf/daemon/scheduler/internal/schedtest"
	"github.com/wharfhq/wharf/daemon/scheduler/plugins"
)

func defaultFramework(t testing.TB, opts ...framework.Option) *framework.Framework {
	t.Helper()
	fw, err := framework.New(framework.DefaultProfile(), plugins.NewRegistry(), opts...)
	if err != nil {
		t.Fatal(err)
	}
	return fw
}

func snapshot(t testing.TB, nodes ...*wharfv1.Node) *framework.Snapshot {
	t.Helper()
	s, err := framework.NewSnapshot(nodes, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func schedule(t testing.TB, fw *framework.Framework, snap *framework.Snapshot, pod *wharfv1.Pod) (framework.Result, *framework.PodInfo, error) {
	t.Helper()
	pi, err := framework.NewPodInfo(pod)
	if err != nil {
		t.Fatal(err)
	}
	res, err := fw.Schedule(context.Background(), framework.NewCycleState(), pi, snap)
	return res, pi, err
}

func explain(t testing.TB, fw *framework.Framework, snap *framework.Snapshot, pod *wharfv1.Pod) (framework.Result, error) {
	t.Helper()
	pi, err := framework.NewPodInfo(pod)
	if err != nil {
		t.Fatal(err)
	}
	return fw.Explain(context.Background(), framework.NewCycleState(), pi, snap)
}

func TestSummaryMixedFiveNodes(t *testing.T) {
	t.Parallel()
	fw := defaultFramework(t)
	t.Run("gpu_and_taints", func(t *testing.T) {
		snap := snapshot(t,
			st.Node("cpu-1"), st.Node("cpu-2"), st.Node("cpu-3"),
			st.Node("gpu-1", st.GPUs(8, "NVIDIA H100 80GB HBM3", 81559), st.Taint("gpu", "true", "NoSchedule")),
			st.Node("gpu-2", st.GPUs(8, "NVIDIA H100 80GB HBM3", 81559), st.Taint("gpu", "true", "NoSchedule")),
		)
		_, _, err := schedule(t, fw, snap, st.Pod("train", st.Requests("nvidia.com/gpu", "1")))
		const want = "0/5 nodes are available: 2 node(s) had untolerated taint {gpu: true}, 3 Insufficient nvidia.com/gpu."
		var fe *framework.FitError
		if !errors.As(err, &fe) || !errors.Is(err, framework.ErrUnschedulable) || err.Error() != want {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
	})
	t.Run("every_plugin", func(t *testing.T) {
		snap := snapshot(t,
			st.Node("n1", st.Labels("pool", "ml")),
			st.Node("n2", st.Labels("pool", "ml"), st.Allocatable("cpu", "1")),
			st.Node("n3", st.Labels("pool", "ml"), st.GPUs(4, "Tesla T4", 15360), st.Taint("gpu", "true", "NoSchedule")),
			st.Node("n4", st.Labels("pool", "web"), st.GPUs(4, "Tesla T4", 15360)),
			st.Node("n5", st.Labels("pool", "ml"), st.GPUs(4, "Tesla T4", 15360), st.Unschedulable()),
		)
		pod := st.Pod("p", st.Requests("cpu", "2", "nvidia.com/gpu", "1"), st.NodeSelector("pool", "ml"))
		// Schedule does not filter nodes without GPUs for a GPU pod (an
		// index): it counts them as Insufficient nvidia.com/gpu.
		const short = "0/5 nodes are available: 1 node(s) didn't match Pod's node affinity/selector, " +
			"1 node(s) had untolerated taint {gpu: true}, 1 node(s) were unschedulable, 2 Insufficient nvidia.com/gpu."
		res, _, err := schedule(t, fw, snap, pod)
		if err == nil || err.Error() != short {
			t.Fatalf("err = %v\nwant %s", err, short)
		}
		if d := res.Diagnosis; len(d.Rejected()) != 0 || d.NumRejected() != 3 || d.Excluded != 2 || d.Evaluated != 3 {
			t.Errorf("Schedule recorded %d nodes, counted %d rejections, %d excluded, %d evaluated",
				len(d.Rejected()), d.NumRejected(), d.Excluded, d.Evaluated)
		}
		// Explain filters every node and names, per node, the plugin that
		// rejected it and all its reasons.
		const want = "0/5 nodes are available: 1 Insufficient cpu, 1 node(s) didn't match Pod's node affinity/selector, " +
			"1 node(s) had untolerated taint {gpu: true}, 1 node(s) were unschedulable, 2 Insufficient nvidia.com/gpu."
		res, err = explain(t, fw, snap, pod)
		if err == nil || err.Error() != want {
			t.Fatalf("explain err = %v\nwant %s", err, want)
		}
		d := res.Diagnosis
		if d.NumAllNodes != 5 || d.Evaluated != 5 || d.NumRejected() != 5 {
			t.Errorf("diagnosis counts: %d all, %d evaluated, %d rejected", d.NumAllNodes, d.Evaluated, d.NumRejected())
		}
		wantPlugin := map[string]string{"n1": "NodeResourcesFit", "n2": "NodeResourcesFit", "n3": "TaintToleration", "n4": "NodeAffinity", "n5": "NodeUnschedulable"}
		for _, r := range d.Rejected() {
			if r.Status.Plugin() != wantPlugin[r.Node] {
				t.Errorf("node %s rejected by %s (%v), want %s", r.Node, r.Status.Plugin(), r.Status, wantPlugin[r.Node])
			}
		}
		if s, ok := d.NodeStatus("n2"); !ok || s.Message() != "Insufficient cpu, Insufficient nvidia.com/gpu" || s.Code() != framework.Unschedulable {
			t.Errorf("n2: %v", s)
		}
	})
	t.Run("sorted_as_strings", func(t *testing.T) {
		var nodes []*wharfv1.Node
		for i := range 12 {
			if i < 10 {
				nodes = append(nodes, st.Node(fmt.Sprint("c", i)))
			} else {
				nodes = append(nodes, st.Node(fmt.Sprint("t", i), st.Taint("a", "b", "NoExecute")))
			}
		}
		_, _, err := schedule(t, fw, snapshot(t, nodes...), st.Pod("p", st.Requests("cpu", "100")))
		const want = "0/12 nodes are available: 10 Insufficient cpu, 2 node(s) had untolerated taint {a: b}."
		if err == nil || err.Error() != want {
			t.Fatalf("err = %v\nwant %s", err, want)
		}
	})
}

func TestNodeNameRestrictsNodes(t *testing.T) {
	t.Parallel()
	fw := defaultFramework(t)
	snap := snapshot(t, st.Node("a"), st.Node("b"), st.Node("c", st.Allocatable("cpu", "1")))
	res, _, err := schedule(t, fw, snap, st.Pod("p", st.NodeName("b")))
	if err != nil || res.Node.Name != "b" || res.Evaluated != 1 {
		t.Fatalf("res %+v err %v", res, err)
	}
	_, _, err = schedule(t, fw, snap, st.Pod("p", st.NodeName("c"), st.Requests("cpu", "2")))
	if want := "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match the requested node name."; err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
	_, _, err = schedule(t, fw, snap, st.Pod("p", st.NodeName("gone")))
	if want := "0/3 nodes are available: 3 node(s) didn't match the requested node name."; err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

func TestNoNodes(t *testing.T) {
	t.Parallel()
	_, _, err := schedule(t, defaultFramework(t), snapshot(t), st.Pod("p"))
	if err == nil || err.Error() != "0/0 nodes are available." {
		t.Errorf("err = %v", err)
	}
}

// The default profile: spread plain pods, prefer matching preferred terms,
// avoid PreferNoSchedule taints; explain gives each plugin's weighted score.
func TestScoresExplain(t *testing.T) {
	t.Parallel()
	fw := defaultFramework(t)
	snap := snapshot(t,
		st.Node("busy", st.Labels("zone", "z1")),
		st.Node("idle", st.Labels("zone", "z1")),
		st.Node("spot", st.Labels("zone", "z1"), st.Taint("spot", "true", "PreferNoSchedule")),
		st.Node("far", st.Labels("zone", "z2")),
	)
	busy := framework.MustNewPodInfo(st.Pod("x", st.Requests("cpu", "6", "memory", "24Gi")))
	snap.Get("busy").AddPod(busy)
	pod := st.Pod("p", st.Requests("cpu", "1", "memory", "1Gi"), st.PreferredTerm(10, st.Req("zone", "In", "z1")))
	if res, _, err := schedule(t, fw, snap, pod); err != nil || res.Node.Name != "idle" || len(res.Diagnosis.Scores()) != 0 {
		t.Fatalf("Schedule: %v, %v, %d scores recorded", res.Node, err, len(res.Diagnosis.Scores()))
	}
	res, err := explain(t, fw, snap, pod)
	if err != nil {
		t.Fatal(err)
	}
	if res.Node.Name != "idle" {
		t.Errorf("chose %s, want idle", res.Node.Name)
	}
	scores := res.Diagnosis.Scores()
	order := []string{}
	for _, s := range scores {
		order = append(order, s.Node)
	}
	// busy 16+200+300, far 91+0+300, spot 91+200+0.
	if got := strings.Join(order, ","); got != "idle,busy,far,spot" {
		t.Errorf("ranking %s, want idle,busy,far,spot", got)
	}
	idle := scores[0]
	// NodeResourcesFit: (87 + 96)/2 = 91 x1; NodeAffinity 100 x2;
	// TaintToleration 100 x3.
	want := []framework.PluginScore{{"NodeResourcesFit", 91}, {"NodeAffinity", 200}, {"TaintToleration", 300}}
	if fmt.Sprint(idle.Plugins) != fmt.Sprint(want) || idle.Total != 591 {
		t.Errorf("idle scores %v total %d, want %v total 591", idle.Plugins, idle.Total, want)
	}
}

// With 5,000 feasible nodes the cycle stops after about 10% of them.
func TestAdaptiveNodeCountStopsEarly(t *testing.T) {
	t.Parallel()
	var nodes []*wharfv1.Node
	for i := range 5000 {
		nodes = append(nodes, st.Node(fmt.Sprintf("n%04d", i)))
	}
	snap := snapshot(t, nodes...)
	for _, par := range []int{1, 4} {
		t.Run(fmt.Sprint("parallelism_", par), func(t *testing.T) {
			counter := &countingFilter{}
			r := plugins.NewRegistry()
			r.Register("Counter", func(framework.Args) (framework.Plugin, error) { return counter, nil })
			p := framework.DefaultProfile()
			p.Filter = append(p.Filter, "Counter")
			fw, err := framework.New(p, r, framework.WithParallelism(par))
			if err != nil {
				t.Fatal(err)
			}
			want := framework.NumFeasibleNodesToFind(0, 5000)
			seen := map[string]bool{}
			for cycle := range 3 {
				res, err := explain(t, fw, snap, st.Pod("p", st.Requests("cpu", "100m")))
				if err != nil {
					t.Fatal(err)
				}
				if want != 500 || res.Feasible != want {
					t.Errorf("feasible = %d, want %d", res.Feasible, want)
				}
				// Chunks of sqrt(5000)=70: at most one chunk per worker
				// beyond what was needed.
				if res.Evaluated < want || res.Evaluated > want+par*70 {
					t.Errorf("cycle %d evaluated %d nodes, want %d to %d", cycle, res.Evaluated, want, want+par*70)
				}
				for _, s := range res.Diagnosis.Scores() {
					seen[s.Node] = true
				}
			}
			// Each cycle starts where the last stopped.
			if len(seen) < 3*500 {
				t.Errorf("3 cycles scored %d distinct nodes, want 1500", len(seen))
			}
			calls, nodes := counter.stats()
			if calls > nodes/16 || calls == 0 {
				t.Errorf("filter called %d times for %d nodes: not batched", calls, nodes)
			}
		})
	}
	t.Run("percentage_100", func(t *testing.T) {
		p := framework.DefaultProfile()
		p.PercentageOfNodesToScore = 100
		fw, _ := framework.New(p, plugins.NewRegistry())
		res, _, err := schedule(t, fw, snap, st.Pod("p"))
		if err != nil || res.Evaluated != 5000 || res.Feasible != 5000 {
			t.Errorf("evaluated %d feasible %d err %v", res.Evaluated, res.Feasible, err)
		}
	})
}

func TestNumFeasibleNodesToFind(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		pct     int32
		n, want int
	}{
		{0, 10, 10}, {0, 99, 99}, {0, 100, 100}, {0, 199, 100}, {0, 1000, 420},
		{0, 5000, 500}, {0, 6000, 300}, {0, 10000, 500}, {0, 50000, 2500},
		{30, 1000, 300}, {100, 1000, 1000}, {1, 1000, 100},
	} {
		if got := framework.NumFeasibleNodesToFind(tt.pct, tt.n); got != tt.want {
			t.Errorf("NumFeasibleNodesToFind(%d, %d) = %d, want %d", tt.pct, tt.n, got, tt.want)
		}
	}
}

func TestReserveUnreserve(t *testing.T) {
	t.Parallel()
	rec := &recordingReserve{}
	r := plugins.NewRegistry()
	r.Register("Rec", func(framework.Args) (framework.Plugin, error) { return rec, nil })
	p := framework.DefaultProfile()
	p.Reserve = []string{"Rec"}
	fw, err := framework.New(p, r)
	if err != nil {
		t.Fatal(err)
	}
	snap := snapshot(t, st.Node("g", st.GPUs(4, "NVIDIA H100 80GB HBM3", 81559)))
	ctx, state := context.Background(), framework.NewCycleState()
	pod := framework.MustNewPodInfo(st.Pod("p", st.Requests("cpu", "2", "memory", "4Gi", "nvidia.com/gpu", "3")))
	node := snap.Get("g")
	if s := fw.Reserve(ctx, state, pod, node); !s.IsSuccess() {
		t.Fatal(s)
	}
	if node.Requested.MilliCPU != 2000 || node.Requested.GPU != 3 || node.FreeGPUs() != 1 || len(node.PodGPUs(pod.Key)) != 3 {
		t.Errorf("after reserve: %+v, %d free GPUs", node.Requested, node.FreeGPUs())
	}
	if s := fw.Reserve(ctx, state, pod, node); s.Code() != framework.Error {
		t.Errorf("second reserve: %v, want Error", s)
	}
	// Now a 2-GPU pod does not fit.
	_, _, err = schedule(t, fw, snap, st.Pod("q", st.Requests("nvidia.com/gpu", "2")))
	if err == nil || !strings.Contains(err.Error(), "1 Insufficient nvidia.com/gpu") {
		t.Errorf("err = %v", err)
	}
	fw.Unreserve(ctx, state, pod, node)
	if node.Requested.MilliCPU != 0 || node.Requested.GPU != 0 || node.FreeGPUs() != 4 || len(node.Pods) != 0 {
		t.Errorf("after unreserve: %+v, %d free GPUs", node.Requested, node.FreeGPUs())
	}
	if got := rec.log(); got != "reserve p,unreserve p" {
		t.Errorf("calls: %s", got)
	}

	// A failing reserve plugin undoes the assumption.
	rec.fail = true
	if s := fw.Reserve(ctx, state, pod, node); s.Code() != framework.Unschedulable || s.Plugin() != "Rec" {
		t.Errorf("failing reserve: %v", s)
	}
	if len(node.Pods) != 0 || node.FreeGPUs() != 4 {
		t.Errorf("failed reserve left %d pods, %d free GPUs", len(node.Pods), node.FreeGPUs())
	}
}

// GPU pods are bin-packed: they fill one GPU node before opening the next,
// and plain pods spread.
func TestBinPackingGPU(t *testing.T) {
	t.Parallel()
	fw := defaultFramework(t)
	var nodes []*wharfv1.Node
	for i := range 3 {
		nodes = append(nodes, st.Node(fmt.Sprint("gpu-", i), st.Allocatable("cpu", "32", "memory", "256Gi"), st.GPUs(4, "NVIDIA H100 80GB HBM3", 81559)))
	}
	for i := range 3 {
		nodes = append(nodes, st.Node(fmt.Sprint("cpu-", i), st.Allocatable("cpu", "32", "memory", "256Gi")))
	}
	snap := snapshot(t, nodes...)
	ctx := context.Background()
	perNode := map[string]int{}
	var order []string
	for i := range 8 {
		pi := framework.MustNewPodInfo(st.Pod(fmt.Sprint("train-", i), st.Requests("cpu", "4", "memory", "32Gi", "nvidia.com/gpu", "1")))
		state := framework.NewCycleState()
		res, err := fw.Schedule(ctx, state, pi, snap)
		if err != nil {
			t.Fatal(err)
		}
		if s := fw.Reserve(ctx, state, pi, res.Node); !s.IsSuccess() {
			t.Fatal(s)
		}
		perNode[res.Node.Name]++
		order = append(order, res.Node.Name)
	}
	// Two nodes full, the third untouched, in order.
	if len(perNode) != 2 {
		t.Fatalf("GPU pods on %v, want two full nodes", perNode)
	}
	for n, c := range perNode {
		if c != 4 || !strings.HasPrefix(n, "gpu-") {
			t.Errorf("node %s got %d pods, want 4", n, c)
		}
	}
	for i := 1; i < 4; i++ {
		if order[i] != order[0] || order[4+i] != order[4] {
			t.Errorf("placement order %v: a node was opened before the previous one was full", order)
		}
	}
	// Plain pods spread over the nodes.
	spread := map[string]bool{}
	for i := range 6 {
		pi := framework.MustNewPodInfo(st.Pod(fmt.Sprint("web-", i), st.Requests("cpu", "2", "memory", "4Gi")))
		res, err := fw.Schedule(ctx, nil, pi, snap)
		if err != nil {
			t.Fatal(err)
		}
		fw.Reserve(ctx, framework.NewCycleState(), pi, res.Node)
		spread[res.Node.Name] = true
	}
	if len(spread) < 4 {
		t.Errorf("6 plain pods landed on %d nodes, want spread", len(spread))
	}
}

// GPU attributes: a pod asking for 40 GB GPUs skips T4 nodes and gets
// matching devices on reserve.
func TestGPUAttributesEndToEnd(t *testing.T) {
	t.Parallel()
	fw := defaultFramework(t)
	snap := snapshot(t,
		st.Node("t4", st.GPUs(4, "Tesla T4", 15360)),
		st.Node("a100", st.GPUs(2, "NVIDIA A100-SXM4-80GB", 81920)),
	)
	ctx := context.Background()
	pod := func(name string) *framework.PodInfo {
		return framework.MustNewPodInfo(st.Pod(name, st.Requests("nvidia.com/gpu", "1"),
			st.Annotation(framework.AnnotationGPUMinMemoryMiB, "40000")))
	}
	for i := range 2 {
		pi := pod(fmt.Sprint("p", i))
		res, err := fw.Schedule(ctx, nil, pi, snap)
		if err != nil || res.Node.Name != "a100" {
			t.Fatalf("pod %d: %v %v", i, res.Node, err)
		}
		fw.Reserve(ctx, nil, pi, res.Node)
		if got := res.Node.PodGPUs(pi.Key); len(got) != 1 || got[0] != int32(i) {
			t.Errorf("pod %d got devices %v", i, got)
		}
	}
	_, _, err := schedule(t, fw, snap, st.Pod("p3", st.Requests("nvidia.com/gpu", "1"), st.Annotation(framework.AnnotationGPUMinMemoryMiB, "40000")))
	// The full A100 node fails NodeResourcesFit first (no GPU left at all).
	want := "0/2 nodes are available: 1 Insufficient nvidia.com/gpu, " +
		"1 node(s) didn't have enough GPUs matching the Pod's model/memory requirements."
	if err == nil || err.Error() != want {
		t.Errorf("err = %v\nwant %s", err, want)
	}
}

// GPU feature discovery labels select nodes through a plain nodeSelector.
func TestGPUFeatureDiscoveryLabelsSelectNodes(t *testing.T) {
	t.Parallel()
	fw := defaultFramework(t)
	snap := snapshot(t,
		st.Node("t4", st.GPUs(4, "Tesla T4", 15360)),
		st.Node("h100", st.GPUs(8, "NVIDIA H100 80GB HBM3", 81559)),
		st.Node("cpu"),
	)
	res, _, err := schedule(t, fw, snap, st.Pod("p", st.Requests("nvidia.com/gpu", "1"),
		st.NodeSelector(framework.LabelGPUProduct, "NVIDIA-H100-80GB-HBM3")))
	if err != nil || res.Node.Name != "h100" {
		t.Fatalf("%v %v", res.Node, err)
	}
	res, _, err = schedule(t, fw, snap, st.Pod("p", st.RequiredTerm(
		st.Req(framework.LabelGPUMemory, "Lt", "20000"), st.Req(framework.LabelGPUCount, "Gt", "2"))))
	if err != nil || res.Node.Name != "t4" {
		t.Fatalf("%v %v", res.Node, err)
	}
}

func TestPluginErrorsAndPoints(t *testing.T) {
	t.Parallel()
	snap := snapshot(t, st.Node("a"), st.Node("b"))
	ctx := context.Background()
	fake := &fakePlugin{}
	r := plugins.NewRegistry()
	r.Register("Fake", func(framework.Args) (framework.Plugin, error) { return fake, nil })
	build := func(edit func(*framework.Profile)) *framework.Framework {
		p := framework.DefaultProfile()
		edit(&p)
		fw, err := framework.New(p, r)
		if err != nil {
			t.Fatal(err)
		}
		return fw
	}

	t.Run("prefilter_rejects", func(t *testing.T) {
		fw := build(func(p *framework.Profile) { p.PreFilter = append(p.PreFilter, "Fake") })
		fake.set(func(f *fakePlugin) {
			f.preFilter = framework.NewStatus(framework.UnschedulableAndUnresolvable, "pod group not ready")
		})
		_, _, err := schedule(t, fw, snap, st.Pod("p"))
		if err == nil || err.Error() != "0/2 nodes are available: pod group not ready." {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("filter_error_aborts", func(t *testing.T) {
		fw := build(func(p *framework.Profile) { p.Filter = append(p.Filter, "Fake") })
		fake.set(func(f *fakePlugin) { f.filterErr = errors.New("wasm trap") })
		_, _, err := schedule(t, fw, snap, st.Pod("p"))
		if err == nil || errors.Is(err, framework.ErrUnschedulable) || !strings.Contains(err.Error(), `filter plugin "Fake"`) || !strings.Contains(err.Error(), "wasm trap") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("score_out_of_range", func(t *testing.T) {
		fw := build(func(p *framework.Profile) {
			p.Score = append(p.Score, framework.WeightedPlugin{Name: "Fake", Weight: 1})
		})
		fake.set(func(f *fakePlugin) { f.score = 101 })
		_, _, err := schedule(t, fw, snap, st.Pod("p"))
		if err == nil || !strings.Contains(err.Error(), "outside [0, 100]") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("postfilter_nominates", func(t *testing.T) {
		fw := build(func(p *framework.Profile) { p.PostFilter = []string{"Fake"} })
		fake.set(func(f *fakePlugin) { f.nominate = "b" })
		res, _, err := schedule(t, fw, snap, st.Pod("p", st.Requests("cpu", "100")))
		if !errors.Is(err, framework.ErrUnschedulable) || res.Diagnosis.NominatedNode != "b" {
			t.Errorf("err = %v, nominated %q", err, res.Diagnosis.NominatedNode)
		}
		fake.set(func(f *fakePlugin) {
			f.postFilter = framework.NewStatus(framework.Unschedulable, "preemption: not helpful")
		})
		_, _, err = schedule(t, fw, snap, st.Pod("p", st.Requests("cpu", "100")))
		if want := "0/2 nodes are available: 2 Insufficient cpu. preemption: not helpful."; err == nil || err.Error() != want {
			t.Errorf("err = %v, want %s", err, want)
		}
	})
	t.Run("permit", func(t *testing.T) {
		fw := build(func(p *framework.Profile) { p.Permit = []string{"Fake"} })
		fake.set(func(f *fakePlugin) { f.permit, f.wait = framework.NewStatus(framework.Wait), time.Hour })
		s, d := fw.Permit(ctx, nil, nil, "a")
		if s.Code() != framework.Wait || d != framework.MaxPermitWait {
			t.Errorf("permit: %v %v", s, d)
		}
		fake.set(func(f *fakePlugin) { f.permit = framework.NewStatus(framework.Unschedulable, "gang timed out") })
		if s, _ := fw.Permit(ctx, nil, nil, "a"); s.Code() != framework.Unschedulable || s.Plugin() != "Fake" {
			t.Errorf("permit: %v", s)
		}
	})
	t.Run("bind", func(t *testing.T) {
		fw := build(func(p *framework.Profile) {})
		if s := fw.Bind(ctx, nil, nil, "a"); s.Code() != framework.Skip {
			t.Errorf("bind without binders: %v", s)
		}
		fw = build(func(p *framework.Profile) { p.Bind = []string{"Fake"} })
		if s := fw.Bind(ctx, nil, nil, "a"); !s.IsSuccess() {
			t.Errorf("bind: %v", s)
		}
	})
	t.Run("not_implemented", func(t *testing.T) {
		p := framework.DefaultProfile()
		p.Score = append(p.Score, framework.WeightedPlugin{Name: "NodeName", Weight: 1})
		_, err := framework.New(p, r)
		if err == nil || err.Error() != `profile "default-scheduler": plugin "NodeName" does not implement Score` {
			t.Errorf("err = %v", err)
		}
	})
}

func TestStatus(t *testing.T) {
	var zero framework.Status
	if !zero.IsSuccess() || zero.Message() != "" || zero.Reasons() != nil || zero.Err() != nil {
		t.Error("zero status")
	}
	s := framework.NewStatus(framework.Unschedulable, "a", "b").WithPlugin("P")
	if s.Message() != "a, b" || s.String() != "Unschedulable: a, b (P)" || !s.IsRejection() {
		t.Errorf("status %v", s)
	}
	e := framework.AsStatus(context.Canceled)
	if e.Code() != framework.Error || !errors.Is(e.Err(), context.Canceled) {
		t.Errorf("error status %v", e)
	}
	if n := testing.AllocsPerRun(100, func() { _ = framework.NewStatus(framework.Unschedulable, "x") }); n != 0 {
		t.Errorf("one-reason status allocates %v", n)
	}
}

// --- fakes ---

type countingFilter struct {
	mu           sync.Mutex
	calls, nodes int
}

func (*countingFilter) Name() string { return "Counter" }

func (c *countingFilter) Filter(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, nodes []*framework.NodeInfo, _ []framework.Status) {
	c.mu.Lock()
	c.calls++
	c.nodes += len(nodes)
	c.mu.Unlock()
}

func (c *countingFilter) stats() (int, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls, c.nodes
}

type recordingReserve struct {
	mu    sync.Mutex
	calls []string
	fail  bool
}

func (*recordingReserve) Name() string { return "Rec" }

func (r *recordingReserve) Reserve(_ context.Context, _ *framework.CycleState, p *framework.PodInfo, _ *framework.NodeInfo) framework.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return framework.NewStatus(framework.Unschedulable, "no")
	}
	r.calls = append(r.calls, "reserve "+p.Pod.GetMetadata().GetName())
	return framework.Status{}
}

func (r *recordingReserve) Unreserve(_ context.Context, _ *framework.CycleState, p *framework.PodInfo, _ *framework.NodeInfo) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.fail {
		r.calls = append(r.calls, "unreserve "+p.Pod.GetMetadata().GetName())
	}
}

func (r *recordingReserve) log() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return strings.Join(r.calls, ",")
}

// fakePlugin implements every point with configurable outcomes.
type fakePlugin struct {
	mu         sync.Mutex
	preFilter  framework.Status
	filterErr  error
	score      int64
	nominate   string
	postFilter framework.Status
	permit     framework.Status
	wait       time.Duration
}

func (f *fakePlugin) set(fn func(*fakePlugin)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.preFilter, f.filterErr, f.score, f.nominate, f.postFilter, f.permit, f.wait = framework.Status{}, nil, 0, "", framework.Status{}, framework.Status{}, 0
	fn(f)
}

func (*fakePlugin) Name() string { return "Fake" }

func (f *fakePlugin) PreFilter(context.Context, *framework.CycleState, *framework.PodInfo) (*framework.PreFilterResult, framework.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return nil, f.preFilter
}

func (f *fakePlugin) Filter(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, _ []*framework.NodeInfo, out []framework.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.filterErr != nil {
		for i := range out {
			out[i] = framework.AsStatus(f.filterErr)
		}
	}
}

func (f *fakePlugin) Score(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, _ []*framework.NodeInfo, scores []int64) framework.Status {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range scores {
		scores[i] = f.score
	}
	return framework.Status{}
}

func (f *fakePlugin) PostFilter(context.Context, *framework.CycleState, *framework.PodInfo, *framework.Diagnosis) (string, framework.Status) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.nominate != "" {
		return f.nominate, framework.Status{}
	}
	return "", f.postFilter
}

func (f *fakePlugin) Permit(context.Context, *framework.CycleState, *framework.PodInfo, string) (framework.Status, time.Duration) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.permit, f.wait
}

func (f *fakePlugin) Bind(context.Context, *framework.CycleState, *framework.PodInfo, string) framework.Status {
	return framework.Status{}
}

// refsCheck is a score plugin that checks CycleState.Feasible against the
// nodes it is called with.
type refsCheck struct {
	mu     sync.Mutex
	calls  int
	errors []string
}

func (*refsCheck) Name() string { return "RefsCheck" }

func (r *refsCheck) Score(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, nodes []*framework.NodeInfo, _ []int64) framework.Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.calls++
	refs := state.Feasible()
	if len(refs.IDs) != len(nodes) || len(refs.Gens) != len(nodes) {
		r.errors = append(r.errors, fmt.Sprintf("%d ids and %d generations for %d nodes", len(refs.IDs), len(refs.Gens), len(nodes)))
		return framework.Status{}
	}
	for i, n := range nodes {
		if refs.IDs[i] != n.ID || refs.Gens[i] != n.Generation {
			r.errors = append(r.errors, fmt.Sprintf("node %d (%s): id %d generation %d, want %d and %d", i, n.Name, refs.IDs[i], refs.Gens[i], n.ID, n.Generation))
			break
		}
	}
	return framework.Status{}
}

// oddFilter rejects the nodes whose name ends in an odd digit.
type oddFilter struct{}

func (oddFilter) Name() string { return "Odd" }

func (oddFilter) Filter(_ context.Context, _ *framework.CycleState, _ *framework.PodInfo, nodes []*framework.NodeInfo, out []framework.Status) {
	for i, n := range nodes {
		if (n.Name[len(n.Name)-1]-'0')%2 == 1 {
			out[i] = framework.NewStatus(framework.Unschedulable, "odd")
		}
	}
}

// TestFeasibleRefs: during Score, CycleState.Feasible holds the ID and
// Generation of each node the plugin is called with, in order, whether
// the filters ran on one worker or several, stopped early or not, or
// there were none; outside the score phase it is empty.
func TestFeasibleRefs(t *testing.T) {
	var nodes []*wharfv1.Node
	for i := range 3000 {
		nodes = append(nodes, st.Node(fmt.Sprintf("n%04d", i)))
	}
	snap := snapshot(t, nodes...)
	for _, tc := range []struct {
		name        string
		parallelism int
		percentage  int32
		filters     bool
	}{
		{"one worker", 1, 0, true},
		{"four workers", 4, 0, true},
		{"every node", 4, 100, true},
		{"no filters", 2, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			check := &refsCheck{}
			r := plugins.NewRegistry()
			r.Register("RefsCheck", func(framework.Args) (framework.Plugin, error) { return check, nil })
			r.Register("Odd", func(framework.Args) (framework.Plugin, error) { return oddFilter{}, nil })
			p := framework.DefaultProfile()
			p.PercentageOfNodesToScore = tc.percentage
			p.Score = append(p.Score, framework.WeightedPlugin{Name: "RefsCheck", Weight: 1})
			if tc.filters {
				p.Filter = append(p.Filter, "Odd")
			} else {
				p.Filter = nil
			}
			fw, err := framework.New(p, r, framework.WithParallelism(tc.parallelism))
			if err != nil {
				t.Fatal(err)
			}
			for range 3 {
				state := framework.NewCycleState()
				pi, _ := framework.NewPodInfo(st.Pod("p", st.Requests("cpu", "100m")))
				if _, err := fw.Schedule(context.Background(), state, pi, snap); err != nil {
					t.Fatal(err)
				}
				if refs := state.Feasible(); refs.IDs != nil || refs.Gens != nil {
					t.Errorf("after the cycle, Feasible holds %d ids", len(refs.IDs))
				}
			}
			if check.calls != 3 || len(check.errors) > 0 {
				t.Errorf("%d score calls (want 3); %v", check.calls, check.errors)
			}
		})
	}
}
