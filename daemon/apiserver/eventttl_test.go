package apiserver

import (
	"context"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/store"
)

// newTTLServer returns a Server with the event TTL over a store in a temp
// dir, and a context to call it with.
func newTTLServer(t *testing.T, ttl time.Duration) (*Server, context.Context) {
	t.Helper()
	st, err := store.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	ctx := WithUser(context.Background(), systemUser)
	s, err := New(ctx, st, WithEventTTL(ttl))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Close)
	return s, ctx
}

// An event expires a TTL after the latest of its creation, lastTimestamp
// and eventTime; the others stay.
func TestExpireEvents(t *testing.T) {
	s, ctx := newTTLServer(t, time.Hour)
	now := time.Now()
	event := func(name string, last, eventTime time.Time) {
		t.Helper()
		ev := &wharfv1.Event{
			Metadata:       &wharfv1.ObjectMeta{Name: name, Namespace: "default"},
			InvolvedObject: &wharfv1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"},
			Reason:         "Test", Message: name, Type: "Normal",
		}
		if !last.IsZero() {
			ev.LastTimestamp = timestamppb.New(last)
		}
		if !eventTime.IsZero() {
			ev.EventTime = timestamppb.New(eventTime)
		}
		if _, err := s.events.create(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	event("quiet", time.Time{}, time.Time{})               // created now
	event("backdated", now.Add(-2*time.Hour), time.Time{}) // created now all the same
	event("counted", now.Add(40*time.Minute), time.Time{})
	event("series", time.Time{}, now.Add(50*time.Minute))

	if n, err := s.expireEventsOnce(ctx, now.Add(30*time.Minute)); n != 0 || err != nil {
		t.Fatalf("half an hour on: %d expired (%v), want none", n, err)
	}
	n, err := s.expireEventsOnce(ctx, now.Add(time.Hour+time.Minute))
	if n != 2 || err != nil {
		t.Fatalf("an hour on: %d expired (%v), want quiet and backdated", n, err)
	}
	l, err := s.events.list(ctx, listOptions{Namespace: "default"})
	if err != nil {
		t.Fatal(err)
	}
	var left []string
	for _, ev := range l.items {
		left = append(left, ev.GetMetadata().GetName())
	}
	if len(left) != 2 || left[0] != "counted" || left[1] != "series" {
		t.Errorf("events left %v, want [counted series]", left)
	}
	if n, err := s.expireEventsOnce(ctx, now.Add(2*time.Hour)); n != 2 || err != nil {
		t.Errorf("two hours on: %d expired (%v), want counted and series", n, err)
	}
}

// Sweeps read the events a page at a time.
func TestExpireEventsPages(t *testing.T) {
	s, ctx := newTTLServer(t, time.Minute)
	const events = eventSweepPage*2 + 7
	for i := range events {
		ev := &wharfv1.Event{Metadata: &wharfv1.ObjectMeta{GenerateName: "e-", Namespace: "default"},
			InvolvedObject: &wharfv1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"}, Reason: "Test", Message: "m", Type: "Normal"}
		if i%2 == 1 {
			ev.LastTimestamp = timestamppb.New(time.Now().Add(time.Hour))
		}
		if _, err := s.events.create(ctx, ev); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.expireEventsOnce(ctx, time.Now().Add(2*time.Minute)); n != (events+1)/2 || err != nil {
		t.Errorf("%d expired (%v), want %d", n, err, (events+1)/2)
	}
}
