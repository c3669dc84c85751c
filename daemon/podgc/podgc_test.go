package podgc_test

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"testing"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/podgc"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/testing/wharftest"
)

func pod(name, node string) *wharfv1.Pod {
	return &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec:     &wharfv1.PodSpec{NodeName: node, Containers: []*wharfv1.Container{{Name: "c", Image: "busy:1"}}},
	}
}

// Pods of a node that is gone are marked Failed and deleted after the
// quarantine; pods of nodes that exist, and pods not bound, stay.
func TestCollectsPodsOfDeletedNodes(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	ctx := context.Background()
	for _, n := range []string{"kept", "retired"} {
		if _, err := c.Nodes().Create(ctx, &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: n}}); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*wharfv1.Pod{pod("on-kept", "kept"), pod("on-retired", "retired"), pod("on-ghost", "ghost"), pod("pending", "")} {
		if _, err := c.Pods().Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	// Watch the collector's writes to on-ghost: the status, then the delete.
	l, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Pods().Watch(ctx, client.WatchOptions{Namespace: "default", FieldSelector: "metadata.name=on-ghost", ResourceVersion: l.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()

	const quarantine = 300 * time.Millisecond
	start := time.Now()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	gc := podgc.New(podgc.Config{Client: c, Quarantine: quarantine, Period: 50 * time.Millisecond, Logger: slog.New(slog.DiscardHandler)})
	go func() { defer close(done); gc.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })

	ev, err := w.Next()
	if err != nil || ev.Type != client.Modified {
		t.Fatalf("on-ghost: %v %v, want its status written", ev, err)
	}
	if took := time.Since(start); took < quarantine {
		t.Errorf("on-ghost collected %v after the collector started, before the quarantine (%v)", took, quarantine)
	}
	st := ev.Object.GetStatus()
	var disrupted *wharfv1.PodCondition
	for _, c := range st.GetConditions() {
		if c.GetType() == "DisruptionTarget" {
			disrupted = c
		}
	}
	if st.GetPhase() != "Failed" || st.GetReason() != "NodeLost" || disrupted.GetReason() != podgc.ReasonDeletionByPodGC ||
		disrupted.GetMessage() != "PodGC: node ghost no longer exists" {
		t.Errorf("on-ghost status %v", st)
	}
	if ev, err = w.Next(); err != nil || ev.Type != client.Deleted {
		t.Fatalf("on-ghost: %v %v, want it deleted", ev, err)
	}

	// A node deleted later: its pods go a quarantine after.
	if _, err := c.Nodes().Delete(ctx, "", "retired", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := c.Pods().Get(ctx, "default", "on-retired")
		if client.IsNotFound(err) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("on-retired still there (%v)", err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, name := range []string{"on-kept", "pending"} {
		if _, err := c.Pods().Get(ctx, "default", name); err != nil {
			t.Errorf("%s: %v, want it kept", name, err)
		}
	}
}

// Past the threshold of finished pods, the oldest finished ones go.
func TestCollectsOldestFinishedPods(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	ctx := context.Background()
	for i, phase := range []string{"Succeeded", "Running", "Failed", "Succeeded", "Failed"} {
		p, err := c.Pods().Create(ctx, pod(fmt.Sprintf("p%d", i), ""))
		if err != nil {
			t.Fatal(err)
		}
		p.Status = &wharfv1.PodStatus{Phase: phase}
		if _, err := c.Pods().UpdateStatus(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	// With informers someone else runs, as the server shares the
	// scheduler's.
	nodes := client.NewInformer(c.Nodes(), client.InformerOptions{})
	pods := client.NewInformer(c.Pods(), client.InformerOptions{})
	go nodes.Run(rctx)
	go pods.Run(rctx)
	gc := podgc.New(podgc.Config{Client: c, Period: 20 * time.Millisecond, TerminatedThreshold: 2, Nodes: nodes, Pods: pods, Logger: slog.New(slog.DiscardHandler)})
	go func() { defer close(done); gc.Run(rctx) }()
	t.Cleanup(func() { cancel(); <-done })
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, p := range l.Items {
			names = append(names, p.GetMetadata().GetName())
		}
		if slices.Equal(names, []string{"p1", "p3", "p4"}) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("pods %v, want p1 (running) and the two newest finished, p3 and p4", names)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
