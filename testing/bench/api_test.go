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
	// The server's part of a create is part of what the client waits for
	// (10% for the histogram's bucket width).
	if res.ServerCreateP50MS <= 0 || res.ServerCreateP50MS > 1.1*res.CreateP50MS {
		t.Errorf("server create p50 %.2f ms, client p50 %.2f ms: want the server's above 0 and within the client's", res.ServerCreateP50MS, res.CreateP50MS)
	}
	t.Logf("%+v", res)
}
