package client_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/testing/wharftest"
)

var webPod = &wharfv1.ObjectReference{Kind: "Pod", ApiVersion: "v1", Namespace: "default", Name: "web", Uid: "u-1"}

// startRecorder runs a recorder against c until the test ends.
func startRecorder(t *testing.T, c *client.Client, cfg client.EventRecorderConfig) *client.EventRecorder {
	t.Helper()
	cfg.Component = "test"
	r := client.NewEventRecorder(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.Run(ctx, c)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

// eventsOf lists the events about the object named name, "message xN"
// each, sorted.
func eventsOf(t *testing.T, c *client.Client, name string) []string {
	t.Helper()
	l, err := c.Events().List(context.Background(), client.ListOptions{Namespace: "default", FieldSelector: "involvedObject.name=" + name})
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ev := range l.Items {
		out = append(out, fmt.Sprintf("%s x%d", ev.GetMessage(), ev.GetCount()))
	}
	slices.Sort(out)
	return out
}

// waitEvents waits until the events about name are want.
func waitEvents(t *testing.T, c *client.Client, name string, want ...string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		got := eventsOf(t, c, name)
		if slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("events of %s: %q, want %q", name, got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The same event is one Event whose count grows: the first occurrence at
// once, the repeats together a write interval later.
func TestEventRecorderCounts(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	r := startRecorder(t, c, client.EventRecorderConfig{Interval: 300 * time.Millisecond, Host: "n1"})
	r.Event(webPod, "Warning", "Unhealthy", "Readiness probe failed")
	waitEvents(t, c, "web", "Readiness probe failed x1")
	for range 4 {
		r.Event(webPod, "Warning", "Unhealthy", "Readiness probe failed")
	}
	waitEvents(t, c, "web", "Readiness probe failed x5")
	l, err := c.Events().List(context.Background(), client.ListOptions{Namespace: "default"})
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("events %v (%v), want one", l, err)
	}
	ev := l.Items[0]
	if ev.GetSource().GetComponent() != "test" || ev.GetSource().GetHost() != "n1" || ev.GetReportingInstance() != "n1" ||
		ev.GetInvolvedObject().GetUid() != "u-1" || ev.GetType() != "Warning" || ev.GetReason() != "Unhealthy" ||
		!ev.GetLastTimestamp().AsTime().After(ev.GetFirstTimestamp().AsTime()) {
		t.Errorf("event %v", ev)
	}
	// A part of the object, or another message, is another Event.
	part := &wharfv1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web", Uid: "u-1", FieldPath: "spec.containers{app}"}
	r.Event(part, "Warning", "Unhealthy", "Readiness probe failed")
	r.Event(webPod, "Warning", "Unhealthy", "Liveness probe failed")
	waitEvents(t, c, "web", "Liveness probe failed x1", "Readiness probe failed x1", "Readiness probe failed x5")
}

// Past MaxSimilar messages for one object's type and reason, the rest are
// one combined Event.
func TestEventRecorderCombinesSimilar(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	r := startRecorder(t, c, client.EventRecorderConfig{Interval: 100 * time.Millisecond, MaxSimilar: 2})
	for i := range 5 {
		r.Event(webPod, "Warning", "Failed", fmt.Sprintf("dial tcp 10.0.0.%d: refused", i))
	}
	waitEvents(t, c, "web",
		"(combined from similar events): dial tcp 10.0.0.4: refused x3",
		"dial tcp 10.0.0.0: refused x1",
		"dial tcp 10.0.0.1: refused x1")
}

// A recorder counts on top of the Event an earlier run wrote, writes what
// was recorded before it ran, and writes an Event deleted meanwhile (its
// TTL, say) again.
func TestEventRecorderAcrossRuns(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	ctx, cancel := context.WithCancel(context.Background())
	first := client.NewEventRecorder(client.EventRecorderConfig{Component: "test"})
	first.Event(webPod, "Normal", "Pulled", "Pulled image")
	first.Event(webPod, "Normal", "Pulled", "Pulled image") // before Run: written together
	done := make(chan struct{})
	go func() { defer close(done); first.Run(ctx, c) }()
	waitEvents(t, c, "web", "Pulled image x2")
	cancel()
	<-done

	second := startRecorder(t, c, client.EventRecorderConfig{Interval: 100 * time.Millisecond})
	second.Event(webPod, "Normal", "Pulled", "Pulled image")
	waitEvents(t, c, "web", "Pulled image x3")

	l, err := c.Events().List(context.Background(), client.ListOptions{Namespace: "default"})
	if err != nil || len(l.Items) != 1 {
		t.Fatalf("events %v (%v)", l, err)
	}
	if _, err := c.Events().Delete(context.Background(), "default", l.Items[0].GetMetadata().GetName(), client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	second.Event(webPod, "Normal", "Pulled", "Pulled image")
	waitEvents(t, c, "web", "Pulled image x1")
}

// Events about cluster-scoped objects go to the configured namespace;
// long messages are cut.
func TestEventRecorderClusterScoped(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	r := startRecorder(t, c, client.EventRecorderConfig{})
	r.Event(&wharfv1.ObjectReference{Kind: "Plugin", Name: "gpu-score"}, "Warning", "CallFailed", strings.Repeat("x", 5000))
	deadline := time.Now().Add(10 * time.Second)
	for {
		l, err := c.Events().List(context.Background(), client.ListOptions{Namespace: "default", FieldSelector: "involvedObject.name=gpu-score"})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) == 1 {
			if m := l.Items[0].GetMessage(); len(m) != 1024 || !strings.HasSuffix(m, "...") {
				t.Errorf("message of %d bytes: %.20q...", len(m), m)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no event about the plugin: %v", l.Items)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
