package containerdtest_test

import (
	"context"
	"os"
	"testing"

	containerdtest "github.com/wharfhq/wharf/testing/containerd"
)

func TestStart(t *testing.T) {
	t.Parallel()
	var dir string
	t.Run("serves", func(t *testing.T) {
		inst := containerdtest.Start(t)
		dir = inst.Dir
		if len(inst.Address) > 100 {
			t.Errorf("socket path %q is %d bytes, too long for a unix socket", inst.Address, len(inst.Address))
		}
		c := inst.Client(t)
		v, err := c.Version(context.Background())
		if err != nil {
			t.Fatalf("Version: %v", err)
		}
		if v.Version == "" {
			t.Error("empty containerd version")
		}
		t.Logf("containerd %s (%s)", v.Version, v.Revision)
	})
	if dir == "" {
		return
	}
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Errorf("instance dir %s not removed after cleanup: %v", dir, err)
	}
}

func TestStartTwice(t *testing.T) {
	t.Parallel()
	a := containerdtest.Start(t)
	b := containerdtest.Start(t)
	if a.Address == b.Address || a.RuncRoot == b.RuncRoot || a.CgroupParent == b.CgroupParent {
		t.Errorf("instances share paths: %+v and %+v", a, b)
	}
}
