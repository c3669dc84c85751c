package main

import (
	"strings"
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin/plugintest"
)

func TestRequireLimits(t *testing.T) {
	for name, p := range map[string]*plugintest.Plugin{
		"in-process": plugintest.New(t, info, newPlugin()),
		"wasm":       plugintest.Load(t, plugintest.Build(t, ".")),
	} {
		t.Run(name, func(t *testing.T) {
			pod := func(image string, limits map[string]string) *wharfv1.Pod {
				return &wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: "p", Namespace: "default"}, Spec: &wharfv1.PodSpec{
					Containers: []*wharfv1.Container{{Name: "c", Image: image, Resources: &wharfv1.ResourceRequirements{Limits: limits}}}}}
			}
			limits := map[string]string{"cpu": "1", "memory": "1Gi"}
			for _, tc := range []struct {
				pod  *wharfv1.Pod
				deny string
			}{
				{pod("nginx:1.27", limits), ""},
				{pod("nginx@sha256:abc", limits), ""},
				{pod("nginx:1.27", nil), "no cpu or memory limit"},
				{pod("nginx:latest", limits), "floats"},
				{pod("nginx", limits), "floats"},
			} {
				resp, err := p.Validate("CREATE", tc.pod, nil)
				if err != nil {
					t.Fatal(err)
				}
				if got := resp.GetAllowed(); got != (tc.deny == "") || !strings.Contains(resp.GetReason(), tc.deny) {
					t.Errorf("%s: allowed=%v reason=%q; want deny %q", tc.pod.Spec.Containers[0].Image, got, resp.GetReason(), tc.deny)
				}
			}
		})
	}
}
