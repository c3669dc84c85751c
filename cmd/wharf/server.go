package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/daemon/apiserver"
	"github.com/wharfhq/wharf/daemon/nodelifecycle"
	"github.com/wharfhq/wharf/daemon/podgc"
	"github.com/wharfhq/wharf/daemon/scheduler"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	"github.com/wharfhq/wharf/daemon/server"
	"github.com/wharfhq/wharf/plugins"
	"github.com/wharfhq/wharf/sdk/client"
)

// daemonOptions are the flags of the commands that run the server.
type daemonOptions struct {
	dataDir         string
	listen          string
	logLevel        string
	logFormat       string
	schedulerConfig string
	eventTTL        time.Duration
	nodeGrace       time.Duration
	profiling       bool
}

func (o *daemonOptions) addFlags(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&o.dataDir, "data-dir", defaultDataDir(), "where the server keeps its state")
	f.StringVar(&o.listen, "listen", server.DefaultListen, "host:port the API is served on")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
	f.StringVar(&o.schedulerConfig, "scheduler-config", "", "scheduler profiles (a SchedulerConfiguration YAML file); default: the default profile")
	f.DurationVar(&o.nodeGrace, "node-monitor-grace-period", nodelifecycle.DefaultGracePeriod, "how long a node may go without a heartbeat before it is marked unreachable and takes no new pods")
	f.DurationVar(&o.eventTTL, "event-ttl", apiserver.DefaultEventTTL, "how long an Event is kept after its last write; 0 keeps events until deleted")
	f.BoolVar(&o.profiling, "profiling", false, "serve Go's profiles (CPU, heap, goroutines) at /debug/pprof/ on the API port, for `go tool pprof`")
}

// defaultDataDir is $XDG_DATA_HOME/wharf, else ~/.local/share/wharf.
func defaultDataDir() string {
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "wharf")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "wharf")
	}
	return "wharf-data"
}

// logger builds the slog logger the flags ask for, writing to w.
func (o *daemonOptions) logger(w io.Writer) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		return nil, fmt.Errorf("unknown --log-level %q; use debug, info, warn or error", o.logLevel)
	}
	opts := &slog.HandlerOptions{Level: level}
	switch strings.ToLower(o.logFormat) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("unknown --log-format %q; use text or json", o.logFormat)
}

// start starts the daemon the options describe.
func (o *daemonOptions) start(ctx context.Context, g *globals) (*server.Daemon, *slog.Logger, error) {
	log, err := o.logger(g.Err)
	if err != nil {
		return nil, nil, err
	}
	if o.dataDir == "" {
		return nil, nil, errors.New("--data-dir is empty; name a directory for the server's state")
	}
	if o.nodeGrace <= 0 {
		return nil, nil, fmt.Errorf("--node-monitor-grace-period %v is not positive; the default is %v", o.nodeGrace, nodelifecycle.DefaultGracePeriod)
	}
	if o.eventTTL < 0 {
		return nil, nil, fmt.Errorf("--event-ttl %v is negative; use 0 to keep events until they are deleted", o.eventTTL)
	}
	// The plugin host: admission plugins join the API's request chain,
	// scheduling plugins join every scheduler profile (as one aggregate
	// Filter/Score plugin), controllers run against the API.
	reg := prometheus.NewRegistry()
	host, err := plugins.New(plugins.Options{
		DataDir:    filepath.Join(o.dataDir, "plugins"),
		Logger:     log.With("component", "plugins"),
		Registerer: reg,
	})
	if err != nil {
		return nil, nil, err
	}
	var profiles *framework.Config
	if o.schedulerConfig != "" {
		if profiles, err = framework.LoadConfig(o.schedulerConfig); err != nil {
			return nil, nil, err
		}
		if err := scheduler.CheckProfiles(profiles, host.SchedulerAggregate()); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", o.schedulerConfig, err)
		}
	}
	d, err := server.Start(ctx, server.Config{
		DataDir:   o.dataDir,
		Listen:    o.listen,
		Logger:    log,
		Profiling: o.profiling,
		APIOptions: []apiserver.Option{
			apiserver.WithRegistry(reg),
			apiserver.WithEventTTL(o.eventTTL),
			apiserver.WithMutatingAdmission(host.Admission()),
			apiserver.WithValidatingAdmission(host.Admission()),
			// Module uploads go through the API's request chain.
			apiserver.WithService(host.Handler),
		},
	})
	if err != nil {
		return nil, nil, err
	}
	sched, err := startScheduler(ctx, d, plugins.EnableAggregate(profiles, pluginsScoreWeight), host.SchedulerAggregate(), log)
	if err != nil {
		_ = d.Shutdown(context.WithoutCancel(ctx))
		return nil, nil, err
	}
	// Scheduling plugins receive the scheduler's nodes before they serve.
	host.SetNodeSource(sched)
	go func() {
		if err := host.Run(ctx, client.New(d.URL())); err != nil && ctx.Err() == nil {
			log.Error("plugin host stopped", "err", err)
		}
	}()
	// Controllers of node health and of the pods of deleted nodes. They
	// share the scheduler's caches of the nodes and pods.
	ctl := client.New(d.URL())
	nodes, pods := sched.Informers()
	lifecycle := nodelifecycle.New(nodelifecycle.Config{Client: ctl, GracePeriod: o.nodeGrace, Nodes: nodes, Pods: pods, Logger: log.With("component", "node-lifecycle")})
	go func() { _ = lifecycle.Run(ctx) }()
	gc := podgc.New(podgc.Config{Client: ctl, Nodes: nodes, Pods: pods, Logger: log.With("component", "podgc")})
	go func() { _ = gc.Run(ctx) }()
	return d, log, nil
}

// pluginsScoreWeight is the weight of the scheduling plugins' scores next
// to the built-in scorers': the plugins count as one scorer, whose score
// is the mean of theirs weighted by each Plugin's scoreWeight.
const pluginsScoreWeight = 1

// startScheduler runs the scheduler in the daemon's process until ctx
// ends: it binds through the API service layer (one group commit per
// batch) and answers SchedulerService.Explain.
func startScheduler(ctx context.Context, d *server.Daemon, profiles *framework.Config, registry framework.Registry, log *slog.Logger) (*scheduler.Scheduler, error) {
	log = log.With("component", "scheduler")
	// Its informers reach the server over loopback: no gzip, which would
	// only cost CPU there.
	c := client.New(d.URL(), client.WithConnectOptions(connect.WithAcceptCompression("gzip", nil, nil)))
	s, err := scheduler.New(scheduler.Config{Client: c, Binder: d.API, Profiles: profiles, Registry: registry, Logger: log})
	if err != nil {
		return nil, err
	}
	d.API.SetExplainer(s)
	go func() {
		if err := s.Run(ctx); err != nil {
			log.Error("scheduler stopped", "err", err)
		}
	}()
	return s, nil
}

// serveUntilDone waits for ctx to end (SIGINT or SIGTERM) or the server to
// fail, then shuts the daemon down gracefully.
func serveUntilDone(ctx context.Context, d *server.Daemon, log *slog.Logger) error {
	werr := d.Wait(ctx)
	if werr == nil {
		log.Info("shutting down")
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
	defer cancel()
	return errors.Join(werr, d.Shutdown(sctx))
}

func newServerCommand(g *globals) *cobra.Command {
	var o daemonOptions
	cmd := &cobra.Command{
		Use:   "server",
		Short: "Run the API server, with its state in --data-dir, until interrupted",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			d, log, err := o.start(ctx, g)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "wharf server: serving the API at %s (data in %s)\n", d.URL(), o.dataDir)
			return serveUntilDone(ctx, d, log)
		},
	}
	o.addFlags(cmd)
	return cmd
}
