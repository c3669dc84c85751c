package server_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/wharfhq/wharf/daemon/server"
)

// Profiles are served at /debug/pprof/ only when asked for; the API is
// served either way.
func TestProfiling(t *testing.T) {
	for _, on := range []bool{false, true} {
		d, err := server.Start(context.Background(), server.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Profiling: on})
		if err != nil {
			t.Fatal(err)
		}
		get := func(path string) int {
			resp, err := http.Get(d.URL() + path)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode
		}
		want := map[bool]int{false: http.StatusNotFound, true: http.StatusOK}[on]
		if got := get("/debug/pprof/heap"); got != want {
			t.Errorf("profiling %v: /debug/pprof/heap answers %d, want %d", on, got, want)
		}
		if got := get("/metrics"); got != http.StatusOK {
			t.Errorf("profiling %v: /metrics answers %d", on, got)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if err := d.Shutdown(ctx); err != nil {
			t.Error(err)
		}
		cancel()
	}
}
