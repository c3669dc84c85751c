package plugin

import (
	"reflect"
	"testing"

	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// FuzzDecodeSchedRequest: the hand-written request decoder never panics
// and agrees with proto.Unmarshal on what both accept.
func FuzzDecodeSchedRequest(f *testing.F) {
	seed, _ := proto.Marshal(&pluginv1.ScoreRequest{
		Pod: &wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: "p", Namespace: "ns",
			Labels: map[string]string{"a": "b"}, Annotations: map[string]string{"x": "y"}}},
		Nodes:       []uint32{0, 1, 200, 70000},
		PodRequests: map[string]int64{"cpu": 1500, "nvidia.com/gpu": 2},
	})
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		pod := Pod{Labels: map[string]string{}, Annotations: map[string]string{}, Requests: map[string]int64{}}
		ids, err := decodeSchedRequest(b, &pod, nil)
		want := &pluginv1.ScoreRequest{}
		if err != nil || proto.Unmarshal(b, want) != nil {
			return
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
		if pod.Name != m.GetName() || pod.Namespace != m.GetNamespace() || len(pod.Labels) != len(m.GetLabels()) || len(pod.Annotations) != len(m.GetAnnotations()) {
			t.Fatalf("pod %+v; proto says %v", pod, m)
		}
		for k, v := range want.GetPodRequests() {
			if pod.Requests[k] != v {
				t.Fatalf("request %s: %d; proto says %d", k, pod.Requests[k], v)
			}
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
		got, err := decodeSchedulerNode(b, nil)
		want := &pluginv1.SchedulerNode{}
		if err != nil || proto.Unmarshal(b, want) != nil {
			return
		}
		if got.ID != want.GetId() || got.GetMetadata().GetName() != want.GetNode().GetMetadata().GetName() ||
			len(got.GetStatus().GetGpus()) != len(want.GetNode().GetStatus().GetGpus()) ||
			len(got.GetSpec().GetTaints()) != len(want.GetNode().GetSpec().GetTaints()) ||
			len(got.Allocatable) != len(want.GetAllocatable()) || len(got.AllocatedGPUs) != len(want.GetAllocatedGpus()) {
			t.Fatalf("decoded %v; proto says %v", got, want)
		}
	})
}

// TestDecodeSchedulerNodeShares: a version whose node object and
// allocatable arrive unchanged shares them with the version before; a
// changed one does not.
func TestDecodeSchedulerNodeShares(t *testing.T) {
	sn := &pluginv1.SchedulerNode{
		Id:          3,
		Node:        &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: "n", Labels: map[string]string{"zone": "a"}}},
		Allocatable: map[string]int64{"cpu": 4000, "nvidia.com/gpu": 8},
		Requested:   map[string]int64{"cpu": 1000},
	}
	enc := func() []byte {
		b, err := proto.MarshalOptions{Deterministic: true}.Marshal(sn)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	first, err := decodeSchedulerNode(enc(), nil)
	if err != nil {
		t.Fatal(err)
	}
	prev := func(id uint32) *Node {
		if id == first.ID {
			return first
		}
		return nil
	}
	sn.Requested["cpu"] = 2000
	sn.AllocatedGpus = []int32{0, 1}
	second, err := decodeSchedulerNode(enc(), prev)
	if err != nil {
		t.Fatal(err)
	}
	if second.Node != first.Node || reflect.ValueOf(second.Allocatable).Pointer() != reflect.ValueOf(first.Allocatable).Pointer() {
		t.Errorf("unchanged node object or allocatable decoded again")
	}
	if second.Requested["cpu"] != 2000 || len(second.AllocatedGPUs) != 2 || first.Requested["cpu"] != 1000 {
		t.Errorf("requested %v, allocated %v (first version's requested %v)", second.Requested, second.AllocatedGPUs, first.Requested)
	}
	sn.Node.Metadata.Labels["zone"] = "b"
	sn.Allocatable["cpu"] = 8000
	third, err := decodeSchedulerNode(enc(), prev)
	if err != nil {
		t.Fatal(err)
	}
	if third.Node == first.Node || third.GetMetadata().GetLabels()["zone"] != "b" || third.Allocatable["cpu"] != 8000 {
		t.Errorf("a changed node object or allocatable was not decoded: %v %v", third.GetMetadata().GetLabels(), third.Allocatable)
	}
}

func TestSkipResponse(t *testing.T) {
	want, _ := proto.Marshal(&pluginv1.ScoreResponse{Skip: true})
	if string(skipResponse) != string(want) {
		t.Errorf("skipResponse %x; proto says %x", skipResponse, want)
	}
}
