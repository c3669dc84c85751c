package bench

import (
	"context"
	"os"
	"testing"

	containerdtest "github.com/wharfhq/wharf/testing/containerd"
)

// TestStartupBench runs the start-up benchmark small: every pod reaches
// Running and the figures are filled in.
func TestStartupBench(t *testing.T) {
	if m := containerdtest.Missing(); m != "" {
		if os.Getenv(containerdtest.RequireEnv) == "1" {
			t.Fatal(m)
		}
		t.Skip(m)
	}
	res, err := Startup(context.Background(), StartupConfig{Pods: 4, Rate: 20, RawRuns: 3})
	if err != nil {
		t.Fatal(err)
	}
	if res.Pods != 4 || res.P50MS <= 0 || res.P99MS < res.P50MS || res.ContainerdP50MS <= 0 || res.Ratio <= 0 {
		t.Errorf("result %+v", res)
	}
	t.Logf("%+v", res)
}
