package manifest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// sampleObjects covers every kind, with status, optional zero values,
// timestamps and strings YAML would otherwise read as something else.
func sampleObjects() []proto.Message {
	at := timestamppb.New(time.Date(2024, 5, 1, 12, 0, 0, 123456789, time.UTC))
	pod := wantPod()
	pod.Metadata.CreationTimestamp = at
	pod.Metadata.Generation = 3
	pod.Metadata.DeletionGracePeriodSeconds = proto.Int64(0)
	pod.Spec.Containers[0].Env = append(pod.Spec.Containers[0].Env,
		&wharfv1.EnvVar{Name: "TRICKY", Value: "yes"},
		&wharfv1.EnvVar{Name: "NUMBER", Value: "0x10"},
		&wharfv1.EnvVar{Name: "NULL", Value: "~"},
		&wharfv1.EnvVar{Name: "MULTILINE", Value: "line one\nline two\n  indented\n"},
		&wharfv1.EnvVar{Name: "SPACES", Value: "  padded  "},
		&wharfv1.EnvVar{Name: "UNICODE", Value: "naïve — ☃ \u2028 \t tab"},
		&wharfv1.EnvVar{Name: "DOCSEP", Value: "---"},
		&wharfv1.EnvVar{Name: "EMPTY", Value: ""},
		&wharfv1.EnvVar{Name: "TABS", Value: "\t\n\tindented with a tab\n"},
		&wharfv1.EnvVar{Name: "CRLF", Value: "dos\r\nlines\r\n"},
	)
	pod.Spec.SecurityContext = &wharfv1.PodSecurityContext{RunAsNonRoot: proto.Bool(false), SupplementalGroups: []int64{1, -2}}
	pod.Status = &wharfv1.PodStatus{
		Phase:     "Running",
		PodIp:     "10.0.0.1",
		StartTime: at,
		ContainerStatuses: []*wharfv1.ContainerStatus{{
			Name:        "train",
			ContainerId: "containerd://abc",
			Started:     proto.Bool(true),
			State:       &wharfv1.ContainerState{Running: &wharfv1.ContainerStateRunning{StartedAt: at}},
		}},
	}
	node := &wharfv1.Node{
		Metadata: &wharfv1.ObjectMeta{Name: "gpu-1", Labels: map[string]string{"true": "false", "": "empty key"}},
		Spec:     &wharfv1.NodeSpec{Unschedulable: true, Taints: []*wharfv1.Taint{{Key: "k", Effect: "NoSchedule", TimeAdded: at}}},
		Status: &wharfv1.NodeStatus{
			Capacity: map[string]string{"cpu": "8", "nvidia.com/gpu": "4", "memory": "32Gi"},
			Gpus:     []*wharfv1.GPUDevice{{Index: 0, MemoryMib: 81559, NumaNode: -1}},
		},
	}
	ns := &wharfv1.Namespace{Metadata: &wharfv1.ObjectMeta{Name: "ml"}, Spec: &wharfv1.NamespaceSpec{}, Status: &wharfv1.NamespaceStatus{Phase: "Active"}}
	ev := &wharfv1.Event{
		Metadata:       &wharfv1.ObjectMeta{Name: "trainer.1", Namespace: "ml"},
		InvolvedObject: &wharfv1.ObjectReference{Kind: "Pod", Name: "trainer", ApiVersion: "v1"},
		Reason:         "Scheduled",
		Message:        `bound to "gpu-1"`,
		Count:          1,
		FirstTimestamp: at,
		EventTime:      timestamppb.New(time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)),
	}
	return []proto.Message{pod, node, ns, ev}
}

func TestEncodeRoundTrip(t *testing.T) {
	t.Parallel()
	for _, format := range []string{FormatYAML, FormatJSON} {
		t.Run(format, func(t *testing.T) {
			t.Parallel()
			want := sampleObjects()
			for n := 1; n <= len(want); n++ {
				var buf bytes.Buffer
				if err := Encode(&buf, format, want[:n]...); err != nil {
					t.Fatal(err)
				}
				objs, err := Decode(&buf, "out")
				if err != nil {
					t.Fatalf("Decode of Encode's output: %v\n%s", err, buf.String())
				}
				if len(objs) != n {
					t.Fatalf("got %d objects, want %d", len(objs), n)
				}
				for i, o := range objs {
					assertEqual(t, o.Message, want[i])
				}
			}
		})
	}
}

func TestEncodeYAML(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	pod := &wharfv1.Pod{
		Status:   &wharfv1.PodStatus{Phase: "Pending"},
		Spec:     &wharfv1.PodSpec{Containers: []*wharfv1.Container{{Name: "c", Image: "nginx", Ports: []*wharfv1.ContainerPort{{ContainerPort: 80}}}}},
		Metadata: &wharfv1.ObjectMeta{Name: "web", Labels: map[string]string{"b": "2", "a": "1"}},
	}
	ns := &wharfv1.Namespace{Metadata: &wharfv1.ObjectMeta{Name: "ml"}}
	if err := Encode(&buf, FormatYAML, pod, ns); err != nil {
		t.Fatal(err)
	}
	want := `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    a: "1"
    b: "2"
spec:
  containers:
  - name: c
    image: nginx
    ports:
    - containerPort: 80
status:
  phase: Pending
---
apiVersion: v1
kind: Namespace
metadata:
  name: ml
`
	if buf.String() != want {
		t.Errorf("got\n%s\nwant\n%s", buf.String(), want)
	}
}

func TestEncodeJSON(t *testing.T) {
	t.Parallel()
	ns := &wharfv1.Namespace{Metadata: &wharfv1.ObjectMeta{Name: "ml", Labels: map[string]string{"a<b": "x"}, Generation: 2}}
	tests := []struct {
		name string
		objs []proto.Message
		want string
	}{
		{
			name: "one",
			objs: []proto.Message{ns},
			want: `{
  "apiVersion": "v1",
  "kind": "Namespace",
  "metadata": {
    "name": "ml",
    "generation": 2,
    "labels": {
      "a<b": "x"
    }
  }
}
`,
		},
		{
			name: "none",
			want: `{
  "apiVersion": "v1",
  "kind": "List",
  "items": []
}
`,
		},
		{
			name: "several",
			objs: []proto.Message{&wharfv1.Namespace{}, &wharfv1.Node{Spec: &wharfv1.NodeSpec{}}},
			want: `{
  "apiVersion": "v1",
  "kind": "List",
  "items": [
    {
      "apiVersion": "v1",
      "kind": "Namespace"
    },
    {
      "apiVersion": "v1",
      "kind": "Node",
      "spec": {}
    }
  ]
}
`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var buf bytes.Buffer
			if err := Encode(&buf, FormatJSON, tt.objs...); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", buf.String(), tt.want)
			}
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		format string
		obj    proto.Message
		want   string
	}{
		{"unknown_format", "xml", &wharfv1.Pod{}, `manifest: unknown format "xml"; want "yaml" or "json"`},
		{"nil", FormatYAML, nil, "manifest: cannot encode a nil object"},
		{"not_a_kind", FormatYAML, &wharfv1.PodSpec{}, "manifest: wharf.v1.PodSpec is not a kind the API serves"},
		{
			"invalid_timestamp", FormatJSON,
			&wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: "p", CreationTimestamp: &timestamppb.Timestamp{Seconds: -1 << 60}}},
			`manifest: Pod "p": metadata.creationTimestamp:`,
		},
		{
			"invalid_utf8", FormatYAML,
			&wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: "p", Labels: map[string]string{"a": "\xff"}}},
			`manifest: Pod "p": metadata.labels[a]: string is not valid UTF-8`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := Encode(&bytes.Buffer{}, tt.format, tt.obj)
			if err == nil || !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}
