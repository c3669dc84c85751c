package main

import (
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin/plugintest"
)

func TestDefaults(t *testing.T) {
	for name, p := range map[string]*plugintest.Plugin{
		"in-process": plugintest.New(t, info, &defaults{}),
		"wasm":       plugintest.Load(t, plugintest.Build(t, ".")),
	} {
		t.Run(name, func(t *testing.T) {
			if err := p.Configure(`{"labels": {"team": "none"}, "tolerations": [{"key": "spot", "operator": "Exists", "effect": "NoSchedule"}]}`); err != nil {
				t.Fatal(err)
			}
			in := &wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: "p", Namespace: "default", Labels: map[string]string{"app": "web"}},
				Spec: &wharfv1.PodSpec{Containers: []*wharfv1.Container{{Name: "c", Image: "nginx:1"}}}}
			out, _, err := p.Mutate("CREATE", in, nil)
			if err != nil {
				t.Fatal(err)
			}
			pod := out.(*wharfv1.Pod)
			if pod.GetMetadata().GetLabels()["team"] != "none" || pod.GetMetadata().GetLabels()["app"] != "web" {
				t.Errorf("labels %v", pod.GetMetadata().GetLabels())
			}
			if len(pod.GetSpec().GetTolerations()) != 1 {
				t.Errorf("tolerations %v", pod.GetSpec().GetTolerations())
			}
			// Nothing to add: the object comes back unchanged.
			again, resp, err := p.Mutate("CREATE", pod, nil)
			if err != nil || len(resp.GetPatchedObject()) != 0 || again != pod {
				t.Errorf("second mutate changed the pod: %v %v", resp, err)
			}
			if err := p.Configure(`{"colour": "blue"}`); err == nil {
				t.Error("an unknown config field was accepted")
			}
		})
	}
}
