package main

import (
	"fmt"
	"strings"
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/testing/wharftest"
)

// label sets and removes labels of any kind, and changes one only with
// --overwrite; taint adds and removes node taints the same way, and a
// NoExecute taint records when it came.
func TestLabelAndTaint(t *testing.T) {
	t.Parallel()
	s := wharftest.Start(t)
	c := s.Client()
	if _, err := c.Nodes().Create(t.Context(), &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: "gpu-1"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pods().Create(t.Context(), newTestPod("web")); err != nil {
		t.Fatal(err)
	}
	labels := func(kind, name string) string {
		t.Helper()
		var m map[string]string
		if kind == "node" {
			n, err := c.Nodes().Get(t.Context(), "", name)
			if err != nil {
				t.Fatal(err)
			}
			m = n.GetMetadata().GetLabels()
		} else {
			p, err := c.Pods().Get(t.Context(), "default", name)
			if err != nil {
				t.Fatal(err)
			}
			m = p.GetMetadata().GetLabels()
		}
		return fmt.Sprint(m)
	}
	for _, step := range []struct {
		args       []string
		fails      bool
		out, state string
	}{
		{[]string{"label", "node", "gpu-1", "pool=training", "zone=a"}, false, "node/gpu-1 labeled\n", "map[pool:training zone:a]"},
		{[]string{"label", "node", "gpu-1", "pool=serving"}, true, "", "map[pool:training zone:a]"},
		{[]string{"label", "node", "gpu-1", "pool=serving", "--overwrite"}, false, "node/gpu-1 labeled\n", "map[pool:serving zone:a]"},
		{[]string{"label", "node", "gpu-1", "zone-"}, false, "node/gpu-1 labeled\n", "map[pool:serving]"},
		{[]string{"label", "node", "gpu-1", "pool=serving"}, false, "node/gpu-1 not labeled (no change)\n", "map[pool:serving]"},
		{[]string{"label", "node", "gpu-1", "=x"}, true, "", "map[pool:serving]"},
	} {
		r := wharf(t, s.URL(), "", step.args...)
		if (r.code != 0) != step.fails || r.stdout != step.out {
			t.Errorf("wharf %s: exit %d, stdout %q, stderr %q", strings.Join(step.args, " "), r.code, r.stdout, r.stderr)
		}
		if got := labels("node", "gpu-1"); got != step.state {
			t.Errorf("after wharf %s: labels %s, want %s", strings.Join(step.args, " "), got, step.state)
		}
	}
	if r := wharf(t, s.URL(), "", "label", "pod", "web", "tier=front").ok(t); r.stdout != "pod/web labeled\n" || labels("pod", "web") != "map[tier:front]" {
		t.Errorf("label pod: %q, labels %s", r.stdout, labels("pod", "web"))
	}

	taints := func() (string, bool) {
		t.Helper()
		n, err := c.Nodes().Get(t.Context(), "", "gpu-1")
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		timed := true
		for _, tn := range n.GetSpec().GetTaints() {
			out = append(out, tn.GetKey()+"="+tn.GetValue()+":"+tn.GetEffect())
			if tn.GetEffect() == "NoExecute" && tn.GetTimeAdded() == nil {
				timed = false
			}
		}
		return strings.Join(out, " "), timed
	}
	for _, step := range []struct {
		args       []string
		fails      bool
		out, state string
	}{
		{[]string{"taint", "node", "gpu-1", "nvidia.com/gpu=present:NoSchedule", "maintenance:NoExecute"}, false, "node/gpu-1 tainted\n",
			"nvidia.com/gpu=present:NoSchedule maintenance=:NoExecute"},
		{[]string{"taint", "node", "gpu-1", "nvidia.com/gpu=absent:NoSchedule"}, true, "", "nvidia.com/gpu=present:NoSchedule maintenance=:NoExecute"},
		{[]string{"taint", "node", "gpu-1", "maintenance:NoExecute-"}, false, "node/gpu-1 untainted\n", "nvidia.com/gpu=present:NoSchedule"},
		{[]string{"taint", "node", "gpu-1", "maintenance-"}, true, "", "nvidia.com/gpu=present:NoSchedule"},
		{[]string{"taint", "node", "gpu-1", "oops:NoWay"}, true, "", "nvidia.com/gpu=present:NoSchedule"},
		{[]string{"taint", "pod", "web", "a:NoSchedule"}, true, "", "nvidia.com/gpu=present:NoSchedule"},
		{[]string{"taint", "node", "gpu-1", "nvidia.com/gpu-"}, false, "node/gpu-1 untainted\n", ""},
	} {
		r := wharf(t, s.URL(), "", step.args...)
		if (r.code != 0) != step.fails || r.stdout != step.out {
			t.Errorf("wharf %s: exit %d, stdout %q, stderr %q", strings.Join(step.args, " "), r.code, r.stdout, r.stderr)
		}
		got, timed := taints()
		if got != step.state || !timed {
			t.Errorf("after wharf %s: taints %q (NoExecute ones timed: %v), want %q", strings.Join(step.args, " "), got, timed, step.state)
		}
	}
}
