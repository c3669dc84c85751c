package plugins

import (
	"slices"
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	st "github.com/wharfhq/wharf/daemon/scheduler/internal/schedtest"
)

func TestNodeName(t *testing.T) {
	t.Parallel()
	nodes := nodeInfos(t, st.Node("a"), st.Node("b"))
	tests := []struct {
		name string
		pod  *wharfv1.Pod
		want []string
	}{
		{"no_node_name", st.Pod("p"), []string{"", ""}},
		{"names_b", st.Pod("p", st.NodeName("b")), []string{unres + ReasonNodeName, ""}},
		{"names_missing", st.Pod("p", st.NodeName("zz")), []string{unres + ReasonNodeName, unres + ReasonNodeName}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFilter(t, runFilter(t, NodeName{}, tt.pod, nodes...), tt.want)
		})
	}
}

func TestNodeUnschedulable(t *testing.T) {
	t.Parallel()
	nodes := nodeInfos(t, st.Node("ok"), st.Node("cordoned", st.Unschedulable()))
	tests := []struct {
		name string
		pod  *wharfv1.Pod
		want []string
	}{
		{"plain", st.Pod("p"), []string{"", unres + ReasonUnschedulable}},
		{"tolerates_key", st.Pod("p", st.Toleration(framework.TaintNodeUnschedulable, "Exists", "", "NoSchedule")), []string{"", ""}},
		{"tolerates_all", st.Pod("p", st.Toleration("", "Exists", "", "")), []string{"", ""}},
		{"wrong_effect", st.Pod("p", st.Toleration(framework.TaintNodeUnschedulable, "Exists", "", "NoExecute")), []string{"", unres + ReasonUnschedulable}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFilter(t, runFilter(t, NodeUnschedulable{}, tt.pod, nodes...), tt.want)
		})
	}
}

func TestNodeResourcesFitFilter(t *testing.T) {
	t.Parallel()
	fit, err := NewNodeResourcesFit(framework.Args{})
	if err != nil {
		t.Fatal(err)
	}
	p := fit.(*NodeResourcesFit)
	full := nodeInfos(t, st.Node("full", st.Allocatable("pods", "1")))[0]
	full.AddPod(framework.MustNewPodInfo(st.Pod("x")))
	busy := nodeInfos(t, st.Node("busy", st.Allocatable("cpu", "4", "memory", "8Gi")))[0]
	busy.AddPod(framework.MustNewPodInfo(st.Pod("y", st.Requests("cpu", "3500m", "memory", "6Gi"))))
	nodes := append(nodeInfos(t,
		st.Node("cpu"),
		st.Node("gpu", st.GPUs(2, "NVIDIA A100-SXM4-80GB", 81920)),
		st.Node("fpga", st.Allocatable("example.com/fpga", "1")),
	), full, busy)
	tests := []struct {
		name string
		pod  *wharfv1.Pod
		want []string
	}{
		{"best_effort", st.Pod("p"), []string{"", "", "", unsch + ReasonTooManyPods, ""}},
		{"cpu_mem", st.Pod("p", st.Requests("cpu", "1", "memory", "4Gi")),
			[]string{"", "", "", unsch + ReasonTooManyPods, unsch + "Insufficient cpu, Insufficient memory"}},
		{"milli_cpu", st.Pod("p", st.Requests("cpu", "500m")), []string{"", "", "", unsch + ReasonTooManyPods, ""}},
		{"gpu", st.Pod("p", st.Requests("nvidia.com/gpu", "1")),
			[]string{unsch + ReasonInsufficientGPU, "", unsch + ReasonInsufficientGPU, unsch + ReasonTooManyPods + ", " + ReasonInsufficientGPU, unsch + ReasonInsufficientGPU}},
		{"gpu_limit_only", st.Pod("p", st.Limits("nvidia.com/gpu", "3")),
			[]string{unsch + ReasonInsufficientGPU, unsch + ReasonInsufficientGPU, unsch + ReasonInsufficientGPU, unsch + ReasonTooManyPods + ", " + ReasonInsufficientGPU, unsch + ReasonInsufficientGPU}},
		{"extended", st.Pod("p", st.Requests("example.com/fpga", "1")),
			[]string{unsch + "Insufficient example.com/fpga", unsch + "Insufficient example.com/fpga", "", unsch + "Too many pods, Insufficient example.com/fpga", unsch + "Insufficient example.com/fpga"}},
		{"init_container_max", st.Pod("p", st.Requests("cpu", "100m"), st.InitContainer("cpu", "9")),
			[]string{unsch + ReasonInsufficientCPU, unsch + ReasonInsufficientCPU, unsch + ReasonInsufficientCPU, unsch + "Too many pods, Insufficient cpu", unsch + ReasonInsufficientCPU}},
		{"containers_sum", st.Pod("p", st.Requests("cpu", "5"), st.Container("cpu", "4")),
			[]string{unsch + ReasonInsufficientCPU, unsch + ReasonInsufficientCPU, unsch + ReasonInsufficientCPU, unsch + "Too many pods, Insufficient cpu", unsch + ReasonInsufficientCPU}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFilter(t, runFilter(t, p, tt.pod, nodes...), tt.want)
		})
	}
}

func TestNodeResourcesFitScore(t *testing.T) {
	t.Parallel()
	empty := nodeInfos(t, st.Node("empty"))[0]
	half := nodeInfos(t, st.Node("half"))[0]
	half.AddPod(framework.MustNewPodInfo(st.Pod("x", st.Requests("cpu", "4", "memory", "16Gi"))))
	gpuEmpty := nodeInfos(t, st.Node("gpu-empty", st.GPUs(4, "NVIDIA H100 80GB HBM3", 81559)))[0]
	gpuUsed := nodeInfos(t, st.Node("gpu-used", st.GPUs(4, "NVIDIA H100 80GB HBM3", 81559)))[0]
	gpuUsed.AddPod(framework.MustNewPodInfo(st.Pod("g", st.Requests("cpu", "1", "memory", "1Gi", "nvidia.com/gpu", "2"))))

	plain := st.Pod("p", st.Requests("cpu", "1", "memory", "2Gi"))
	gpuPod := st.Pod("g2", st.Requests("cpu", "1", "memory", "2Gi", "nvidia.com/gpu", "1"))
	newFit := func(typ string) framework.ScorePlugin {
		a, _ := framework.NewArgs(NodeResourcesFitArgs{ScoringStrategy: ScoringStrategy{Type: typ}})
		p, err := NewNodeResourcesFit(a)
		if err != nil {
			t.Fatal(err)
		}
		return p.(framework.ScorePlugin)
	}
	tests := []struct {
		name     string
		strategy string
		pod      *wharfv1.Pod
		nodes    []*framework.NodeInfo
		want     []int64
	}{
		// (8-1)/8=87, (32-2)/32=93 -> 90; (8-5)/8=37, (32-18)/32=43 -> 40.
		{"least_spreads", LeastAllocated, plain, []*framework.NodeInfo{empty, half}, []int64{90, 40}},
		{"most_packs", MostAllocated, plain, []*framework.NodeInfo{empty, half}, []int64{9, 59}},
		{"default_spreads_plain", "", plain, []*framework.NodeInfo{empty, half}, []int64{90, 40}},
		// GPU pod: cpu 1/8=12, mem 2/32=6, gpu 1/4=25 (x3) -> 18;
		// used: cpu 2/8=25, mem 3/32=9, gpu 3/4=75 (x3) -> 51.
		{"default_packs_gpu", "", gpuPod, []*framework.NodeInfo{gpuEmpty, gpuUsed}, []int64{18, 51}},
		{"least_gpu", LeastAllocated, gpuPod, []*framework.NodeInfo{gpuEmpty, gpuUsed}, []int64{81, 48}},
		// A plain pod ignores GPUs when scoring GPU nodes.
		{"plain_ignores_gpu", "", plain, []*framework.NodeInfo{gpuEmpty, gpuUsed}, []int64{90, 82}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := runScore(t, newFit(tt.strategy), tt.pod, tt.nodes...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("scores = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNodeResourcesFitArgs(t *testing.T) {
	t.Parallel()
	tests := []struct {
		args map[string]any
		err  string
	}{
		{map[string]any{"scoringStrategy": map[string]any{"type": "Random"}}, `args.scoringStrategy.type: unknown strategy "Random"`},
		{map[string]any{"scoringStrategy": map[string]any{"resources": []any{map[string]any{"name": "cpu", "weight": 0}}}}, "weight: 0 is out of range"},
		{map[string]any{"scoringStrategy": map[string]any{"resources": []any{map[string]any{"name": "pods", "weight": 1}}}}, "pods cannot be scored"},
		{map[string]any{"scoringStrategy": map[string]any{"tpye": "MostAllocated"}}, `unknown field "tpye"`},
		{map[string]any{"scoringStrategy": map[string]any{"type": "MostAllocated"}}, ""},
	}
	for _, tt := range tests {
		a, err := framework.NewArgs(tt.args)
		if err != nil {
			t.Fatal(err)
		}
		_, err = NewNodeResourcesFit(a)
		if tt.err == "" {
			if err != nil {
				t.Errorf("%v: %v", tt.args, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%v: no error, want %q", tt.args, tt.err)
			continue
		}
		mustContain(t, err.Error(), tt.err)
	}
}

func TestNodeAffinityFilter(t *testing.T) {
	t.Parallel()
	nodes := nodeInfos(t,
		st.Node("a", st.Labels("zone", "z1", "disk", "ssd", "cores", "16")),
		st.Node("b", st.Labels("zone", "z2", "cores", "4")),
		st.Node("c", st.Labels("zone", "z3", "cores", "many")),
	)
	no := unres + ReasonNodeAffinity
	tests := []struct {
		name string
		pod  *wharfv1.Pod
		want []string
	}{
		{"none", st.Pod("p"), []string{"", "", ""}},
		{"selector", st.Pod("p", st.NodeSelector("zone", "z2")), []string{no, "", no}},
		{"selector_two_keys", st.Pod("p", st.NodeSelector("zone", "z1", "disk", "ssd")), []string{"", no, no}},
		{"selector_missing_key", st.Pod("p", st.NodeSelector("gpu", "yes")), []string{no, no, no}},
		{"in", st.Pod("p", st.RequiredTerm(st.Req("zone", "In", "z1", "z3"))), []string{"", no, ""}},
		{"not_in", st.Pod("p", st.RequiredTerm(st.Req("zone", "NotIn", "z1"))), []string{no, "", ""}},
		{"not_in_absent_key", st.Pod("p", st.RequiredTerm(st.Req("disk", "NotIn", "hdd"))), []string{"", "", ""}},
		{"exists", st.Pod("p", st.RequiredTerm(st.Req("disk", "Exists"))), []string{"", no, no}},
		{"does_not_exist", st.Pod("p", st.RequiredTerm(st.Req("disk", "DoesNotExist"))), []string{no, "", ""}},
		{"gt", st.Pod("p", st.RequiredTerm(st.Req("cores", "Gt", "8"))), []string{"", no, no}},
		{"lt", st.Pod("p", st.RequiredTerm(st.Req("cores", "Lt", "8"))), []string{no, "", no}},
		{"terms_ored", st.Pod("p", st.RequiredTerm(st.Req("zone", "In", "z1")), st.RequiredTerm(st.Req("zone", "In", "z2"))), []string{"", "", no}},
		{"reqs_anded", st.Pod("p", st.RequiredTerm(st.Req("zone", "In", "z1", "z2"), st.Req("cores", "Lt", "8"))), []string{no, "", no}},
		{"selector_and_affinity", st.Pod("p", st.NodeSelector("zone", "z1"), st.RequiredTerm(st.Req("zone", "In", "z2"))), []string{no, no, no}},
		{"match_fields", st.Pod("p", st.RequiredFieldTerm(st.Req("metadata.name", "In", "c"))), []string{no, no, ""}},
		{"empty_term_matches_nothing", st.Pod("p", st.RequiredTerm()), []string{no, no, no}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFilter(t, runFilter(t, NodeAffinity{}, tt.pod, nodes...), tt.want)
		})
	}
}

// GPU feature discovery labels work through plain nodeSelector and
// affinity: the node agent sets them, NodeAffinity matches them.
func TestNodeAffinityGPUFeatureDiscoveryLabels(t *testing.T) {
	t.Parallel()
	nodes := nodeInfos(t,
		st.Node("h100", st.GPUs(8, "NVIDIA H100 80GB HBM3", 81559)),
		st.Node("a100-40", st.GPUs(4, "NVIDIA A100-SXM4-40GB", 40960)),
		st.Node("t4", st.GPUs(1, "Tesla T4", 15360)),
		st.Node("cpu"),
	)
	no := unres + ReasonNodeAffinity
	tests := []struct {
		name string
		pod  *wharfv1.Pod
		want []string
	}{
		{"product_selector", st.Pod("p", st.NodeSelector(framework.LabelGPUProduct, "NVIDIA-H100-80GB-HBM3")), []string{"", no, no, no}},
		{"memory_gt", st.Pod("p", st.RequiredTerm(st.Req(framework.LabelGPUMemory, "Gt", "40000"))), []string{"", "", no, no}},
		{"count_gt_and_product_in", st.Pod("p", st.RequiredTerm(
			st.Req(framework.LabelGPUCount, "Gt", "2"),
			st.Req(framework.LabelGPUProduct, "In", "NVIDIA-A100-SXM4-40GB", "Tesla-T4"))), []string{no, "", no, no}},
		{"any_gpu", st.Pod("p", st.RequiredTerm(st.Req(framework.LabelGPUProduct, "Exists"))), []string{"", "", "", no}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFilter(t, runFilter(t, NodeAffinity{}, tt.pod, nodes...), tt.want)
		})
	}
}

func TestNodeAffinityScore(t *testing.T) {
	t.Parallel()
	nodes := nodeInfos(t,
		st.Node("a", st.Labels("zone", "z1", "disk", "ssd")),
		st.Node("b", st.Labels("zone", "z1")),
		st.Node("c", st.Labels("zone", "z2")),
	)
	if got := runScore(t, NodeAffinity{}, st.Pod("p"), nodes...); got != nil {
		t.Errorf("no preferred terms: scores %v, want Skip", got)
	}
	pod := st.Pod("p", st.PreferredTerm(60, st.Req("zone", "In", "z1")), st.PreferredTerm(20, st.Req("disk", "Exists")))
	if got, want := runScore(t, NodeAffinity{}, pod, nodes...), []int64{100, 75, 0}; !slices.Equal(got, want) {
		t.Errorf("scores = %v, want %v", got, want)
	}
}

func TestTaintTolerationFilter(t *testing.T) {
	t.Parallel()
	nodes := nodeInfos(t,
		st.Node("clean"),
		st.Node("gpu", st.Taint("gpu", "true", "NoSchedule")),
		st.Node("evict", st.Taint("maintenance", "", "NoExecute")),
		st.Node("soft", st.Taint("spot", "true", "PreferNoSchedule")),
		st.Node("two", st.Taint("spot", "true", "PreferNoSchedule"), st.Taint("gpu", "false", "NoSchedule")),
	)
	gpuTaint := unres + "node(s) had untolerated taint {gpu: true}"
	tests := []struct {
		name string
		pod  *wharfv1.Pod
		want []string
	}{
		{"no_tolerations", st.Pod("p"), []string{"", gpuTaint, unres + "node(s) had untolerated taint {maintenance: }", "", unres + "node(s) had untolerated taint {gpu: false}"}},
		{"equal", st.Pod("p", st.Toleration("gpu", "Equal", "true", "NoSchedule"), st.Toleration("maintenance", "Exists", "", "")),
			[]string{"", "", "", "", unres + "node(s) had untolerated taint {gpu: false}"}},
		{"exists_key", st.Pod("p", st.Toleration("gpu", "Exists", "", ""), st.Toleration("maintenance", "", "", "NoExecute")),
			[]string{"", "", "", "", ""}},
		{"wrong_effect", st.Pod("p", st.Toleration("gpu", "Exists", "", "NoExecute"), st.Toleration("", "Exists", "", "NoExecute")),
			[]string{"", gpuTaint, "", "", unres + "node(s) had untolerated taint {gpu: false}"}},
		{"tolerate_everything", st.Pod("p", st.Toleration("", "Exists", "", "")), []string{"", "", "", "", ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFilter(t, runFilter(t, TaintToleration{}, tt.pod, nodes...), tt.want)
		})
	}
}

func TestTaintTolerationScore(t *testing.T) {
	t.Parallel()
	nodes := nodeInfos(t,
		st.Node("clean"),
		st.Node("one", st.Taint("spot", "true", "PreferNoSchedule")),
		st.Node("two", st.Taint("spot", "true", "PreferNoSchedule"), st.Taint("old", "", "PreferNoSchedule")),
	)
	if got, want := runScore(t, TaintToleration{}, st.Pod("p"), nodes...), []int64{100, 50, 0}; !slices.Equal(got, want) {
		t.Errorf("scores = %v, want %v", got, want)
	}
	tol := st.Pod("p", st.Toleration("spot", "Exists", "", "PreferNoSchedule"))
	if got, want := runScore(t, TaintToleration{}, tol, nodes...), []int64{100, 100, 0}; !slices.Equal(got, want) {
		t.Errorf("tolerating spot: scores = %v, want %v", got, want)
	}
}

func TestGPUFit(t *testing.T) {
	t.Parallel()
	h100 := "NVIDIA H100 80GB HBM3"
	a100 := "NVIDIA A100-SXM4-80GB"
	busy := nodeInfos(t, st.Node("h100-busy", st.GPUs(2, h100, 81559)))[0]
	busy.AddPod(framework.MustNewPodInfo(st.Pod("x", st.Requests("nvidia.com/gpu", "1"))))
	mixed := nodeInfos(t, st.Node("mixed"))[0]
	mixedNode := st.Node("mixed")
	mixedNode.Status.Gpus = []*wharfv1.GPUDevice{
		{Index: 0, Model: "Tesla T4", MemoryMib: 15360},
		{Index: 1, Model: a100, MemoryMib: 81920},
	}
	if err := mixed.SetNode(mixedNode); err != nil {
		t.Fatal(err)
	}
	nodes := append(nodeInfos(t,
		st.Node("h100", st.GPUs(2, h100, 81559)),
		st.Node("a100-40", st.GPUs(4, "NVIDIA A100-SXM4-40GB", 40960)),
		st.Node("cpu"),
	), busy, mixed)
	attr, free := unres+ReasonGPUAttributes, unsch+ReasonGPUFree
	tests := []struct {
		name string
		pod  *wharfv1.Pod
		want []string
	}{
		{"count_only_skips", st.Pod("p", st.Requests("nvidia.com/gpu", "4")), []string{"", "", "", "", ""}},
		{"min_memory", st.Pod("p", st.Requests("nvidia.com/gpu", "1"), st.Annotation(framework.AnnotationGPUMinMemoryMiB, "40000")),
			[]string{"", "", attr, "", ""}},
		{"min_memory_two", st.Pod("p", st.Requests("nvidia.com/gpu", "2"), st.Annotation(framework.AnnotationGPUMinMemoryMiB, "80000")),
			[]string{"", attr, attr, free, attr}},
		{"models", st.Pod("p", st.Limits("nvidia.com/gpu", "1"), st.Annotation(framework.AnnotationGPUModels, " nvidia h100 80gb hbm3 ,"+a100)),
			[]string{"", attr, attr, "", ""}},
		{"models_and_memory", st.Pod("p", st.Requests("nvidia.com/gpu", "1"),
			st.Annotation(framework.AnnotationGPUModels, "Tesla T4,"+a100), st.Annotation(framework.AnnotationGPUMinMemoryMiB, "20000")),
			[]string{attr, attr, attr, attr, ""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFilter(t, runFilter(t, GPUFit{}, tt.pod, nodes...), tt.want)
		})
	}
}

func TestRegistryRejectsArgs(t *testing.T) {
	t.Parallel()
	a, _ := framework.NewArgs(map[string]any{"x": 1})
	for name, f := range NewRegistry() {
		if name == framework.NodeResourcesFitPlugin {
			continue
		}
		if _, err := f(a); err == nil {
			t.Errorf("%s accepted args", name)
		}
		p, err := f(framework.Args{})
		if err != nil || p.Name() != name {
			t.Errorf("%s: %v, %v", name, p, err)
		}
	}
	// Every plugin the default profile names is registered.
	r := NewRegistry()
	if _, err := framework.New(framework.DefaultProfile(), r); err != nil {
		t.Fatal(err)
	}
}
