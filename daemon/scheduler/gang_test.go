package scheduler_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/testing/sim"
)

func podGroup(name string, minMember, timeoutSeconds int32) *wharfv1.PodGroup {
	return &wharfv1.PodGroup{
		Metadata: &wharfv1.ObjectMeta{Name: name},
		Spec:     &wharfv1.PodGroupSpec{MinMember: minMember, ScheduleTimeoutSeconds: timeoutSeconds},
	}
}

func member(group, name string, opts ...podOpt) *wharfv1.Pod {
	return newPod(name, append([]podOpt{label("scheduling.wharf.dev/pod-group", group)}, opts...)...)
}

// A gang is bound all-or-nothing: members wait, holding their room, until
// minMember of them have room, then all are bound in one batch.
func TestGangAllOrNothing(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, sim.Config{Nodes: 4}, "")
	if _, err := cl.c.PodGroups().Create(cl.ctx(), podGroup("train", 3, 0)); err != nil {
		t.Fatal(err)
	}
	cl.create(member("train", "w-0", requests("cpu", "1")), member("train", "w-1", requests("cpu", "1")))
	cl.settle(newPod("marker-1"))
	for _, n := range []string{"w-0", "w-1"} {
		if p, _ := cl.c.Pods().Get(cl.ctx(), "default", n); p.GetSpec().GetNodeName() != "" {
			t.Fatalf("%s was bound with 2 of 3 members", n)
		}
	}
	// Watch the binds: the three come in one batch (one BindPods call, so
	// consecutive revisions).
	l, err := cl.c.Pods().List(cl.ctx(), client.ListOptions{Limit: 1})
	if err != nil {
		t.Fatal(err)
	}
	w, err := cl.c.Pods().Watch(cl.ctx(), client.WatchOptions{FieldSelector: "spec.nodeName!=", ResourceVersion: l.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	cl.create(member("train", "w-2", requests("cpu", "1")))
	revs := map[string]int64{}
	for len(revs) < 3 {
		ev, err := w.Next()
		if err != nil {
			t.Fatal(err)
		}
		name := ev.Object.GetMetadata().GetName()
		if _, seen := revs[name]; ev.Type == client.Added && strings.HasPrefix(name, "w-") && !seen {
			revs[name] = resourceVersion(t, ev.ResourceVersion)
		}
	}
	rs := slices.Sorted(func(yield func(int64) bool) {
		for _, r := range revs {
			if !yield(r) {
				return
			}
		}
	})
	if rs[2]-rs[0] != 2 {
		t.Errorf("bind revisions %v: not one batch", revs)
	}
	g := waitGroup(cl, "train", func(g *wharfv1.PodGroup) bool { return g.GetStatus().GetPhase() == "Scheduled" })
	if g.GetStatus().GetScheduled() != 3 || g.GetStatus().GetScheduleTime() == nil {
		t.Errorf("group status %v", g.GetStatus())
	}
}

// When the gang's time runs out, every reservation is released (another
// pod gets the room), the members go back to the queue, and the members
// and the group get a GangTimeout event. A member that arrives later
// completes the gang.
func TestGangTimeout(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, sim.Config{Nodes: 1, CPU: "2"}, "")
	if _, err := cl.c.PodGroups().Create(cl.ctx(), podGroup("g", 3, 2)); err != nil {
		t.Fatal(err)
	}
	cl.create(member("g", "m-0", requests("cpu", "500m")))
	// The scheduler watches pods and groups apart: once it has the group,
	// m-0 is ahead of any pod created from here on.
	cl.knowsGroup("m-0")
	cl.create(member("g", "m-1", requests("cpu", "500m")))
	// The reservations fill 1 of 2 cpus: a 1.5-cpu pod waits for them. (The
	// event, not the condition: once the gang times out, other is bound.)
	const insufficient = "0/1 nodes are available: 1 Insufficient cpu."
	cl.create(newPod("other", requests("cpu", "1500m")))
	if ev := cl.event("Pod", "other", scheduler.ReasonFailedScheduling, insufficient); ev.GetMessage() != insufficient {
		t.Errorf("other: %q", ev.GetMessage())
	}
	for _, n := range []string{"m-0", "m-1"} {
		ev := cl.event("Pod", n, scheduler.ReasonFailedScheduling, scheduler.GangTimeoutPrefix)
		if ev.GetType() != "Warning" || !strings.Contains(ev.GetMessage(), "pod group default/g") {
			t.Errorf("%s: event %v", n, ev)
		}
	}
	cl.event("PodGroup", "g", scheduler.ReasonFailedScheduling, scheduler.GangTimeoutPrefix)
	if n := cl.bound("other"); n != "sim-00000" {
		t.Errorf("other on %q after the gang released its room", n)
	}
	if g := waitGroup(cl, "g", func(g *wharfv1.PodGroup) bool {
		return strings.HasPrefix(g.GetStatus().GetMessage(), scheduler.GangTimeoutPrefix)
	}); g.GetStatus().GetPhase() != "Pending" {
		t.Errorf("group status %v", g.GetStatus())
	}
	for _, n := range []string{"m-0", "m-1"} {
		if p, _ := cl.c.Pods().Get(cl.ctx(), "default", n); p.GetSpec().GetNodeName() != "" {
			t.Errorf("%s bound without its gang", n)
		}
	}
	// Room for the gang again, and its third member: all three are bound.
	if _, err := cl.c.Pods().Delete(cl.ctx(), "default", "other", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	cl.create(member("g", "m-2", requests("cpu", "500m")))
	for i := range 3 {
		cl.bound(fmt.Sprint("m-", i))
	}
}

// knowsGroup waits until the scheduler has the PodGroup of member name.
func (cl *cluster) knowsGroup(name string) {
	cl.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var last string
	for time.Now().Before(deadline) {
		e, err := cl.explain(name)
		if err == nil && e.GetPodRejectedBy() == "" {
			return
		}
		last = fmt.Sprint(e.GetPodReasons(), err)
		time.Sleep(20 * time.Millisecond)
	}
	cl.t.Fatalf("the scheduler never had the group of %s: %s", name, last)
}

// A member whose PodGroup does not exist is unschedulable until the group
// is created.
func TestGangWithoutGroup(t *testing.T) {
	t.Parallel()
	cl := startCluster(t, sim.Config{Nodes: 2}, "")
	cl.create(member("later", "solo"))
	msg := cl.unschedulable("solo")
	if !strings.Contains(msg, `pod group "default/later" not found`) {
		t.Errorf("message %q", msg)
	}
	if _, err := cl.c.PodGroups().Create(cl.ctx(), podGroup("later", 1, 0)); err != nil {
		t.Fatal(err)
	}
	cl.bound("solo")
}

func waitGroup(cl *cluster, name string, ok func(*wharfv1.PodGroup) bool) *wharfv1.PodGroup {
	cl.t.Helper()
	var g *wharfv1.PodGroup
	for range 1500 {
		var err error
		if g, err = cl.c.PodGroups().Get(cl.ctx(), "default", name); err == nil && ok(g) {
			return g
		}
		sleep()
	}
	cl.t.Fatalf("pod group %s: status never as expected; last %v", name, g.GetStatus())
	return nil
}
