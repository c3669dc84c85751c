package scorer

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin"
)

// refFit is the plain form of what the plugin computes for a node: how
// many free devices are of a wanted model (any, for none) and the memory
// of the smallest want of them, with the node's GPU memory in total and
// in use.
func refFit(n *plugin.Node, models []string, want int64) (count, memMiB, totalMiB, usedMiB int64) {
	var free []int64
	for _, d := range n.GetStatus().GetGpus() {
		totalMiB += d.GetMemoryMib()
		if slices.Contains(n.AllocatedGPUs, d.GetIndex()) {
			usedMiB += d.GetMemoryMib()
			continue
		}
		if len(models) == 0 || slices.ContainsFunc(models, func(m string) bool { return strings.EqualFold(m, d.GetModel()) }) {
			free = append(free, d.GetMemoryMib())
		}
	}
	slices.Sort(free)
	for i := int64(0); i < min(want, int64(len(free))); i++ {
		memMiB += free[i]
	}
	return int64(len(free)), memMiB, totalMiB, usedMiB
}

func refScore(n *plugin.Node, models []string, want, modelWeight, binpackWeight int64) int64 {
	count, mem, total, used := refFit(n, models, want)
	if total == 0 {
		return 0
	}
	var score int64
	if len(models) > 0 && count >= want {
		score += modelWeight
	}
	return min(score+binpackWeight*min(used+mem, total)/total, plugin.MaxScore)
}

// TestScoreMatchesReference: scores and filter verdicts of random nodes,
// their versions as pods come and go, and random pods agree with the
// plain computation, whether the nodes' flat entries suffice or not (free
// devices of several models, more than eight), before and after the
// weights change, and whether a pod's class has its score table yet or
// not (35 classes come, more than maxClasses are kept).
func TestScoreMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	models := []string{"NVIDIA H100 80GB HBM3", "NVIDIA A100-SXM4-40GB", "NVIDIA L4"}
	mems := []int64{81559, 40960, 23034, 0}
	g := New()
	var nodes []*plugin.Node
	for i := range 300 {
		obj := &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: fmt.Sprint("n", i)}, Status: &wharfv1.NodeStatus{}}
		gpus := []int{0, 1, 4, 8, 8, 8, 10, 16}[rng.IntN(8)]
		mixed := rng.IntN(4) == 0
		m := rng.IntN(len(models))
		for d := range gpus {
			if mixed {
				m = rng.IntN(len(models))
			}
			obj.Status.Gpus = append(obj.Status.Gpus, &wharfv1.GPUDevice{Index: int32(d), Model: models[m], MemoryMib: mems[rng.IntN(len(mems))]})
		}
		nodes = append(nodes, &plugin.Node{ID: uint32(i), Node: obj})
	}
	allocate := func(n *plugin.Node) *plugin.Node {
		v := &plugin.Node{ID: n.ID, Node: n.Node} // a new version: same object
		for _, d := range n.GetStatus().GetGpus() {
			if rng.IntN(3) == 0 {
				v.AllocatedGPUs = append(v.AllocatedGPUs, d.GetIndex())
			}
		}
		return v
	}
	modelWeight, binpackWeight := int64(60), int64(40)
	byTable := 0
	for round := range 20 {
		if round == 15 {
			if err := g.Configure([]byte(`{"modelWeight": 30, "binpackWeight": 70}`)); err != nil {
				t.Fatal(err)
			}
			modelWeight, binpackWeight = 30, 70
		}
		for i, n := range nodes {
			if round > 0 && round != 15 && rng.IntN(2) == 0 {
				nodes[i] = allocate(n)
			}
			if round != 15 { // Configure prepared them again
				g.PrepareNode(nodes[i])
			}
		}
		for range 20 {
			want := []int64{1, 1, 2, 4, 8, 10}[rng.IntN(6)]
			var wanted []string
			switch rng.IntN(4) {
			case 1:
				wanted = []string{strings.ToLower(models[rng.IntN(len(models))])}
			case 2:
				wanted = []string{models[0], models[rng.IntN(len(models))]}
			}
			obj := &wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Annotations: map[string]string{}}}
			if wanted != nil {
				obj.Metadata.Annotations[AnnotationModels] = strings.Join(wanted, ",")
			}
			pod := plugin.NewPod(obj, map[string]int64{resourceGPU: want})
			ids := make([]uint32, len(nodes))
			for i, n := range nodes {
				ids[i] = n.ID
			}
			scores := make([]int64, len(nodes))
			if err := g.ScoreIDs(pod, ids, scores); err != nil {
				t.Fatal(err)
			}
			if g.lastClass.table != nil {
				byTable++
			}
			if len(g.classes) > maxClasses {
				t.Fatalf("%d classes kept, more than %d", len(g.classes), maxClasses)
			}
			out := make([]plugin.Verdict, len(nodes))
			if err := g.Filter(pod, nodes, out); err != nil {
				t.Fatal(err)
			}
			for i, n := range nodes {
				if want := refScore(n, wanted, want, modelWeight, binpackWeight); scores[i] != want {
					t.Fatalf("round %d, node %d (%d GPUs, allocated %v), pod wants %d of %v: score %d, want %d",
						round, i, len(n.GetStatus().GetGpus()), n.AllocatedGPUs, want, wanted, scores[i], want)
				}
				count, _, _, _ := refFit(n, wanted, want)
				noGPUs := len(n.GetStatus().GetGpus()) == 0
				if rejected := noGPUs || count < want; out[i].Rejected != rejected {
					t.Fatalf("round %d, node %d, pod wants %d of %v: rejected %v (%v), want %v", round, i, want, wanted, out[i].Rejected, out[i].Reasons, rejected)
				}
			}
		}
	}
	// 35 classes in random order, more than maxClasses: tables are made
	// at most every buildEvery calls, and some dropped.
	if byTable < 40 || byTable > 360 {
		t.Fatalf("%d of 400 pods scored from a class's table; want some but not all", byTable)
	}
}

// TestClassTables: a class gets its table the second time it comes, if
// no table was made in the last buildEvery calls; at most maxClasses are
// kept, the least recently used dropped.
func TestClassTables(t *testing.T) {
	g := New()
	for i := range 100 {
		obj := &wharfv1.Node{Status: &wharfv1.NodeStatus{Gpus: []*wharfv1.GPUDevice{{Index: 0, Model: "L4", MemoryMib: 23034}}}}
		g.PrepareNode(&plugin.Node{ID: uint32(i), Node: obj})
	}
	ids := []uint32{3, 1, 4, 1, 5, 9, 2, 6}
	scores := make([]int64, len(ids))
	score := func(want int64) *podClass {
		t.Helper()
		pod := plugin.NewPod(&wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{}}, map[string]int64{resourceGPU: want})
		if err := g.ScoreIDs(pod, ids, scores); err != nil {
			t.Fatal(err)
		}
		return g.lastClass
	}
	if c := score(1); c.table != nil {
		t.Fatal("a table at the first pod of a class")
	}
	if c := score(1); c.table == nil || len(c.table) != 100 {
		t.Fatal("no table of every node at the second pod of a class")
	}
	score(2)
	if c := score(2); c.table != nil {
		t.Fatal("a second table within buildEvery calls")
	}
	for range buildEvery {
		score(1)
	}
	if c := score(2); c.table == nil {
		t.Fatalf("no table after %d calls", buildEvery)
	}
	for want := range int64(maxClasses + 4) {
		score(want + 10)
	}
	if len(g.classes) != maxClasses {
		t.Fatalf("%d classes kept; want %d", len(g.classes), maxClasses)
	}
	for _, c := range g.classes {
		if c.want < 10 {
			t.Fatalf("class of %d GPUs kept, not among the last %d", c.want, maxClasses)
		}
	}
}
