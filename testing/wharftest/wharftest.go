// Package wharftest starts a real Wharf server for tests: a Badger store in
// a temp dir, the API server, and a listener on 127.0.0.1 with a random
// port. Tests drive it through the real API.
//
// Test code anywhere in the repository may import it.
package wharftest

import (
	"context"
	"io"
	"log/slog"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/wharfhq/wharf/daemon/server"
	"github.com/wharfhq/wharf/sdk/client"
)

// Server is a running test server.
type Server struct {
	*server.Daemon
	DataDir string
	once    sync.Once
}

// Option changes the server a test starts.
type Option func(*server.Config)

// WithDataDir starts the server on dir instead of a fresh temp dir (to test
// restarts).
func WithDataDir(dir string) Option { return func(c *server.Config) { c.DataDir = dir } }

// WithConfig lets a test set anything else in the server's config.
func WithConfig(f func(*server.Config)) Option { return Option(f) }

// Start starts a server and stops it when the test ends. Logs go to the
// test log when WHARF_TEST_LOG is set, else nowhere.
func Start(t testing.TB, opts ...Option) *Server {
	t.Helper()
	cfg := server.Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", Logger: testLogger(t)}
	for _, o := range opts {
		o(&cfg)
	}
	d, err := server.Start(context.Background(), cfg)
	if err != nil {
		t.Fatalf("wharftest: start server: %v", err)
	}
	s := &Server{Daemon: d, DataDir: cfg.DataDir}
	t.Cleanup(func() { s.Stop(t) })
	return s
}

// Stop shuts the server down; Start's cleanup does it otherwise. Stopping
// twice is fine.
func (s *Server) Stop(t testing.TB) {
	t.Helper()
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("wharftest: shutdown: %v", err)
		}
	})
}

// Client returns an API client for the server.
func (s *Server) Client(opts ...client.Option) *client.Client {
	return client.New(s.URL(), opts...)
}

func testLogger(t testing.TB) *slog.Logger {
	if os.Getenv("WHARF_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
