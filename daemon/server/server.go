// Package server wires the daemon: it opens the store under a data dir,
// starts the API server on it and serves the API on one port (Connect,
// gRPC and gRPC-Web over HTTP/1.1 and cleartext HTTP/2).
//
// cmd/wharf and test harnesses import it; nothing else should.
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"path/filepath"
	"time"

	"github.com/wharfhq/wharf/daemon/apiserver"
	"github.com/wharfhq/wharf/daemon/store"
)

// DefaultListen is where the server listens unless told otherwise.
const DefaultListen = "127.0.0.1:7070"

// Config says where the daemon keeps its state and where it listens.
type Config struct {
	// DataDir holds the store (DataDir/store).
	DataDir string
	// Listen is host:port; DefaultListen when empty. Port 0 picks one.
	Listen string
	Logger *slog.Logger
	// StoreOptions and APIOptions are passed through.
	StoreOptions []store.Option
	APIOptions   []apiserver.Option
	// Profiling serves net/http/pprof's profiles at /debug/pprof/ on the
	// API's port.
	Profiling bool
}

// Daemon is a running server.
type Daemon struct {
	API      *apiserver.Server
	Store    *store.DB
	listener net.Listener
	http     *http.Server
	log      *slog.Logger
	served   chan error
}

// Start opens the store, starts the API server and begins serving. The
// returned Daemon serves until Shutdown.
func Start(ctx context.Context, cfg Config) (*Daemon, error) {
	if cfg.DataDir == "" {
		return nil, errors.New("server: no data dir; pass --data-dir")
	}
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	log := cfg.Logger
	if log == nil {
		log = slog.Default()
	}
	dir := filepath.Join(cfg.DataDir, "store")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("server: data dir: %w", err)
	}
	st, err := store.Open(dir, append([]store.Option{store.WithLogger(log.With("component", "store"))}, cfg.StoreOptions...)...)
	if err != nil {
		return nil, fmt.Errorf("server: open store in %s: %w", dir, err)
	}
	api, err := apiserver.New(ctx, st, append([]apiserver.Option{apiserver.WithLogger(log.With("component", "apiserver"))}, cfg.APIOptions...)...)
	if err != nil {
		_ = st.Close()
		return nil, fmt.Errorf("server: %w", err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		api.Close()
		_ = st.Close()
		return nil, fmt.Errorf("server: listen on %s: %w (is another wharf server running? pick another address with --listen)", cfg.Listen, err)
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	d := &Daemon{
		API:      api,
		Store:    st,
		listener: ln,
		log:      log,
		served:   make(chan error, 1),
		http: &http.Server{
			Handler:   withProfiling(api.Handler(), cfg.Profiling),
			Protocols: protocols,
			// Watches are long-lived streams: allow many per connection.
			HTTP2:             &http.HTTP2Config{MaxConcurrentStreams: 10000},
			ReadHeaderTimeout: 10 * time.Second,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		},
	}
	go func() { d.served <- d.http.Serve(ln) }()
	log.Info("serving the API", "addr", ln.Addr().String(), "data_dir", cfg.DataDir)
	return d, nil
}

// withProfiling adds net/http/pprof's handlers in front of h when on.
func withProfiling(h http.Handler, on bool) http.Handler {
	if !on {
		return h
	}
	mux := http.NewServeMux()
	mux.Handle("/", h)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}

// Addr is the address the daemon listens on.
func (d *Daemon) Addr() string { return d.listener.Addr().String() }

// URL is the base URL clients use.
func (d *Daemon) URL() string { return "http://" + d.Addr() }

// Wait blocks until the HTTP server stops on its own (an error) or ctx ends.
func (d *Daemon) Wait(ctx context.Context) error {
	select {
	case <-ctx.Done():
		return nil
	case err := <-d.served:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("server: %w", err)
	}
}

// Shutdown stops accepting requests, ends open watches, stops the API
// server and closes the store, within ctx's deadline.
func (d *Daemon) Shutdown(ctx context.Context) error {
	// End watches first (they would hold the HTTP shutdown), then let
	// in-flight requests finish.
	d.API.Close()
	sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var err error
	if serr := d.http.Shutdown(sctx); serr != nil {
		d.log.Warn("requests still running at shutdown were cut", "err", serr)
		_ = d.http.Close()
	}
	if cerr := d.Store.Close(); cerr != nil {
		err = errors.Join(err, fmt.Errorf("server: close store: %w", cerr))
	}
	d.log.Info("server stopped")
	return err
}
