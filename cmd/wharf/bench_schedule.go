package main

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/testing/bench"
)

func newBenchScheduleCommand(g *globals) *cobra.Command {
	var cfg bench.ScheduleConfig
	var verbose bool
	var cpuProfile, scorePlugin string
	var rounds int
	cmd := &cobra.Command{
		Use:   "schedule",
		Short: "Scheduler throughput: pods bound per second onto simulated nodes",
		Long: "Starts a server with a durable store on a temp dir, registers --nodes simulated nodes through the API\n" +
			"(--gpu-nodes of them with 8 GPUs), creates --pods pending pods through the API (--gpu-pods of them asking\n" +
			"for GPUs), then starts the scheduler and times it until the last binding is durable. Prints pods/s,\n" +
			"queue-to-bind p50/p99, peak RSS and, with GPUs, the share of GPU nodes left full or empty, as one JSON line.\n\n" +
			"With --score-plugin FILE.wasm (the example GPU scorer, plugins/examples/gpuscore, built for WebAssembly) it\n" +
			"runs twice on fresh servers: first with the scorer's Go code compiled into the scheduler as a native score\n" +
			"plugin, then with the module installed as a Plugin (scheduler.score) and run by the plugin host, as `wharf\n" +
			"server` runs it. It prints both pods/s, their ratio, and the mean time of the WebAssembly score call per\n" +
			"pod (overall and for the GPU pods it scores, with the candidate nodes per call), then each run's figures.",
		Example: "  wharf bench schedule --nodes 5000 --pods 10000\n  wharf bench schedule --gpu-nodes 500 --gpu-pods 2000\n" +
			"  wharf bench schedule --gpu-nodes 5000 --gpu-pods 10000 --score-plugin gpuscore.wasm",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if verbose {
				cfg.Log = os.Stderr
			}
			if cpuProfile != "" {
				f, err := os.Create(cpuProfile)
				if err != nil {
					return fmt.Errorf("cpu profile: %w", err)
				}
				defer f.Close()
				cfg.CPUProfile = f
			}
			fmt.Fprintf(g.Err, "bench schedule: %d nodes (%d with GPUs), %d pods (%d with GPUs)...\n",
				cfg.Nodes, cfg.GPUNodes, cfg.Pods, cfg.GPUPods)
			if scorePlugin != "" {
				module, err := os.ReadFile(scorePlugin)
				if err != nil {
					return fmt.Errorf("--score-plugin: %w", err)
				}
				if rounds < 1 {
					return fmt.Errorf("--rounds %d: want 1 or more", rounds)
				}
				var results []bench.ScheduleWASMResult
				for r := range rounds {
					fmt.Fprintf(g.Err, "bench schedule: round %d of %d: native scorer, then %s through the plugin host...\n", r+1, rounds, scorePlugin)
					rcfg := cfg
					if r > 0 {
						rcfg.CPUProfile = nil // the first round's
					}
					if cfg.DataDir != "" && rounds > 1 {
						rcfg.DataDir = filepath.Join(cfg.DataDir, fmt.Sprintf("round-%d", r+1))
					}
					res, err := bench.ScheduleWASM(cmd.Context(), bench.ScheduleWASMConfig{ScheduleConfig: rcfg, Module: module})
					if err != nil {
						return err
					}
					if rounds > 1 {
						fmt.Fprintf(g.Err, "bench schedule: round %d: native %.0f pods/s, wasm %.0f pods/s, ratio %.2f, wasm score %.1f us per pod (%.1f per GPU pod)\n",
							r+1, res.NativePodsPerS, res.WASMPodsPerS, res.Ratio, res.WASMScoreUSPerPod, res.WASMScoreUSPerGPUPod)
					}
					results = append(results, res)
				}
				return printJSON(g.Out, bench.MedianRound(results))
			}
			res, err := bench.Schedule(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			return printJSON(g.Out, res)
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Nodes, "nodes", 5000, "simulated nodes")
	f.IntVar(&cfg.Pods, "pods", 10000, "pending pods")
	f.IntVar(&cfg.GPUNodes, "gpu-nodes", 0, "how many of the nodes have GPUs")
	f.IntVar(&cfg.GPUPods, "gpu-pods", 0, "how many of the pods request GPUs")
	f.StringVar(&cfg.DataDir, "data-dir", "", "store directory (default: a temp dir, removed afterwards)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the timed part to this file (with --score-plugin: of the WebAssembly run)")
	f.StringVar(&scorePlugin, "score-plugin", "", "compare the example GPU scorer built for WebAssembly (this .wasm) with the same code compiled in")
	f.IntVar(&rounds, "rounds", 1, "with --score-plugin: run the native and WebAssembly pair this many times, alternately, and print the round with the median ratio")
	f.BoolVarP(&verbose, "verbose", "v", false, "log the server's and scheduler's warnings to stderr")
	return cmd
}
