package client

import (
	"testing"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// richPod sets a field of most kinds a Pod has: maps, repeated messages,
// optional scalars, enums-as-strings, timestamps, nested messages.
func richPod(name string, labels map[string]string) *wharfv1.Pod {
	grace := int64(45)
	return &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{
			Name: name, Namespace: "team-ä", Uid: "0c3a6c52-5f0e-4a3e-9d7c-3f1f6d0b7a11", ResourceVersion: "42",
			Generation: 3, Labels: labels, Annotations: map[string]string{"gpu.wharf.dev/models": "NVIDIA H100 80GB HBM3"},
			CreationTimestamp: timestamppb.New(timestamppb.Now().AsTime()), Finalizers: []string{"wharf.dev/a", "wharf.dev/b"},
			OwnerReferences: []*wharfv1.OwnerReference{{Kind: "PodGroup", Name: "g", Uid: "u"}},
		},
		Spec: &wharfv1.PodSpec{
			NodeName: "gpu-7", RestartPolicy: "OnFailure", TerminationGracePeriodSeconds: &grace,
			NodeSelector: map[string]string{"nvidia.com/gpu.present": "true"},
			Tolerations:  []*wharfv1.Toleration{{Key: "nvidia.com/gpu", Operator: "Exists", Effect: "NoSchedule"}},
			Containers: []*wharfv1.Container{{
				Name: "train", Image: "trainer:1", Command: []string{"python"}, Args: []string{"-m", "train"},
				Env:       []*wharfv1.EnvVar{{Name: "EPOCHS", Value: "3"}},
				Ports:     []*wharfv1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: "TCP"}},
				Resources: &wharfv1.ResourceRequirements{Requests: map[string]string{"cpu": "2"}, Limits: map[string]string{"nvidia.com/gpu": "8"}},
			}},
		},
		Status: &wharfv1.PodStatus{
			Phase: "Running", PodIp: "10.88.3.4", PodIps: []*wharfv1.PodIP{{Ip: "10.88.3.4"}},
			Conditions:        []*wharfv1.PodCondition{{Type: "Ready", Status: "True", LastTransitionTime: timestamppb.Now()}},
			ContainerStatuses: []*wharfv1.ContainerStatus{{Name: "train", Ready: true, RestartCount: 2}},
		},
	}
}

// The generated decoder gives what protobuf-go gives, unknown fields
// included (a newer server's fields survive an older client), and the
// generated encoder's bytes decode with protobuf-go to the same message.
func TestCodecMatchesProtobufGo(t *testing.T) {
	pod := richPod("p", map[string]string{"app": "train", "tier": "gpu"})
	b, err := proto.Marshal(pod)
	if err != nil {
		t.Fatal(err)
	}
	b = protowire.AppendTag(b, 999, protowire.BytesType)
	b = protowire.AppendString(b, "from a newer server")

	var want, got wharfv1.Pod
	if err := proto.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if err := (codec{}).Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&got, &want) {
		t.Fatalf("generated decoder:\n%v\nprotobuf-go:\n%v", &got, &want)
	}
	if len(got.ProtoReflect().GetUnknown()) == 0 {
		t.Error("the unknown field was dropped")
	}

	enc, err := (codec{}).Marshal(&got)
	if err != nil {
		t.Fatal(err)
	}
	var back wharfv1.Pod
	if err := proto.Unmarshal(enc, &back); err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(&back, &want) {
		t.Fatalf("generated encoder round trip:\n%v\nwant:\n%v", &back, &want)
	}
}

// Decoding into a message that holds something replaces it, as
// protobuf-go's Unmarshal does (the generated decoder alone would merge).
func TestCodecUnmarshalReplaces(t *testing.T) {
	var msg wharfv1.Pod
	for _, p := range []*wharfv1.Pod{
		richPod("first", map[string]string{"app": "a", "only-in-first": "x"}),
		richPod("second", map[string]string{"app": "b"}),
	} {
		b, err := proto.Marshal(p)
		if err != nil {
			t.Fatal(err)
		}
		if err := (codec{}).Unmarshal(b, &msg); err != nil {
			t.Fatal(err)
		}
		if !proto.Equal(&msg, p) {
			t.Fatalf("decoded %v; want %v", &msg, p)
		}
	}
}

// A message without generated code goes through protobuf-go, and what is
// not a protobuf message is refused with its type.
func TestCodecFallsBack(t *testing.T) {
	v := structpb.NewStringValue("x")
	b, err := (codec{}).Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var got structpb.Value
	if err := (codec{}).Unmarshal(b, &got); err != nil || got.GetStringValue() != "x" {
		t.Fatalf("got %v, %v", &got, err)
	}
	if _, err := (codec{}).Marshal(struct{}{}); err == nil {
		t.Error("marshalled a struct{}")
	}
	if err := (codec{}).Unmarshal(b, &struct{}{}); err == nil {
		t.Error("unmarshalled into a struct{}")
	}
}

// go test -bench CodecUnmarshal ./sdk/client: the codec against
// protobuf-go on a pod as informers receive them.
func BenchmarkCodecUnmarshal(b *testing.B) {
	raw, err := proto.Marshal(richPod("p", map[string]string{"app": "train"}))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("decoder=protobuf-go", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p wharfv1.Pod
			if err := proto.Unmarshal(raw, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("decoder=codec", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var p wharfv1.Pod
			if err := (codec{}).Unmarshal(raw, &p); err != nil {
				b.Fatal(err)
			}
		}
	})
}
