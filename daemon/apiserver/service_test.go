package apiserver_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/api/wharf/v1/wharfv1connect"
	"github.com/wharfhq/wharf/daemon/apiserver"
	"github.com/wharfhq/wharf/daemon/server"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/testing/wharftest"
)

// moduleStub answers PluginModuleService.Get with a plain (non-Connect)
// error, as a careless extra service might.
type moduleStub struct {
	wharfv1connect.UnimplementedPluginModuleServiceHandler
}

func (moduleStub) Get(context.Context, *connect.Request[wharfv1.GetPluginModuleRequest]) (*connect.Response[wharfv1.GetPluginModuleResponse], error) {
	return nil, errors.New("disk on fire")
}

// tokenAuth admits requests that carry the header X-Token: yes.
type tokenAuth struct{}

func (tokenAuth) Authenticate(_ context.Context, _ string, h http.Header) (apiserver.UserInfo, error) {
	if h.Get("X-Token") != "yes" {
		return apiserver.UserInfo{}, errors.New("no token; send X-Token")
	}
	return apiserver.UserInfo{Name: "tester"}, nil
}

func TestWithServiceJoinsTheRequestChain(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t, wharftest.WithConfig(func(c *server.Config) {
		c.APIOptions = append(c.APIOptions,
			apiserver.WithAuthenticator(tokenAuth{}),
			apiserver.WithService(func(opts ...connect.HandlerOption) (string, http.Handler) {
				return wharfv1connect.NewPluginModuleServiceHandler(moduleStub{}, opts...)
			}))
	}))
	mc := wharfv1connect.NewPluginModuleServiceClient(client.DefaultHTTPClient(), srv.URL())

	// Authentication applies to the extra service too.
	_, err := mc.Get(ctx(t), connect.NewRequest(&wharfv1.GetPluginModuleRequest{Module: "sha256:00"}))
	if code(err) != connect.CodeUnauthenticated {
		t.Fatalf("without a token: %v, want Unauthenticated", err)
	}
	// A plain error is mapped (and logged) by the API's one mapping, not
	// leaked to the client.
	req := connect.NewRequest(&wharfv1.GetPluginModuleRequest{Module: "sha256:00"})
	req.Header().Set("X-Token", "yes")
	_, err = mc.Get(ctx(t), req)
	if code(err) != connect.CodeInternal || bytes.Contains([]byte(err.Error()), []byte("disk on fire")) {
		t.Fatalf("with a token: %v, want Internal without the cause", err)
	}

	// Counted in the request metrics.
	resp, err := http.Get(srv.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`wharf_api_requests_total{code="unauthenticated",method="Get",service="wharf.v1.PluginModuleService"} 1`,
		`wharf_api_requests_total{code="internal",method="Get",service="wharf.v1.PluginModuleService"} 1`,
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}

	// Listed by reflection (which, like health, needs no credentials).
	rc := grpcreflect.NewClient(client.DefaultHTTPClient(), srv.URL())
	stream := rc.NewStream(ctx(t))
	defer stream.Close()
	names, err := stream.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, n := range names {
		found = found || n == "wharf.v1.PluginModuleService"
	}
	if !found {
		t.Errorf("reflection lacks wharf.v1.PluginModuleService: %v", names)
	}
}

func TestWithServiceRefusesATakenPath(t *testing.T) {
	t.Parallel()
	_, err := server.Start(ctx(t), server.Config{
		DataDir: t.TempDir(),
		Listen:  "127.0.0.1:0",
		APIOptions: []apiserver.Option{apiserver.WithService(func(opts ...connect.HandlerOption) (string, http.Handler) {
			return wharfv1connect.NewPodServiceHandler(wharfv1connect.UnimplementedPodServiceHandler{}, opts...)
		})},
	})
	if err == nil || !bytes.Contains([]byte(err.Error()), []byte("wharf.v1.PodService is served twice")) {
		t.Fatalf("err = %v, want a refusal naming the service", err)
	}
}
