package agent_test

import (
	"crypto/rand"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/agent"
	"github.com/wharfhq/wharf/nodes/network"
	"github.com/wharfhq/wharf/sdk/client"
)

// TestPodNetwork runs pods on a bridge and a pod CIDR of the test's own:
// each pod gets an IP from the node's CIDR, pods reach each other and the
// node reaches them at those IPs, probes use them, and hostNetwork pods
// stay in the node's namespace.
func TestPodNetwork(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	if m := network.Missing(nil); m != "" {
		t.Skip(m)
	}
	b := make([]byte, 4)
	rand.Read(b)
	bridge := fmt.Sprintf("wa%x", b)
	cidr := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 200 + b[0]%50, b[1], 0}), 24)
	nm, err := network.New(network.Config{Name: "wa-" + bridge, Bridge: bridge, StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { exec.Command("ip", "link", "delete", bridge).Run() })
	e.configure = func(c *agent.Config) {
		c.Network = nm
		c.PodCIDR = cidr.String()
	}
	e.startAgent(t)
	if n, _ := e.c.Nodes().Get(ctx(t), "", e.node); n.GetSpec().GetPodCidr() != cidr.String() {
		t.Fatalf("node podCIDR %q, want %s", n.GetSpec().GetPodCidr(), cidr)
	}

	srv := e.pod("web", "serve=:8080", "sleep")
	srv.Spec.Containers[0].ReadinessProbe = &wharfv1.Probe{HttpGet: &wharfv1.HTTPGetAction{Path: "/", Port: "8080"}, PeriodSeconds: 1}
	e.create(t, srv)
	web := e.waitPod(t, "web", "Ready", ready)
	ip, err := netip.ParseAddr(web.GetStatus().GetPodIp())
	if err != nil || !cidr.Contains(ip) {
		t.Fatalf("podIP %q is not in the node's pod CIDR %s", web.GetStatus().GetPodIp(), cidr)
	}
	if web.GetStatus().GetHostIp() != "127.0.0.1" || len(web.GetStatus().GetPodIps()) != 1 {
		t.Errorf("status = %v", web.GetStatus())
	}

	// The node reaches the pod.
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + ip.String() + ":8080/")
	if err != nil {
		t.Fatalf("the node cannot reach the pod at %s: %v", ip, err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), "ok from web") {
		t.Errorf("the pod answered %q", body)
	}

	// gRPC probes reach a pod's server at the pod's IP too: a service it
	// serves makes the pod ready, one it does not know fails the probe.
	g := e.pod("grpc", "grpc=:9090,wharf.test.Echo", "sleep")
	g.Spec.Containers[0].ReadinessProbe = &wharfv1.Probe{Grpc: &wharfv1.GRPCAction{Port: 9090, Service: proto.String("wharf.test.Echo")}, PeriodSeconds: 1}
	e.create(t, g)
	missing := e.pod("grpc-missing", "grpc=:9090", "sleep")
	missing.Spec.Containers[0].ReadinessProbe = &wharfv1.Probe{Grpc: &wharfv1.GRPCAction{Port: 9090, Service: proto.String("wharf.test.Missing")}, PeriodSeconds: 1}
	e.create(t, missing)
	if got := e.waitPod(t, "grpc", "Ready", ready); !cidr.Contains(netip.MustParseAddr(got.GetStatus().GetPodIp())) {
		t.Errorf("grpc pod IP %q is not in %s", got.GetStatus().GetPodIp(), cidr)
	}
	e.waitEvent(t, "grpc-missing", "Unhealthy", "Readiness probe failed: error: health rpc probe failed")
	if got, _ := e.c.Pods().Get(ctx(t), "default", "grpc-missing"); condition(got, "Ready") != "False" {
		t.Errorf("ready while its server does not know the probed service: %v", got.GetStatus())
	}

	// Another pod reaches it; the pod's own env sees its IP.
	cl := e.pod("client", "get=http://"+ip.String()+":8080/", "env", "echo=END", "sleep")
	cl.Spec.Containers[0].Env = []*wharfv1.EnvVar{{Name: "MY_IP", ValueFrom: &wharfv1.EnvVarSource{FieldRef: &wharfv1.ObjectFieldSelector{FieldPath: "status.podIP"}}}}
	e.create(t, cl)
	clientPod := e.waitPod(t, "client", "Ready", ready)
	if clientPod.GetStatus().GetPodIp() == ip.String() {
		t.Errorf("two pods share %s", ip)
	}
	out := e.waitLogLine(t, "client", "END")
	if !slices.Contains(out, "ok from web") {
		t.Errorf("the client did not reach the server pod:\n%s", strings.Join(out, "\n"))
	}
	if want := "MY_IP=" + clientPod.GetStatus().GetPodIp(); !strings.Contains(strings.Join(out, "\n"), want) {
		t.Errorf("the client's env lacks %s:\n%s", want, strings.Join(out, "\n"))
	}

	// hostNetwork: the node's address and namespace.
	hn := e.pod("host", "sleep")
	hn.Spec.HostNetwork = true
	e.create(t, hn)
	host := e.waitPod(t, "host", "Ready", ready)
	if host.GetStatus().GetPodIp() != "127.0.0.1" {
		t.Errorf("hostNetwork pod IP %q, want the node's 127.0.0.1", host.GetStatus().GetPodIp())
	}
	if _, ok := nm.Get(host.GetMetadata().GetUid()); ok {
		t.Error("a hostNetwork pod got a pod network")
	}

	// Deleting a pod releases its network.
	if _, err := e.c.Pods().Delete(ctx(t), "default", "web", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitGone(t, "web")
	if _, ok := nm.Get(web.GetMetadata().GetUid()); ok {
		t.Error("the deleted pod still has its network")
	}
	for _, name := range []string{"client", "host", "grpc", "grpc-missing"} {
		e.c.Pods().Delete(ctx(t), "default", name, client.DeleteOptions{})
		e.waitGone(t, name)
	}
}
