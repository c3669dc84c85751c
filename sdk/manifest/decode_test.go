package manifest

import (
	"errors"
	"io"
	"os"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// wantPod is testdata/pod.yaml, field by field.
func wantPod() *wharfv1.Pod {
	return &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{
			Name:        "trainer",
			Namespace:   "ml",
			Labels:      map[string]string{"app": "trainer", "tier": "gpu"},
			Annotations: map[string]string{"example.com/owner": "platform-team"},
		},
		Spec: &wharfv1.PodSpec{
			RestartPolicy:                 "OnFailure",
			TerminationGracePeriodSeconds: proto.Int64(45),
			NodeSelector:                  map[string]string{"accelerator": "nvidia-h100"},
			Affinity: &wharfv1.Affinity{NodeAffinity: &wharfv1.NodeAffinity{
				RequiredDuringSchedulingIgnoredDuringExecution: &wharfv1.NodeSelector{
					NodeSelectorTerms: []*wharfv1.NodeSelectorTerm{{
						MatchExpressions: []*wharfv1.NodeSelectorRequirement{
							{Key: "kubernetes.io/arch", Operator: "In", Values: []string{"amd64"}},
						},
					}},
				},
				PreferredDuringSchedulingIgnoredDuringExecution: []*wharfv1.PreferredSchedulingTerm{{
					Weight: 50,
					Preference: &wharfv1.NodeSelectorTerm{MatchExpressions: []*wharfv1.NodeSelectorRequirement{
						{Key: "zone", Operator: "In", Values: []string{"eu-west-1a", "eu-west-1b"}},
					}},
				}},
			}},
			Tolerations: []*wharfv1.Toleration{
				{Key: "nvidia.com/gpu", Operator: "Exists", Effect: "NoSchedule"},
				{Key: "node.kubernetes.io/unreachable", Operator: "Exists", Effect: "NoExecute", TolerationSeconds: proto.Int64(300)},
			},
			Containers: []*wharfv1.Container{{
				Name:            "train",
				Image:           "ghcr.io/example/trainer:1.4",
				ImagePullPolicy: "IfNotPresent",
				Command:         []string{"python", "-m", "train"},
				Args:            []string{"--epochs=10", "--data=/data"},
				Env: []*wharfv1.EnvVar{
					{Name: "LOG_LEVEL", Value: "debug"},
					{Name: "POD_NAME", ValueFrom: &wharfv1.EnvVarSource{FieldRef: &wharfv1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
				},
				Ports: []*wharfv1.ContainerPort{{Name: "http", ContainerPort: 8080, Protocol: "TCP"}},
				Resources: &wharfv1.ResourceRequirements{
					Limits:   map[string]string{"cpu": "4", "memory": "16Gi", "nvidia.com/gpu": "2"},
					Requests: map[string]string{"cpu": "500m", "memory": "8Gi"},
				},
				LivenessProbe: &wharfv1.Probe{
					HttpGet:             &wharfv1.HTTPGetAction{Path: "/healthz", Port: "8080"},
					InitialDelaySeconds: 10,
					PeriodSeconds:       5,
				},
				ReadinessProbe: &wharfv1.Probe{
					HttpGet:          &wharfv1.HTTPGetAction{Path: "/ready", Port: "http"},
					FailureThreshold: 3,
				},
				VolumeMounts: []*wharfv1.VolumeMount{
					{Name: "scratch", MountPath: "/scratch"},
					{Name: "data", MountPath: "/data", ReadOnly: true},
				},
			}},
			Volumes: []*wharfv1.Volume{
				{Name: "scratch", EmptyDir: &wharfv1.EmptyDirVolumeSource{}},
				{Name: "data", HostPath: &wharfv1.HostPathVolumeSource{Path: "/mnt/data", Type: "Directory"}},
			},
		},
	}
}

func readFile(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func decodeString(t *testing.T, in string) []Object {
	t.Helper()
	objs, err := Decode(strings.NewReader(in), "test.yaml")
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	return objs
}

func assertEqual(t *testing.T, got, want proto.Message) {
	t.Helper()
	if !proto.Equal(got, want) {
		t.Errorf("got\n%s\nwant\n%s", prototext.Format(got), prototext.Format(want))
	}
}

func TestDecode(t *testing.T) {
	t.Parallel()
	ts := func(s string) *timestamppb.Timestamp {
		tm, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return timestamppb.New(tm)
	}
	tests := []struct {
		name string
		in   string
		want []proto.Message
	}{
		{
			name: "kubernetes_pod",
			in:   readFile(t, "testdata/pod.yaml"),
			want: []proto.Message{wantPod()},
		},
		{
			name: "namespace",
			in:   readFile(t, "testdata/namespace.yaml"),
			want: []proto.Message{&wharfv1.Namespace{Metadata: &wharfv1.ObjectMeta{Name: "ml", Labels: map[string]string{"team": "platform"}}}},
		},
		{
			name: "multi_document_with_empty_documents",
			in: "---\n# nothing here\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n" +
				"---\n~\n---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: b\n---\n",
			want: []proto.Message{
				&wharfv1.Namespace{Metadata: &wharfv1.ObjectMeta{Name: "a"}},
				&wharfv1.Namespace{Metadata: &wharfv1.ObjectMeta{Name: "b"}},
			},
		},
		{
			name: "empty_input",
			in:   "",
		},
		{
			name: "proto_field_names",
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  restart_policy: Never\n  node_selector: {a: b}\n",
			want: []proto.Message{&wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: "p"}, Spec: &wharfv1.PodSpec{RestartPolicy: "Never", NodeSelector: map[string]string{"a": "b"}}}},
		},
		{
			name: "json_name_overrides",
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nstatus:\n  podIP: 10.0.0.1\n  hostIP: 192.168.1.2\n  podIPs: [{ip: 10.0.0.1}]\n  containerStatuses:\n  - {name: c, containerID: 'containerd://abc', imageID: sha256:1}\n",
			want: []proto.Message{&wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: "p"}, Status: &wharfv1.PodStatus{
				PodIp: "10.0.0.1", HostIp: "192.168.1.2", PodIps: []*wharfv1.PodIP{{Ip: "10.0.0.1"}},
				ContainerStatuses: []*wharfv1.ContainerStatus{{Name: "c", ContainerId: "containerd://abc", ImageId: "sha256:1"}},
			}}},
		},
		{
			name: "node_quantities_timestamps_int64",
			in: `apiVersion: v1
kind: Node
metadata:
  name: gpu-1
  creationTimestamp: "2024-05-01T12:00:00Z"
  generation: 9007199254740993
spec:
  podCIDR: 10.1.0.0/24
  taints:
  - {key: k, effect: NoSchedule, timeAdded: 2024-05-01T12:00:00.5+02:00}
status:
  capacity: {cpu: 8, memory: 32Gi, pods: 110, nvidia.com/gpu: 4, ephemeral: 1.5}
  conditions:
  - type: Ready
    status: "True"
    lastHeartbeatTime: 2024-05-01
  gpus:
  - {index: 0, memoryMiB: 81559, numaNode: -1, pciBusID: "0000:1b:00.0"}
`,
			want: []proto.Message{&wharfv1.Node{
				Metadata: &wharfv1.ObjectMeta{Name: "gpu-1", CreationTimestamp: ts("2024-05-01T12:00:00Z"), Generation: 9007199254740993},
				Spec: &wharfv1.NodeSpec{PodCidr: "10.1.0.0/24", Taints: []*wharfv1.Taint{
					{Key: "k", Effect: "NoSchedule", TimeAdded: ts("2024-05-01T10:00:00.5Z")},
				}},
				Status: &wharfv1.NodeStatus{
					Capacity:   map[string]string{"cpu": "8", "memory": "32Gi", "pods": "110", "nvidia.com/gpu": "4", "ephemeral": "1.5"},
					Conditions: []*wharfv1.NodeCondition{{Type: "Ready", Status: "True", LastHeartbeatTime: ts("2024-05-01T00:00:00Z")}},
					Gpus:       []*wharfv1.GPUDevice{{Index: 0, MemoryMib: 81559, NumaNode: -1, PciBusId: "0000:1b:00.0"}},
				},
			}},
		},
		{
			name: "kubectl_dry_run_output",
			in: `apiVersion: v1
kind: Pod
metadata:
  creationTimestamp: null
  labels:
    run: web
  name: web
spec:
  containers:
  - image: nginx
    name: web
    resources: {}
  dnsPolicy: ClusterFirst
  restartPolicy: Always
status: {}
`,
			want: []proto.Message{&wharfv1.Pod{
				Metadata: &wharfv1.ObjectMeta{Name: "web", Labels: map[string]string{"run": "web"}},
				Spec: &wharfv1.PodSpec{
					Containers:    []*wharfv1.Container{{Name: "web", Image: "nginx", Resources: &wharfv1.ResourceRequirements{}}},
					DnsPolicy:     "ClusterFirst",
					RestartPolicy: "Always",
				},
				Status: &wharfv1.PodStatus{},
			}},
		},
		{
			name: "anchors_aliases_and_merge_keys",
			in: `apiVersion: v1
kind: Pod
metadata:
  name: p
  labels: &labels {app: web}
  annotations: *labels
spec:
  containers:
  - &base
    name: a
    image: img
    ports: [{containerPort: 80}]
  - <<: *base
    name: b
`,
			want: []proto.Message{&wharfv1.Pod{
				Metadata: &wharfv1.ObjectMeta{Name: "p", Labels: map[string]string{"app": "web"}, Annotations: map[string]string{"app": "web"}},
				Spec: &wharfv1.PodSpec{Containers: []*wharfv1.Container{
					{Name: "a", Image: "img", Ports: []*wharfv1.ContainerPort{{ContainerPort: 80}}},
					{Name: "b", Image: "img", Ports: []*wharfv1.ContainerPort{{ContainerPort: 80}}},
				}},
			}},
		},
		{
			name: "tcp_socket_port_number",
			in:   "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n  - name: c\n    startupProbe:\n      tcpSocket: {port: 5432}\n      grpc: {port: 9000}\n",
			want: []proto.Message{&wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: "p"}, Spec: &wharfv1.PodSpec{Containers: []*wharfv1.Container{{
				Name:         "c",
				StartupProbe: &wharfv1.Probe{TcpSocket: &wharfv1.TCPSocketAction{Port: "5432"}, Grpc: &wharfv1.GRPCAction{Port: 9000}},
			}}}}},
		},
		{
			name: "event",
			in:   "apiVersion: v1\nkind: Event\nmetadata: {name: e, namespace: default}\ninvolvedObject: {kind: Pod, name: p, apiVersion: v1}\nreason: Scheduled\ncount: 2\ntype: Normal\n",
			want: []proto.Message{&wharfv1.Event{
				Metadata:       &wharfv1.ObjectMeta{Name: "e", Namespace: "default"},
				InvolvedObject: &wharfv1.ObjectReference{Kind: "Pod", Name: "p", ApiVersion: "v1"},
				Reason:         "Scheduled", Count: 2, Type: "Normal",
			}},
		},
		{
			name: "json_object",
			in:   "\ufeff  {\"apiVersion\": \"v1\", \"kind\": \"Namespace\", \"metadata\": {\"name\": \"a\"}}\n",
			want: []proto.Message{&wharfv1.Namespace{Metadata: &wharfv1.ObjectMeta{Name: "a"}}},
		},
		{
			name: "json_stream",
			in: `{"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}}
{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
 "spec": {"containers": [{"name": "c", "resources": {"limits": {"cpu": 1.5}},
   "livenessProbe": {"httpGet": {"port": 8080}}}],
  "terminationGracePeriodSeconds": 30}}`,
			want: []proto.Message{
				&wharfv1.Namespace{Metadata: &wharfv1.ObjectMeta{Name: "a"}},
				&wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: "p"}, Spec: &wharfv1.PodSpec{
					TerminationGracePeriodSeconds: proto.Int64(30),
					Containers: []*wharfv1.Container{{
						Name:          "c",
						Resources:     &wharfv1.ResourceRequirements{Limits: map[string]string{"cpu": "1.5"}},
						LivenessProbe: &wharfv1.Probe{HttpGet: &wharfv1.HTTPGetAction{Port: "8080"}},
					}},
				}},
			},
		},
		{
			name: "json_list",
			in: `{"apiVersion": "v1", "kind": "List", "metadata": {"resourceVersion": ""}, "items": [
  {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "a"}},
  {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n"}}
]}`,
			want: []proto.Message{
				&wharfv1.Namespace{Metadata: &wharfv1.ObjectMeta{Name: "a"}},
				&wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: "n"}},
			},
		},
		{
			name: "yaml_typed_list",
			in:   "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a}\n- apiVersion: v1\n  kind: Pod\n  metadata: {name: b}\n",
			want: []proto.Message{
				&wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: "a"}},
				&wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: "b"}},
			},
		},
		{
			name: "empty_list",
			in:   "apiVersion: v1\nkind: List\nitems: []\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			objs := decodeString(t, tt.in)
			if len(objs) != len(tt.want) {
				t.Fatalf("got %d objects, want %d", len(objs), len(tt.want))
			}
			for i, o := range objs {
				assertEqual(t, o.Message, tt.want[i])
				k, _ := kindOf(tt.want[i].ProtoReflect())
				if o.Kind.Kind != k.Kind || o.Source != "test.yaml" {
					t.Errorf("object %d: kind %q source %q", i, o.Kind.Kind, o.Source)
				}
			}
		})
	}
}

func TestDecodePositions(t *testing.T) {
	t.Parallel()
	in := "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\n---\napiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: Namespace\n  metadata: {name: b}\n"
	objs := decodeString(t, in)
	if len(objs) != 2 {
		t.Fatalf("got %d objects", len(objs))
	}
	if o := objs[0]; o.Index != 0 || o.Item != -1 || o.Line != 1 || o.Metadata().GetName() != "a" {
		t.Errorf("first: index %d item %d line %d name %q", o.Index, o.Item, o.Line, o.Metadata().GetName())
	}
	if o := objs[1]; o.Index != 2 || o.Item != 0 || o.Line != 9 || o.Metadata().GetName() != "b" {
		t.Errorf("second: index %d item %d line %d name %q", o.Index, o.Item, o.Line, o.Metadata().GetName())
	}
}

func TestDecodeErrors(t *testing.T) {
	t.Parallel()
	const pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n"
	tests := []struct {
		name   string
		source string
		in     string
		want   []string // each a full line of the error
	}{
		{
			name:   "unknown_field_with_suggestion",
			source: "pod.yaml",
			in:     pod + "---\n" + pod + "spec:\n  containers:\n  - name: c\n    imagePullPolcy: Always\n",
			want:   []string{`pod.yaml: document 2 (Pod "web"): spec.containers[0].imagePullPolcy: unknown field; did you mean "imagePullPolicy"?`},
		},
		{
			name: "unknown_field_without_suggestion",
			in:   pod + "spec:\n  frobnicate: true\n",
			want: []string{`document 1 (Pod "web"): spec.frobnicate: unknown field`},
		},
		{
			name: "case_and_camel_suggestions",
			in:   pod + "spec:\n  RestartPolicy: Always\n  node-selector: {}\n  hostNetwrok: true\n",
			want: []string{
				`document 1 (Pod "web"): spec.RestartPolicy: unknown field; did you mean "restartPolicy"?`,
				`document 1 (Pod "web"): spec.node-selector: unknown field; did you mean "nodeSelector"?`,
				`document 1 (Pod "web"): spec.hostNetwrok: unknown field; did you mean "hostNetwork"?`,
			},
		},
		{
			name: "several_errors_in_one_document",
			in:   pod + "spec:\n  containers:\n  - name: c\n    ports:\n    - containerPort: http\n    - containerPort: 99999999999\n    resources: {limits: {cpu: [1]}}\n",
			want: []string{
				`document 1 (Pod "web"): spec.containers[0].ports[0].containerPort: want an integer, got "http"`,
				`document 1 (Pod "web"): spec.containers[0].ports[1].containerPort: want an integer from -2147483648 to 2147483647, got 99999999999`,
				`document 1 (Pod "web"): spec.containers[0].resources.limits[cpu]: want a string, got a list`,
			},
		},
		{
			name: "wrong_types",
			in: pod + "spec:\n  restartPolicy: 1\n  hostNetwork: \"yes\"\n  containers: {name: c}\n  terminationGracePeriodSeconds: 1.5\n" +
				"  nodeSelector: [a]\n  tolerations: [null]\n",
			want: []string{
				`document 1 (Pod "web"): spec.restartPolicy: want a string, got 1 (write "1" for the string)`,
				`document 1 (Pod "web"): spec.hostNetwork: want true or false, got "yes"`,
				`document 1 (Pod "web"): spec.containers: want a list, got a mapping`,
				`document 1 (Pod "web"): spec.terminationGracePeriodSeconds: want an integer, got 1.5`,
				`document 1 (Pod "web"): spec.nodeSelector: want a mapping, got a list`,
				`document 1 (Pod "web"): spec.tolerations[0]: want a mapping, got null`,
			},
		},
		{
			name: "label_value_number",
			in:   "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n  labels: {version: 1.10}\n",
			want: []string{`document 1 (Namespace "ns"): metadata.labels[version]: want a string, got 1.10 (write "1.10" for the string)`},
		},
		{
			name: "bad_timestamp",
			in:   "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: ns\n  creationTimestamp: yesterday\n",
			want: []string{`document 1 (Namespace "ns"): metadata.creationTimestamp: want an RFC 3339 timestamp such as 2024-05-01T12:00:00Z, got "yesterday"`},
		},
		{
			name: "unknown_kind",
			in:   "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\n",
			want: []string{`document 1 (Deployment "d"): kind: "Deployment" is not supported; ` + kinds().supported + ``},
		},
		{
			name: "misspelt_kind",
			in:   "apiVersion: v1\nkind: pod\nmetadata: {name: d}\n",
			want: []string{`document 1 (pod "d"): kind: "pod" is not supported; did you mean "Pod"?; ` + kinds().supported + ``},
		},
		{
			name: "missing_kind",
			in:   "apiVersion: v1\nmetadata: {name: d}\n",
			want: []string{`document 1: kind: required; ` + kinds().supported + ``},
		},
		{
			name: "missing_api_version",
			in:   "kind: Pod\nmetadata: {name: web}\n",
			want: []string{`document 1 (Pod "web"): apiVersion: required; Pod uses "v1" (` + kinds().supported + `)`},
		},
		{
			name: "wrong_api_version",
			in:   "apiVersion: apps/v1\nkind: Pod\nmetadata: {name: web}\n",
			want: []string{`document 1 (Pod "web"): apiVersion: "apps/v1" does not serve kind Pod; use "v1" (` + kinds().supported + `)`},
		},
		{
			name: "not_a_mapping",
			in:   "- a\n- b\n",
			want: []string{`document 1: want a mapping with apiVersion and kind, got a list`},
		},
		{
			name: "duplicate_keys",
			in:   pod + "spec:\n  restartPolicy: Always\n  restart_policy: Never\n  hostname: a\n  hostname: b\n",
			want: []string{
				`document 1 (Pod "web"): spec.restart_policy: field given twice (also as restartPolicy)`,
				`document 1 (Pod "web"): spec.hostname: key given twice (first on line 8)`,
			},
		},
		{
			name: "list_item",
			in:   "apiVersion: v1\nkind: List\nitems:\n- " + strings.ReplaceAll(pod, "\n", "\n  ") + "spec: {nodeName: [x]}\n- apiVersion: v1\n  kind: List\n",
			want: []string{
				`document 1, items[0] (Pod "web"): spec.nodeName: want a string, got a list`,
				`document 1, items[1] (List): kind: a List cannot be an item of a list`,
			},
		},
		{
			name: "list_unknown_field",
			in:   "apiVersion: v1\nkind: List\nitem: []\nmetadata: {resourceVersion: \"1\", foo: bar}\n",
			want: []string{
				`document 1 (List): item: unknown field; did you mean "items"?`,
				`document 1 (List): metadata.foo: unknown field`,
			},
		},
		{
			name: "json_unknown_field",
			in:   "{\"apiVersion\": \"v1\", \"kind\": \"Pod\", \"metadata\": {\"name\": \"web\"}}\n{\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n \"metadata\": {\"name\": \"web\", \"nmespace\": \"x\"}}",
			want: []string{`document 2 (Pod "web"): metadata.nmespace: unknown field; did you mean "namespace"?`},
		},
		{
			name: "yaml_syntax_error",
			in:   pod + "---\nkind: [\n",
			want: []string{`document 2: invalid YAML: line 6: did not find expected node content`},
		},
		{
			name: "json_syntax_error",
			in:   "{\"apiVersion\": \"v1\",\n \"kind\": }",
			want: []string{`document 1: invalid JSON: line 2: invalid character '}' looking for beginning of value`},
		},
		{
			name: "alias_bomb",
			in: `a: &a [x, x, x, x, x, x, x, x, x, x]
b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]
c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]
d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]
e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]
f: &f [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]
g: &g [*f, *f, *f, *f, *f, *f, *f, *f, *f, *f]
apiVersion: v1
kind: Pod
metadata: {name: web}
spec:
  affinity:
    nodeAffinity:
      requiredDuringSchedulingIgnoredDuringExecution:
        nodeSelectorTerms:
        - matchExpressions: []
`,
			want: []string{
				`document 1 (Pod "web"): a: unknown field`,
				`document 1 (Pod "web"): b: unknown field`,
				`document 1 (Pod "web"): c: unknown field`,
				`document 1 (Pod "web"): d: unknown field`,
				`document 1 (Pod "web"): e: unknown field`,
				`document 1 (Pod "web"): f: unknown field`,
				`document 1 (Pod "web"): g: unknown field`,
			},
		},
		{
			name: "merge_into_itself",
			in:   pod + "spec: &s\n  <<: *s\n",
			want: []string{`document 1 (Pod "web"): spec: << merges a mapping into itself`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			objs, err := Decode(strings.NewReader(tt.in), tt.source)
			if err == nil {
				t.Fatalf("Decode succeeded with %d objects, want an error", len(objs))
			}
			if got, want := err.Error(), strings.Join(tt.want, "\n"); got != want {
				t.Errorf("error\n%s\nwant\n%s", got, want)
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Errorf("error %T is not an *Error", err)
			}
		})
	}
}

func TestDecodeAliasBomb(t *testing.T) {
	t.Parallel()
	// 2,000 containers that each alias a 1,000-element list twice: 4 million
	// strings once expanded, in fields the schema allows, so only the node
	// budget stops the walk.
	var b strings.Builder
	b.WriteString("x: &x [")
	for i := range 1000 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString("v")
	}
	b.WriteString("]\napiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  containers:\n")
	for range 2000 {
		b.WriteString("  - {command: *x, args: *x}\n")
	}
	_, err := Decode(strings.NewReader(b.String()), "")
	if err == nil || !strings.Contains(err.Error(), "document is too large once its aliases are expanded") {
		t.Fatalf("Decode: %v, want the size limit", err)
	}
}

func TestDecoderContinuesAfterBadDocument(t *testing.T) {
	t.Parallel()
	in := "apiVersion: v1\nkind: Namespace\nmetadata: {name: a}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: b, bad: 1}\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: c}\n"
	d := NewDecoder(strings.NewReader(in), "ns.yaml")
	var names []string
	var errs int
	for {
		o, err := d.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			errs++
			continue
		}
		names = append(names, o.Metadata().GetName())
	}
	if strings.Join(names, ",") != "a,c" || errs != 1 {
		t.Errorf("names %v, %d errors", names, errs)
	}

	objs, err := Decode(strings.NewReader(in), "ns.yaml")
	if len(objs) != 2 || err == nil {
		t.Errorf("Decode: %d objects, %v", len(objs), err)
	}
}

func TestDecodeErrorLine(t *testing.T) {
	t.Parallel()
	_, err := Decode(strings.NewReader("apiVersion: v1\nkind: Pod\nmetadata: {name: web}\nspec:\n  hostnme: x\n"), "")
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("got %v", err)
	}
	if e.Line != 5 || e.Column != 3 || e.Path != "spec.hostnme" || e.Kind != "Pod" || e.Name != "web" || e.Item != -1 {
		t.Errorf("got %+v", *e)
	}
	_, err = Decode(strings.NewReader("{\"apiVersion\": \"v1\", \"kind\": \"Pod\",\n  \"spec\": {\n    \"hostnme\": \"x\"}}"), "")
	if !errors.As(err, &e) {
		t.Fatalf("got %v", err)
	}
	if e.Line != 3 || e.Column != 5 {
		t.Errorf("JSON: got line %d column %d", e.Line, e.Column)
	}
}

// TestLenientFieldsExist guards the table of int-or-string and quantity
// fields against renames in the protos.
func TestLenientFieldsExist(t *testing.T) {
	t.Parallel()
	messages := map[protoreflect.FullName]protoreflect.MessageDescriptor{}
	var collect func(md protoreflect.MessageDescriptor)
	collect = func(md protoreflect.MessageDescriptor) {
		if _, ok := messages[md.FullName()]; ok {
			return
		}
		messages[md.FullName()] = md
		for i := range md.Fields().Len() {
			if m := md.Fields().Get(i).Message(); m != nil {
				collect(m)
			}
		}
	}
	for _, k := range wharfv1.Kinds {
		collect(k.New().ProtoReflect().Descriptor())
	}
	for name := range lenientStrings {
		md, ok := messages[name.Parent()]
		if !ok {
			t.Errorf("%s: no such message", name)
			continue
		}
		fd := md.Fields().ByName(name.Name())
		if fd == nil {
			t.Errorf("%s: no such field", name)
			continue
		}
		if k := fd.Kind(); fd.IsMap() && fd.MapValue().Kind() != protoreflect.StringKind || !fd.IsMap() && k != protoreflect.StringKind {
			t.Errorf("%s: not a string field", name)
		}
	}
}
