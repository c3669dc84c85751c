package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/testing/bench"
)

func newBenchStartupCommand(g *globals) *cobra.Command {
	var cfg bench.StartupConfig
	var verbose bool
	var cpuProfile string
	cmd := &cobra.Command{
		Use:   "startup",
		Short: "Pod start-up latency on real containerd, against raw containerd create+start",
		Long: "Starts a containerd of its own, a server with a durable store and a node agent, creates --pods pods\n" +
			"bound to the node at --rate pods/s and measures each one's time from Create to Running (as a watcher\n" +
			"sees it); then times raw containerd create+starts of the same image. Prints\n" +
			`{"pods","p50_ms","p99_ms","containerd_p50_ms","ratio","network","log_driver"} as one JSON line. Needs root.` + "\n" +
			"Containers' logs go through wharf-log-driver when it is installed beside this binary (go tool task build\n" +
			"puts it there), else through this binary, which starts more slowly: log_driver says which.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if verbose {
				cfg.Log = g.Err
			}
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			fmt.Fprintf(g.Err, "bench startup: %d pods at %.1f/s...\n", cfg.Pods, cfg.Rate)
			res, err := bench.Startup(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			return printJSON(g.Out, res)
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Pods, "pods", 50, "pods to start")
	f.Float64Var(&cfg.Rate, "rate", 5, "pods created per second")
	f.BoolVar(&cfg.HostNetwork, "host-network", false, "run the pods in the node's network namespace (default: a pod network through CNI)")
	f.IntVar(&cfg.RawRuns, "raw-runs", 0, "raw containerd create+starts for the baseline (default: --pods)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run to this file")
	f.BoolVarP(&verbose, "verbose", "v", false, "log progress and warnings to stderr")
	return cmd
}
