package bench

import (
	"os"
	"testing"

	"github.com/wharfhq/wharf/nodes/containerlog"
)

// TestMain lets containerd's shim run this test binary as the log driver
// of the containers the start-up benchmark runs.
func TestMain(m *testing.M) {
	if containerlog.IsDriver(os.Args) {
		os.Exit(containerlog.RunDriver(os.Args))
	}
	os.Exit(m.Run())
}
