package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/nodes/containerdproc"
	"github.com/wharfhq/wharf/nodes/runtime"
)

// upComponent is a part of the local cluster that `wharf up` runs next to
// the server in the same process.
type upComponent interface {
	// Name is what messages call it ("node").
	Name() string
	// Start starts it against the API at apiURL; stop ends it.
	Start(ctx context.Context, apiURL string, log *slog.Logger) (stop func(context.Context) error, err error)
}

// upOptions are up's flags beyond the server's.
type upOptions struct {
	node         nodeOptions
	importImages []string
	noNode       bool
}

// upComponents are what `wharf up` starts after the server, in order, and
// stops in reverse order.
func upComponents(o *daemonOptions, u *upOptions) []upComponent {
	if u.noNode {
		return nil
	}
	return []upComponent{&upNode{dataDir: o.dataDir, opts: u}}
}

func newUpCommand(g *globals) *cobra.Command {
	var o daemonOptions
	var u upOptions
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a local cluster in this process: the server and a node",
		Long: "Up runs a one-machine cluster with its state in the data dir (by default under your data home) until\n" +
			"interrupted: the API server, and a node agent that runs pods through containerd. When no containerd\n" +
			"answers at " + containerdproc.DefaultAddress + ", up starts one of its own, with everything under\n" +
			"<data dir>/containerd. Stopping up leaves the pods' containers running; the next up carries on with them.",
		Example: "  sudo wharf up\n  sudo wharf up --data-dir /tmp/wharf --import-image bin/hello.oci.tar",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUp(cmd.Context(), g, &o, &u)
		},
	}
	o.addFlags(cmd)
	u.node.addFlags(cmd, true)
	f := cmd.Flags()
	f.StringArrayVar(&u.importImages, "import-image", nil, "import the images of this OCI or docker archive into the node before it starts (repeatable)")
	f.BoolVar(&u.noNode, "no-node", false, "run the server only")
	return cmd
}

func runUp(ctx context.Context, g *globals, o *daemonOptions, u *upOptions) (err error) {
	began := time.Now()
	d, log, err := o.start(ctx, g)
	if err != nil {
		return err
	}
	var stops []func(context.Context) error
	stopAll := func() error {
		var errs []error
		for i := len(stops) - 1; i >= 0; i-- {
			errs = append(errs, stops[i](context.WithoutCancel(ctx)))
		}
		stops = nil
		return errors.Join(errs...)
	}
	defer func() { err = errors.Join(err, stopAll()) }()
	var started []string
	for _, c := range upComponents(o, u) {
		stop, cerr := c.Start(ctx, d.URL(), log.With("component", c.Name()))
		if errors.Is(cerr, errSkipped) {
			continue
		}
		if cerr != nil {
			_ = serveUntilDone(canceled(ctx), d, log)
			return fmt.Errorf("start the %s: %w", c.Name(), cerr)
		}
		stops = append(stops, stop)
		started = append(started, c.Name())
	}
	serverFlag := ""
	if d.URL() != defaultServer {
		serverFlag = " --server " + d.URL()
	}
	took := time.Since(began).Round(time.Millisecond)
	nodeLine := fmt.Sprintf("The node %q runs pods through containerd.", u.node.name)
	if len(started) == 0 {
		nodeLine = "No node runs here, so pods stay Pending."
	}
	fmt.Fprintf(g.Out, `Wharf is up in %s: the API is at %s, the state in %s.
%s

Try it from another terminal:
  wharf%s apply -f examples/hello.yaml
  wharf%s get pods
  wharf%s logs hello

Press Ctrl-C to stop.
`, took, d.URL(), o.dataDir, nodeLine, serverFlag, serverFlag, serverFlag)
	// The node goes first, while the server still answers it.
	werr := d.Wait(ctx)
	serr := stopAll()
	return errors.Join(werr, serr, serveUntilDone(canceled(ctx), d, log))
}

// errSkipped: a component chose not to run here (it said why in the log).
var errSkipped = errors.New("skipped")

// upNode is the node agent of `wharf up`, with a containerd of its own
// when the machine runs none.
type upNode struct {
	dataDir string
	opts    *upOptions
}

func (n *upNode) Name() string { return "node" }

func (n *upNode) Start(ctx context.Context, apiURL string, log *slog.Logger) (func(context.Context) error, error) {
	if os.Geteuid() != 0 {
		log.Warn("not starting a node: running containers needs root; pods stay Pending (run wharf up as root for a node)", "uid", os.Geteuid())
		return nil, errSkipped
	}
	o := n.opts.node
	o.dataDir = filepath.Join(n.dataDir, "node")
	o.containerdNamespace = runtime.DefaultNamespace
	o.listen = "127.0.0.1:0" // the server in this process reaches it on loopback
	var ctrd *containerdproc.Process
	if containerdproc.Reachable(ctx, containerdproc.DefaultAddress) {
		o.containerdSocket = containerdproc.DefaultAddress
		log.Info("using the system containerd", "socket", o.containerdSocket)
	} else {
		began := time.Now()
		p, err := containerdproc.Start(ctx, filepath.Join(n.dataDir, "containerd"))
		if err != nil {
			return nil, err
		}
		ctrd = p
		o.containerdSocket, o.runcRoot = p.Address, p.RuncRoot
		log.Info("started containerd", "socket", p.Address, "dir", p.Dir, "took", time.Since(began).Round(time.Millisecond))
	}
	stopCtrd := func() {
		if ctrd != nil {
			ctrd.Stop(context.Background())
		}
	}
	if err := importImages(ctx, &o, n.opts.importImages, log); err != nil {
		stopCtrd()
		return nil, err
	}
	node, err := o.startNode(ctx, apiURL, log)
	if err != nil {
		stopCtrd()
		return nil, err
	}
	return func(sctx context.Context) error {
		err := node.stop(sctx)
		stopCtrd()
		return err
	}, nil
}

// importImages imports image archives into the node's containerd namespace.
func importImages(ctx context.Context, o *nodeOptions, paths []string, log *slog.Logger) error {
	if len(paths) == 0 {
		return nil
	}
	rt, err := runtime.New(runtime.Config{Address: o.containerdSocket, Namespace: o.containerdNamespace, RuncRoot: o.runcRoot,
		LogDir: filepath.Join(o.dataDir, "logs"), PodDir: filepath.Join(o.dataDir, "pods")})
	if err != nil {
		return err
	}
	defer rt.Close()
	for _, p := range paths {
		f, err := os.Open(p)
		if err != nil {
			return fmt.Errorf("--import-image: %w", err)
		}
		imgs, err := rt.ImportImage(ctx, f)
		f.Close()
		if err != nil {
			return fmt.Errorf("--import-image %s: %w", p, err)
		}
		var names []string
		for _, i := range imgs {
			names = append(names, i.Name)
		}
		log.Info("imported images", "archive", p, "images", strings.Join(names, ", "))
	}
	return nil
}

// canceled is a context that is already done, for shutting down at once.
func canceled(ctx context.Context) context.Context {
	c, cancel := context.WithCancel(ctx)
	cancel()
	return c
}
