package framework_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	st "github.com/wharfhq/wharf/daemon/scheduler/internal/schedtest"
)

func TestNewNodeInfo(t *testing.T) {
	t.Parallel()
	n := st.Node("n", st.Allocatable("cpu", "7500m", "memory", "30Gi", "example.com/fpga", "2"),
		st.GPUs(2, "Tesla T4", 15360), st.Taint("a", "b", "NoSchedule"), st.Unschedulable())
	delete(n.Status.Allocatable, "pods")
	ni, err := framework.NewNodeInfo(n)
	if err != nil {
		t.Fatal(err)
	}
	a := ni.Allocatable
	if a.MilliCPU != 7500 || a.Memory != 30<<30 || a.Pods != framework.DefaultMaxPods || a.GPU != 2 || a.Scalar["example.com/fpga"] != 2 {
		t.Errorf("allocatable = %+v", a)
	}
	if !ni.Unschedulable || len(ni.Taints) != 1 || ni.Taints[0].Reason() != "node(s) had untolerated taint {a: b}" {
		t.Errorf("spec: %+v", ni)
	}
	if ni.FreeGPUs() != 2 || ni.Labels[framework.LabelGPUCount] != "2" {
		t.Errorf("gpus: %d free, labels %v", ni.FreeGPUs(), ni.Labels)
	}

	// Capacity stands in for allocatable; GPU count from devices.
	c := st.Node("c", st.GPUs(3, "Tesla T4", 15360))
	c.Status.Capacity, c.Status.Allocatable = c.Status.Allocatable, nil
	delete(c.Status.Capacity, "nvidia.com/gpu")
	ci, err := framework.NewNodeInfo(c)
	if err != nil || ci.Allocatable.GPU != 3 || ci.Allocatable.MilliCPU != 8000 {
		t.Errorf("capacity node: %+v, %v", ci, err)
	}

	for _, tt := range []struct {
		node *wharfv1.Node
		want string
	}{
		{st.Node("x", st.Allocatable("cpu", "eight")), `node "x": status.allocatable["cpu"]: invalid quantity "eight"`},
		{st.Node("y", st.Taint("k", "v", "Sometimes")), `node "y": spec.taints[0].effect: unknown effect "Sometimes"`},
	} {
		if _, err := framework.NewNodeInfo(tt.node); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("error %v, want %q", err, tt.want)
		}
	}
}

func TestNodeInfoAddRemovePod(t *testing.T) {
	t.Parallel()
	ni, _ := framework.NewNodeInfo(st.Node("n", st.GPUs(4, "NVIDIA H100 80GB HBM3", 81559)))
	p1 := framework.MustNewPodInfo(st.Pod("p1", st.Requests("cpu", "1", "memory", "1Gi", "nvidia.com/gpu", "2", "example.com/x", "1")))
	p2 := framework.MustNewPodInfo(st.Pod("p2"))
	gen := ni.Generation
	ni.AddPod(p1)
	ni.AddPod(p2)
	if ni.Generation == gen {
		t.Error("generation did not change")
	}
	r := ni.Requested
	if r.MilliCPU != 1000 || r.Memory != 1<<30 || r.GPU != 2 || r.Pods != 2 || r.Scalar["example.com/x"] != 1 {
		t.Errorf("requested = %+v", r)
	}
	if nz := ni.NonZeroRequested; nz.MilliCPU != 1100 || nz.Memory != 1<<30+200<<20 {
		t.Errorf("non-zero requested = %+v", nz)
	}
	if got := ni.PodGPUs("default/p1"); !slices.Equal(got, []int32{0, 1}) || ni.FreeGPUs() != 2 {
		t.Errorf("p1 devices %v, %d free", got, ni.FreeGPUs())
	}
	if !ni.RemovePod(p1) || ni.RemovePod(p1) {
		t.Error("RemovePod twice")
	}
	r = ni.Requested
	if r.MilliCPU != 0 || r.Memory != 0 || r.GPU != 0 || r.Pods != 1 || r.Scalar["example.com/x"] != 0 || ni.FreeGPUs() != 4 {
		t.Errorf("after remove: %+v, %d free", r, ni.FreeGPUs())
	}
	if len(ni.Pods) != 1 || ni.Pods[0] != p2 {
		t.Errorf("pods = %v", ni.Pods)
	}
}

func TestNodeInfoGPUAllocation(t *testing.T) {
	t.Parallel()
	node := st.Node("n")
	node.Status.Gpus = []*wharfv1.GPUDevice{
		{Index: 0, Uuid: "u0", Model: "NVIDIA H100 80GB HBM3", MemoryMib: 81559},
		{Index: 1, Uuid: "u1", Model: "Tesla T4", MemoryMib: 15360},
		{Index: 2, Uuid: "u2", Model: "NVIDIA A100-SXM4-40GB", MemoryMib: 40960},
		{Index: 3, Uuid: "u3", Model: "Tesla T4", MemoryMib: 15360},
	}
	ni, _ := framework.NewNodeInfo(node)
	gpuPod := func(name string, count string, kv ...string) *framework.PodInfo {
		opts := []st.PodOption{st.Requests("nvidia.com/gpu", count)}
		for i := 0; i+1 < len(kv); i += 2 {
			opts = append(opts, st.Annotation(kv[i], kv[i+1]))
		}
		return framework.MustNewPodInfo(st.Pod(name, opts...))
	}
	// Best fit: the smallest device with 20000 MiB is the A100-40GB.
	big := gpuPod("big", "1", framework.AnnotationGPUMinMemoryMiB, "20000")
	ni.AddPod(big)
	if got := ni.PodGPUs("default/big"); !slices.Equal(got, []int32{2}) {
		t.Errorf("min-memory pod got devices %v, want [2]", got)
	}
	// No attributes: smallest free devices first.
	any2 := gpuPod("any", "2")
	ni.AddPod(any2)
	if got := ni.PodGPUs("default/any"); !slices.Equal(got, []int32{1, 3}) {
		t.Errorf("plain pod got devices %v, want [1 3]", got)
	}
	// A bound pod keeps the devices named in its annotation or statuses.
	ni.RemovePod(any2)
	bound := gpuPod("bound", "1", framework.AnnotationGPUDevices, "3")
	ni.AddPod(bound)
	if got := ni.PodGPUs("default/bound"); !slices.Equal(got, []int32{3}) {
		t.Errorf("annotated pod got devices %v, want [3]", got)
	}
	withStatus := st.Pod("st", st.Requests("nvidia.com/gpu", "1"))
	withStatus.Status = &wharfv1.PodStatus{ContainerStatuses: []*wharfv1.ContainerStatus{{AllocatedDevices: []string{"u0"}}}}
	ni.AddPod(framework.MustNewPodInfo(withStatus))
	if got := ni.PodGPUs("default/st"); !slices.Equal(got, []int32{0}) || ni.FreeGPUs() != 1 {
		t.Errorf("pod with allocated devices got %v, %d free", got, ni.FreeGPUs())
	}
	free, total := ni.MatchingGPUs(&framework.GPURequest{Count: 1, Models: []string{"tesla t4"}})
	if free != 1 || total != 2 {
		t.Errorf("matching T4s: %d free of %d", free, total)
	}
	// SetNode keeps allocations by UUID even when indices move.
	node2 := st.Node("n")
	node2.Status.Gpus = []*wharfv1.GPUDevice{node.Status.Gpus[3], node.Status.Gpus[2], node.Status.Gpus[1], node.Status.Gpus[0]}
	if err := ni.SetNode(node2); err != nil {
		t.Fatal(err)
	}
	if got := ni.PodGPUs("default/big"); !slices.Equal(got, []int32{2}) || ni.FreeGPUs() != 1 {
		t.Errorf("after SetNode big has %v, %d free", got, ni.FreeGPUs())
	}
	if ni.GPUs[2].Pod != "" || ni.GPUs[1].Pod != "default/big" {
		t.Errorf("devices after SetNode: %+v", ni.GPUs)
	}
}

func TestSnapshot(t *testing.T) {
	t.Parallel()
	snap, err := framework.NewSnapshot(
		[]*wharfv1.Node{st.Node("a"), st.Node("b"), st.Node("bad", st.Allocatable("cpu", "x"))},
		[]*wharfv1.Pod{
			st.Pod("on-a", st.NodeName("a"), st.Requests("cpu", "1")),
			st.Pod("done", st.NodeName("a"), st.Requests("cpu", "1"), func(p *wharfv1.Pod) { p.Status = &wharfv1.PodStatus{Phase: "Succeeded"} }),
			st.Pod("pending", st.Requests("cpu", "1")),
			st.Pod("elsewhere", st.NodeName("zz")),
		})
	if err == nil || !strings.Contains(err.Error(), `node "bad"`) {
		t.Errorf("error = %v, want the bad node", err)
	}
	if snap.Len() != 2 || snap.Get("a").Requested.MilliCPU != 1000 || len(snap.Get("a").Pods) != 1 || snap.Get("bad") != nil {
		t.Errorf("snapshot: %d nodes, a: %+v", snap.Len(), snap.Get("a"))
	}
	snap.Remove("a")
	if snap.Len() != 1 || snap.Get("a") != nil {
		t.Error("Remove")
	}
}

// Node ids are dense, kept across updates and replacements, and reused
// after a removal.
func TestSnapshotNodeIDs(t *testing.T) {
	t.Parallel()
	snap, _ := framework.NewSnapshot([]*wharfv1.Node{st.Node("a"), st.Node("b"), st.Node("c")}, nil)
	ids := map[string]uint32{}
	for _, n := range snap.Nodes() {
		ids[n.Name] = n.ID
	}
	if fmt.Sprint(ids) != "map[a:0 b:1 c:2]" {
		t.Fatalf("ids %v, want a:0 b:1 c:2", ids)
	}
	if n, _ := snap.Update(st.Node("b", st.Allocatable("cpu", "64"))); n.ID != 1 {
		t.Errorf("updated b has id %d, want 1", n.ID)
	}
	replaced, _ := framework.NewNodeInfo(st.Node("c"))
	if snap.Add(replaced); replaced.ID != 2 {
		t.Errorf("replaced c has id %d, want 2", replaced.ID)
	}
	snap.Remove("a")
	d, _ := snap.Update(st.Node("d"))
	e, _ := snap.Update(st.Node("e"))
	if d.ID != 0 || e.ID != 3 {
		t.Errorf("after removing a: d has id %d (want a's 0), e %d (want 3)", d.ID, e.ID)
	}
}

func TestSnapshotGPUIndex(t *testing.T) {
	t.Parallel()
	snap, _ := framework.NewSnapshot([]*wharfv1.Node{st.Node("cpu"), st.Node("gpu", st.GPUs(2, "Tesla T4", 15360))}, nil)
	if got := snap.NodesWithGPUs(); len(got) != 1 || got[0].Name != "gpu" {
		t.Fatalf("gpu nodes %v", got)
	}
	// A node that gains GPUs through Update joins the index; its pods stay.
	snap.Get("cpu").AddPod(framework.MustNewPodInfo(st.Pod("p", st.Requests("cpu", "1"))))
	if _, err := snap.Update(st.Node("cpu", st.GPUs(1, "Tesla T4", 15360))); err != nil {
		t.Fatal(err)
	}
	if got := snap.NodesWithGPUs(); len(got) != 2 || snap.Get("cpu").Requested.MilliCPU != 1000 {
		t.Errorf("after update: %d gpu nodes, cpu requested %d", len(got), snap.Get("cpu").Requested.MilliCPU)
	}
	if _, err := snap.Update(st.Node("new")); err != nil || snap.Len() != 3 {
		t.Errorf("update adds: %v, %d nodes", err, snap.Len())
	}
	snap.Remove("gpu")
	if got := snap.NodesWithGPUs(); len(got) != 1 {
		t.Errorf("after remove: %d gpu nodes", len(got))
	}
}

func TestNodeLabelLookup(t *testing.T) {
	t.Parallel()
	few, _ := framework.NewNodeInfo(st.Node("few", st.Labels("zone", "z1")))
	var kv []string
	for i := range 20 {
		kv = append(kv, fmt.Sprint("k", i), fmt.Sprint("v", i))
	}
	many, _ := framework.NewNodeInfo(st.Node("many", st.Labels(kv...)))
	for _, tt := range []struct {
		n        *framework.NodeInfo
		key, val string
		ok       bool
	}{
		{few, "zone", "z1", true}, {few, "kubernetes.io/hostname", "few", true}, {few, "k1", "", false},
		{many, "k19", "v19", true}, {many, "zone", "", false},
	} {
		if v, ok := tt.n.Label(tt.key); v != tt.val || ok != tt.ok {
			t.Errorf("%s.Label(%q) = %q, %v", tt.n.Name, tt.key, v, ok)
		}
	}
}

// GPU models match without regard to case, whether the device and the
// request were parsed from objects (compared by id) or written by hand
// (compared as strings).
func TestGPUModelsMatch(t *testing.T) {
	node, err := framework.NewNodeInfo(st.Node("gpu-1", st.GPUs(4, "NVIDIA H100 80GB HBM3", 81559)))
	if err != nil {
		t.Fatal(err)
	}
	for models, want := range map[string]int{
		"nvidia h100 80gb hbm3":                        4,
		"NVIDIA A100-SXM4-80GB, NVIDIA H100 80GB HBM3": 4,
		"NVIDIA H100":           0,
		"NVIDIA A100-SXM4-80GB": 0,
	} {
		pi := framework.MustNewPodInfo(st.Pod("p", st.Requests("nvidia.com/gpu", "1"), st.Annotation(framework.AnnotationGPUModels, models)))
		if _, total := node.MatchingGPUs(&pi.GPU); total != want {
			t.Errorf("models %q: %d devices match, want %d", models, total, want)
		}
		byHand := framework.GPURequest{Count: 1, Models: pi.GPU.Models}
		if got := byHand.Matches(&framework.GPU{Model: "NVIDIA H100 80GB HBM3"}) == (want > 0); !got {
			t.Errorf("models %q, by hand: Matches says %v", models, want == 0)
		}
	}
}
