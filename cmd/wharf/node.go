package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/nodes/agent"
	"github.com/wharfhq/wharf/nodes/network"
	"github.com/wharfhq/wharf/nodes/runtime"
	"github.com/wharfhq/wharf/sdk/client"
)

// nodeOptions are the flags of `wharf node` (and the node part of `wharf up`).
type nodeOptions struct {
	name                string
	dataDir             string
	containerdSocket    string
	containerdNamespace string
	runcRoot            string
	listen              string
	nodeIP              string
	podCIDR             string
	cniBridge           string
	cniPluginDirs       []string
	noPodNetwork        bool
	cgroupParent        string
	logLevel, logFormat string
}

// addFlags adds the node's flags; up leaves out those it decides itself.
func (o *nodeOptions) addFlags(cmd *cobra.Command, up bool) {
	f := cmd.Flags()
	host, _ := os.Hostname()
	f.StringVar(&o.name, "name", host, "the node's name (default: the host name)")
	f.StringVar(&o.nodeIP, "node-ip", "", "the address the node is reported at and the API server reaches it on (default: the source address of the default route)")
	f.StringVar(&o.podCIDR, "pod-cidr", "", "register the node with this pod CIDR instead of one the server hands out")
	f.StringVar(&o.cniBridge, "cni-bridge", network.DefaultBridge, "the Linux bridge pods are attached to")
	f.StringSliceVar(&o.cniPluginDirs, "cni-plugin-dir", network.DefaultPluginDirs, "where the CNI plugins (bridge, host-local) are")
	f.BoolVar(&o.noPodNetwork, "no-pod-network", false, "run every pod in the node's network namespace (as hostNetwork) instead of giving pods their own IPs")
	f.StringVar(&o.cgroupParent, "cgroup-parent", runtime.DefaultCgroupParent, "the cgroup the containers' cgroups go under")
	if up {
		return
	}
	f.StringVar(&o.dataDir, "data-dir", "/var/lib/wharf-node", "where the node keeps its state: pod volumes, logs, network and GPU allocations")
	f.StringVar(&o.containerdSocket, "containerd-socket", runtime.DefaultAddress, "containerd's socket")
	f.StringVar(&o.containerdNamespace, "containerd-namespace", runtime.DefaultNamespace, "the containerd namespace the node's containers live in")
	f.StringVar(&o.listen, "listen", agent.DefaultLogListen, "host:port the node's service (container logs, for the API server) listens on")
	f.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn or error")
	f.StringVar(&o.logFormat, "log-format", "text", "log format: text or json")
}

// runningNode is a started node agent.
type runningNode struct {
	agent  *agent.Agent
	rt     *runtime.Containerd
	cancel context.CancelFunc
	done   chan error
}

// startNode starts the agent against the API at apiURL and returns once it
// is registered and has looked at its pods.
func (o *nodeOptions) startNode(ctx context.Context, apiURL string, log *slog.Logger) (*runningNode, error) {
	if o.name == "" {
		return nil, errors.New("--name is empty; name the node")
	}
	if os.Geteuid() != 0 {
		return nil, fmt.Errorf("the node agent runs containers and needs root; this is uid %d (try sudo)", os.Geteuid())
	}
	dataDir, err := filepath.Abs(o.dataDir)
	if err != nil {
		return nil, err
	}
	rt, err := runtime.New(runtime.Config{
		Address:      o.containerdSocket,
		Namespace:    o.containerdNamespace,
		RuncRoot:     o.runcRoot,
		CgroupParent: o.cgroupParent,
		LogDir:       filepath.Join(dataDir, "logs"),
		PodDir:       filepath.Join(dataDir, "pods"),
	})
	if err != nil {
		return nil, err
	}
	vctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	v, err := rt.Version(vctx)
	cancel()
	if err != nil {
		rt.Close()
		return nil, fmt.Errorf("containerd does not answer at %s: %w\nStart it (systemctl start containerd), or point --containerd-socket at it", o.containerdSocket, err)
	}
	log.Info("container runtime", "version", v, "socket", o.containerdSocket, "log_driver", rt.Config().LogDriver)

	var netm *network.Manager
	switch {
	case o.noPodNetwork:
		log.Warn("pod network off (--no-pod-network): pods run in the node's network namespace")
	case network.Missing(o.cniPluginDirs) != "":
		log.Warn("pod network off: pods run in the node's network namespace", "why", network.Missing(o.cniPluginDirs))
	default:
		netm, err = network.New(network.Config{
			Bridge:     o.cniBridge,
			PluginDirs: o.cniPluginDirs,
			StateDir:   filepath.Join(dataDir, "network"),
			IPMasq:     true,
		})
		if err != nil {
			rt.Close()
			return nil, err
		}
	}
	agent.Version = "wharf/" + clientVersion()
	a, err := agent.New(ctx, agent.Config{
		NodeName: o.name,
		Client:   client.New(apiURL),
		Runtime:  rt,
		DataDir:  filepath.Join(dataDir, "agent"),
		Network:  netm,
		Listen:   o.listen,
		NodeIP:   o.nodeIP,
		PodCIDR:  o.podCIDR,
		Logger:   log,
	})
	if err != nil {
		rt.Close()
		return nil, err
	}
	actx, stop := context.WithCancel(context.WithoutCancel(ctx))
	n := &runningNode{agent: a, rt: rt, cancel: stop, done: make(chan error, 1)}
	go func() { n.done <- a.Run(actx) }()
	select {
	case <-a.Ready():
		return n, nil
	case err := <-n.done:
		stop()
		rt.Close()
		if err == nil {
			err = errors.New("the node agent stopped during start-up")
		}
		return nil, err
	case <-ctx.Done():
		n.stop(context.Background())
		return nil, ctx.Err()
	}
}

// stop stops the agent; the node's containers keep running, and the next
// agent re-adopts them.
func (n *runningNode) stop(context.Context) error {
	n.cancel()
	err := <-n.done
	n.rt.Close()
	return err
}

func newNodeCommand(g *globals) *cobra.Command {
	var o nodeOptions
	cmd := &cobra.Command{
		Use:   "node",
		Short: "Run the node agent: register this machine and run the pods bound to it through containerd",
		Long: "Node registers this machine with the API server (--server) as a Node, with its CPUs, memory and GPUs,\n" +
			"heartbeats, and runs the pods bound to it through containerd until interrupted. Stopping it leaves the\n" +
			"containers running; the next start carries on with them.",
		Example: "  sudo wharf node --server http://10.0.0.1:7070 --name gpu-1 --data-dir /var/lib/wharf-node",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			dopts := daemonOptions{logLevel: o.logLevel, logFormat: o.logFormat}
			log, err := dopts.logger(g.Err)
			if err != nil {
				return err
			}
			began := time.Now()
			n, err := o.startNode(ctx, g.server, log)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "wharf node: %s is registered with %s and ready in %s (logs served at %s)\n",
				o.name, g.server, time.Since(began).Round(time.Millisecond), n.agent.Endpoint())
			var runErr error
			select {
			case <-ctx.Done():
			case runErr = <-n.done:
				n.done <- runErr
			}
			log.Info("stopping the node agent; containers keep running")
			return errors.Join(runErr, n.stop(context.Background()))
		},
	}
	o.addFlags(cmd, false)
	return cmd
}
