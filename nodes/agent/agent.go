package agent

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/gpu"
	"github.com/wharfhq/wharf/nodes/network"
	"github.com/wharfhq/wharf/nodes/runtime"
	"github.com/wharfhq/wharf/sdk/client"
)

// Runtime is what the agent needs of a container runtime:
// *runtime.Containerd implements it.
type Runtime interface {
	runtime.Runtime
	// Exec runs a command in a running container (exec probes).
	Exec(ctx context.Context, id string, cmd []string, timeout time.Duration) (runtime.ExecResult, error)
}

var _ Runtime = (*runtime.Containerd)(nil)

// Defaults of [Config].
const (
	DefaultHeartbeatInterval = 10 * time.Second
	DefaultResyncInterval    = 10 * time.Second
	DefaultMaxPods           = 110
	DefaultBackOffInitial    = 10 * time.Second
	DefaultBackOffMax        = 300 * time.Second
	DefaultBackOffReset      = 10 * time.Minute
	DefaultLogListen         = ":10250"
	// ForcedDeleteGrace is the grace period of containers whose pod was
	// removed from the API without one.
	ForcedDeleteGrace = 2 * time.Second
)

// AnnotationEndpoint is the Node annotation that holds the URL of the
// agent's own service (container logs), which the API server calls.
const AnnotationEndpoint = "wharf.io/agent-endpoint"

// Version is reported as the node's kubeletVersion.
var Version = "wharf/dev"

// BackOff is a back-off schedule: Initial, doubled up to Max; forgotten
// after Reset of good behaviour.
type BackOff struct {
	Initial, Max, Reset time.Duration
}

// Config configures an [Agent]. NodeName, Client, Runtime and DataDir are
// required; zero fields take the defaults above.
type Config struct {
	// NodeName is the Node's name (default: the host name).
	NodeName string
	// Client talks to the API server.
	Client *client.Client
	// Runtime runs the containers.
	Runtime Runtime
	// DataDir holds the agent's state: the GPU allocation checkpoint.
	DataDir string
	// Network gives pods their network namespace and IP. Nil runs every
	// pod in the node's network namespace (as with hostNetwork), with a
	// warning: for nodes without CNI plugins.
	Network *network.Manager
	// GPUs discovers the node's GPUs (default gpu.Default: NVML, then
	// nvidia-smi). Discovery failing means no GPUs, never a failed agent.
	GPUs gpu.Discoverer
	// CDIDirs are where CDI specs are read (default gpu.DefaultCDIDirs).
	CDIDirs []string
	// Listen is the address the agent's service (container logs) listens
	// on; host:0 picks a port. The API server must reach it.
	Listen string
	// NodeIP is the address reported as the node's InternalIP and pods'
	// hostIP (default: the source address of the default route).
	NodeIP string
	// PodCIDR, when set, is the pod CIDR the node registers with; else the
	// server hands one out.
	PodCIDR string
	// Labels are added to the node's labels.
	Labels map[string]string
	// MaxPods is the node's pods capacity.
	MaxPods int
	// HeartbeatInterval is how often the Ready condition is renewed.
	HeartbeatInterval time.Duration
	// ResyncInterval is how often each pod is reconciled without a cause.
	ResyncInterval time.Duration
	// RestartBackOff and PullBackOff are the back-off schedules of
	// container restarts and image pulls.
	RestartBackOff BackOff
	PullBackOff    BackOff
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

func (c Config) withDefaults() (Config, error) {
	if c.NodeName == "" {
		h, err := os.Hostname()
		if err != nil {
			return c, fmt.Errorf("agent: node name: %w", err)
		}
		c.NodeName = h
	}
	if c.Client == nil || c.Runtime == nil {
		return c, errors.New("agent: a client and a runtime are required")
	}
	if c.DataDir == "" {
		return c, errors.New("agent: a data dir is required")
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.GPUs == nil {
		c.GPUs = gpu.Default(c.Logger)
	}
	if c.Listen == "" {
		c.Listen = DefaultLogListen
	}
	if c.MaxPods == 0 {
		c.MaxPods = DefaultMaxPods
	}
	if c.HeartbeatInterval == 0 {
		c.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if c.ResyncInterval == 0 {
		c.ResyncInterval = DefaultResyncInterval
	}
	for _, b := range []*BackOff{&c.RestartBackOff, &c.PullBackOff} {
		if b.Initial == 0 {
			b.Initial = DefaultBackOffInitial
		}
		if b.Max == 0 {
			b.Max = DefaultBackOffMax
		}
		if b.Reset == 0 {
			b.Reset = DefaultBackOffReset
		}
	}
	if c.NodeIP == "" {
		c.NodeIP = defaultNodeIP()
	}
	return c, nil
}

// Agent is a running node agent.
type Agent struct {
	cfg      Config
	rt       Runtime
	c        *client.Client
	log      *slog.Logger
	pods     *client.Informer[*wharfv1.Pod]
	gpus     []*wharfv1.GPUDevice
	alloc    *gpu.Allocator
	injector *gpu.Injector
	events   recorder
	listener net.Listener
	endpoint string

	// images are image refs seen present, with when (time.Time).
	images sync.Map

	mu      sync.Mutex
	workers map[string]*podWorker // by pod UID
	removed map[string]time.Time  // pod UID -> when its worker removed it
	wg      sync.WaitGroup

	// ready is closed once the node is registered and the first list of
	// its pods reconciled.
	ready chan struct{}
}

// New prepares an agent: it discovers the GPUs, loads the allocation
// checkpoint and opens the service listener. Run starts it.
func New(ctx context.Context, cfg Config) (*Agent, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("agent: data dir: %w", err)
	}
	a := &Agent{
		cfg:      cfg,
		rt:       cfg.Runtime,
		c:        cfg.Client,
		log:      cfg.Logger,
		injector: gpu.NewInjector(cfg.CDIDirs...),
		workers:  map[string]*podWorker{},
		removed:  map[string]time.Time{},
		ready:    make(chan struct{}),
	}
	a.gpus, _ = cfg.GPUs.Discover(ctx)
	if a.alloc, err = gpu.NewAllocator(filepath.Join(cfg.DataDir, "gpu"), a.gpus); err != nil {
		return nil, fmt.Errorf("agent: %w", err)
	}
	a.listener, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("agent: listen on %s for the agent service: %w (pick another address with --listen)", cfg.Listen, err)
	}
	a.endpoint = endpointURL(a.listener.Addr().(*net.TCPAddr), cfg.NodeIP)
	a.events = newRecorder(cfg.NodeName, cfg.Logger)
	a.pods = client.NewInformer(cfg.Client.Pods(), client.InformerOptions{
		FieldSelector: "spec.nodeName=" + cfg.NodeName,
		Logger:        cfg.Logger,
	})
	if err := a.pods.AddIndex(uidIndex, func(p *wharfv1.Pod) []string { return []string{p.GetMetadata().GetUid()} }); err != nil {
		return nil, err
	}
	return a, nil
}

const uidIndex = "uid"

// endpointURL is the URL the API server reaches the agent's service at.
func endpointURL(addr *net.TCPAddr, nodeIP string) string {
	host := addr.IP.String()
	if addr.IP.IsUnspecified() {
		host = nodeIP
	}
	return "http://" + net.JoinHostPort(host, fmt.Sprint(addr.Port))
}

// Endpoint is the URL of the agent's service.
func (a *Agent) Endpoint() string { return a.endpoint }

// NodeName is the name the agent registers.
func (a *Agent) NodeName() string { return a.cfg.NodeName }

// Ready is closed once the node is registered and the pods bound to it at
// start have been looked at once.
func (a *Agent) Ready() <-chan struct{} { return a.ready }

// Run registers the node and runs its pods until ctx ends. Containers keep
// running after Run returns: a new agent re-adopts them.
func (a *Agent) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	defer a.listener.Close()

	srv := &http.Server{Handler: a.serviceHandler(), ReadHeaderTimeout: 10 * time.Second}
	a.wg.Go(func() { srv.Serve(a.listener) })
	a.wg.Go(func() {
		<-ctx.Done()
		srv.Close()
	})
	a.wg.Go(func() { a.events.Run(ctx, a.c) })

	if err := a.register(ctx); err != nil {
		cancel()
		a.wg.Wait()
		return err
	}
	a.wg.Go(func() { a.heartbeat(ctx) })

	a.pods.AddEventHandler(client.EventHandler[*wharfv1.Pod]{
		AddFunc: func(p *wharfv1.Pod) { a.enqueue(ctx, p) },
		UpdateFunc: func(old, p *wharfv1.Pod) {
			if old.GetMetadata().GetUid() != p.GetMetadata().GetUid() {
				a.enqueue(ctx, old)
			} else if old != p && onlyStatusChanged(old, p) {
				// Our own status write coming back: nothing to do. (A resync
				// hands the same object: look again.)
				a.remember(p)
				return
			}
			a.enqueue(ctx, p)
		},
		DeleteFunc: func(p *wharfv1.Pod) {
			if !a.finished(p.GetMetadata().GetUid()) {
				a.enqueue(ctx, p)
			}
		},
	})
	infErr := make(chan error, 1)
	a.wg.Go(func() { infErr <- a.pods.Run(ctx) })
	if err := a.pods.WaitForSync(ctx); err != nil {
		cancel()
		a.wg.Wait()
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("agent: list the pods bound to %s: %w", a.cfg.NodeName, err)
	}
	a.cleanupOrphans(ctx)
	close(a.ready)
	a.log.Info("node agent ready", "node", a.cfg.NodeName, "pods", a.pods.Len(), "endpoint", a.endpoint)

	var err error
	select {
	case <-ctx.Done():
	case err = <-infErr:
	}
	cancel()
	a.wg.Wait()
	return err
}

// enqueue wakes the worker of p, starting one if there is none.
func (a *Agent) enqueue(ctx context.Context, p *wharfv1.Pod) {
	md := p.GetMetadata()
	a.mu.Lock()
	defer a.mu.Unlock()
	w := a.workers[md.GetUid()]
	if w == nil {
		if ctx.Err() != nil {
			return
		}
		w = newPodWorker(a, md.GetUid(), md.GetNamespace(), md.GetName())
		a.workers[md.GetUid()] = w
		a.wg.Go(func() { w.run(ctx) })
	}
	w.last.Store(p)
	w.kick()
}

// onlyStatusChanged reports whether b differs from a in its status and
// resourceVersion only.
func onlyStatusChanged(a, b *wharfv1.Pod) bool {
	ma, mb := a.GetMetadata(), b.GetMetadata()
	return proto.Equal(a.GetSpec(), b.GetSpec()) &&
		proto.Equal(ma.GetDeletionTimestamp(), mb.GetDeletionTimestamp()) &&
		ma.GetDeletionGracePeriodSeconds() == mb.GetDeletionGracePeriodSeconds() &&
		maps.Equal(ma.GetLabels(), mb.GetLabels()) &&
		maps.Equal(ma.GetAnnotations(), mb.GetAnnotations())
}

// remember records p as the last object seen for its worker.
func (a *Agent) remember(p *wharfv1.Pod) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if w := a.workers[p.GetMetadata().GetUid()]; w != nil {
		w.last.Store(p)
	}
}

// workerDone forgets w; removed says it removed its pod from the node.
func (a *Agent) workerDone(w *podWorker, removed bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.workers[w.uid] == w {
		delete(a.workers, w.uid)
	}
	if removed {
		now := time.Now()
		for uid, at := range a.removed {
			if now.Sub(at) > time.Minute {
				delete(a.removed, uid)
			}
		}
		a.removed[w.uid] = now
	}
}

// finished reports whether a worker removed the pod uid from the node a
// moment ago (its deletion from the API then needs no worker).
func (a *Agent) finished(uid string) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	_, ok := a.removed[uid]
	return ok
}

// pod returns the pod with uid from the cache, nil when the API no longer
// has it.
func (a *Agent) pod(uid string) *wharfv1.Pod {
	for _, p := range a.pods.ByIndex(uidIndex, uid) {
		return p
	}
	return nil
}
