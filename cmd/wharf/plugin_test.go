package main

import (
	"context"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
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

// startServer runs `wharf server` (with its plugin host) in-process on a
// temp data dir until the test ends, and returns its URL.
func startServer(t *testing.T) string {
	t.Helper()
	dir := t.TempDir() // removed after the server stops (cleanups run last first)
	ctx, cancel := context.WithCancel(t.Context())
	var out, errb syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"server", "--data-dir", dir, "--listen", "127.0.0.1:0"},
			streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	urlRE := regexp.MustCompile(`serving the API at (http://\S+)`)
	waitUntil(t, func() bool { return urlRE.MatchString(out.String()) }, "the server's URL", &out)
	return urlRE.FindStringSubmatch(out.String())[1]
}

// Installing a new version of a plugin keeps the settings the command line
// does not name.
func TestPluginInstallKeepsSettings(t *testing.T) {
	t.Parallel()
	module := plugintest.Build(t, "github.com/wharfhq/wharf/plugins/examples/requireteam")
	url := startServer(t)
	c := client.New(url)
	spec := func() *wharfv1.PluginSpec {
		p, err := c.Plugins().Get(t.Context(), "", "require-team")
		if err != nil {
			t.Fatal(err)
		}
		return p.GetSpec()
	}
	r := wharf(t, url, "", "plugin", "install", module, "--name", "require-team", "--kinds", "Pod",
		"--config", `{"teams": ["ml"]}`, "--failure-policy", "Ignore").ok(t)
	if !strings.HasPrefix(r.stdout, "plugin/require-team installed: require-team 1.0.0") {
		t.Errorf("first install:\n%s", r.stdout)
	}
	r = wharf(t, url, "", "plugin", "install", module, "--name", "require-team").ok(t)
	if !strings.HasPrefix(r.stdout, "plugin/require-team unchanged:") {
		t.Errorf("install again:\n%s", r.stdout)
	}
	wharf(t, url, "", "plugin", "install", module, "--name", "require-team", "--timeout", "50ms", "--operations", "create").ok(t)
	s := spec()
	if b, _ := json.Marshal(s.GetConfig().AsMap()); string(b) != `{"teams":["ml"]}` || s.GetFailurePolicy() != "Ignore" || s.GetTimeout() != "50ms" {
		t.Errorf("after a second install: config %s, failurePolicy %q, timeout %q", b, s.GetFailurePolicy(), s.GetTimeout())
	}
	if rules := s.GetAdmissionRules(); len(rules) != 1 || strings.Join(rules[0].GetKinds(), ",") != "Pod" || strings.Join(rules[0].GetOperations(), ",") != "CREATE" {
		t.Errorf("admission rules %v; want kinds Pod, operations CREATE", rules)
	}
	// Named with an empty value, a setting goes back to its default.
	wharf(t, url, "", "plugin", "install", module, "--name", "require-team", "--config", "", "--failure-policy", "", "--kinds", "", "--operations", "").ok(t)
	if s := spec(); s.GetConfig() != nil || s.GetFailurePolicy() != "Fail" || len(s.GetAdmissionRules()) != 0 || s.GetTimeout() != "50ms" {
		t.Errorf("after resetting: %v", s)
	}
}
