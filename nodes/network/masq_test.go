package network_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/wharfhq/wharf/nodes/network"
)

func withIPMasq(c *network.Config) { c.IPMasq = true }

// iptables runs iptables and returns its output.
func iptables(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("iptables", append([]string{"-w"}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("iptables %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// jumpsTo returns the POSTROUTING rules that jump to chain.
func jumpsTo(t *testing.T, chain string) []string {
	t.Helper()
	var out []string
	for _, l := range strings.Split(iptables(t, "-t", "nat", "-S", "POSTROUTING"), "\n") {
		if strings.HasSuffix(l, " -j "+chain) {
			out = append(out, l)
		}
	}
	return out
}

// checkMasq fails unless the node's chain is there once, for cidr.
func checkMasq(t *testing.T, chain string, cidr netip.Prefix) {
	t.Helper()
	jumps := jumpsTo(t, chain)
	if len(jumps) != 1 || !strings.Contains(jumps[0], "-s "+cidr.String()+" ") || !strings.Contains(jumps[0], "wharf") {
		t.Errorf("POSTROUTING jumps to %s: %q; want one, from %s, with a comment naming wharf", chain, jumps, cidr)
	}
	want := []string{
		"-N " + chain,
		"-A " + chain + " -d " + cidr.String() + " -j RETURN",
		"-A " + chain + " -d 224.0.0.0/4 -j RETURN",
	}
	got := strings.Split(strings.TrimSpace(iptables(t, "-t", "nat", "-S", chain)), "\n")
	if len(got) != 4 || strings.Join(got[:3], "\n") != strings.Join(want, "\n") ||
		!strings.HasPrefix(got[3], "-A "+chain+" -m comment") || !strings.HasSuffix(got[3], "-j MASQUERADE") {
		t.Errorf("chain %s:\n%s\nwant\n%s\n-A %s -m comment ... -j MASQUERADE", chain, strings.Join(got, "\n"), strings.Join(want, "\n"), chain)
	}
}

// masqueraded returns how many packets (connections) the chain's
// MASQUERADE rule took.
func masqueraded(t *testing.T, chain string) int {
	t.Helper()
	for _, l := range strings.Split(iptables(t, "-t", "nat", "-L", chain, "-n", "-v", "-x"), "\n") {
		if f := strings.Fields(l); len(f) > 2 && f[2] == "MASQUERADE" {
			n, _ := strconv.Atoi(f[0])
			return n
		}
	}
	t.Fatalf("chain %s has no MASQUERADE rule", chain)
	return 0
}

// outside makes a network namespace that stands for the world beyond the
// node: a veth pair to it, the node's end at .1 of a /30 outside the pod
// CIDRs, the namespace's at .2, and no route back to any pod. It returns
// the namespace's path and both addresses.
func outside(t *testing.T) (path string, node, far netip.Addr) {
	t.Helper()
	b := make([]byte, 3)
	rand.Read(b)
	name := fmt.Sprintf("wto%x", b)
	node = netip.AddrFrom4([4]byte{10, 250, b[0], b[1]&0xfc | 1})
	far = node.Next()
	run := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	run("netns", "add", name)
	t.Cleanup(func() { exec.Command("ip", "netns", "delete", name).Run() })
	run("link", "add", name+"h", "type", "veth", "peer", "name", "eth0", "netns", name)
	t.Cleanup(func() { exec.Command("ip", "link", "delete", name+"h").Run() })
	run("addr", "add", node.String()+"/30", "dev", name+"h")
	run("link", "set", name+"h", "up")
	run("-n", name, "addr", "add", far.String()+"/30", "dev", "eth0")
	run("-n", name, "link", "set", "eth0", "up")
	run("-n", name, "link", "set", "lo", "up")
	return "/run/netns/" + name, node, far
}

func TestMasquerade(t *testing.T) {
	t.Parallel()
	if _, err := exec.LookPath("iptables"); err != nil {
		if os.Getenv("WHARF_REQUIRE_CONTAINERD") == "1" {
			t.Fatal("iptables not found; install with: apt-get install -y iptables")
		}
		t.Skip("iptables not found")
	}
	var cfg network.Config
	m, cidr := newManager(t, withIPMasq, func(c *network.Config) { cfg = *c })
	chain := m.MasqChain()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("installed_once", func(t *testing.T) {
		checkMasq(t, chain, cidr)
		if err := m.Configure(cidr.String()); err != nil {
			t.Fatal(err)
		}
		checkMasq(t, chain, cidr)
	})

	t.Run("restarted_agent", func(t *testing.T) {
		// A second manager of the same network (an agent that restarted)
		// refills the chain rather than adding to it, and drops jumps
		// that are not its one (a duplicate, another CIDR's).
		for _, src := range []string{cidr.String(), "10.99.99.0/24"} {
			iptables(t, "-t", "nat", "-A", "POSTROUTING", "-s", src, "-m", "comment", "--comment", "wharf: stale", "-j", chain)
		}
		m2, err := network.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		if err := m2.Configure(cidr.String()); err != nil {
			t.Fatal(err)
		}
		checkMasq(t, chain, cidr)
	})

	t.Run("pod_traffic", func(t *testing.T) {
		u := uid()
		at, err := m.Setup(ctx, u, "default", "a")
		if err != nil {
			t.Fatal(err)
		}
		// The bridge plugin made the pod no chain of its own (it would
		// name the pod's UID in its comment).
		if nat := iptables(t, "-t", "nat", "-S"); strings.Contains(nat, u) {
			t.Errorf("the bridge plugin made a chain for the pod:\n%s", nat)
		}
		path, node, far := outside(t)
		l := listenIn(t, path)
		from := make(chan string, 1)
		go func() {
			c, err := l.Accept()
			if err != nil {
				from <- err.Error()
				return
			}
			from <- c.RemoteAddr().(*net.TCPAddr).IP.String()
			c.Close()
		}()
		before := masqueraded(t, chain)
		readFrom(t, at.NetNSPath, net.JoinHostPort(far.String(), "8080"))
		// With no route back to the pod, the connection only works
		// masqueraded, and then it comes from the node.
		if got := <-from; got != node.String() {
			t.Errorf("the outside saw the pod's connection from %s; want the node's %s (pod %s)", got, node, at.IP)
		}
		if after := masqueraded(t, chain); after <= before {
			t.Errorf("MASQUERADE took %d packets before the connection, %d after", before, after)
		}
	})

	t.Run("teardown_older_pod", func(t *testing.T) {
		// A pod an older agent set up has the bridge plugin's chain; its
		// teardown removes it.
		u := uid()
		if _, err := m.SetupOlder(ctx, u, "default", "old"); err != nil {
			t.Fatal(err)
		}
		if nat := iptables(t, "-t", "nat", "-S"); !strings.Contains(nat, u) {
			t.Fatalf("the older set-up made no chain for pod %s:\n%s", u, nat)
		}
		if err := m.Teardown(ctx, u); err != nil {
			t.Fatal(err)
		}
		if nat := iptables(t, "-t", "nat", "-S"); strings.Contains(nat, u) {
			t.Errorf("pod %s's chain is left after teardown:\n%s", u, nat)
		}
		checkMasq(t, chain, cidr)
	})

	t.Run("remove", func(t *testing.T) {
		if err := m.RemoveMasquerade(); err != nil {
			t.Fatal(err)
		}
		if j := jumpsTo(t, chain); len(j) != 0 {
			t.Errorf("POSTROUTING still jumps to %s: %q", chain, j)
		}
		if strings.Contains(iptables(t, "-t", "nat", "-S"), "-N "+chain+"\n") {
			t.Errorf("chain %s is left", chain)
		}
		if err := m.RemoveMasquerade(); err != nil {
			t.Errorf("second RemoveMasquerade: %v", err)
		}
	})
}
