package containerdproc_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/wharfhq/wharf/nodes/containerdproc"
)

func TestStartStop(t *testing.T) {
	if os.Geteuid() != 0 || containerdproc.Missing() != "" {
		if os.Getenv("WHARF_REQUIRE_CONTAINERD") == "1" {
			t.Fatalf("containerdproc: needs root and containerd: uid %d, %s", os.Geteuid(), containerdproc.Missing())
		}
		t.Skipf("containerdproc: needs root and containerd (uid %d; %s)", os.Geteuid(), containerdproc.Missing())
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	dir, err := os.MkdirTemp("", "cdp")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	p, err := containerdproc.Start(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !containerdproc.Reachable(ctx, p.Address) {
		t.Errorf("containerd does not answer at %s", p.Address)
	}
	if err := p.Stop(ctx); err != nil {
		t.Fatal(err)
	}
	if containerdproc.Reachable(ctx, p.Address) {
		t.Errorf("containerd still answers after Stop")
	}
	// It starts again on the same state.
	p, err = containerdproc.Start(ctx, dir)
	if err != nil {
		t.Fatalf("second start: %v", err)
	}
	p.Stop(ctx)
}
