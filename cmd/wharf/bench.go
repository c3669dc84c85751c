package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/pprof"
	"time"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/testing/bench"
)

// newBenchCommand groups the end-to-end benchmarks. Each starts what it
// measures itself and prints its figures as the last line, in JSON.
func newBenchCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "bench",
		Short: "Run an end-to-end benchmark and print its figures as JSON",
	}
	cmd.AddCommand(newBenchAPICommand(g))
	cmd.AddCommand(newBenchStartupCommand(g))
	cmd.AddCommand(newBenchScheduleCommand(g))
	return cmd
}

func newBenchAPICommand(g *globals) *cobra.Command {
	var cfg bench.APIConfig
	var verbose bool
	var cpuProfile, memProfile string
	cmd := &cobra.Command{
		Use:   "api",
		Short: "Durable creates/s through the API under 1,000 watchers",
		Long: "Starts a server with a durable store on a temp dir, opens --watchers watches (each on the pods of one\n" +
			"node, as node agents do) and creates pods from --clients concurrent clients. Prints creates/s, create\n" +
			"p50/p99 (at the clients, and as the server's latency histogram has them) and watch-delivery p50/p99 as\n" +
			"one JSON line.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if verbose {
				cfg.Log = os.Stderr
			}
			stop, err := startCPUProfile(cpuProfile)
			if err != nil {
				return err
			}
			defer stop()
			fmt.Fprintf(g.Err, "bench api: %d clients, %d watchers, %s warm-up, %s measured...\n",
				cfg.Clients, cfg.Watchers, cfg.Warmup, cfg.Duration)
			res, err := bench.API(cmd.Context(), cfg)
			if err != nil {
				return err
			}
			if err := writeHeapProfile(memProfile); err != nil {
				return err
			}
			return printJSON(g.Out, res)
		},
	}
	f := cmd.Flags()
	f.IntVar(&cfg.Clients, "clients", 256, "concurrent creating clients")
	f.IntVar(&cfg.Watchers, "watchers", 1000, "concurrent watchers")
	f.IntVar(&cfg.Conns, "conns", 8, "HTTP/2 connections the clients (and the watchers) spread over")
	f.DurationVar(&cfg.Warmup, "warmup", 2*time.Second, "load before measuring")
	f.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured window")
	f.StringVar(&cfg.DataDir, "data-dir", "", "store directory (default: a temp dir, removed afterwards)")
	f.StringVar(&cpuProfile, "cpuprofile", "", "write a CPU profile of the whole run (server and clients) to this file")
	f.StringVar(&memProfile, "memprofile", "", "write a heap profile (with every allocation of the run, server and clients: go tool pprof -sample_index alloc_objects) to this file")
	f.BoolVarP(&verbose, "verbose", "v", false, "log the server's warnings to stderr")
	return cmd
}

// startCPUProfile writes a CPU profile to path until stop is called; an
// empty path profiles nothing.
func startCPUProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("cpu profile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// writeHeapProfile writes a heap profile to path, after a collection so
// that it is current; an empty path writes nothing.
func writeHeapProfile(path string) error {
	if path == "" {
		return nil
	}
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	defer f.Close()
	runtime.GC()
	if err := pprof.WriteHeapProfile(f); err != nil {
		return fmt.Errorf("heap profile: %w", err)
	}
	return f.Close()
}

// printJSON prints a benchmark's figures as its last line.
func printJSON(w io.Writer, v any) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(w, string(b))
	return err
}
