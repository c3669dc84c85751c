package plugin

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin/abi"
)

// FuzzDecodeSchedRequest: the hand-written request decoder never panics
// and agrees with proto.Unmarshal on what both accept.
func FuzzDecodeSchedRequest(f *testing.F) {
	seed, _ := proto.Marshal(&pluginv1.ScoreRequest{
		Pod: &wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: "p", Namespace: "ns",
			Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"x": "y"}}},
		Nodes:       []uint32{0, 1, 200, 70000},
		PodRequests: map[string]int64{"cpu": 1500, "nvidia.com/gpu": 2},
		NodeUpdate:  &pluginv1.NodeUpdate{Accounting: []*pluginv1.NodeAccounting{{Id: 200, Requested: map[string]int64{"cpu": 500}}}},
	})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		var pod Pod
		var fields schedFields
		err := decodeSchedRequest(b, &pod, &fields)
		var ids []uint32
		for _, f := range fields.ids {
			ids = appendIDs(ids, f)
		}
		want := &pluginv1.ScoreRequest{}
		if err != nil || proto.Unmarshal(b, want) != nil {
			return
		}
		if (len(fields.updates) > 0) != (want.GetNodeUpdate() != nil) {
			t.Fatalf("%d node updates; proto says %v", len(fields.updates), want.GetNodeUpdate())
		}
		if len(ids) != len(want.GetNodes()) {
			t.Fatalf("%d ids; proto says %d", len(ids), len(want.GetNodes()))
		}
		for i := range ids {
			if ids[i] != want.GetNodes()[i] {
				t.Fatalf("id %d: %d; proto says %d", i, ids[i], want.GetNodes()[i])
			}
		}
		m := want.GetPod().GetMetadata()
		// One by one first, from the encoded metadata, then decoded.
		for k, v := range m.GetLabels() {
			if got, ok := pod.Label(k); !ok || got != v {
				t.Fatalf("Label(%q) = %q, %v; proto says %q", k, got, ok, v)
			}
		}
		for k, v := range m.GetAnnotations() {
			if got, ok := pod.Annotation(k); !ok || got != v {
				t.Fatalf("Annotation(%q) = %q, %v; proto says %q", k, got, ok, v)
			}
		}
		if _, ok := pod.Annotation("not/there"); ok != hasKey(m.GetAnnotations(), "not/there") {
			t.Fatalf("Annotation(not/there) found: %v", ok)
		}
		if pod.Name() != m.GetName() || pod.Namespace() != m.GetNamespace() || len(pod.Labels()) != len(m.GetLabels()) || len(pod.Annotations()) != len(m.GetAnnotations()) {
			t.Fatalf("pod %s/%s %v %v; proto says %v", pod.Namespace(), pod.Name(), pod.Labels(), pod.Annotations(), m)
		}
		for k, v := range m.GetLabels() {
			if pod.Labels()[k] != v {
				t.Fatalf("label %s: %q; proto says %q", k, pod.Labels()[k], v)
			}
		}
		if len(pod.Requests()) != len(want.GetPodRequests()) {
			t.Fatalf("requests %v; proto says %v", pod.Requests(), want.GetPodRequests())
		}
		for k, v := range want.GetPodRequests() {
			if pod.Request(k) != v || pod.Requests()[k] != v {
				t.Fatalf("request %s: %d (map: %d); proto says %d", k, pod.Request(k), pod.Requests()[k], v)
			}
		}
		if pod.err != nil {
			t.Fatalf("decoding error %v for bytes proto accepts", pod.err)
		}
	})
}

// FuzzDecodeSchedulerNode: the node decoder agrees with proto.Unmarshal
// on the fields the host sends.
func FuzzDecodeSchedulerNode(f *testing.F) {
	seed, _ := proto.Marshal(&pluginv1.SchedulerNode{
		Id: 7,
		Node: &wharfv1.Node{
			Metadata: &wharfv1.ObjectMeta{Name: "n", Uid: "u", Labels: map[string]string{"zone": "a"}},
			Spec:     &wharfv1.NodeSpec{Unschedulable: true, Taints: []*wharfv1.Taint{{Key: "k", Value: "v", Effect: "NoSchedule"}}},
			Status: &wharfv1.NodeStatus{Allocatable: map[string]string{"cpu": "4"},
				Gpus: []*wharfv1.GPUDevice{{Index: 1, Model: "L4", MemoryMib: 24000, NumaNode: -1}}},
		},
		Allocatable:   map[string]int64{"cpu": 4000},
		Requested:     map[string]int64{"cpu": 1000},
		AllocatedGpus: []int32{1},
	})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := decodeSchedulerNode(b)
		want := &pluginv1.SchedulerNode{}
		if err != nil || proto.Unmarshal(b, want) != nil {
			return
		}
		if got.ID != want.GetId() || got.GetMetadata().GetName() != want.GetNode().GetMetadata().GetName() ||
			len(got.GetStatus().GetGpus()) != len(want.GetNode().GetStatus().GetGpus()) ||
			len(got.GetSpec().GetTaints()) != len(want.GetNode().GetSpec().GetTaints()) ||
			len(got.Allocatable.Map()) != len(want.GetAllocatable()) || len(got.Requested.Map()) != len(want.GetRequested()) || len(got.AllocatedGPUs) != len(want.GetAllocatedGpus()) {
			t.Fatalf("decoded %v; proto says %v", got, want)
		}
	})
}

// FuzzDecodeAccounting: the accounting decoder agrees with
// proto.Unmarshal.
func FuzzDecodeAccounting(f *testing.F) {
	seed, _ := proto.Marshal(&pluginv1.NodeAccounting{Id: 300, Requested: map[string]int64{"cpu": 1000, "x": -1}, AllocatedGpus: []int32{1, 200}})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		var a accountedNode // its buffers, or allocations where they are too small
		got := &a.Node
		id, err := decodeAccounting(b, got, a.enc[:], a.gpus[:])
		want := &pluginv1.NodeAccounting{}
		if err != nil || proto.Unmarshal(b, want) != nil {
			return
		}
		if id != want.GetId() || !reflect.DeepEqual(got.AllocatedGPUs, want.GetAllocatedGpus()) || len(got.Requested.Map()) != len(want.GetRequested()) {
			t.Fatalf("decoded %d %v %v; proto says %v", id, got.Requested.Map(), got.AllocatedGPUs, want)
		}
		for k, v := range want.GetRequested() {
			if got.Requested.Get(k) != v || got.Requested.Map()[k] != v {
				t.Fatalf("requested %s: %d (map %d); proto says %d", k, got.Requested.Get(k), got.Requested.Map()[k], v)
			}
		}
		if got.Requested.Get("not/there") != want.GetRequested()["not/there"] {
			t.Fatalf("requested not/there: %d", got.Requested.Get("not/there"))
		}
	})
}

// preparer counts PrepareNode calls.
type preparer struct{ prepared int }

func (p *preparer) Score(*Pod, []*Node, []int64) error { return nil }
func (p *preparer) PrepareNode(n *Node)                { p.prepared++; n.Scratch = p.prepared }

// TestUpdateNodesAccounting: an accounting-only update makes a new
// version of the node with the new accounting, sharing the node object
// and allocatable with the version before, and prepared again; one for a
// node the guest does not have is an error.
func TestUpdateNodesAccounting(t *testing.T) {
	impl := &preparer{}
	g, err := newGuest(Info{Name: "acct", Version: "1"}, impl)
	if err != nil {
		t.Fatal(err)
	}
	update := func(up *pluginv1.NodeUpdate) string {
		t.Helper()
		return updateNodes(t, g, up)
	}
	if e := update(&pluginv1.NodeUpdate{Reset_: true, Upserts: []*pluginv1.SchedulerNode{{
		Id:          3,
		Node:        &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: "n", Labels: map[string]string{"zone": "a"}}},
		Allocatable: map[string]int64{"cpu": 4000, "nvidia.com/gpu": 8},
		Requested:   map[string]int64{"cpu": 1000},
	}}}); e != "" {
		t.Fatal(e)
	}
	first := g.node(3)
	if e := update(&pluginv1.NodeUpdate{Accounting: []*pluginv1.NodeAccounting{
		{Id: 3, Requested: map[string]int64{"cpu": 2000, "nvidia.com/gpu": 2}, AllocatedGpus: []int32{0, 5}},
	}}); e != "" {
		t.Fatal(e)
	}
	second := g.node(3)
	if second == first || second.Node != first.Node || reflect.ValueOf(second.Allocatable.Map()).Pointer() != reflect.ValueOf(first.Allocatable.Map()).Pointer() {
		t.Errorf("the new version does not share the node object and allocatable")
	}
	if second.ID != 3 || second.Requested.Get("cpu") != 2000 || second.Requested.Get("nvidia.com/gpu") != 2 || second.Free("nvidia.com/gpu") != 6 ||
		!reflect.DeepEqual(second.AllocatedGPUs, []int32{0, 5}) || first.Requested.Get("cpu") != 1000 {
		t.Errorf("requested %v, allocated %v (first version's requested %v)", second.Requested.Map(), second.AllocatedGPUs, first.Requested.Map())
	}
	if second.Scratch != 2 || impl.prepared != 2 {
		t.Errorf("scratch %v after %d PrepareNode calls, want the second", second.Scratch, impl.prepared)
	}
	if e := update(&pluginv1.NodeUpdate{Accounting: []*pluginv1.NodeAccounting{{Id: 4}}}); !strings.Contains(e, "node id 4") {
		t.Errorf("accounting for an unknown node: error %q", e)
	}
	// Accounting with other changes (not the one-accounting fast path).
	if e := update(&pluginv1.NodeUpdate{
		Upserts:    []*pluginv1.SchedulerNode{{Id: 5, Node: &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: "m"}}}},
		Accounting: []*pluginv1.NodeAccounting{{Id: 3, Requested: map[string]int64{"cpu": 3000}}},
	}); e != "" {
		t.Fatal(e)
	}
	third := g.node(3)
	if third == second || third.Node != first.Node || third.Requested.Get("cpu") != 3000 || len(third.AllocatedGPUs) != 0 || g.node(5) == nil {
		t.Errorf("after accounting with an upsert: node 3 requests %v, allocated %v; node 5 %v", third.Requested.Map(), third.AllocatedGPUs, g.node(5))
	}
	if e := update(&pluginv1.NodeUpdate{Upserts: []*pluginv1.SchedulerNode{{Id: 6}}, Accounting: []*pluginv1.NodeAccounting{{Id: 4}}}); !strings.Contains(e, "node id 4") || g.node(6) != nil {
		t.Errorf("accounting for an unknown node with an upsert: error %q, node 6 %v (want nothing applied)", e, g.node(6))
	}
	// Several accountings and nothing else: all applied, or none.
	prepared := impl.prepared
	if e := update(&pluginv1.NodeUpdate{Accounting: []*pluginv1.NodeAccounting{
		{Id: 3, Requested: map[string]int64{"cpu": 4000}, AllocatedGpus: []int32{7}},
		{Id: 5, Requested: map[string]int64{"cpu": 500}},
	}}); e != "" {
		t.Fatal(e)
	}
	fourth, m := g.node(3), g.node(5)
	if fourth == third || fourth.Node != first.Node || fourth.Requested.Get("cpu") != 4000 || !reflect.DeepEqual(fourth.AllocatedGPUs, []int32{7}) ||
		m.Requested.Get("cpu") != 500 || m.GetMetadata().GetName() != "m" || impl.prepared != prepared+2 {
		t.Errorf("after two accountings: node 3 requests %v, allocated %v; node 5 requests %v; %d PrepareNode calls, want 2",
			fourth.Requested.Map(), fourth.AllocatedGPUs, m.Requested.Map(), impl.prepared-prepared)
	}
	if e := update(&pluginv1.NodeUpdate{Accounting: []*pluginv1.NodeAccounting{
		{Id: 3, Requested: map[string]int64{"cpu": 1}},
		{Id: 4},
	}}); !strings.Contains(e, "node id 4") || g.node(3) != fourth {
		t.Errorf("two accountings, one for an unknown node: error %q, node 3 requests %v (want nothing applied)", e, g.node(3).Requested.Map())
	}
}

func TestSkipResponse(t *testing.T) {
	want, _ := proto.Marshal(&pluginv1.ScoreResponse{Skip: true})
	if string(skipResponse) != string(want) {
		t.Errorf("skipResponse %x; proto says %x", skipResponse, want)
	}
}

// idScorer scores a node by its id.
type idScorer struct{ byNodes int }

func (s *idScorer) Score(pod *Pod, nodes []*Node, scores []int64) error {
	s.byNodes++
	for i, n := range nodes {
		scores[i] = int64(n.ID) % 100
	}
	return nil
}

func (s *idScorer) ScoreIDs(pod *Pod, ids []uint32, scores []int64) error {
	for i, id := range ids {
		scores[i] = int64(id) % 100
	}
	return nil
}

// namedNode is a SchedulerNode with id, named n<id>.
func namedNode(id uint32) *pluginv1.SchedulerNode {
	return &pluginv1.SchedulerNode{Id: id, Node: &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: fmt.Sprint("n", id)}}}
}

// updateNodes sends g a NodeUpdate and returns the response's error.
func updateNodes(t *testing.T, g *guest, up *pluginv1.NodeUpdate) string {
	t.Helper()
	b, err := proto.Marshal(up)
	if err != nil {
		t.Fatal(err)
	}
	resp := &pluginv1.NodeUpdateResponse{}
	if err := proto.Unmarshal(g.Call(abi.ExportNodes, b), resp); err != nil {
		t.Fatal(err)
	}
	return resp.GetError()
}

// callScore runs a score call on g and decodes its response.
func callScore(t *testing.T, g *guest, req *pluginv1.ScoreRequest) *pluginv1.ScoreResponse {
	t.Helper()
	b, _ := proto.Marshal(req)
	resp := &pluginv1.ScoreResponse{}
	if err := proto.Unmarshal(g.Call(abi.ExportScore, b), resp); err != nil {
		t.Fatal(err)
	}
	return resp
}

// TestScoreIDs: an IDScorer is scored by id, and only over ids of nodes
// the guest holds.
func TestScoreIDs(t *testing.T) {
	impl := &idScorer{}
	g, err := newGuest(Info{Name: "ids", Version: "1"}, impl)
	if err != nil {
		t.Fatal(err)
	}
	up := &pluginv1.NodeUpdate{Reset_: true}
	for _, id := range []uint32{3, 7, 200} {
		up.Upserts = append(up.Upserts, namedNode(id))
	}
	updateNodes(t, g, up)
	score := func(ids ...uint32) *pluginv1.ScoreResponse {
		t.Helper()
		return callScore(t, g, &pluginv1.ScoreRequest{Pod: &wharfv1.Pod{}, Nodes: ids})
	}
	if got := score(200, 3, 7).GetScores(); fmt.Sprint(got) != "[0 3 7]" {
		t.Errorf("scores %v, want [0 3 7]", got)
	}
	if resp := score(3, 8); !strings.Contains(resp.GetError(), "node id 8 is unknown") {
		t.Errorf("error %q, want node id 8 unknown", resp.GetError())
	}
	updateNodes(t, g, &pluginv1.NodeUpdate{Removed: []uint32{7}})
	if resp := score(3, 7); !strings.Contains(resp.GetError(), "node id 7 is unknown") {
		t.Errorf("after node 7 was removed: %v, want node id 7 unknown", resp)
	}
	if got := score(200, 3).GetScores(); fmt.Sprint(got) != "[0 3]" {
		t.Errorf("scores %v after a removal, want [0 3]", got)
	}
	updateNodes(t, g, &pluginv1.NodeUpdate{Reset_: true, Upserts: up.Upserts[:1]})
	if resp := score(3, 200); !strings.Contains(resp.GetError(), "node id 200 is unknown") {
		t.Errorf("after a reset to node 3 alone: %v, want node id 200 unknown", resp)
	}
	if impl.byNodes != 0 {
		t.Errorf("Score called %d times; want ScoreIDs only", impl.byNodes)
	}
}

// byteScorer scores a node by its id, as bytes; over is a score to give
// node 7 instead.
type byteScorer struct {
	idScorer
	over  byte
	bytes int
}

func (s *byteScorer) ScoreIDBytes(pod *Pod, ids []uint32, out []byte) error {
	s.bytes++
	if pod.Name() == "skip" {
		return ErrSkip
	}
	for i, id := range ids {
		if out[i] != 0 {
			return fmt.Errorf("out[%d] arrived as %d, not zero", i, out[i])
		}
		out[i] = byte(id % 100)
		if id == 7 && s.over != 0 {
			out[i] = s.over
		}
	}
	return nil
}

// TestScoreIDBytes: an IDByteScorer's scores go into the response as they
// are, over nodes the guest holds; a score over 100 fails the call,
// naming the node; ErrSkip skips.
func TestScoreIDBytes(t *testing.T) {
	impl := &byteScorer{}
	g, err := newGuest(Info{Name: "bytes", Version: "1"}, impl)
	if err != nil {
		t.Fatal(err)
	}
	up := &pluginv1.NodeUpdate{Reset_: true}
	var all []uint32
	for id := range uint32(300) {
		up.Upserts = append(up.Upserts, namedNode(id))
		all = append(all, (id*7)%300)
	}
	updateNodes(t, g, up)
	score := func(name string, ids ...uint32) *pluginv1.ScoreResponse {
		t.Helper()
		return callScore(t, g, &pluginv1.ScoreRequest{Pod: &wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: name}}, Nodes: ids})
	}
	for range 2 { // the second time in the buffers of the first
		resp := score("p", all...)
		if len(resp.GetScores()) != len(all) || resp.GetError() != "" {
			t.Fatalf("%d scores, error %q; want %d", len(resp.GetScores()), resp.GetError(), len(all))
		}
		for i, id := range all {
			if resp.GetScores()[i] != int64(id%100) {
				t.Fatalf("score %d of node %d; want %d", resp.GetScores()[i], id, id%100)
			}
		}
	}
	if resp := score("p", 3, 301); !strings.Contains(resp.GetError(), "node id 301 is unknown") {
		t.Errorf("error %q, want node id 301 unknown", resp.GetError())
	}
	if resp := score("skip", 3, 7); !resp.GetSkip() || len(resp.GetScores()) != 0 {
		t.Errorf("ErrSkip answered %v; want skip", resp)
	}
	for _, over := range []byte{101, 128, 255} {
		impl.over = over
		if resp := score("p", all...); !strings.Contains(resp.GetError(), fmt.Sprintf(`score %d for node "n7" is outside [0, 100]`, over)) {
			t.Errorf("score %d: error %q, want it named", over, resp.GetError())
		}
	}
	if impl.byNodes != 0 || impl.bytes != 6 {
		t.Errorf("Score called %d times, ScoreIDBytes %d; want ScoreIDBytes only", impl.byNodes, impl.bytes)
	}
}

// TestCheckIDs: the id check agrees with the nodes the guest holds,
// whether they leave no gap below the highest id (the check then compares
// ids with the count, eight at a time) or do, through upserts, accounting,
// removals and resets.
func TestCheckIDs(t *testing.T) {
	g, err := newGuest(Info{Name: "ids", Version: "1"}, &idScorer{})
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(3, 4))
	apply := func(up *pluginv1.NodeUpdate) {
		t.Helper()
		b, _ := proto.Marshal(up)
		if err := g.applyNodes(b); err != nil {
			t.Fatal(err)
		}
	}
	dense := 0
	for round := range 200 {
		up := &pluginv1.NodeUpdate{Reset_: round%50 == 0}
		span := 100 // ids from 0 to 99, or beyond now and then
		if rng.IntN(8) == 0 {
			span = 120
		}
		for range rng.IntN(20) {
			up.Upserts = append(up.Upserts, namedNode(uint32(rng.IntN(span))))
		}
		if round%2 == 0 {
			for id := range uint32(max(100, len(g.nodes))) {
				up.Upserts = append(up.Upserts, namedNode(id)) // no gap
			}
		}
		if rng.IntN(4) == 0 {
			up.Removed = append(up.Removed, uint32(rng.IntN(130)))
		}
		apply(up)
		if held := g.node(0); held != nil {
			apply(&pluginv1.NodeUpdate{Accounting: []*pluginv1.NodeAccounting{{Id: 0, Requested: map[string]int64{"cpu": int64(round)}}}})
		}
		if g.held == len(g.nodes) {
			dense++
		}
		for range 20 {
			ids := make([]uint32, rng.IntN(40))
			for i := range ids {
				ids[i] = uint32(rng.IntN(len(g.nodes) + 2))
				if rng.IntN(50) == 0 {
					ids[i] = 1<<31 + ids[i]
				}
			}
			want := true
			for _, id := range ids {
				want = want && g.node(id) != nil
			}
			if err := g.checkIDs(ids); (err == nil) != want {
				t.Fatalf("round %d, %d of %d ids held (no gap: %v), ids %v: error %v; want ok %v", round, g.held, len(g.nodes), g.held == len(g.nodes), ids, err, want)
			}
		}
	}
	if dense < 40 || dense > 180 {
		t.Fatalf("%d of 200 rounds with no gap; want both kinds", dense)
	}
}

// TestOverMaxScore: the first byte over MaxScore is found wherever it is,
// whatever comes before and after (bytes that carry into the next one
// when the check takes eight at a time).
func TestOverMaxScore(t *testing.T) {
	for n := range 20 {
		for pos := -1; pos < n; pos++ {
			for _, bad := range []byte{101, 127, 128, 229, 255} {
				for _, fill := range []byte{0, 99, 100} {
					b := bytes.Repeat([]byte{fill}, n)
					if pos >= 0 {
						b[pos] = bad
						if pos+1 < n {
							b[pos+1] = 255 // after the first: must not hide it
						}
					}
					if got := overMaxScore(b); got != pos {
						t.Fatalf("%v: %d; want %d", b, got, pos)
					}
				}
			}
		}
	}
}

// TestDecodeSchedulerNodeOwnsStrings: the decoded node's strings stay as
// they were when the request buffer is written again.
func TestDecodeSchedulerNodeOwnsStrings(t *testing.T) {
	b, _ := proto.Marshal(&pluginv1.SchedulerNode{Id: 1, Node: &wharfv1.Node{
		Metadata: &wharfv1.ObjectMeta{Name: "node-a", Labels: map[string]string{"zone": "a"}},
		Status:   &wharfv1.NodeStatus{Capacity: map[string]string{"cpu": "4"}, Gpus: []*wharfv1.GPUDevice{{Model: "L4"}, {Model: "L4"}}},
	}})
	n, err := decodeSchedulerNode(b)
	if err != nil {
		t.Fatal(err)
	}
	clear(b)
	if n.GetMetadata().GetName() != "node-a" || n.GetMetadata().GetLabels()["zone"] != "a" ||
		n.GetStatus().GetCapacity()["cpu"] != "4" || len(n.GetStatus().GetGpus()) != 2 || n.GetStatus().GetGpus()[1].GetModel() != "L4" {
		t.Errorf("decoded node changed with the buffer: %v", n.Node)
	}
}

// selectiveScorer scores by Requested["cpu"] and selects only pods named
// "mine".
type selectiveScorer struct{}

func (s *selectiveScorer) SelectsPod(p *Pod) bool { return p.Name() == "mine" }

func (s *selectiveScorer) Score(pod *Pod, nodes []*Node, scores []int64) error {
	for i, n := range nodes {
		scores[i] = n.Requested.Get("cpu") / 1000
	}
	return nil
}

// TestInlineNodeUpdate: the node update a Filter or Score request carries
// is applied before the call, also when the plugin does not select the
// pod, and applying it twice changes nothing; a malformed one fails the
// call and applies nothing.
func TestInlineNodeUpdate(t *testing.T) {
	g, err := newGuest(Info{Name: "inline", Version: "1"}, &selectiveScorer{})
	if err != nil {
		t.Fatal(err)
	}
	node := func(id uint32, cpu int64) *pluginv1.SchedulerNode {
		return &pluginv1.SchedulerNode{Id: id, Node: &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: fmt.Sprint("n", id)}}, Requested: map[string]int64{"cpu": cpu}}
	}
	score := func(name string, up *pluginv1.NodeUpdate, ids ...uint32) *pluginv1.ScoreResponse {
		t.Helper()
		return callScore(t, g, &pluginv1.ScoreRequest{Pod: &wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: name}}, Nodes: ids, NodeUpdate: up})
	}
	if got := score("mine", &pluginv1.NodeUpdate{Reset_: true, Upserts: []*pluginv1.SchedulerNode{node(1, 1000), node(2, 2000)}}, 2, 1); fmt.Sprint(got.GetScores()) != "[2 1]" || got.GetError() != "" {
		t.Fatalf("first call: %v, want scores [2 1] from the nodes it carried", got)
	}
	// Not selected: skipped, and the update applied all the same.
	acct := &pluginv1.NodeUpdate{Accounting: []*pluginv1.NodeAccounting{{Id: 1, Requested: map[string]int64{"cpu": 5000}}}}
	if got := score("other", acct, 1, 2); !got.GetSkip() {
		t.Fatalf("pod not selected: %v, want skip", got)
	}
	for range 2 { // the same update again: same state
		if got := score("mine", acct, 1, 2); fmt.Sprint(got.GetScores()) != "[5 2]" {
			t.Fatalf("after the accounting update: %v, want [5 2]", got)
		}
	}
	// One accounting for a node the guest never had: the call fails, and
	// the update's other changes are not applied.
	bad := &pluginv1.NodeUpdate{Accounting: []*pluginv1.NodeAccounting{{Id: 2, Requested: map[string]int64{"cpu": 9000}}, {Id: 9}}}
	if got := score("mine", bad, 1, 2); !strings.Contains(got.GetError(), "node id 9") {
		t.Fatalf("bad update: %v, want an error naming node id 9", got)
	}
	if got := score("mine", nil, 1, 2); fmt.Sprint(got.GetScores()) != "[5 2]" {
		t.Fatalf("after the bad update: %v, want [5 2] (nothing of it applied)", got)
	}
}

// TestMalformedPodFailsTheCall: a pod the SDK cannot decode when the
// plugin asks for it fails the call instead of passing as an empty pod.
func TestMalformedPodFailsTheCall(t *testing.T) {
	g, err := newGuest(Info{Name: "bad-pod", Version: "1"}, &selectiveScorer{})
	if err != nil {
		t.Fatal(err)
	}
	req := protowire.AppendBytes(protowire.AppendTag(nil, 1, protowire.BytesType), []byte{0x0a, 0x05, 0x0a}) // metadata cut short
	resp := &pluginv1.ScoreResponse{}
	if err := proto.Unmarshal(g.Call(abi.ExportScore, req), resp); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(resp.GetError(), "the pod's encoding") {
		t.Errorf("response %v, want an error about the pod's encoding", resp)
	}
}

func hasKey(m map[string]string, k string) bool { _, ok := m[k]; return ok }

// TestPodResourcesSelect: a plugin whose Info names PodResources has no
// opinion on pods that request none of them, also when the host calls it
// for one.
func TestPodResourcesSelect(t *testing.T) {
	g, err := newGuest(Info{Name: "gpus-only", Version: "1", PodResources: []string{"nvidia.com/gpu", "example.com/fpga"}}, &idScorer{})
	if err != nil {
		t.Fatal(err)
	}
	if got := g.md.GetPodResources(); fmt.Sprint(got) != "[nvidia.com/gpu example.com/fpga]" {
		t.Errorf("metadata podResources %v", got)
	}
	up, _ := proto.Marshal(&pluginv1.NodeUpdate{Reset_: true, Upserts: []*pluginv1.SchedulerNode{{Id: 42, Node: &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: "n"}}}}})
	g.Call(abi.ExportNodes, up)
	for _, tc := range []struct {
		requests map[string]int64
		skip     bool
	}{
		{map[string]int64{"cpu": 1000, "pods": 1}, true},
		{map[string]int64{"cpu": 1000, "example.com/fpga": 1}, false},
		{map[string]int64{"nvidia.com/gpu": 2}, false},
	} {
		b, _ := proto.Marshal(&pluginv1.ScoreRequest{Pod: &wharfv1.Pod{}, Nodes: []uint32{42}, PodRequests: tc.requests})
		resp := &pluginv1.ScoreResponse{}
		if err := proto.Unmarshal(g.Call(abi.ExportScore, b), resp); err != nil {
			t.Fatal(err)
		}
		if resp.GetSkip() != tc.skip || resp.GetError() != "" {
			t.Errorf("pod requesting %v: %v, want skip %v", tc.requests, resp, tc.skip)
		}
	}
	if _, err := newGuest(Info{Name: "bad", Version: "1", PodResources: []string{"a gpu"}}, &idScorer{}); err == nil || !strings.Contains(err.Error(), `"a gpu" is not a resource name`) {
		t.Errorf("a bad resource name: %v", err)
	}
}

// labelScorer scores 1 where the pod has label "x", and records what the
// pod's methods said.
type labelScorer struct{ seen []string }

func (s *labelScorer) Score(pod *Pod, nodes []*Node, scores []int64) error {
	v, ok := pod.Label("x")
	s.seen = append(s.seen, fmt.Sprintf("%s:%v:%d:%d", v, ok, len(pod.Labels()), len(pod.Annotations())))
	return nil
}

// TestPodNotKeptAcrossCalls: the SDK reuses the Pod and its maps from
// call to call; nothing of one pod shows through the next, also when the
// next request has no pod at all.
func TestPodNotKeptAcrossCalls(t *testing.T) {
	impl := &labelScorer{}
	g, err := newGuest(Info{Name: "labels", Version: "1"}, impl)
	if err != nil {
		t.Fatal(err)
	}
	up, _ := proto.Marshal(&pluginv1.NodeUpdate{Reset_: true, Upserts: []*pluginv1.SchedulerNode{{Id: 1, Node: &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: "n"}}}}})
	g.Call(abi.ExportNodes, up)
	for _, p := range []*wharfv1.Pod{
		{Metadata: &wharfv1.ObjectMeta{Labels: map[string]string{"x": "1", "y": "2"}, Annotations: map[string]string{"a": "b"}}},
		nil,
		{Metadata: &wharfv1.ObjectMeta{Labels: map[string]string{"y": "3"}}},
	} {
		b, _ := proto.Marshal(&pluginv1.ScoreRequest{Pod: p, Nodes: []uint32{1}})
		g.Call(abi.ExportScore, b)
	}
	if got := fmt.Sprint(impl.seen); got != "[1:true:2:1 :false:0:0 :false:1:0]" {
		t.Errorf("seen %s, want [1:true:2:1 :false:0:0 :false:1:0]", got)
	}
}

type keepingScorer struct{ kept []string }

func (s *keepingScorer) Score(pod *Pod, nodes []*Node, scores []int64) error {
	v, _ := pod.Annotation("model")
	s.kept = append(s.kept, v) // against the doc's advice: must still hold
	return nil
}

// TestAnnotationValuesAcrossCalls: the values Label and Annotation return
// are right from call to call, when they repeat (the SDK returns the
// string it returned before) and when more distinct values come than it
// remembers; and a value a plugin keeps does not change with later calls.
func TestAnnotationValuesAcrossCalls(t *testing.T) {
	impl := &keepingScorer{}
	g, err := newGuest(Info{Name: "keep", Version: "1"}, impl)
	if err != nil {
		t.Fatal(err)
	}
	up, _ := proto.Marshal(&pluginv1.NodeUpdate{Reset_: true, Upserts: []*pluginv1.SchedulerNode{{Id: 1, Node: &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: "n"}}}}})
	g.Call(abi.ExportNodes, up)
	var want []string
	for i := range 20 {
		v := fmt.Sprintf("model-%d", []int{0, 0, 1, 2, 3, 4, 5, 1, 0, 6}[i%10])
		if i%7 == 6 {
			v = "" // no annotation
		}
		want = append(want, v)
		meta := &wharfv1.ObjectMeta{Name: "p"}
		if v != "" {
			meta.Annotations = map[string]string{"model": v}
		}
		b, _ := proto.Marshal(&pluginv1.ScoreRequest{Pod: &wharfv1.Pod{Metadata: meta}, Nodes: []uint32{1}})
		if resp := g.Call(abi.ExportScore, b); len(resp) > 0 && resp[0] != 0x0a {
			t.Fatalf("call %d: %x", i, resp)
		}
	}
	if got := fmt.Sprint(impl.kept); got != fmt.Sprint(want) {
		t.Errorf("kept %v\nwant %v", got, want)
	}
}
