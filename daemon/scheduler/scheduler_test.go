package scheduler_test

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/testing/sim"
)

// Simulated GPU nodes alternate between H100 80GB (even indices) and
// A100 40GB (odd) and carry the taint nvidia.com/gpu=present:NoSchedule.
var (
	h100Nodes = []string{"sim-00000", "sim-00002"}
	a100Nodes = []string{"sim-00001", "sim-00003"}
)

// GPU pods land only on nodes whose GPUs match what they ask for (count,
// minimum memory, model; GPU feature discovery labels through a plain
// nodeSelector), get the devices in gpu.wharf.dev/devices, and the node
// reports those devices.
func TestGPUPodsLandOnMatchingNodes(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, sim.Config{Nodes: 6, GPUNodes: 4}, "")
	cl.create(
		newPod("big-mem", tolerateGPU, gpus(2), annotation("gpu.wharf.dev/min-memory-mib", "80000")),
		newPod("a100", tolerateGPU, gpus(1), annotation("gpu.wharf.dev/models", "NVIDIA A100-SXM4-40GB")),
		newPod("h100-label", tolerateGPU, gpus(1), nodeSelector("nvidia.com/gpu.product", "NVIDIA-H100-80GB-HBM3")),
		newPod("any-gpu", tolerateGPU, gpus(8)),
	)
	for _, tc := range []struct {
		pod   string
		nodes []string
		count int
	}{
		{"big-mem", h100Nodes, 2},
		{"a100", a100Nodes, 1},
		{"h100-label", h100Nodes, 1},
		{"any-gpu", append(slices.Clone(h100Nodes), a100Nodes...), 8},
	} {
		t.Run(tc.pod, func(t *testing.T) {
			node := cl.bound(tc.pod)
			if !slices.Contains(tc.nodes, node) {
				t.Errorf("%s landed on %s, want one of %v", tc.pod, node, tc.nodes)
			}
			p := cl.running(tc.pod)
			devs := strings.Split(p.GetMetadata().GetAnnotations()["gpu.wharf.dev/devices"], ",")
			if len(devs) != tc.count {
				t.Errorf("gpu.wharf.dev/devices %v, want %d devices", devs, tc.count)
			}
			got := p.GetStatus().GetContainerStatuses()[0].GetAllocatedDevices()
			if len(got) != tc.count || !strings.HasPrefix(got[0], "GPU-"+node+"-") {
				t.Errorf("node reports devices %v, want %d of %s's", got, tc.count, node)
			}
		})
	}
	// The pods that fit no node come once the others are placed, so that
	// the reasons they get are of that state: tried while any-gpu was not
	// placed yet, too-much-memory would keep that moment's reasons (2
	// Insufficient) until an event moved it.
	cl.create(
		newPod("too-much-memory", tolerateGPU, gpus(1), annotation("gpu.wharf.dev/min-memory-mib", "100000")),
		newPod("untolerated", gpus(1)),
	)
	// Two nodes have no GPUs, any-gpu took all of a third: 3 Insufficient.
	if msg := cl.unschedulable("too-much-memory"); msg != "0/6 nodes are available: 3 Insufficient nvidia.com/gpu, 3 node(s) didn't have enough GPUs matching the Pod's model/memory requirements." {
		t.Errorf("too-much-memory: %q", msg)
	}
	if msg := cl.unschedulable("untolerated"); !strings.Contains(msg, "4 node(s) had untolerated taint {nvidia.com/gpu: present}") {
		t.Errorf("untolerated: %q", msg)
	}
	// No two pods share a device.
	used := map[string]string{}
	for _, name := range []string{"big-mem", "a100", "h100-label", "any-gpu"} {
		p, _ := cl.c.Pods().Get(cl.ctx(), "default", name)
		for _, d := range p.GetStatus().GetContainerStatuses()[0].GetAllocatedDevices() {
			if other, ok := used[d]; ok {
				t.Errorf("device %s given to %s and %s", d, other, name)
			}
			used[d] = name
		}
	}
}

// Bin-packing: GPU pods fill one GPU node before opening another.
func TestBinPackingFillsGPUNodeFirst(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, sim.Config{Nodes: 4, GPUNodes: 4}, "")
	for i := range 12 {
		cl.create(newPod(fmt.Sprint("job-", i), tolerateGPU, gpus(1), requests("cpu", "1", "memory", "4Gi")))
	}
	perNode := map[string]int{}
	for i := range 12 {
		perNode[cl.bound(fmt.Sprint("job-", i))]++
	}
	counts := slices.Sorted(func(yield func(int) bool) {
		for _, n := range perNode {
			if !yield(n) {
				return
			}
		}
	})
	if !slices.Equal(counts, []int{4, 8}) {
		t.Errorf("pods per node %v, want one full node (8) and one with 4", perNode)
	}
}

// Taints keep pods without a toleration off GPU nodes; required affinity,
// nodeSelector and preferred affinity steer pods.
func TestTolerationsAndAffinity(t *testing.T) {
	t.Parallel()
	// sim-00000, sim-00001: GPU (tainted). Zones: i%3 -> a, b, c.
	cl := startCluster(t, sim.Config{Nodes: 6, GPUNodes: 2}, "")
	var plain []string
	for i := range 10 {
		name := fmt.Sprint("plain-", i)
		plain = append(plain, name)
		cl.create(newPod(name, requests("cpu", "100m")))
	}
	cl.create(
		newPod("gpu-only", tolerateGPU, affinity(true, "nvidia.com/gpu.present", "In", "true")),
		newPod("zone-b", affinity(true, sim.LabelZone, "In", "zone-b")),
		newPod("zone-b-tolerant", tolerateGPU, affinity(true, sim.LabelZone, "In", "zone-b"), nodeSelector("nvidia.com/gpu.present", "true")),
		newPod("selector", nodeSelector("kubernetes.io/hostname", "sim-00005")),
		newPod("prefers-c", affinity(false, sim.LabelZone, "In", "zone-c")),
		newPod("nowhere", affinity(true, sim.LabelZone, "In", "zone-z")),
	)
	for _, name := range plain {
		if n := cl.bound(name); n == "sim-00000" || n == "sim-00001" {
			t.Errorf("%s landed on tainted GPU node %s", name, n)
		}
	}
	for _, tc := range []struct {
		pod   string
		nodes []string
	}{
		{"gpu-only", []string{"sim-00000", "sim-00001"}},
		{"zone-b", []string{"sim-00004"}}, // sim-00001 is zone-b but tainted
		{"zone-b-tolerant", []string{"sim-00001"}},
		{"selector", []string{"sim-00005"}},
		{"prefers-c", []string{"sim-00002", "sim-00005"}},
	} {
		if n := cl.bound(tc.pod); !slices.Contains(tc.nodes, n) {
			t.Errorf("%s landed on %s, want one of %v", tc.pod, n, tc.nodes)
		}
	}
	want := "0/6 nodes are available: 2 node(s) had untolerated taint {nvidia.com/gpu: present}, 4 node(s) didn't match Pod's node affinity/selector."
	if msg := cl.unschedulable("nowhere"); msg != want {
		t.Errorf("nowhere: %q, want %q", msg, want)
	}
}

// A pod that fits nowhere gets PodScheduled=False and a FailedScheduling
// event with the same summary; a node that fits, added later, gets it
// (re-queued on the node event) with a Scheduled event.
func TestUnschedulableThenNodeAdded(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, sim.Config{Nodes: 3, GPUNodes: 1}, "")
	cl.create(newPod("big", requests("cpu", "40")))
	want := "0/3 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present}, 2 Insufficient cpu."
	if msg := cl.unschedulable("big"); msg != want {
		t.Errorf("condition message %q, want %q", msg, want)
	}
	ev := cl.event("Pod", "big", scheduler.ReasonFailedScheduling, "")
	if ev.GetType() != "Warning" || ev.GetMessage() != want || ev.GetSource().GetComponent() != "default-scheduler" {
		t.Errorf("event %v", ev)
	}
	_, err := cl.c.Nodes().Create(cl.ctx(), &wharfv1.Node{
		Metadata: &wharfv1.ObjectMeta{Name: "big-node", Labels: map[string]string{"kubernetes.io/hostname": "big-node"}},
		Status:   &wharfv1.NodeStatus{Allocatable: map[string]string{"cpu": "64", "memory": "256Gi", "pods": "110"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if n := cl.bound("big"); n != "big-node" {
		t.Errorf("big landed on %s, want big-node", n)
	}
	p := cl.waitPod("big", "PodScheduled=True", func(p *wharfv1.Pod) bool {
		return condition(p, "PodScheduled").GetStatus() == "True"
	})
	if c := condition(p, "PodScheduled"); c.GetReason() != "" || c.GetMessage() != "" {
		t.Errorf("PodScheduled after binding: %v", c)
	}
	cl.event("Pod", "big", scheduler.ReasonScheduled, "Successfully assigned default/big to big-node")
}

// Deleting a bound pod frees its room: a pod waiting for it is scheduled.
func TestDeletedPodFreesRoom(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, sim.Config{Nodes: 1, CPU: "2"}, "")
	cl.create(newPod("first", requests("cpu", "2")))
	cl.running("first")
	cl.create(newPod("second", requests("cpu", "2")))
	if msg := cl.unschedulable("second"); msg != "0/1 nodes are available: 1 Insufficient cpu." {
		t.Errorf("second: %q", msg)
	}
	if _, err := cl.c.Pods().Delete(cl.ctx(), "default", "first", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := cl.bound("second"); n != "sim-00000" {
		t.Errorf("second on %q", n)
	}
}

// Explain shows, per node, the plugin that rejected the pod and why, and
// each score plugin's score for the feasible ones.
func TestExplain(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, sim.Config{Nodes: 4, GPUNodes: 1}, "")
	// Cordon sim-00003.
	n, err := cl.c.Nodes().Get(cl.ctx(), "", "sim-00003")
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Unschedulable = true
	if _, err := cl.c.Nodes().Update(cl.ctx(), n); err != nil {
		t.Fatal(err)
	}
	cl.create(newPod("web", requests("cpu", "1", "memory", "1Gi"), affinity(false, sim.LabelZone, "In", "zone-c")))
	node := cl.bound("web")
	e, err := cl.explain("web")
	if err != nil {
		t.Fatal(err)
	}
	if e.GetBoundNode() != node || e.GetNumNodes() != 4 || e.GetFeasibleNodes() != 2 || e.GetSchedulerName() != "default-scheduler" {
		t.Errorf("explain: bound %q nodes %d feasible %d scheduler %q", e.GetBoundNode(), e.GetNumNodes(), e.GetFeasibleNodes(), e.GetSchedulerName())
	}
	if !slices.Equal(e.GetScorePlugins(), []string{"NodeResourcesFit", "NodeAffinity", "TaintToleration"}) {
		t.Errorf("score plugins %v", e.GetScorePlugins())
	}
	byName := map[string]*wharfv1.NodeExplanation{}
	for _, ne := range e.GetNodes() {
		byName[ne.GetName()] = ne
	}
	if g := byName["sim-00000"]; g.GetFeasible() || g.GetRejectedBy() != "TaintToleration" ||
		!slices.Equal(g.GetReasons(), []string{"node(s) had untolerated taint {nvidia.com/gpu: present}"}) {
		t.Errorf("sim-00000: %v", g)
	}
	if c := byName["sim-00003"]; c.GetFeasible() || c.GetRejectedBy() != "NodeUnschedulable" {
		t.Errorf("sim-00003: %v", c)
	}
	// sim-00002 is in zone-c: preferred affinity (weight 2 x 100) puts it
	// first.
	first := e.GetNodes()[0]
	if first.GetName() != "sim-00002" || !first.GetFeasible() || e.GetSelectedNode() != "sim-00002" {
		t.Errorf("first node %v, selected %q; want sim-00002", first, e.GetSelectedNode())
	}
	if first.GetScores()["NodeAffinity"] != 200 || first.GetScores()["NodeResourcesFit"] <= 0 ||
		first.GetTotalScore() != first.GetScores()["NodeResourcesFit"]+first.GetScores()["NodeAffinity"]+first.GetScores()["TaintToleration"] {
		t.Errorf("sim-00002 scores %v total %d", first.GetScores(), first.GetTotalScore())
	}
	if o := byName["sim-00001"]; !o.GetFeasible() || o.GetScores()["NodeAffinity"] != 0 {
		t.Errorf("sim-00001: %v", o)
	}

	cl.create(newPod("huge", requests("cpu", "100")))
	cl.unschedulable("huge")
	e, err = cl.explain("huge")
	if err != nil {
		t.Fatal(err)
	}
	want := "0/4 nodes are available: 1 node(s) had untolerated taint {nvidia.com/gpu: present}, 1 node(s) were unschedulable, 2 Insufficient cpu."
	if e.GetSummary() != want || e.GetSelectedNode() != "" || e.GetFeasibleNodes() != 0 {
		t.Errorf("huge: summary %q selected %q feasible %d; want %q", e.GetSummary(), e.GetSelectedNode(), e.GetFeasibleNodes(), want)
	}
	if r := byNameOf(e)["sim-00001"]; r.GetRejectedBy() != "NodeResourcesFit" || !slices.Equal(r.GetReasons(), []string{"Insufficient cpu"}) {
		t.Errorf("huge on sim-00001: %v", r)
	}

	if _, err := cl.explain("nope"); connect.CodeOf(err) != connect.CodeNotFound {
		t.Errorf("explain a missing pod: %v, want NotFound", err)
	}
	cl.create(newPod("elsewhere", schedulerName("other-scheduler")))
	// Nothing here waits for the scheduler's informer to see the pod: until
	// it does, the pod is not found.
	err = nil
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, err = cl.explain("elsewhere"); connect.CodeOf(err) != connect.CodeNotFound || time.Now().After(deadline) {
			break
		}
	}
	if connect.CodeOf(err) != connect.CodeFailedPrecondition {
		t.Errorf("explain a pod of another scheduler: %v, want FailedPrecondition", err)
	}
}

func byNameOf(e *wharfv1.ExplainResponse) map[string]*wharfv1.NodeExplanation {
	m := map[string]*wharfv1.NodeExplanation{}
	for _, ne := range e.GetNodes() {
		m[ne.GetName()] = ne
	}
	return m
}

// Profiles by schedulerName: a second profile bin-packs plain pods; pods
// naming a scheduler this server does not run are left alone.
func TestProfiles(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, sim.Config{Nodes: 4}, `
profiles:
  - schedulerName: default-scheduler
  - schedulerName: packer
    pluginConfig:
      - name: NodeResourcesFit
        args: {scoringStrategy: {type: MostAllocated}}
`)
	cl.create(newPod("p-0", schedulerName("packer"), requests("cpu", "1", "memory", "1Gi")))
	first := cl.bound("p-0")
	for i := 1; i < 5; i++ {
		cl.create(newPod(fmt.Sprint("p-", i), schedulerName("packer"), requests("cpu", "1", "memory", "1Gi")))
		if n := cl.bound(fmt.Sprint("p-", i)); n != first {
			t.Errorf("p-%d on %s, want %s (bin-packed)", i, n, first)
		}
	}
	cl.create(newPod("ignored", schedulerName("someone-else")))
	cl.settle(newPod("marker"))
	p, _ := cl.c.Pods().Get(cl.ctx(), "default", "ignored")
	if p.GetSpec().GetNodeName() != "" || condition(p, "PodScheduled") != nil {
		t.Errorf("a pod for another scheduler was touched: node %q conditions %v", p.GetSpec().GetNodeName(), p.GetStatus().GetConditions())
	}
}

// Pods with a higher spec.priority are scheduled first.
func TestPriority(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, sim.Config{Nodes: 1, CPU: "1"}, "")
	// Fill the node, queue low then high, then free the node: high wins.
	cl.create(newPod("filler", requests("cpu", "1")))
	cl.running("filler")
	low, high := newPod("low", requests("cpu", "1")), newPod("high", requests("cpu", "1"))
	prio := int32(1000)
	high.Spec.Priority = &prio
	cl.create(low, high)
	cl.unschedulable("low")
	cl.unschedulable("high")
	// Let both back-offs (1s after their first attempt) end, so that both
	// are active again when room appears, and priority decides.
	time.Sleep(scheduler.InitialBackoff + 200*time.Millisecond)
	if _, err := cl.c.Pods().Delete(cl.ctx(), "default", "filler", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if n := cl.bound("high"); n != "sim-00000" {
		t.Errorf("high on %q", n)
	}
	if p, _ := cl.c.Pods().Get(cl.ctx(), "default", "low"); p.GetSpec().GetNodeName() != "" {
		t.Errorf("low was bound to %s, though high has the higher priority", p.GetSpec().GetNodeName())
	}
}

func resourceVersion(t *testing.T, s string) int64 {
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// NodeInfos hands out copies of the scheduler's nodes, with the pods it
// counts on them, once it has listed the cluster.
func TestNodeInfos(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, sim.Config{Nodes: 3}, "")
	cl.create(newPod("web"))
	node := cl.bound("web")
	nodes, err := cl.sched.NodeInfos(cl.ctx())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range nodes {
		names = append(names, n.Name)
		var pods []string
		for _, p := range n.Pods {
			pods = append(pods, p.Key)
		}
		if want := n.Name == node; slices.Contains(pods, "default/web") != want {
			t.Errorf("node %s counts pods %v; web is on %s", n.Name, pods, node)
		}
	}
	slices.Sort(names)
	if fmt.Sprint(names) != "[sim-00000 sim-00001 sim-00002]" {
		t.Errorf("nodes %v", names)
	}
	again, err := cl.sched.NodeInfos(cl.ctx())
	if err != nil || len(again) != len(nodes) || again[0] == nodes[0] || again[0].Generation != nodes[0].Generation {
		t.Errorf("a second call: %d nodes (%v); want new copies of the same versions", len(again), err)
	}
}
