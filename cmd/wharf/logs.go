package main

import (
	"bufio"
	"context"
	"errors"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/api/wharf/v1/wharfv1connect"
	"github.com/wharfhq/wharf/sdk/client"
)

type logsOptions struct {
	namespace  string
	container  string
	follow     bool
	tail       int64
	previous   bool
	timestamps bool
}

func newLogsCommand(g *globals) *cobra.Command {
	var o logsOptions
	cmd := &cobra.Command{
		Use:   "logs POD",
		Short: "Print the logs of a container in a pod",
		Long: "Print a container's output (stdout and stderr), as its node keeps it. The server forwards the request\n" +
			"to the pod's node. A pod with several containers needs -c.",
		Example: "  wharf logs hello\n  wharf logs web -c nginx --tail 20 -f\n  wharf logs web --previous",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLogs(cmd.Context(), g, o, args[0])
		},
	}
	namespaceFlag(cmd, &o.namespace)
	f := cmd.Flags()
	f.StringVarP(&o.container, "container", "c", "", "the container (needed when the pod has several)")
	f.BoolVarP(&o.follow, "follow", "f", false, "keep printing new lines until the container exits")
	f.Int64Var(&o.tail, "tail", -1, "print only the last N lines (-1: all)")
	f.BoolVarP(&o.previous, "previous", "p", false, "the log of the container's previous run (before its last restart)")
	f.BoolVar(&o.timestamps, "timestamps", false, "prefix each line with the time it was written")
	return cmd
}

func runLogs(ctx context.Context, g *globals, o logsOptions, pod string) error {
	req := &wharfv1.LogsRequest{
		Namespace: namespaceOr(o.namespace),
		Name:      pod,
		Container: o.container,
		Follow:    o.follow,
		Previous:  o.previous,
	}
	if o.tail >= 0 {
		req.TailLines = proto.Int64(o.tail)
	}
	lc := wharfv1connect.NewLogServiceClient(client.DefaultHTTPClient(), g.client().BaseURL())
	stream, err := lc.Logs(ctx, connect.NewRequest(req))
	if err != nil {
		return err
	}
	defer stream.Close()
	out := bufio.NewWriter(g.Out)
	defer out.Flush()
	for stream.Receive() {
		for _, e := range stream.Msg().GetEntries() {
			if o.timestamps {
				out.WriteString(e.GetTime().AsTime().UTC().Format(time.RFC3339Nano))
				out.WriteByte(' ')
			}
			out.Write(e.GetContent())
			if !e.GetPartial() {
				out.WriteByte('\n')
			}
		}
		if o.follow {
			out.Flush()
		}
	}
	err = stream.Err()
	if errors.Is(err, context.Canceled) || connect.CodeOf(err) == connect.CodeCanceled && ctx.Err() != nil {
		return nil // Ctrl-C during -f
	}
	return err
}
