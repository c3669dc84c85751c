package wasm_test

import (
	"context"
	"slices"
	"testing"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	"github.com/wharfhq/wharf/plugins/wasm"
)

// TestNodeChangesReachCalls: node changes made between two calls reach the
// instance (inside the next call when they are few, through
// wharf_scheduler_nodes when many), and the instance scores as one that
// received every node at once.
func TestNodeChangesReachCalls(t *testing.T) {
	const nodes = 64
	m := loadGPUScore(t, "instrumented", nodes)
	pod := gpuPod(t)
	ctx := context.Background()
	score := func(m *wasm.Module) []int64 {
		t.Helper()
		out := make([]int64, nodes)
		if _, err := m.Score(ctx, pod, ids(nodes), out); err != nil {
			t.Fatal(err)
		}
		return out
	}
	before := score(m)

	// A few pods placed (accounting only), then a node's object changed
	// (its labels): both ride inside the call. Then every node's object
	// changed: too much for a call, it goes first.
	n3 := gpuNode(3)
	n3.AllocatedGpus, n3.Requested = []int32{0, 1, 2, 3, 4, 5, 6}, map[string]int64{"nvidia.com/gpu": 7}
	n5 := gpuNode(5)
	n5.Node.Metadata.Labels = map[string]string{"zone": "elsewhere"}
	n5.AllocatedGpus, n5.Requested = nil, nil
	steps := [][]*pluginv1.SchedulerNode{{n3}, {n5}}
	var many []*pluginv1.SchedulerNode
	for i := range nodes {
		n := gpuNode(i) // a new object: over inlineNodeBytes in all
		n.Node.Metadata.Labels = map[string]string{"zone": "moved"}
		n.AllocatedGpus, n.Requested = []int32{7}, map[string]int64{"nvidia.com/gpu": 1}
		many = append(many, n)
	}
	steps = append(steps, many)
	latest := map[uint32]*pluginv1.SchedulerNode{}
	for i := range nodes {
		latest[uint32(i)] = gpuNode(i)
	}
	for i, step := range steps {
		if err := m.UpdateNodes(step, nil); err != nil {
			t.Fatal(err)
		}
		for _, n := range step {
			latest[n.GetId()] = n
		}
		got := score(m)
		// A fresh module receives every node in one update.
		fresh := loadPkg(t, gpuScorePkg, "instrumented", 0)
		var all []*pluginv1.SchedulerNode
		for id := range uint32(nodes) {
			all = append(all, latest[id])
		}
		if err := fresh.UpdateNodes(all, nil); err != nil {
			t.Fatal(err)
		}
		settle(t, fresh, pod, nodes)
		if want := score(fresh); !slices.Equal(got, want) {
			t.Fatalf("step %d: scores %v; an instance sent every node at once scores %v", i, got, want)
		}
		if i == 0 && got[3] == before[3] {
			t.Errorf("node 3's score stayed %d after 7 of its GPUs were taken", got[3])
		}
	}
}
