package main

import (
	"regexp"
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin/plugintest"
	"github.com/wharfhq/wharf/testing/wharftest"
)

// A scoring plugin's dry run shows where placed pods would go with the
// plugin: their binding (spec.nodeName) is not a constraint there.
func TestPluginDryRunMovesPlacedPods(t *testing.T) {
	t.Parallel()
	module := plugintest.Build(t, "github.com/wharfhq/wharf/plugins/examples/preferzone")
	s := wharftest.Start(t)
	c := s.Client()
	for _, n := range []struct{ name, zone string }{{"node-a", "zone-a"}, {"node-b", "zone-b"}} {
		if _, err := c.Nodes().Create(t.Context(), &wharfv1.Node{
			Metadata: &wharfv1.ObjectMeta{Name: n.name, Labels: map[string]string{"topology.kubernetes.io/zone": n.zone}},
			Status:   &wharfv1.NodeStatus{Allocatable: map[string]string{"cpu": "4", "memory": "8Gi", "pods": "110"}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	// node-b is half full, so without the plugin web stays on node-a.
	for _, p := range []struct{ name, node, cpu string }{{"web", "node-a", "100m"}, {"batch", "node-b", "2"}} {
		pod := newTestPod(p.name)
		pod.Spec.NodeName = p.node
		pod.Spec.Containers[0].Resources = &wharfv1.ResourceRequirements{Requests: map[string]string{"cpu": p.cpu, "memory": "64Mi"}}
		if _, err := c.Pods().Create(t.Context(), pod); err != nil {
			t.Fatal(err)
		}
	}
	r := wharf(t, s.URL(), "", "plugin", "install", module, "--name", "prefer-zone", "--config", `{"zones": ["zone-b"]}`, "--dry-run").ok(t)
	if !regexp.MustCompile(`(?m)^  default/web +node-a +node-a +node-b$`).MatchString(r.stdout) {
		t.Errorf("dry run =\n%s\nwant web on node-a now and without the plugin, on node-b with it", r.stdout)
	}
	r = wharf(t, s.URL(), "", "plugin", "list").ok(t)
	if regexp.MustCompile(`prefer-zone`).MatchString(r.stdout) {
		t.Errorf("a dry run installed the plugin:\n%s", r.stdout)
	}
}
