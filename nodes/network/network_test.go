package network_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/wharfhq/wharf/nodes/network"
)

// newManager returns a manager on a bridge and a /24 of its own, so that
// parallel tests never share either; the bridge (and the masquerading, if
// opts set IPMasq) is deleted afterwards.
func newManager(t *testing.T, opts ...func(*network.Config)) (*network.Manager, netip.Prefix) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("network: pod networks need root; these tests run as uid", os.Geteuid())
	}
	if m := network.Missing(nil); m != "" {
		if os.Getenv("WHARF_REQUIRE_CONTAINERD") == "1" {
			t.Fatal(m)
		}
		t.Skip(m)
	}
	b := make([]byte, 4)
	rand.Read(b)
	bridge := fmt.Sprintf("wt%x", b)
	cidr := netip.PrefixFrom(netip.AddrFrom4([4]byte{10, 100 + b[0]%100, b[1], 0}), 24)
	cfg := network.Config{Name: "wt-" + bridge, Bridge: bridge, StateDir: t.TempDir()}
	for _, o := range opts {
		o(&cfg)
	}
	m, err := network.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Configure(cidr.String()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		for _, uid := range m.Pods() {
			if err := m.Teardown(context.Background(), uid); err != nil {
				t.Errorf("teardown %s: %v", uid, err)
			}
		}
		if err := m.RemoveMasquerade(); err != nil {
			t.Errorf("RemoveMasquerade: %v", err)
		}
		exec.Command("ip", "link", "delete", bridge).Run()
	})
	return m, cidr
}

func uid() string {
	b := make([]byte, 8)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// inNetNS runs fn on a thread inside the network namespace at path (the
// sockets fn opens stay in that namespace).
func inNetNS(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		goruntime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			goruntime.UnlockOSThread()
			errc <- err
			return
		}
		defer orig.Close()
		f, err := os.Open(path)
		if err != nil {
			goruntime.UnlockOSThread()
			errc <- err
			return
		}
		defer f.Close()
		if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
			goruntime.UnlockOSThread()
			errc <- err
			return
		}
		err = fn()
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			goruntime.UnlockOSThread()
		}
		errc <- err
	}()
	return <-errc
}

// listenIn opens a TCP listener on port 8080 inside the network namespace
// at path.
func listenIn(t *testing.T, path string) net.Listener {
	t.Helper()
	var l net.Listener
	err := inNetNS(path, func() (err error) {
		l, err = net.Listen("tcp", ":8080")
		return err
	})
	if err != nil {
		t.Fatalf("listen in %s: %v", path, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// readFrom reads what the server at addr sends, from inside the network
// namespace at path ("" for the test's own).
func readFrom(t *testing.T, path, addr string) string {
	t.Helper()
	var got []byte
	dial := func() error {
		c, err := net.DialTimeout("tcp", addr, 5*time.Second)
		if err != nil {
			return err
		}
		defer c.Close()
		got, err = io.ReadAll(c)
		return err
	}
	var err error
	if path == "" {
		err = dial()
	} else {
		err = inNetNS(path, dial)
	}
	if err != nil {
		t.Fatalf("read from %s (in %q): %v", addr, path, err)
	}
	return string(got)
}

func TestSetupTeardown(t *testing.T) {
	t.Parallel()
	m, cidr := newManager(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	a, b := uid(), uid()
	atA, err := m.Setup(ctx, a, "default", "a")
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	atB, err := m.Setup(ctx, b, "default", "b")
	if err != nil {
		t.Fatalf("Setup: %v", err)
	}
	for _, at := range []network.Attachment{atA, atB} {
		ip, err := netip.ParseAddr(at.IP)
		if err != nil || !cidr.Contains(ip) || ip == cidr.Addr().Next() {
			t.Errorf("pod IP %q is not a pod address of %s", at.IP, cidr)
		}
	}
	if atA.IP == atB.IP || atA.NetNSPath == atB.NetNSPath {
		t.Errorf("two pods share %v and %v", atA, atB)
	}
	// Setup again is what the pod already has.
	if again, err := m.Setup(ctx, a, "default", "a"); err != nil || again != atA {
		t.Errorf("second Setup = %v, %v; want %v", again, err, atA)
	}
	if got, ok := m.Get(a); !ok || got != atA {
		t.Errorf("Get = %v, %v", got, ok)
	}

	// The node reaches the pod at its IP, and the pod itself on loopback.
	l := listenIn(t, atA.NetNSPath)
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			io.WriteString(c, "hello from the pod\n")
			c.Close()
		}
	}()
	if got := readFrom(t, "", net.JoinHostPort(atA.IP, "8080")); got != "hello from the pod\n" {
		t.Errorf("read %q from the pod's IP", got)
	}
	if got := readFrom(t, atA.NetNSPath, "127.0.0.1:8080"); got != "hello from the pod\n" {
		t.Errorf("read %q on the pod's loopback", got)
	}

	if err := m.Teardown(ctx, a); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if _, ok := m.Get(a); ok {
		t.Error("Get after Teardown found the pod")
	}
	if _, err := os.Stat(atA.NetNSPath); !os.IsNotExist(err) {
		t.Errorf("netns %s left: %v", atA.NetNSPath, err)
	}
	if err := m.Teardown(ctx, a); err != nil {
		t.Errorf("second Teardown: %v", err)
	}
	if pods := m.Pods(); len(pods) != 1 || pods[0] != b {
		t.Errorf("Pods = %v, want [%s]", pods, b)
	}
	// The address is free again.
	c2, err := m.Setup(ctx, uid(), "default", "c")
	if err != nil {
		t.Fatal(err)
	}
	if c2.IP == atB.IP {
		t.Errorf("a new pod got pod b's address %s", c2.IP)
	}
}

func TestNotConfigured(t *testing.T) {
	t.Parallel()
	if os.Geteuid() != 0 {
		t.Skip("needs root")
	}
	m, err := network.New(network.Config{StateDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Setup(context.Background(), uid(), "default", "a"); err != network.ErrNotConfigured {
		t.Errorf("Setup before Configure: %v, want ErrNotConfigured", err)
	}
	if _, err := network.New(network.Config{StateDir: t.TempDir(), Bridge: "a-bridge-name-too-long"}); err == nil {
		t.Error("a 22-character bridge name was accepted")
	}
}

// TestMasqueradeNeedsIPTables: without iptables on PATH, a manager that
// is to masquerade refuses to start and names what to install; one that
// is not to masquerade does not need it.
func TestMasqueradeNeedsIPTables(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	_, err := network.New(network.Config{StateDir: t.TempDir(), IPMasq: true})
	if err == nil || !strings.Contains(err.Error(), "iptables and iptables-restore") || !strings.Contains(err.Error(), "apt-get install -y iptables") {
		t.Fatalf("err = %v; want one naming iptables and how to install it", err)
	}
	if _, err := network.New(network.Config{StateDir: t.TempDir()}); err != nil {
		t.Fatalf("without masquerading: %v", err)
	}
}

// TestTeardownOlderState tears down a pod whose state file an older agent
// wrote (the loopback plugin set its loopback interface up).
func TestTeardownOlderState(t *testing.T) {
	t.Parallel()
	m, _ := newManager(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	a := uid()
	at, err := m.Setup(ctx, a, "default", "a")
	if err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(at.NetNSPath)), "pods", a+".json"))
	if len(files) != 1 {
		t.Fatalf("no state file for pod %s", a)
	}
	b, _ := json.Marshal(map[string]string{"netns": at.NetNSPath, "ip": at.IP})
	if err := os.WriteFile(files[0], b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, ok := m.Get(a); !ok || got != at {
		t.Errorf("Get = %v, %v; want %v", got, ok, at)
	}
	if err := m.Teardown(ctx, a); err != nil {
		t.Fatalf("Teardown: %v", err)
	}
	if _, err := os.Stat(at.NetNSPath); !os.IsNotExist(err) {
		t.Errorf("netns %s left: %v", at.NetNSPath, err)
	}
}
