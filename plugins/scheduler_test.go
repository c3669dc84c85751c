package plugins

import (
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	"github.com/wharfhq/wharf/plugins/wasm"
)

// TestEncodeNode: the hand-made SchedulerNode encoding decodes to the
// node as docs/abi.md describes it, and a pod placed on the node changes
// the accounting but leaves the node object's bytes as they were.
func TestEncodeNode(t *testing.T) {
	node := &wharfv1.Node{
		Metadata: &wharfv1.ObjectMeta{Name: "gpu-1", Labels: map[string]string{"zone": "a"}},
		Spec:     &wharfv1.NodeSpec{Taints: []*wharfv1.Taint{{Key: "nvidia.com/gpu", Value: "present", Effect: "NoSchedule"}}},
		Status: &wharfv1.NodeStatus{
			Allocatable: map[string]string{"cpu": "64", "memory": "512Gi", "nvidia.com/gpu": "2", "example.com/fpga": "1"},
			Gpus: []*wharfv1.GPUDevice{
				{Index: 0, Model: "NVIDIA H100 80GB HBM3", MemoryMib: 81559},
				{Index: 1, Model: "NVIDIA H100 80GB HBM3", MemoryMib: 81559},
			},
			Conditions: []*wharfv1.NodeCondition{{Type: "Ready", Status: "True"}},
		},
	}
	ni, err := framework.NewNodeInfo(node)
	if err != nil {
		t.Fatal(err)
	}
	r := &nodeRef{id: 7}
	decode := func() (*pluginv1.SchedulerNode, []byte) {
		t.Helper()
		enc, err := r.encode(ni)
		if err != nil {
			t.Fatal(err)
		}
		sn := &pluginv1.SchedulerNode{}
		b := append(append([]byte{0x08, 7}, enc.Object...), enc.Accounting...) // id 7
		if err := proto.Unmarshal(b, sn); err != nil || enc.ID != 7 {
			t.Fatalf("id %d, %v", enc.ID, err)
		}
		return sn, r.enc
	}
	before, objBytes := decode()
	want := &pluginv1.SchedulerNode{
		Id:          7,
		Node:        slimNode(node),
		Allocatable: map[string]int64{"cpu": 64000, "memory": 512 << 30, "nvidia.com/gpu": 2, "pods": framework.DefaultMaxPods, "example.com/fpga": 1},
		Requested:   map[string]int64{},
	}
	if !proto.Equal(before, want) {
		t.Fatalf("decoded\n%v\nwant\n%v", before, want)
	}
	if before.GetNode().GetStatus().GetConditions() != nil {
		t.Error("conditions sent")
	}
	pod := &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: "train", Namespace: "default"},
		Spec: &wharfv1.PodSpec{Containers: []*wharfv1.Container{{Name: "main", Image: "trainer:1",
			Resources: &wharfv1.ResourceRequirements{Requests: map[string]string{"cpu": "8"}, Limits: map[string]string{"nvidia.com/gpu": "1"}}}}},
	}
	pi, err := framework.NewPodInfo(pod)
	if err != nil {
		t.Fatal(err)
	}
	ni.AddPod(pi)
	after, objBytesAfter := decode()
	if string(objBytesAfter) != string(objBytes) {
		t.Error("the node object's bytes changed with a pod placed on the node")
	}
	if after.GetRequested()["cpu"] != 8000 || after.GetRequested()["nvidia.com/gpu"] != 1 || len(after.GetAllocatedGpus()) != 1 {
		t.Errorf("requested %v, allocated GPUs %v", after.GetRequested(), after.GetAllocatedGpus())
	}
}

// TestEncodeNodeOnceAVersion: the node object is encoded once a version
// (uid and resourceVersion): another NodeInfo made from a copy of it, as
// after the scheduler re-lists, or from another snapshot, reuses the
// encoding; a new version is encoded again.
func TestEncodeNodeOnceAVersion(t *testing.T) {
	node := &wharfv1.Node{
		Metadata: &wharfv1.ObjectMeta{Name: "n1", Uid: "u1", ResourceVersion: "5"},
		Status:   &wharfv1.NodeStatus{Allocatable: map[string]string{"cpu": "4", "memory": "8Gi"}},
	}
	r := &nodeRef{id: 1}
	encode := func(n *wharfv1.Node) []byte {
		t.Helper()
		ni, err := framework.NewNodeInfo(n)
		if err != nil {
			t.Fatal(err)
		}
		enc, err := r.encode(ni)
		if err != nil {
			t.Fatal(err)
		}
		return enc.Object
	}
	first := encode(node)
	if again := encode(proto.Clone(node).(*wharfv1.Node)); &again[0] != &first[0] {
		t.Error("a copy of the same version was encoded again")
	}
	changed := proto.Clone(node).(*wharfv1.Node)
	changed.Metadata.ResourceVersion = "6"
	changed.Metadata.Labels = map[string]string{"zone": "b"}
	got := encode(changed)
	if &got[0] == &first[0] {
		t.Fatal("a new version kept the old encoding")
	}
	sn := &pluginv1.SchedulerNode{}
	if err := proto.Unmarshal(got, sn); err != nil || sn.GetNode().GetMetadata().GetLabels()["zone"] != "b" {
		t.Errorf("new version decodes to %v (%v), want its label zone=b", sn.GetNode(), err)
	}
}

// TestNodeCacheIDs: a node's id for the module is its NodeInfo.ID when
// that is free, and NodeInfos of another snapshot whose ids collide get
// ids of their own.
func TestNodeCacheIDs(t *testing.T) {
	snap, err := framework.NewSnapshot([]*wharfv1.Node{testNode("a"), testNode("b"), testNode("c")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	other, err := framework.NewSnapshot([]*wharfv1.Node{testNode("x")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newNodeCache()
	mod := &wasm.Module{}
	got, err := c.refs(mod, snap.Nodes(), nil)
	if err != nil || fmt.Sprint(got) != "[0 1 2]" {
		t.Fatalf("ids %v (%v), want the NodeInfo ids [0 1 2]", got, err)
	}
	got, err = c.refs(mod, append(other.Nodes(), snap.Nodes()[1]), nil)
	if err != nil || fmt.Sprint(got) != "[3 1]" {
		t.Fatalf("ids %v (%v), want x (NodeInfo id 0, taken) at 3 and b at 1", got, err)
	}
	// Again from the map, not the NodeInfo id.
	if got, _ = c.refs(mod, other.Nodes(), nil); fmt.Sprint(got) != "[3]" {
		t.Errorf("x has id %v, want 3", got)
	}
}

// TestNodeCacheKnownRefs: with the IDs and Generations the framework
// recorded (CycleState.Feasible), a call finds the same ids as from the
// NodeInfos, and a node whose generation is not the one sent is sent
// again; refs of another length are not used.
func TestNodeCacheKnownRefs(t *testing.T) {
	snap, err := framework.NewSnapshot([]*wharfv1.Node{testNode("a"), testNode("b"), testNode("c")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	nodes := snap.Nodes()
	known := framework.NodeRefs{}
	for _, n := range nodes {
		known.IDs, known.Gens = append(known.IDs, n.ID), append(known.Gens, n.Generation)
	}
	c := newNodeCache()
	mod := &wasm.Module{}
	got, err := c.refsOf(mod, nodes, known, nil)
	if err != nil || fmt.Sprint(got) != "[0 1 2]" {
		t.Fatalf("ids %v (%v), want [0 1 2]", got, err)
	}
	c.gens[1] = -7 // as if b had been sent at another generation
	if got, err = c.refsOf(mod, nodes, known, got); err != nil || fmt.Sprint(got) != "[0 1 2]" || c.gens[1] != nodes[1].Generation {
		t.Errorf("ids %v (%v), b's generation %d; want [0 1 2] and b sent again (%d)", got, err, c.gens[1], nodes[1].Generation)
	}
	c.gens[2] = -7
	short := framework.NodeRefs{IDs: known.IDs[:2], Gens: known.Gens[:2]}
	if got, err = c.refsOf(mod, nodes, short, nil); err != nil || fmt.Sprint(got) != "[0 1 2]" || c.gens[2] != nodes[2].Generation {
		t.Errorf("with refs of 2 nodes for 3: ids %v (%v), c's generation %d; want [0 1 2] and c sent again (%d)", got, err, c.gens[2], nodes[2].Generation)
	}
}

// TestNodeCacheSweep: a node that no call names for nodeIdle is dropped
// and its id freed; a node named since the last sweep stays; a dropped
// node named again is sent again.
func TestNodeCacheSweep(t *testing.T) {
	snap, err := framework.NewSnapshot([]*wharfv1.Node{testNode("a"), testNode("b")}, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := newNodeCache()
	mod := &wasm.Module{}
	c.lastSweep = time.Now().Add(-2 * time.Minute) // this call sweeps
	if _, err := c.refs(mod, snap.Nodes(), nil); err != nil {
		t.Fatal(err)
	}
	for i := range int(nodeIdle / time.Minute) {
		if c.byName["b"] == nil {
			t.Fatalf("b dropped after %d idle minutes, want %v", i, nodeIdle)
		}
		c.lastSweep = time.Now().Add(-2 * time.Minute)
		if _, err := c.refs(mod, snap.Nodes()[:1], nil); err != nil {
			t.Fatal(err)
		}
	}
	if c.byName["b"] != nil || c.byName["a"] == nil {
		t.Fatalf("cached nodes %v, want a alone", slices.Sorted(maps.Keys(c.byName)))
	}
	b := snap.Nodes()[1]
	if c.gens[b.ID] != -1 {
		t.Errorf("b's id %d still holds generation %d", b.ID, c.gens[b.ID])
	}
	ids, err := c.refs(mod, snap.Nodes(), nil)
	if err != nil || fmt.Sprint(ids) != "[0 1]" || c.gens[1] != b.Generation {
		t.Errorf("ids %v (%v), generation at b's id %d; want [0 1] and b sent again (%d)", ids, err, c.gens[1], b.Generation)
	}
}

func testNode(name string) *wharfv1.Node {
	return &wharfv1.Node{
		Metadata: &wharfv1.ObjectMeta{Name: name},
		Status:   &wharfv1.NodeStatus{Allocatable: map[string]string{"cpu": "4", "memory": "8Gi"}},
	}
}

// A new version of a plugin on the same module (new settings) keeps the
// node cache, whose nodes the module's instances hold; a new module starts
// afresh.
func TestNewSettingsKeepNodes(t *testing.T) {
	obj := &wharfv1.Plugin{Metadata: &wharfv1.ObjectMeta{Name: "p"}, Spec: &wharfv1.PluginSpec{ScoreWeight: 1}}
	mod := &wasm.Module{}
	first := newVersion(obj, mod, "k", nil)
	obj.Spec.ScoreWeight = 2
	if again := newVersion(obj, mod, "k", first); again.nodes != first.nodes || again.weight != 2 {
		t.Errorf("new settings on the same module: node cache kept %v, weight %d", again.nodes == first.nodes, again.weight)
	}
	if upgraded := newVersion(obj, &wasm.Module{}, "k2", first); upgraded.nodes == first.nodes {
		t.Error("a new module kept the old module's node cache")
	}
}
