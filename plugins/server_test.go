package plugins_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/protobuf/types/known/structpb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/api/wharf/v1/wharfv1connect"
	"github.com/wharfhq/wharf/daemon/apiserver"
	"github.com/wharfhq/wharf/daemon/store"
	"github.com/wharfhq/wharf/plugins"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/sdk/plugin/plugintest"
)

// testServer is the daemon as daemon/server wires it, plus the plugin
// host: a Badger store in a temp dir, the API server with the host's
// admission, the module upload service, a real listener, and Host.Run.
type testServer struct {
	URL     string
	Host    *plugins.Host
	Client  *client.Client
	Modules wharfv1connect.PluginModuleServiceClient
	Reg     *prometheus.Registry
}

func logger() *slog.Logger {
	if os.Getenv("WHARF_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func startServer(t testing.TB, hostOpts ...func(*plugins.Options)) *testServer {
	t.Helper()
	dir := t.TempDir()
	log := logger()
	st, err := store.Open(filepath.Join(dir, "store"), store.WithLogger(log))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	// The compilation cache is shared across tests and runs: compiling a Go
	// plugin takes seconds.
	opts := plugins.Options{DataDir: filepath.Join(dir, "plugins"), Logger: log, Registerer: reg,
		CacheDir: filepath.Join(os.TempDir(), "wharf-plugins-cache-test")}
	for _, f := range hostOpts {
		f(&opts)
	}
	h, err := plugins.New(opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	api, err := apiserver.New(ctx, st, apiserver.WithLogger(log), apiserver.WithRegistry(reg),
		apiserver.WithMutatingAdmission(h.Admission()), apiserver.WithValidatingAdmission(h.Admission()),
		apiserver.WithService(h.Handler))
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	protocols := new(http.Protocols)
	protocols.SetHTTP1(true)
	protocols.SetUnencryptedHTTP2(true)
	srv := &http.Server{Handler: api.Handler(), Protocols: protocols, HTTP2: &http.HTTP2Config{MaxConcurrentStreams: 10000}}
	go srv.Serve(ln)

	url := "http://" + ln.Addr().String()
	c := client.New(url)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = h.Run(ctx, c)
	}()
	t.Cleanup(func() {
		api.Close()
		cancel()
		<-done
		sctx, scancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer scancel()
		_ = srv.Shutdown(sctx)
		_ = st.Close()
	})
	return &testServer{URL: url, Host: h, Client: c, Reg: reg,
		Modules: wharfv1connect.NewPluginModuleServiceClient(client.DefaultHTTPClient(), url)}
}

// example builds an example plugin once per test binary (and caches it
// across runs) and returns its bytes.
func example(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(plugintest.Build(t, "github.com/wharfhq/wharf/plugins/examples/"+name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// install uploads module and creates (or updates) the Plugin name, then
// waits until it serves that module.
func (s *testServer) install(t testing.TB, name string, module []byte, spec *wharfv1.PluginSpec) *wharfv1.Plugin {
	t.Helper()
	ctx := context.Background()
	resp, err := s.Modules.Upload(ctx, connectRequest(&wharfv1.UploadPluginModuleRequest{Module: module}))
	if err != nil {
		t.Fatalf("upload: %v", err)
	}
	if spec == nil {
		spec = &wharfv1.PluginSpec{}
	}
	spec.Module = resp.Msg.GetModule()
	p := &wharfv1.Plugin{Metadata: &wharfv1.ObjectMeta{Name: name}, Spec: spec}
	if _, err := s.Client.Plugins().Apply(ctx, p); err != nil {
		t.Fatalf("apply plugin: %v", err)
	}
	return s.waitPlugin(t, name, func(p *wharfv1.Plugin) bool {
		return p.GetStatus().GetPhase() == "Ready" && p.GetStatus().GetModule() == spec.Module &&
			p.GetStatus().GetObservedGeneration() == p.GetMetadata().GetGeneration()
	})
}

func (s *testServer) waitPlugin(t testing.TB, name string, ok func(*wharfv1.Plugin) bool) *wharfv1.Plugin {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var last *wharfv1.Plugin
	for time.Now().Before(deadline) {
		p, err := s.Client.Plugins().Get(context.Background(), "", name)
		if err == nil {
			last = p
			if ok(p) {
				return p
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("plugin %s: condition not met; last status %v", name, last.GetStatus())
	return nil
}

func config(t testing.TB, m map[string]any) *structpb.Struct {
	s, err := structpb.NewStruct(m)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func waitFor(t testing.TB, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if f() {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s", what)
}

// metric returns wharf_plugin_calls_total for a plugin, point and outcome.
func (s *testServer) metric(t testing.TB, plugin, point, outcome string) float64 {
	t.Helper()
	mfs, err := s.Reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var v float64
	for _, mf := range mfs {
		if mf.GetName() != "wharf_plugin_calls_total" {
			continue
		}
		for _, m := range mf.GetMetric() {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["plugin"] == plugin && labels["point"] == point && labels["outcome"] == outcome {
				v = m.GetCounter().GetValue()
			}
		}
	}
	return v
}

func clientDelete() client.DeleteOptions { return client.DeleteOptions{} }

func clientList() client.ListOptions { return client.ListOptions{} }

func clientListNS(ns string) client.ListOptions { return client.ListOptions{Namespace: ns} }

func hostile(t testing.TB) []byte {
	t.Helper()
	b, err := os.ReadFile(plugintest.Build(t, "github.com/wharfhq/wharf/plugins/wasm/testdata/hostile"))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
