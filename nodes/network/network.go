// Package network gives pods their network: a network namespace of its own
// per pod, pinned by a bind mount under the state dir, and an interface on
// a bridge with an IP from the node's pod CIDR, set up through CNI
// (github.com/containerd/go-cni running the bridge and host-local plugins,
// as Debian's containernetworking-plugins ship them). The namespace's
// loopback interface is brought up when the namespace is made, without the
// loopback plugin: one process less per pod start (some 4 ms of CPU).
// Traffic from pods to outside the pod CIDR is masqueraded by one nat
// chain per node, installed when the pod CIDR is configured (see
// [Config].IPMasq), not by the bridge plugin's ipMasq: that ran iptables
// for every pod start and left a chain per pod.
//
// All containers of a pod join the namespace by path (runtime
// ContainerConfig.NetNSPath); pods with hostNetwork skip this package.
// What a pod got is recorded in a file under the state dir, so an agent
// that restarts finds the namespace and the IP again without touching them.
//
// Only packages under nodes/ and cmd/wharf may import it.
//
// # Notes
//
// The bridge gets the first address of the pod CIDR (isGateway), so the
// node itself reaches every pod at its IP. Host-local keeps its address
// leases under the state dir. Methods are safe for concurrent use.
package network

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"

	gocni "github.com/containerd/go-cni"
)

// Defaults of [Config].
const (
	DefaultName   = "wharf"
	DefaultBridge = "wharf0"
)

// DefaultPluginDirs are where the CNI plugins are looked for: Debian's
// package, then the upstream convention.
var DefaultPluginDirs = []string{"/usr/lib/cni", "/opt/cni/bin"}

// ErrNotConfigured: Setup was called before Configure gave the pod CIDR.
var ErrNotConfigured = errors.New("pod network not configured: the node has no pod CIDR yet")

// Config configures [New].
type Config struct {
	// Name is the CNI network name (default "wharf"); it keys CNI's caches,
	// so two agents on one host need different names.
	Name string
	// Bridge is the Linux bridge the pods are attached to (default
	// "wharf0"; at most 15 characters).
	Bridge string
	// PluginDirs are searched for the CNI plugins (default
	// DefaultPluginDirs).
	PluginDirs []string
	// StateDir holds the namespaces (netns/), the address leases (ipam/)
	// and what each pod got (pods/). Required.
	StateDir string
	// MTU of the pod interfaces; 0 lets the plugin choose.
	MTU int
	// IPMasq masquerades traffic from pods to outside the pod CIDR (but
	// not to multicast), so pods reach beyond the node. Configure installs
	// it once for the node: a chain in the nat table (WHARF-POD-MASQ for
	// the default network name) that POSTROUTING jumps to for traffic from
	// the pod CIDR; it stays when the agent stops, and a restarted agent
	// refills it rather than adding to it. It needs iptables (or
	// ip6tables) and iptables-restore. Without IPMasq, Configure removes
	// the chain if an earlier agent left it.
	IPMasq bool
}

// Attachment is what a pod got.
type Attachment struct {
	// NetNSPath is the namespace for the pod's containers to join.
	NetNSPath string `json:"netns"`
	// IP is the pod's address.
	IP string `json:"ip"`
}

// podState is what a pod's state file holds.
type podState struct {
	Attachment
	// LoUp: the loopback interface was brought up with the namespace;
	// without it (an older agent) the loopback plugin did it, and its
	// teardown runs that plugin too.
	LoUp bool `json:"loUp,omitempty"`
	// NodeMasq: the bridge plugin ran without ipMasq (the node's chain
	// masquerades, if Config.IPMasq). Without it (an older agent) the
	// plugin masqueraded if the agent had IPMasq, with a chain of the
	// pod's own that only a teardown with ipMasq removes.
	NodeMasq bool `json:"nodeMasq,omitempty"`
}

// Manager sets up and tears down pod networks.
type Manager struct {
	cfg Config

	mu sync.RWMutex
	// cni[lo][masq] runs the bridge plugin, with ipMasq if masq, after the
	// loopback plugin if lo. Pods are set up with cni[0][0]; those set up
	// by older agents are torn down as they were set up, so that the
	// loopback plugin's cached result and the bridge plugin's chain for
	// the pod go too.
	cni     [2][2]gocni.CNI
	podCIDR string
	locks   sync.Map // pod UID -> *sync.Mutex
}

// New returns a manager; Configure must give it the pod CIDR before Setup.
func New(cfg Config) (*Manager, error) {
	if cfg.Name == "" {
		cfg.Name = DefaultName
	}
	if cfg.Bridge == "" {
		cfg.Bridge = DefaultBridge
	}
	if len(cfg.Bridge) > 15 {
		return nil, fmt.Errorf("network: bridge name %q is longer than 15 characters", cfg.Bridge)
	}
	if len(cfg.PluginDirs) == 0 {
		cfg.PluginDirs = DefaultPluginDirs
	}
	if cfg.StateDir == "" || !filepath.IsAbs(cfg.StateDir) {
		return nil, fmt.Errorf("network: state dir %q must be an absolute path", cfg.StateDir)
	}
	if cfg.IPMasq {
		// Found out now rather than when the first pod waits for its
		// network (Configure installs the node's masquerade chain).
		var miss []string
		for _, c := range []string{"iptables", "iptables-restore"} {
			if !hasCommand(c) {
				miss = append(miss, c)
			}
		}
		if len(miss) > 0 {
			return nil, fmt.Errorf("network: masquerading pod traffic needs %s, not found on PATH; install with: apt-get install -y iptables",
				strings.Join(miss, " and "))
		}
	}
	for _, d := range []string{"netns", "ipam", "pods"} {
		if err := os.MkdirAll(filepath.Join(cfg.StateDir, d), 0o700); err != nil {
			return nil, fmt.Errorf("network: %w", err)
		}
	}
	return &Manager{cfg: cfg}, nil
}

// Missing says which CNI plugins cannot be found, or returns "".
func Missing(dirs []string) string {
	if len(dirs) == 0 {
		dirs = DefaultPluginDirs
	}
	var miss []string
	for _, p := range []string{"bridge", "host-local"} {
		found := false
		for _, d := range dirs {
			if st, err := os.Stat(filepath.Join(d, p)); err == nil && !st.IsDir() {
				found = true
				break
			}
		}
		if !found {
			miss = append(miss, p)
		}
	}
	if len(miss) == 0 {
		return ""
	}
	return fmt.Sprintf("CNI plugins %s not found in %s; install with: apt-get install -y containernetworking-plugins",
		strings.Join(miss, ", "), strings.Join(dirs, ", "))
}

// Configure sets the pod CIDR ("10.88.3.0/24") pods get addresses from.
// Calling it again with the same CIDR does nothing.
func (m *Manager) Configure(podCIDR string) error {
	_, ipnet, err := net.ParseCIDR(podCIDR)
	if err != nil {
		return fmt.Errorf("network: pod CIDR %q: %w", podCIDR, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.podCIDR == ipnet.String() && m.cni[0][0] != nil {
		return nil
	}
	var cni [2][2]gocni.CNI
	for lo := range 2 {
		for masq := range 2 {
			c, err := gocni.New(gocni.WithPluginDir(m.cfg.PluginDirs), gocni.WithMinNetworkCount(1+lo))
			if err != nil {
				return fmt.Errorf("network: %w", err)
			}
			opts := []gocni.Opt{gocni.WithConfListBytes(m.confList(ipnet.String(), masq == 1))}
			if lo == 1 {
				opts = append(opts, gocni.WithLoNetwork)
			}
			if err := c.Load(opts...); err != nil {
				return fmt.Errorf("network: load CNI config: %w", err)
			}
			cni[lo][masq] = c
		}
	}
	if m.cfg.IPMasq {
		if err := m.ensureMasq(ipnet); err != nil {
			return fmt.Errorf("network: masquerade pod traffic: %w", err)
		}
	} else if ipt, _, _ := iptablesFor(ipnet); hasCommand(ipt) {
		// An earlier agent may have masqueraded; without iptables it did
		// not.
		if err := m.removeMasq(ipnet); err != nil {
			return fmt.Errorf("network: remove masquerading: %w", err)
		}
	}
	m.cni, m.podCIDR = cni, ipnet.String()
	return nil
}

// PodCIDR returns the configured pod CIDR, "" before Configure.
func (m *Manager) PodCIDR() string {
	m.mu.RLock()
	defer m.mu.RUnlock()
	return m.podCIDR
}

// confList is the CNI network: the bridge plugin, with ipMasq only to tear
// down pods an older agent set up with it.
func (m *Manager) confList(cidr string, ipMasq bool) []byte {
	bridge := map[string]any{
		"type":        "bridge",
		"bridge":      m.cfg.Bridge,
		"isGateway":   true,
		"ipMasq":      ipMasq,
		"hairpinMode": true,
		"ipam": map[string]any{
			"type":    "host-local",
			"ranges":  [][]map[string]string{{{"subnet": cidr}}},
			"routes":  []map[string]string{{"dst": "0.0.0.0/0"}},
			"dataDir": filepath.Join(m.cfg.StateDir, "ipam"),
		},
	}
	if m.cfg.MTU > 0 {
		bridge["mtu"] = m.cfg.MTU
	}
	b, _ := json.Marshal(map[string]any{
		"cniVersion": "1.0.0",
		"name":       m.cfg.Name,
		"plugins":    []any{bridge},
	})
	return b
}

func (m *Manager) lock(uid string) func() {
	v, _ := m.locks.LoadOrStore(uid, &sync.Mutex{})
	mu := v.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

func (m *Manager) netnsPath(uid string) string {
	return filepath.Join(m.cfg.StateDir, "netns", uid)
}

// NetNSPath is where the pod's namespace is (or will be, once Setup ran):
// containers may be created with it before Setup is done, as long as they
// start after.
func (m *Manager) NetNSPath(uid string) string { return m.netnsPath(uid) }

func (m *Manager) statePath(uid string) string {
	return filepath.Join(m.cfg.StateDir, "pods", uid+".json")
}

func validUID(uid string) error {
	if uid == "" || strings.ContainsAny(uid, "/\x00") || uid == "." || uid == ".." {
		return fmt.Errorf("network: invalid pod UID %q", uid)
	}
	return nil
}

// Get returns what the pod got, if it has a network.
func (m *Manager) Get(uid string) (Attachment, bool) {
	if validUID(uid) != nil {
		return Attachment{}, false
	}
	defer m.lock(uid)()
	return m.get(uid)
}

func (m *Manager) get(uid string) (Attachment, bool) {
	st, ok := m.state(uid)
	if !ok || st.IP == "" {
		return Attachment{}, false
	}
	if ok, _ := isNetNS(st.NetNSPath); !ok {
		return Attachment{}, false
	}
	return st.Attachment, true
}

func (m *Manager) state(uid string) (podState, bool) {
	b, err := os.ReadFile(m.statePath(uid))
	if err != nil {
		return podState{}, false
	}
	var st podState
	if json.Unmarshal(b, &st) != nil {
		return podState{}, false
	}
	return st, true
}

// Setup gives the pod a namespace and an address, or returns what it
// already has. The pod's name and namespace are passed to the plugins
// (K8S_POD_NAME, K8S_POD_NAMESPACE).
func (m *Manager) Setup(ctx context.Context, uid, namespace, name string) (Attachment, error) {
	return m.setup(ctx, uid, namespace, name, 0)
}

// setup is Setup with the bridge plugin's ipMasq if masq is 1 (as older
// agents did; tests do it to tear such pods down).
func (m *Manager) setup(ctx context.Context, uid, namespace, name string, masq int) (Attachment, error) {
	if err := validUID(uid); err != nil {
		return Attachment{}, err
	}
	defer m.lock(uid)()
	if a, ok := m.get(uid); ok {
		return a, nil
	}
	m.mu.RLock()
	c := m.cni[0][masq]
	m.mu.RUnlock()
	if c == nil {
		return Attachment{}, ErrNotConfigured
	}
	path := m.netnsPath(uid)
	if ok, _ := isNetNS(path); !ok {
		if err := newNetNS(path); err != nil {
			return Attachment{}, fmt.Errorf("network: pod %s: %w", uid, err)
		}
	}
	res, err := c.Setup(ctx, uid, path,
		gocni.WithLabels(map[string]string{"K8S_POD_NAMESPACE": namespace, "K8S_POD_NAME": name, "K8S_POD_UID": uid}),
		gocni.WithArgs("IgnoreUnknown", "1"))
	if err != nil {
		// Release whatever the plugins did get to, and the namespace.
		c.Remove(context.WithoutCancel(ctx), uid, path, gocni.WithArgs("IgnoreUnknown", "1"))
		removeNetNS(path)
		return Attachment{}, fmt.Errorf("network: pod %s: CNI setup: %w", uid, err)
	}
	a := Attachment{NetNSPath: path}
	if iface := res.Interfaces["eth0"]; iface != nil {
		for _, ipc := range iface.IPConfigs {
			if ip4 := ipc.IP.To4(); ip4 != nil {
				a.IP = ip4.String()
				break
			}
			if a.IP == "" {
				a.IP = ipc.IP.String()
			}
		}
	}
	if a.IP == "" {
		c.Remove(context.WithoutCancel(ctx), uid, path, gocni.WithArgs("IgnoreUnknown", "1"))
		removeNetNS(path)
		return Attachment{}, fmt.Errorf("network: pod %s: CNI gave eth0 no address", uid)
	}
	b, _ := json.Marshal(podState{Attachment: a, LoUp: true, NodeMasq: masq == 0})
	if err := writeFileSync(m.statePath(uid), b); err != nil {
		return Attachment{}, fmt.Errorf("network: pod %s: %w", uid, err)
	}
	return a, nil
}

// Teardown releases the pod's address and removes its namespace. Tearing
// down a pod without a network is not an error.
func (m *Manager) Teardown(ctx context.Context, uid string) error {
	if err := validUID(uid); err != nil {
		return err
	}
	defer m.lock(uid)()
	path := m.netnsPath(uid)
	// Without a state file (setup did not finish) the plugin may still
	// have made the pod a chain, if an older agent set it up.
	lo, masq := 0, 0
	st, ok := m.state(uid)
	if ok && !st.LoUp {
		lo = 1
	}
	if (!ok || !st.NodeMasq) && m.cfg.IPMasq {
		masq = 1
	}
	m.mu.RLock()
	c := m.cni[lo][masq]
	m.mu.RUnlock()
	_, hasState := os.Stat(m.statePath(uid))
	isNS, _ := isNetNS(path)
	if c != nil && (hasState == nil || isNS) {
		nsPath := path
		if !isNS {
			nsPath = "" // gone (reboot): still release the address
		}
		if err := c.Remove(ctx, uid, nsPath, gocni.WithArgs("IgnoreUnknown", "1")); err != nil {
			return fmt.Errorf("network: pod %s: CNI teardown: %w", uid, err)
		}
	}
	if err := removeNetNS(path); err != nil {
		return fmt.Errorf("network: pod %s: %w", uid, err)
	}
	if err := os.Remove(m.statePath(uid)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("network: pod %s: %w", uid, err)
	}
	m.locks.Delete(uid)
	return nil
}

// Pods returns the UIDs of the pods that have (or had, partly) a network
// here: after a restart the agent tears down those no longer bound to it.
func (m *Manager) Pods() []string {
	seen := map[string]bool{}
	var out []string
	for _, dir := range []string{"netns", "pods"} {
		ents, _ := os.ReadDir(filepath.Join(m.cfg.StateDir, dir))
		for _, e := range ents {
			uid := strings.TrimSuffix(e.Name(), ".json")
			if strings.HasPrefix(uid, ".") || seen[uid] {
				continue
			}
			seen[uid] = true
			out = append(out, uid)
		}
	}
	return out
}

func writeFileSync(path string, b []byte) error {
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
