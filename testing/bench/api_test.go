package bench

import (
	"context"
	"testing"
	"time"
)

// TestAPIBenchDeliversEveryCreate runs the API benchmark small: every pod
// created during the measured window reaches the watcher of its node.
func TestAPIBenchDeliversEveryCreate(t *testing.T) {
	res, err := API(context.Background(), APIConfig{
		Clients: 16, Watchers: 20, Conns: 2,
		Warmup: 200 * time.Millisecond, Duration: time.Second,
		DataDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Creates == 0 || res.Errors != 0 {
		t.Fatalf("creates %d, errors %d", res.Creates, res.Errors)
	}
	if res.Missed != 0 {
		t.Fatalf("%d of %d acknowledged creates never reached their watcher", res.Missed, res.Creates)
	}
	t.Logf("%+v", res)
}
