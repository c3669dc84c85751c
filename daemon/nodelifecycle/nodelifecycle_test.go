package nodelifecycle_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/nodelifecycle"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/testing/wharftest"
)

func node(name, ready string, heartbeat time.Time, taints ...*wharfv1.Taint) *wharfv1.Node {
	n := &wharfv1.Node{
		Metadata: &wharfv1.ObjectMeta{Name: name},
		Spec:     &wharfv1.NodeSpec{Taints: taints},
	}
	if ready != "" {
		n.Status = &wharfv1.NodeStatus{Conditions: []*wharfv1.NodeCondition{{
			Type: "Ready", Status: ready, Reason: "AgentReady",
			LastHeartbeatTime: timestamppb.New(heartbeat), LastTransitionTime: timestamppb.New(heartbeat),
		}}}
	}
	return n
}

// create creates n with its status (which Create does not take).
func create(t *testing.T, c *client.Client, n *wharfv1.Node) {
	t.Helper()
	out, err := c.Nodes().Create(context.Background(), n)
	if err != nil {
		t.Fatal(err)
	}
	if n.Status != nil {
		out.Status = n.Status
		if _, err := c.Nodes().UpdateStatus(context.Background(), out); err != nil {
			t.Fatal(err)
		}
	}
}

// state is a node's Ready status and reason, and its taints.
func state(n *wharfv1.Node) string {
	s := "no Ready condition"
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			s = c.GetStatus() + "/" + c.GetReason()
		}
	}
	var taints []string
	for _, t := range n.GetSpec().GetTaints() {
		taints = append(taints, t.GetKey()+":"+t.GetEffect())
	}
	slices.Sort(taints)
	return fmt.Sprintf("%s %v", s, taints)
}

func waitState(t *testing.T, c *client.Client, name, want string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		n, err := c.Nodes().Get(context.Background(), "", name)
		if err != nil {
			t.Fatal(err)
		}
		if got := state(n); got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("node %s: %s, want %s", name, state(n), want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// beat renews the Ready condition of the named nodes every 50ms, as their
// agents would, until the test ends; set changes the set.
type beater struct {
	mu    sync.Mutex
	nodes map[string]bool
}

func (b *beater) set(name string, on bool) {
	b.mu.Lock()
	b.nodes[name] = on
	b.mu.Unlock()
}

func startBeating(t *testing.T, c *client.Client, names ...string) *beater {
	b := &beater{nodes: map[string]bool{}}
	for _, n := range names {
		b.nodes[n] = true
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			b.mu.Lock()
			var names []string
			for n, on := range b.nodes {
				if on {
					names = append(names, n)
				}
			}
			b.mu.Unlock()
			for _, name := range names {
				n, err := c.Nodes().Get(ctx, "", name)
				if err != nil {
					continue
				}
				n.Status = node(name, "True", time.Now()).Status
				c.Nodes().UpdateStatus(ctx, n) // a conflict: next time
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
	return b
}

const unreachable = "[node.kubernetes.io/unreachable:NoExecute node.kubernetes.io/unreachable:NoSchedule]"

// A node whose agent stops posting status goes Ready=Unknown and takes the
// unreachable taints (NoSchedule and NoExecute), a node whose agent says
// it is not ready the not-ready ones; the taints go when the node is Ready
// again, and taints of the user's stay. The pods of the unreachable node
// stay too: they tolerate it for five minutes by default.
func TestNodeLifecycle(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	now := time.Now()
	dedicated := &wharfv1.Taint{Key: "dedicated", Value: "gpu", Effect: "NoSchedule"}
	create(t, c, node("alive", "True", now))
	// Its heartbeat is a day old by its own clock, which is wrong: the
	// controller goes by its own clock, from when the heartbeat changes.
	create(t, c, node("skewed", "True", now.Add(-24*time.Hour)))
	create(t, c, node("silent", "True", now))
	create(t, c, node("broken", "False", now))
	create(t, c, node("new", "", time.Time{}))
	create(t, c, node("dedicated", "True", now, dedicated))
	beats := startBeating(t, c, "alive", "skewed", "dedicated")
	for _, p := range []struct{ name, node string }{{"web-on-silent", "silent"}, {"web-on-alive", "alive"}} {
		created, err := c.Pods().Create(context.Background(), &wharfv1.Pod{
			Metadata: &wharfv1.ObjectMeta{Name: p.name, Namespace: "default"},
			Spec:     &wharfv1.PodSpec{NodeName: p.node, Containers: []*wharfv1.Container{{Name: "web", Image: "web:1"}}},
		})
		if err != nil {
			t.Fatal(err)
		}
		created.Status = &wharfv1.PodStatus{Phase: "Running", Conditions: []*wharfv1.PodCondition{{Type: "Ready", Status: "True"}}}
		if _, err := c.Pods().UpdateStatus(context.Background(), created); err != nil {
			t.Fatal(err)
		}
	}

	const grace = 2 * time.Second
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	ctl := nodelifecycle.New(nodelifecycle.Config{Client: c, GracePeriod: grace, MonitorPeriod: 20 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	go func() { defer close(done); ctl.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	waitState(t, c, "broken", "False/AgentReady [node.kubernetes.io/not-ready:NoExecute node.kubernetes.io/not-ready:NoSchedule]")
	waitState(t, c, "silent", "Unknown/NodeStatusUnknown "+unreachable)
	waitState(t, c, "new", "Unknown/NodeStatusNeverUpdated "+unreachable)
	// The pods of the unreachable node are not ready any more; the others are.
	for name, want := range map[string]string{"web-on-silent": "Running False/NodeNotReady", "web-on-alive": "Running True/"} {
		deadline := time.Now().Add(10 * time.Second)
		for {
			p, err := c.Pods().Get(context.Background(), "default", name)
			if err != nil {
				t.Fatal(err)
			}
			got := p.GetStatus().GetPhase()
			for _, c := range p.GetStatus().GetConditions() {
				if c.GetType() == "Ready" {
					got += " " + c.GetStatus() + "/" + c.GetReason()
				}
			}
			if got == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("pod %s: %s, want %s", name, got, want)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for name, want := range map[string]string{
		"alive":     "True/AgentReady []",
		"skewed":    "True/AgentReady []",
		"dedicated": "True/AgentReady [dedicated:NoSchedule]",
	} {
		if n, err := c.Nodes().Get(context.Background(), "", name); err != nil || state(n) != want {
			t.Errorf("node %s: %s (%v), want %s", name, state(n), err, want)
		}
	}

	// The silent node's agent comes back, the broken one's runtime too.
	for _, name := range []string{"silent", "broken"} {
		beats.set(name, true)
		waitState(t, c, name, "True/AgentReady []")
	}

	// Agents stop: their nodes become unreachable, user taints and all.
	beats.set("alive", false)
	beats.set("dedicated", false)
	waitState(t, c, "alive", "Unknown/NodeStatusUnknown "+unreachable)
	waitState(t, c, "dedicated", "Unknown/NodeStatusUnknown [dedicated:NoSchedule node.kubernetes.io/unreachable:NoExecute node.kubernetes.io/unreachable:NoSchedule]")

	// It says so in an event.
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := c.Events().List(context.Background(), client.ListOptions{Namespace: "default", FieldSelector: "involvedObject.name=alive"})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) == 1 && l.Items[0].GetReason() == nodelifecycle.ReasonNodeNotReady {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events about alive: %v", l.Items)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// NoExecute taints evict the pods that do not tolerate them at once, those
// that tolerate them for a while after that while, and leave those that
// tolerate them for good; evicted pods are marked, and the event says so.
func TestTaintEviction(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	now := time.Now()
	maintenance := &wharfv1.Taint{Key: "maintenance", Value: "true", Effect: "NoExecute"} // no timeAdded: the server stamps it
	create(t, c, node("drained", "True", now, maintenance))
	create(t, c, node("dead", "True", now))
	startBeating(t, c, "drained")
	second, seconds := proto.Int64(1), proto.Int64(3)
	pods := map[string]struct {
		node string
		tols []*wharfv1.Toleration
	}{
		"intolerant": {"drained", nil},
		"patient":    {"drained", []*wharfv1.Toleration{{Key: "maintenance", Operator: "Equal", Value: "true", Effect: "NoExecute", TolerationSeconds: seconds}}},
		"forever":    {"drained", []*wharfv1.Toleration{{Key: "maintenance", Operator: "Exists"}}},
		"quick":      {"dead", []*wharfv1.Toleration{{Key: nodelifecycle.TaintUnreachable, Operator: "Exists", Effect: "NoExecute", TolerationSeconds: second}}},
		"defaulted":  {"dead", nil}, // tolerates unreachable for five minutes
	}
	for name, p := range pods {
		if _, err := c.Pods().Create(context.Background(), &wharfv1.Pod{
			Metadata: &wharfv1.ObjectMeta{Name: name, Namespace: "default"},
			Spec:     &wharfv1.PodSpec{NodeName: p.node, Tolerations: p.tols, Containers: []*wharfv1.Container{{Name: "web", Image: "web:1"}}},
		}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	// With an informer someone else runs, as the server shares the
	// scheduler's.
	nodes := client.NewInformer(c.Nodes(), client.InformerOptions{})
	go nodes.Run(ctx)
	ctl := nodelifecycle.New(nodelifecycle.Config{Client: c, GracePeriod: time.Second, MonitorPeriod: 20 * time.Millisecond, Nodes: nodes, Logger: slog.New(slog.DiscardHandler)})
	go func() { defer close(done); ctl.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	evicted := func(name string) bool {
		p, err := c.Pods().Get(context.Background(), "default", name)
		if err != nil {
			t.Fatal(err)
		}
		if p.GetMetadata().GetDeletionTimestamp() == nil {
			return false
		}
		for _, cond := range p.GetStatus().GetConditions() {
			if cond.GetType() == "DisruptionTarget" && cond.GetReason() == nodelifecycle.ReasonDeletionByTaint {
				return true
			}
		}
		t.Fatalf("pod %s is being deleted without a DisruptionTarget condition: %v", name, p.GetStatus().GetConditions())
		return false
	}
	waitFor := func(name string) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !evicted(name) {
			if time.Now().After(deadline) {
				t.Fatalf("pod %s was not evicted", name)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	waitFor("intolerant")
	if evicted("patient") {
		t.Error("pod patient was evicted with the intolerant one; it tolerates the taint for 3s")
	}
	waitFor("patient")
	waitFor("quick") // a second after the dead node's unreachable taint came
	for _, name := range []string{"forever", "defaulted"} {
		if evicted(name) {
			t.Errorf("pod %s was evicted", name)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := c.Events().List(context.Background(), client.ListOptions{Namespace: "default", FieldSelector: "involvedObject.name=intolerant"})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) == 1 && l.Items[0].GetReason() == nodelifecycle.ReasonTaintEviction {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("events about intolerant: %v", l.Items)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
