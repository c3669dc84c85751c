package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/api/wharf/v1/wharfv1connect"
	"github.com/wharfhq/wharf/sdk/client"
)

func newExplainCommand(g *globals) *cobra.Command {
	var ns, output string
	var limit int
	cmd := &cobra.Command{
		Use:   "explain pod NAME",
		Short: "Show where the scheduler would put a pod, and why not elsewhere",
		Long: "Explain asks the scheduler to run a scheduling cycle for the pod without binding it, over every\n" +
			"node, and shows for each node the plugin that rejected the pod and why, and for feasible nodes each\n" +
			"score plugin's (weighted) score. Feasible nodes come first, best first.",
		Example: "  wharf explain pod web\n  wharf explain pod train-0 -n ml --limit 0\n  wharf explain pod web -o json",
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			info, err := lookupKind(args[0])
			if err != nil {
				return err
			}
			if info.Kind != "Pod" {
				return usageError(cmd, "explain works on pods, not %s", info.Plural)
			}
			switch output {
			case "", "wide", "json":
			default:
				return usageError(cmd, "unknown output format %q; use json or wide", output)
			}
			return runExplain(cmd.Context(), g, namespaceOr(ns), args[1], output, limit)
		},
	}
	namespaceFlag(cmd, &ns)
	cmd.Flags().StringVarP(&output, "output", "o", "", "output format: json, or wide (every node, no limit)")
	cmd.Flags().IntVar(&limit, "limit", 50, "show at most this many nodes; 0 shows all")
	return cmd
}

func runExplain(ctx context.Context, g *globals, ns, name, output string, limit int) error {
	c := wharfv1connect.NewSchedulerServiceClient(client.DefaultHTTPClient(), client.New(g.server).BaseURL())
	res, err := c.Explain(ctx, connect.NewRequest(&wharfv1.ExplainRequest{Namespace: ns, Name: name}))
	if err != nil {
		return err
	}
	e := res.Msg
	if output == "json" {
		b, err := protojson.MarshalOptions{Multiline: true, Indent: "  "}.Marshal(e)
		if err != nil {
			return err
		}
		fmt.Fprintln(g.Out, string(b))
		return nil
	}
	if output == "wide" {
		limit = 0
	}
	fmt.Fprintf(g.Out, "Pod:        %s/%s\n", ns, name)
	fmt.Fprintf(g.Out, "Scheduler:  %s\n", e.GetSchedulerName())
	if e.GetBoundNode() != "" {
		fmt.Fprintf(g.Out, "Bound to:   %s (the cycle below shows where it would go now)\n", e.GetBoundNode())
	}
	fmt.Fprintf(g.Out, "Result:     %s\n", e.GetSummary())
	if e.GetPodRejectedBy() != "" {
		fmt.Fprintf(g.Out, "Rejected:   by %s before any node: %s\n", e.GetPodRejectedBy(), strings.Join(e.GetPodReasons(), ", "))
	}
	fmt.Fprintf(g.Out, "Nodes:      %d feasible of %d\n\n", e.GetFeasibleNodes(), e.GetNumNodes())
	header := []string{"NODE", "FEASIBLE", "REJECTED BY", "REASONS"}
	plugins := e.GetScorePlugins()
	for _, p := range plugins {
		header = append(header, p)
	}
	header = append(header, "TOTAL")
	var rows [][]string
	nodes := e.GetNodes()
	shown := nodes
	if limit > 0 && len(nodes) > limit {
		shown = nodes[:limit]
	}
	for _, n := range shown {
		row := []string{n.GetName(), "no", orDash(n.GetRejectedBy()), orDash(strings.Join(n.GetReasons(), ", "))}
		if n.GetFeasible() {
			row[1] = "yes"
		}
		for _, p := range plugins {
			if v, ok := n.GetScores()[p]; ok {
				row = append(row, strconv.FormatInt(v, 10))
			} else {
				row = append(row, "-")
			}
		}
		if n.GetFeasible() && len(n.GetScores()) > 0 {
			row = append(row, strconv.FormatInt(n.GetTotalScore(), 10))
		} else {
			row = append(row, "-")
		}
		rows = append(rows, row)
	}
	t := table{header: header}
	t.print(g.Out, rows, false)
	if len(shown) < len(nodes) {
		fmt.Fprintf(g.Out, "... and %d more nodes (--limit 0 shows all)\n", len(nodes)-len(shown))
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
