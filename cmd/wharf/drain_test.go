package main

import (
	"strings"
	"testing"
	"time"

	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/testing/sim"
	"github.com/wharfhq/wharf/testing/wharftest"
)

// cordon and uncordon flip a node's spec.unschedulable; drain refuses to
// delete running pods without --force, changing nothing, and with it
// cordons the node, deletes its pods and waits until its node has
// stopped them, leaving the other node's pods alone.
func TestCordonAndDrain(t *testing.T) {
	t.Parallel()
	s := wharftest.Start(t)
	c := s.Client()
	nodes, err := sim.Start(t.Context(), sim.Config{Client: c, Nodes: 2, HeartbeatInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nodes.Stop)
	for name, node := range map[string]string{"web": "sim-00000", "db": "sim-00000", "other": "sim-00001"} {
		p := newTestPod(name)
		p.Spec.NodeName = node
		if _, err := c.Pods().Create(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	unschedulable := func(name string) bool {
		t.Helper()
		n, err := c.Nodes().Get(t.Context(), "", name)
		if err != nil {
			t.Fatal(err)
		}
		return n.GetSpec().GetUnschedulable()
	}

	r := wharf(t, s.URL(), "", "cordon", "sim-00001").ok(t)
	if r.stdout != "node/sim-00001 cordoned\n" || !unschedulable("sim-00001") {
		t.Fatalf("cordon: %q", r.stdout)
	}
	if r := wharf(t, s.URL(), "", "cordon", "sim-00001").ok(t); r.stdout != "node/sim-00001 already cordoned\n" {
		t.Errorf("cordon again: %q", r.stdout)
	}
	if r := wharf(t, s.URL(), "", "uncordon", "sim-00001").ok(t); r.stdout != "node/sim-00001 uncordoned\n" || unschedulable("sim-00001") {
		t.Errorf("uncordon: %q", r.stdout)
	}
	if r := wharf(t, s.URL(), "", "cordon", "nope").fails(t); !strings.Contains(r.stderr, `"nope" not found`) {
		t.Errorf("cordon of a missing node: %q", r.stderr)
	}

	r = wharf(t, s.URL(), "", "drain", "sim-00000").fails(t)
	for _, want := range []string{"default/db, default/web", "--force", "nothing was changed"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("drain without --force: stderr %q does not say %q", r.stderr, want)
		}
	}
	if unschedulable("sim-00000") {
		t.Error("drain without --force cordoned the node")
	}

	r = wharf(t, s.URL(), "", "drain", "sim-00000", "--force", "--timeout", "30s").ok(t)
	want := "node/sim-00000 cordoned\npod/default/db deleted\npod/default/web deleted\nnode/sim-00000 drained\n"
	if r.stdout != want {
		t.Errorf("drain: stdout\n%s\nwant\n%s", r.stdout, want)
	}
	if !unschedulable("sim-00000") {
		t.Error("drained node is schedulable")
	}
	l, err := c.Pods().List(t.Context(), client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, p := range l.Items {
		left = append(left, p.GetMetadata().GetName()+"@"+p.GetSpec().GetNodeName())
	}
	if strings.Join(left, " ") != "other@sim-00001" {
		t.Errorf("pods left: %v", left)
	}
}
