package bench

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/namespaces"
	"github.com/containerd/containerd/v2/pkg/oci"
	"golang.org/x/sys/unix"
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/server"
	"github.com/wharfhq/wharf/nodes/agent"
	"github.com/wharfhq/wharf/nodes/containerdproc"
	"github.com/wharfhq/wharf/nodes/gpu"
	"github.com/wharfhq/wharf/nodes/network"
	"github.com/wharfhq/wharf/nodes/runtime"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/testing/testimage"
)

// StartupConfig sizes the pod start-up benchmark.
type StartupConfig struct {
	Pods int     // pods to start (default 50)
	Rate float64 // pods created per second (default 5)
	// HostNetwork starts the pods in the node's network namespace; by
	// default each gets its own namespace and IP through CNI (when the
	// plugins are installed), with the network wharf node configures,
	// masquerading included.
	HostNetwork bool
	// RawRuns is how many raw containerd create+starts the baseline takes
	// the median of (default: Pods).
	RawRuns int
	Log     io.Writer
}

// StartupResult is what the benchmark prints.
type StartupResult struct {
	Pods            int     `json:"pods"`
	P50MS           float64 `json:"p50_ms"`
	P99MS           float64 `json:"p99_ms"`
	ContainerdP50MS float64 `json:"containerd_p50_ms"`
	Ratio           float64 `json:"ratio"`
	Network         string  `json:"network"`
	// LogDriver names the program the shim ran as each container's log
	// driver: wharf-log-driver when it is installed beside the running
	// binary, else the running binary itself (slower to start).
	LogDriver string `json:"log_driver"`
}

// Startup runs the pod start-up benchmark on real containerd: it starts a
// containerd of its own (as the tests do), a server with a durable store
// and a node agent, creates Pods pods bound to the node at Rate pods/s and
// measures, for each, the time from the Create call to the first watch
// event that shows it Running. Then, on the same containerd and image, it
// times RawRuns raw containerd create+starts (container with a new
// snapshot, task, start), the floor any agent builds on. Ratio is p50 over
// that median.
//
// It needs root and containerd, containerd-shim-runc-v2 and runc on PATH,
// and the go tool (it builds the busy test image).
func Startup(ctx context.Context, cfg StartupConfig) (StartupResult, error) {
	if cfg.Pods == 0 {
		cfg.Pods = 50
	}
	if cfg.Rate == 0 {
		cfg.Rate = 5
	}
	if cfg.RawRuns == 0 {
		cfg.RawRuns = cfg.Pods
	}
	if cfg.Log == nil {
		cfg.Log = io.Discard
	}
	if os.Geteuid() != 0 {
		return StartupResult{}, errors.New("bench startup runs containers: it needs root")
	}
	log := slog.New(slog.NewTextHandler(cfg.Log, &slog.HandlerOptions{Level: slog.LevelWarn}))
	dir, err := os.MkdirTemp("", "wbench")
	if err != nil {
		return StartupResult{}, err
	}
	defer os.RemoveAll(dir)

	img, err := testimage.Build(ctx, testimage.BuildOptions{Package: testimage.BusyPackage, Name: testimage.BusyName, Dir: filepath.Join(dir, "image")})
	if err != nil {
		return StartupResult{}, err
	}
	ctrd, err := containerdproc.Start(ctx, filepath.Join(dir, "ctrd"))
	if err != nil {
		return StartupResult{}, err
	}
	cgroupParent := "/wharf-bench-" + filepath.Base(dir)
	defer func() {
		cleanupContainers(ctrd.Address)
		ctrd.Stop(context.Background())
		unmountUnder(dir)
		removeCgroups(cgroupParent)
	}()
	rt, err := runtime.New(runtime.Config{
		Address: ctrd.Address, RuncRoot: ctrd.RuncRoot, CgroupParent: cgroupParent,
		LogDir: filepath.Join(dir, "node", "logs"), PodDir: filepath.Join(dir, "node", "pods"),
	})
	if err != nil {
		return StartupResult{}, err
	}
	defer rt.Close()
	f, err := img.Open()
	if err != nil {
		return StartupResult{}, err
	}
	_, err = rt.ImportImage(ctx, f)
	f.Close()
	if err != nil {
		return StartupResult{}, err
	}

	d, err := server.Start(ctx, server.Config{DataDir: filepath.Join(dir, "server"), Listen: "127.0.0.1:0", Logger: log})
	if err != nil {
		return StartupResult{}, err
	}
	defer d.Shutdown(context.Background())
	c := client.New(d.URL())

	res := StartupResult{Pods: cfg.Pods, Network: "host", LogDriver: filepath.Base(rt.Config().LogDriver)}
	var netm *network.Manager
	if !cfg.HostNetwork && network.Missing(nil) == "" {
		b := make([]byte, 3)
		rand.Read(b)
		bridge := fmt.Sprintf("wb%x", b)
		// The network wharf node runs, masquerading included, on a bridge
		// and under a name of its own.
		if _, err := exec.LookPath("iptables"); err != nil {
			return StartupResult{}, fmt.Errorf("bench: the pod network masquerades with iptables: %w (apt-get install -y iptables, or --host-network)", err)
		}
		netm, err = network.New(network.Config{Name: "wb-" + bridge, Bridge: bridge, StateDir: filepath.Join(dir, "node", "network"), IPMasq: true})
		if err != nil {
			return StartupResult{}, err
		}
		defer exec.Command("ip", "link", "delete", bridge).Run()
		defer func() { // releases what CNI keeps on the host (result caches) and the node's nat rules
			for _, uid := range netm.Pods() {
				netm.Teardown(context.Background(), uid)
			}
			netm.RemoveMasquerade()
		}()
		res.Network = "cni"
	}
	const node = "bench-node"
	cidr := fmt.Sprintf("10.231.%d.0/24", time.Now().UnixNano()%200)
	a, err := agent.New(ctx, agent.Config{
		NodeName: node, Client: c, Runtime: rt, DataDir: filepath.Join(dir, "node", "agent"),
		Network: netm, PodCIDR: cidr, GPUs: gpu.Fake{}, Listen: "127.0.0.1:0", NodeIP: "127.0.0.1", Logger: log,
	})
	if err != nil {
		return StartupResult{}, err
	}
	actx, stopAgent := context.WithCancel(ctx)
	agentDone := make(chan error, 1)
	go func() { agentDone <- a.Run(actx) }()
	defer func() { stopAgent(); <-agentDone }()
	select {
	case <-a.Ready():
	case err := <-agentDone:
		agentDone <- err
		return StartupResult{}, fmt.Errorf("bench: the agent stopped: %v", err)
	}

	lat, err := podStartup(ctx, c, node, cfg)
	if err != nil {
		return StartupResult{}, err
	}
	res.P50MS, res.P99MS = percentiles([][]time.Duration{lat})
	fmt.Fprintf(cfg.Log, "bench startup: %d pods Running, p50 %.1f ms, p99 %.1f ms\n", len(lat), res.P50MS, res.P99MS)

	// The baseline runs on the same node, with the pods still running (so
	// containerd has as many tasks as when the last pods started) and the
	// agent idle.
	raw, err := rawStartup(ctx, ctrd.Address, testimage.BusyName, cgroupParent, cfg.RawRuns)
	if err != nil {
		return StartupResult{}, err
	}
	res.ContainerdP50MS, _ = percentiles([][]time.Duration{raw})
	if res.ContainerdP50MS > 0 {
		res.Ratio = res.P50MS / res.ContainerdP50MS
	}
	return res, nil
}

// podStartup creates the pods at cfg.Rate and returns each one's time from
// Create to Running, as a watcher sees it.
func podStartup(ctx context.Context, c *client.Client, node string, cfg StartupConfig) ([]time.Duration, error) {
	l, err := c.Pods().List(ctx, client.ListOptions{Namespace: "default"})
	if err != nil {
		return nil, err
	}
	w, err := c.Pods().Watch(ctx, client.WatchOptions{Namespace: "default", FieldSelector: "spec.nodeName=" + node, ResourceVersion: l.ResourceVersion})
	if err != nil {
		return nil, err
	}
	defer w.Stop()
	var mu sync.Mutex
	created := map[string]time.Time{}
	running := make(chan time.Duration, cfg.Pods)
	seen := map[string]bool{}
	go func() {
		for {
			ev, err := w.Next()
			if err != nil {
				return
			}
			now := time.Now()
			p := ev.Object
			name := p.GetMetadata().GetName()
			if p.GetStatus().GetPhase() != "Running" || seen[name] {
				continue
			}
			mu.Lock()
			t0, ok := created[name]
			mu.Unlock()
			if ok {
				seen[name] = true
				running <- now.Sub(t0)
			}
		}
	}()
	tick := time.NewTicker(time.Duration(float64(time.Second) / cfg.Rate))
	defer tick.Stop()
	errc := make(chan error, cfg.Pods)
	for i := range cfg.Pods {
		name := fmt.Sprintf("bench-%d", i)
		p := &wharfv1.Pod{
			Metadata: &wharfv1.ObjectMeta{Name: name, Namespace: "default"},
			Spec: &wharfv1.PodSpec{
				NodeName:                      node,
				TerminationGracePeriodSeconds: proto.Int64(1),
				HostNetwork:                   cfg.HostNetwork,
				Containers: []*wharfv1.Container{{
					Name: "c", Image: testimage.BusyName, ImagePullPolicy: "Never", Args: []string{"sleep"},
				}},
			},
		}
		mu.Lock()
		created[name] = time.Now()
		mu.Unlock()
		go func() {
			_, err := c.Pods().Create(ctx, p)
			errc <- err
		}()
		if i < cfg.Pods-1 {
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-tick.C:
			}
		}
	}
	for range cfg.Pods {
		if err := <-errc; err != nil {
			return nil, fmt.Errorf("bench: create a pod: %w", err)
		}
	}
	out := make([]time.Duration, 0, cfg.Pods)
	timeout := time.After(2 * time.Minute)
	for len(out) < cfg.Pods {
		select {
		case d := <-running:
			out = append(out, d)
		case <-timeout:
			return nil, fmt.Errorf("bench: only %d of %d pods Running after 2 minutes", len(out), cfg.Pods)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	return out, nil
}

// rawStartup times n raw containerd create+starts of image, one after the
// other: new container with a new snapshot and a spec from the image
// config, new task without IO, start.
func rawStartup(ctx context.Context, address, image, cgroupParent string, n int) ([]time.Duration, error) {
	cl, err := containerd.New(address)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	ctx = namespaces.WithNamespace(ctx, runtime.DefaultNamespace)
	img, err := cl.GetImage(ctx, "docker.io/"+image)
	if err != nil {
		if img, err = cl.GetImage(ctx, image); err != nil {
			return nil, fmt.Errorf("bench: raw: image: %w", err)
		}
	}
	var out []time.Duration
	for i := range n {
		id := fmt.Sprintf("raw-%d-%d", time.Now().UnixNano(), i)
		began := time.Now()
		ctr, err := cl.NewContainer(ctx, id,
			containerd.WithImage(img),
			containerd.WithNewSnapshot(id, img),
			containerd.WithNewSpec(oci.WithImageConfig(img), oci.WithProcessArgs("/busy", "sleep"),
				oci.WithHostNamespace("network"), oci.WithCgroup(cgroupParent+"/"+id)))
		if err != nil {
			return nil, fmt.Errorf("bench: raw: create: %w", err)
		}
		task, err := ctr.NewTask(ctx, cio.NullIO)
		if err != nil {
			return nil, fmt.Errorf("bench: raw: task: %w", err)
		}
		if err := task.Start(ctx); err != nil {
			return nil, fmt.Errorf("bench: raw: start: %w", err)
		}
		out = append(out, time.Since(began))
		task.Kill(ctx, syscall.SIGKILL)
		if st, err := task.Wait(ctx); err == nil {
			select {
			case <-st:
			case <-time.After(5 * time.Second):
			}
		}
		task.Delete(ctx, containerd.WithProcessKill)
		ctr.Delete(ctx, containerd.WithSnapshotCleanup)
	}
	return out, nil
}

// cleanupContainers kills and removes every container in every namespace.
func cleanupContainers(address string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cl, err := containerd.New(address)
	if err != nil {
		return
	}
	defer cl.Close()
	nss, _ := cl.NamespaceService().List(ctx)
	for _, ns := range nss {
		nctx := namespaces.WithNamespace(ctx, ns)
		ctrs, _ := cl.Containers(nctx)
		for _, ctr := range ctrs {
			if task, err := ctr.Task(nctx, nil); err == nil {
				task.Kill(nctx, syscall.SIGKILL, containerd.WithKillAll)
				if st, err := task.Wait(nctx); err == nil {
					select {
					case <-st:
					case <-time.After(5 * time.Second):
					}
				}
				task.Delete(nctx, containerd.WithProcessKill)
			}
			ctr.Delete(nctx, containerd.WithSnapshotCleanup)
		}
	}
}

// unmountUnder detaches every mount below dir (rootfs, netns), deepest
// first.
func unmountUnder(dir string) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return
	}
	var mounts []string
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.HasPrefix(fields[4], dir+"/") {
			mounts = append(mounts, fields[4])
		}
	}
	sort.Sort(sort.Reverse(sort.StringSlice(mounts)))
	for _, mp := range mounts {
		unix.Unmount(mp, unix.MNT_DETACH)
	}
}

// removeCgroups removes the cgroup parent and the empty cgroups below it
// from every hierarchy.
func removeCgroups(parent string) {
	roots := []string{"/sys/fs/cgroup"}
	if ents, err := os.ReadDir("/sys/fs/cgroup"); err == nil {
		for _, e := range ents {
			if e.IsDir() {
				roots = append(roots, filepath.Join("/sys/fs/cgroup", e.Name()))
			}
		}
	}
	for _, root := range roots {
		var dirs []string
		filepath.WalkDir(filepath.Join(root, parent), func(p string, d os.DirEntry, err error) error {
			if err == nil && d.IsDir() {
				dirs = append(dirs, p)
			}
			return nil
		})
		for i := len(dirs) - 1; i >= 0; i-- {
			os.Remove(dirs[i])
		}
	}
}
