package main

import (
	"slices"
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin/plugintest"
)

func node(name, zone string) *wharfv1.Node {
	return &wharfv1.Node{
		Metadata: &wharfv1.ObjectMeta{Name: name, Labels: map[string]string{"topology.kubernetes.io/zone": zone}},
		Status:   &wharfv1.NodeStatus{Allocatable: map[string]string{"cpu": "4", "memory": "8Gi"}},
	}
}

func TestPreferZone(t *testing.T) {
	// The same checks in-process (fast, debuggable) and on the built
	// module (what the server runs).
	for name, p := range map[string]*plugintest.Plugin{
		"in-process": plugintest.New(t, info, newPlugin()),
		"wasm":       plugintest.Load(t, plugintest.Build(t, ".")),
	} {
		t.Run(name, func(t *testing.T) {
			if err := p.Configure(`{}`); err == nil {
				t.Error("a config without zones was accepted")
			}
			if err := p.Configure(`{"zones": ["zone-b", "zone-c"]}`); err != nil {
				t.Fatal(err)
			}
			p.SetNodes(node("a1", "zone-a"), node("b1", "zone-b"), node("c1", "zone-c"))
			pod := &wharfv1.Pod{
				Metadata: &wharfv1.ObjectMeta{Name: "web", Namespace: "default"},
				Spec:     &wharfv1.PodSpec{Containers: []*wharfv1.Container{{Name: "web", Image: "nginx:1.27"}}},
			}
			scores, skip, err := p.Score(pod)
			if err != nil || skip {
				t.Fatal(err, skip)
			}
			if want := []int64{0, 100, 50}; !slices.Equal(scores, want) {
				t.Errorf("scores %v; want %v", scores, want)
			}
		})
	}
}
