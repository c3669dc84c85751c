package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/testing/sim"
)

func newSimCommand(g *globals) *cobra.Command {
	var cfg sim.Config
	var keep bool
	cmd := &cobra.Command{
		Use:   "sim",
		Short: "Run simulated nodes against a server, to try the scheduler without machines",
		Long: "Sim registers --nodes simulated nodes with the server at --server (the first --gpu-nodes of them with\n" +
			"GPUs, tainted nvidia.com/gpu=present:NoSchedule) and runs them until interrupted: they heartbeat and mark\n" +
			"the pods bound to them Running, without running anything. On exit the nodes are removed unless --keep-nodes.",
		Example: "  wharf sim --nodes 100 --gpu-nodes 10\n  wharf sim --server http://10.0.0.5:7070 --nodes 5000",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			ctx := cmd.Context()
			if cfg.Nodes <= 0 {
				return usageError(cmd, "--nodes must be at least 1")
			}
			if cfg.GPUNodes < 0 || cfg.GPUNodes > cfg.Nodes {
				return usageError(cmd, "--gpu-nodes must be between 0 and --nodes (%d)", cfg.Nodes)
			}
			cfg.Client = g.client()
			start := time.Now()
			s, err := sim.Start(ctx, cfg)
			if err != nil {
				return err
			}
			fmt.Fprintf(g.Out, "wharf sim: %d nodes registered (%d with %d GPUs each) in %s: %s ... %s\n",
				cfg.Nodes, cfg.GPUNodes, cfg.GPUsPerNode, time.Since(start).Round(time.Millisecond),
				s.NodeName(0), s.NodeName(cfg.Nodes-1))
			fmt.Fprintln(g.Out, "Pods bound to them turn Running. Press Ctrl-C to stop.")
			<-ctx.Done()
			s.Stop()
			fmt.Fprintf(g.Out, "wharf sim: %d pods were marked Running\n", s.Running())
			if keep {
				return nil
			}
			dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
			defer cancel()
			if err := s.DeleteNodes(dctx); err != nil {
				return fmt.Errorf("remove the simulated nodes: %w", err)
			}
			fmt.Fprintf(g.Out, "wharf sim: removed %d nodes\n", cfg.Nodes)
			return nil
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Nodes, "nodes", 10, "number of simulated nodes")
	f.IntVar(&cfg.GPUNodes, "gpu-nodes", 0, "how many of the nodes have GPUs")
	f.IntVar(&cfg.GPUsPerNode, "gpus-per-node", 8, "GPUs per GPU node")
	f.StringVar(&cfg.Prefix, "prefix", "sim-", "node name prefix")
	f.StringVar(&cfg.CPU, "cpu", "32", "cpu capacity of a node")
	f.StringVar(&cfg.Memory, "memory", "128Gi", "memory capacity of a node")
	// The server marks a node that goes --node-monitor-grace-period (40s)
	// without a heartbeat unreachable: renew well within it.
	f.DurationVar(&cfg.HeartbeatInterval, "heartbeat", 10*time.Second, "how often each node renews its Ready condition (well under the server's --node-monitor-grace-period)")
	f.Float64Var(&cfg.StatusQPS, "status-qps", sim.DefaultStatusQPS, "status writes per second, all nodes together")
	f.DurationVar(&cfg.StartDelay, "start-delay", 0, "how long a bound pod takes to become Running")
	f.BoolVar(&keep, "keep-nodes", false, "leave the nodes registered on exit")
	return cmd
}
