package manifest_test

import (
	"fmt"
	"os"
	"strings"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/manifest"
)

func ExampleDecode() {
	const in = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: nginx
    resources:
      limits: {cpu: 1, nvidia.com/gpu: 1}
    readinessProbe:
      httpGet: {path: /, port: 80}
`
	objs, err := manifest.Decode(strings.NewReader(in), "web.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	pod := objs[0].Message.(*wharfv1.Pod)
	c := pod.GetSpec().GetContainers()[0]
	fmt.Println(objs[0].Kind.Kind, pod.GetMetadata().GetName(), c.GetResources().GetLimits()["nvidia.com/gpu"], c.GetReadinessProbe().GetHttpGet().GetPort())
	// Output: Pod web 1 80
}

func ExampleDecode_error() {
	const in = `apiVersion: v1
kind: Pod
metadata:
  name: web
spec:
  containers:
  - name: web
    image: nginx
    imagePullPolcy: Always
`
	_, err := manifest.Decode(strings.NewReader(in), "web.yaml")
	fmt.Println(err)
	// Output: web.yaml: document 1 (Pod "web"): spec.containers[0].imagePullPolcy: unknown field; did you mean "imagePullPolicy"?
}

func ExampleEncode() {
	pod := &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &wharfv1.PodSpec{Containers: []*wharfv1.Container{{
			Name:      "web",
			Image:     "nginx",
			Resources: &wharfv1.ResourceRequirements{Limits: map[string]string{"cpu": "1"}},
		}}},
		Status: &wharfv1.PodStatus{Phase: "Pending"},
	}
	if err := manifest.Encode(os.Stdout, manifest.FormatYAML, pod); err != nil {
		fmt.Println(err)
	}
	// Output:
	// apiVersion: v1
	// kind: Pod
	// metadata:
	//   name: web
	//   namespace: default
	// spec:
	//   containers:
	//   - name: web
	//     image: nginx
	//     resources:
	//       limits:
	//         cpu: "1"
	// status:
	//   phase: Pending
}
