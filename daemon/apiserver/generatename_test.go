package apiserver

import (
	"testing"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// TestGenerateNameRetries: a create from generateName whose drawn name is
// taken draws another; when every draw is taken it is AlreadyExists.
// (Not parallel: it replaces randomSuffix.)
func TestGenerateNameRetries(t *testing.T) {
	s, ctx := newTTLServer(t, time.Hour)
	draws := []string{"aaaaa", "aaaaa", "bbbbb"}
	saved := randomSuffix
	defer func() { randomSuffix = saved }()
	randomSuffix = func() string {
		d := draws[0]
		if len(draws) > 1 {
			draws = draws[1:]
		}
		return d
	}
	event := func(name, generate string) *wharfv1.Event {
		return &wharfv1.Event{Metadata: &wharfv1.ObjectMeta{Name: name, GenerateName: generate, Namespace: "default"},
			InvolvedObject: &wharfv1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"}, Reason: "Test"}
	}
	if _, err := s.events.create(ctx, event("e-aaaaa", "")); err != nil {
		t.Fatal(err)
	}
	got, err := s.events.create(ctx, event("", "e-"))
	if err != nil || got.GetMetadata().GetName() != "e-bbbbb" {
		t.Fatalf("created %q (%v); want e-bbbbb, drawn after e-aaaaa twice", got.GetMetadata().GetName(), err)
	}
	// Every draw taken (only e-bbbbb is drawn now).
	if _, err := s.events.create(ctx, event("", "e-")); !isAlreadyExists(err) {
		t.Fatalf("create with every draw taken: %v; want AlreadyExists", err)
	}
}
