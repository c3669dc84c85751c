package runtime

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/namespaces"

	"github.com/wharfhq/wharf/nodes/containerlog"
)

// Defaults of [Config].
const (
	DefaultAddress      = "/run/containerd/containerd.sock"
	DefaultNamespace    = "wharf"
	DefaultSnapshotter  = "overlayfs"
	DefaultCgroupParent = "/wharf"
	DefaultLogDir       = "/var/log/wharf/pods"
	DefaultPodDir       = "/var/lib/wharf/pods"
	DefaultLogMaxSize   = 10 << 20
	DefaultLogMaxFiles  = 5
)

// Config configures [New]. Zero fields take the defaults above.
type Config struct {
	// Address is containerd's socket.
	Address string
	// Namespace is the containerd namespace for everything Wharf creates.
	Namespace string
	// Snapshotter unpacks images and makes container root filesystems.
	Snapshotter string
	// RuncRoot is runc's state directory; empty uses runc's default.
	RuncRoot string
	// CgroupParent is the cgroup under which each container gets
	// <CgroupParent>/<container ID> (cgroupfs driver).
	CgroupParent string
	// LogDir holds container logs.
	LogDir string
	// PodDir holds pod volumes (emptyDir).
	PodDir string
	// LogDriver is the absolute path of the program the shim runs as log
	// driver (see package containerlog); default:
	// containerlog.DefaultDriver(), wharf-log-driver next to this
	// executable, else this executable.
	LogDriver string
	// LogMaxSize (bytes) and LogMaxFiles bound each container's log files.
	LogMaxSize  int64
	LogMaxFiles int
	// InsecureRegistries are registry hosts ("host:port") pulled over plain
	// HTTP. Loopback hosts (localhost, 127.0.0.0/8, ::1) always are.
	InsecureRegistries []string
}

func (c Config) withDefaults() (Config, error) {
	def := func(s *string, d string) {
		if *s == "" {
			*s = d
		}
	}
	def(&c.Address, DefaultAddress)
	def(&c.Namespace, DefaultNamespace)
	def(&c.Snapshotter, DefaultSnapshotter)
	def(&c.CgroupParent, DefaultCgroupParent)
	def(&c.LogDir, DefaultLogDir)
	def(&c.PodDir, DefaultPodDir)
	if c.LogMaxSize == 0 {
		c.LogMaxSize = DefaultLogMaxSize
	}
	if c.LogMaxFiles == 0 {
		c.LogMaxFiles = DefaultLogMaxFiles
	}
	if c.LogDriver == "" {
		d, err := containerlog.DefaultDriver()
		if err != nil {
			return c, fmt.Errorf("runtime: %w", err)
		}
		c.LogDriver = d
	}
	for _, p := range []*string{&c.LogDir, &c.PodDir, &c.LogDriver} {
		if !filepath.IsAbs(*p) {
			return c, fmt.Errorf("runtime: %q is not an absolute path", *p)
		}
	}
	return c, nil
}

// Containerd is the containerd implementation of [Runtime].
type Containerd struct {
	cfg    Config
	client *containerd.Client

	// locks serializes the recording of a container's exit (reap) within
	// this process.
	locks sync.Map // container ID -> *sync.Mutex
	// unpacked are the images (by manifest digest) seen unpacked, with
	// when (time.Time): CreateContainer skips asking again for a while.
	unpacked sync.Map
}

var _ Runtime = (*Containerd)(nil)

// New connects to containerd. The connection is made lazily by gRPC, so New
// succeeds while containerd is still starting; calls fail until it answers.
func New(cfg Config) (*Containerd, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	client, err := containerd.New(cfg.Address, containerd.WithDefaultNamespace(cfg.Namespace))
	if err != nil {
		return nil, fmt.Errorf("runtime: connect to containerd at %s: %w", cfg.Address, err)
	}
	return &Containerd{cfg: cfg, client: client}, nil
}

// Config returns the configuration in use, defaults filled in.
func (r *Containerd) Config() Config { return r.cfg }

// Close closes the connection to containerd. Containers keep running.
func (r *Containerd) Close() error { return r.client.Close() }

// Version implements [Runtime].
func (r *Containerd) Version(ctx context.Context) (string, error) {
	v, err := r.client.Version(r.ns(ctx))
	if err != nil {
		return "", fmt.Errorf("runtime: version: %w", err)
	}
	return "containerd://" + v.Version, nil
}

// ns puts the configured namespace on ctx.
func (r *Containerd) ns(ctx context.Context) context.Context {
	return namespaces.WithNamespace(ctx, r.cfg.Namespace)
}

func (r *Containerd) lock(id string) func() {
	m, _ := r.locks.LoadOrStore(id, &sync.Mutex{})
	mu := m.(*sync.Mutex)
	mu.Lock()
	return mu.Unlock
}

// wrap adds context to a containerd error, keeping it matchable.
func wrap(op, id string, err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("runtime: %s %s: %w", op, id, err)
}
