package wasm

import (
	"bytes"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/dynamicpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// testObj and testAcct encode a node object and accounting as
// EncodedNode has them.
func testObj(name string) []byte {
	b, _ := proto.Marshal(&pluginv1.SchedulerNode{Node: &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: name}}})
	return b
}

func testAcct(cpu int64) []byte {
	b, _ := proto.Marshal(&pluginv1.SchedulerNode{Requested: map[string]int64{"cpu": cpu}})
	return b
}

func decodeUpdate(t *testing.T, b []byte) *pluginv1.NodeUpdate {
	t.Helper()
	up := &pluginv1.NodeUpdate{}
	if err := proto.Unmarshal(b, up); err != nil {
		t.Fatalf("delta %x: %v", b, err)
	}
	return up
}

// describe is a NodeUpdate in short: R (reset), u<id>:<name>:<cpu> per
// upsert, a<id>:<cpu> per accounting, r<id> per removal.
func describe(up *pluginv1.NodeUpdate) string {
	var s []string
	if up.GetReset_() {
		s = append(s, "R")
	}
	for _, n := range up.GetUpserts() {
		s = append(s, fmt.Sprintf("u%d:%s:%d", n.GetId(), n.GetNode().GetMetadata().GetName(), n.GetRequested()["cpu"]))
	}
	for _, a := range up.GetAccounting() {
		s = append(s, fmt.Sprintf("a%d:%d", a.GetId(), a.GetRequested()["cpu"]))
	}
	for _, id := range up.GetRemoved() {
		s = append(s, fmt.Sprintf("r%d", id))
	}
	return fmt.Sprint(s)
}

// TestNodeLogDeltaPerInstance: instances behind by the same changes each
// get all of them, not only the first one brought up to date.
func TestNodeLogDeltaPerInstance(t *testing.T) {
	var l nodeLog
	l.set(0, testObj("a"), testAcct(0))
	l.set(1, testObj("b"), testAcct(0))
	_, seq := l.delta(nil, 0) // both instances start from a full update
	l.set(0, testObj("a"), testAcct(1))
	l.set(1, testObj("b"), testAcct(1))
	l.remove(1)
	first, s1 := l.delta(nil, seq)
	second, s2 := l.delta(nil, seq)
	if s1 != l.seq || s2 != l.seq {
		t.Fatalf("seqs %d, %d; want %d", s1, s2, l.seq)
	}
	if len(first) == 0 || !bytes.Equal(first, second) {
		t.Fatalf("the second instance's delta %x differs from the first's %x", second, first)
	}
	if got := describe(decodeUpdate(t, first)); got != "[a0:1 r1]" {
		t.Errorf("delta %s: want node 0's latest accounting and node 1 removed", got)
	}
}

// TestNodeLogAccounting: an instance that has a node's object receives
// only its accounting when that alone changed, and the whole node when
// the object changed in between, or the id went to another node.
func TestNodeLogAccounting(t *testing.T) {
	var l nodeLog
	l.set(0, testObj("a"), testAcct(0))
	l.set(1, testObj("b"), testAcct(0))
	l.set(2, testObj("c"), testAcct(0))
	full, seq := l.delta(nil, 0)
	if got := describe(decodeUpdate(t, full)); got != "[R u0:a:0 u1:b:0 u2:c:0]" {
		t.Fatalf("full update %s", got)
	}
	l.set(0, testObj("a"), testAcct(5))  // a pod placed on a
	l.set(1, testObj("b2"), testAcct(0)) // b's labels changed
	l.set(1, testObj("b2"), testAcct(7)) // then a pod placed on it
	l.remove(2)
	l.set(2, testObj("d"), testAcct(3)) // c's id goes to d
	l.set(2, testObj("d"), testAcct(3)) // no change: nothing logged
	d, seq2 := l.delta(nil, seq)
	if got := describe(decodeUpdate(t, d)); got != "[u2:d:3 u1:b2:7 a0:5]" {
		t.Errorf("delta %s, want b and d whole, a's accounting", got)
	}
	l.set(1, testObj("b2"), testAcct(8))
	if d, _ := l.delta(nil, seq2); describe(decodeUpdate(t, d)) != "[a1:8]" {
		t.Errorf("delta %s, want b's accounting", describe(decodeUpdate(t, d)))
	}
}

// TestNextNodeChunk: a full update splits into NodeUpdates of whole
// fields, reset in the first, that add up to the whole.
func TestNextNodeChunk(t *testing.T) {
	var l nodeLog
	for id := range uint32(100) {
		l.set(id, bytes.Repeat([]byte{byte(id)}, 100), nil)
	}
	full, _ := l.delta(nil, 0)
	var joined []byte
	chunks := 0
	for rest := full; len(rest) > 0; chunks++ {
		var c []byte
		c, rest = nextNodeChunk(rest, 1000)
		if len(c) == 0 || len(c) > 1000 {
			t.Fatalf("chunk %d has %d bytes", chunks, len(c))
		}
		if (c[0] == 0x08) != (chunks == 0) {
			t.Errorf("chunk %d: reset where it should not be, or missing", chunks)
		}
		joined = append(joined, c...)
	}
	if chunks < 10 || !bytes.Equal(joined, full) {
		t.Errorf("%d chunks; joined equal: %v", chunks, bytes.Equal(joined, full))
	}
}

// TestPodRequest: a Filter/Score request as the host writes it by hand
// decodes to the pod, its requests and the node ids, whether the pod's
// message has generated marshalling (api/'s do) or goes through
// protobuf-go (a dynamic message).
func TestPodRequest(t *testing.T) {
	pod := &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: "p", Namespace: "ns", Uid: "u-1", CreationTimestamp: timestamppb.New(time.Unix(1700000000, 5)),
			Labels: map[string]string{"a": "b", "c": "d"}, Annotations: map[string]string{"gpu.wharf.dev/models": "NVIDIA H100 80GB HBM3"}},
		Spec: &wharfv1.PodSpec{
			Containers: []*wharfv1.Container{{Name: "main", Image: "trainer:1.0", Args: []string{"--epochs", "3"},
				Resources: &wharfv1.ResourceRequirements{Requests: map[string]string{"cpu": "1500m", "memory": "1Gi"}, Limits: map[string]string{"nvidia.com/gpu": "2"}}}},
			Tolerations: []*wharfv1.Toleration{{Key: "nvidia.com/gpu", Operator: "Exists", Effect: "NoSchedule"}},
		},
	}
	dyn := dynamicpb.NewMessage(pod.ProtoReflect().Descriptor())
	proto.Merge(dyn, pod)
	requests := map[string]int64{"cpu": 1500, "memory": 1 << 30, "nvidia.com/gpu": 2, "pods": 1, "x": -1}
	for name, msg := range map[string]proto.Message{"generated": pod, "dynamic": dyn} {
		t.Run(name, func(t *testing.T) {
			p, err := EncodePod(msg, requests)
			if err != nil {
				t.Fatal(err)
			}
			ids := []uint32{0, 7, 300, 1 << 20}
			got := &pluginv1.ScoreRequest{}
			if err := proto.Unmarshal(p.request(nil, ids), got); err != nil {
				t.Fatal(err)
			}
			want := &pluginv1.ScoreRequest{Pod: pod, Nodes: ids, PodRequests: requests}
			if !proto.Equal(got, want) {
				t.Errorf("decoded %v\nwant %v", got, want)
			}
		})
	}
}
