package main

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/spf13/cobra"
)

// upComponent is a part of the local cluster that `wharf up` runs next to
// the server in the same process. The node agent joins the list in
// upComponents when it exists.
type upComponent interface {
	// Name is what messages call it ("node").
	Name() string
	// Start starts it against the API at apiURL; stop ends it.
	Start(ctx context.Context, apiURL string, log *slog.Logger) (stop func(context.Context) error, err error)
}

// upComponents are what `wharf up` starts after the server, in order, and
// stops in reverse order.
func upComponents(o *daemonOptions) []upComponent { return nil }

func newUpCommand(g *globals) *cobra.Command {
	var o daemonOptions
	cmd := &cobra.Command{
		Use:   "up",
		Short: "Run a local cluster in this process: the server and (soon) a node",
		Long: "Up runs a one-machine cluster with its state in the data dir (by default under your\n" +
			"data home) until interrupted: the API server now; the node agent joins it in a later release.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runUp(cmd.Context(), g, &o)
		},
	}
	o.addFlags(cmd)
	return cmd
}

func runUp(ctx context.Context, g *globals, o *daemonOptions) (err error) {
	d, log, err := o.start(ctx, g)
	if err != nil {
		return err
	}
	var stops []func(context.Context) error
	defer func() {
		for i := len(stops) - 1; i >= 0; i-- {
			if serr := stops[i](context.WithoutCancel(ctx)); serr != nil && err == nil {
				err = serr
			}
		}
	}()
	for _, c := range upComponents(o) {
		stop, cerr := c.Start(ctx, d.URL(), log.With("component", c.Name()))
		if cerr != nil {
			_ = serveUntilDone(canceled(ctx), d, log)
			return fmt.Errorf("start the %s: %w", c.Name(), cerr)
		}
		stops = append(stops, stop)
	}
	serverFlag := ""
	if d.URL() != defaultServer {
		serverFlag = " --server " + d.URL()
	}
	fmt.Fprintf(g.Out, `Wharf is up: the API is at %s, the state in %s.

Try it from another terminal:
  wharf%s apply -f pod.yaml
  wharf%s get pods
  wharf%s describe pod NAME

No node has joined yet, so pods stay Pending; the node agent comes to 'wharf up' in a later release.
Press Ctrl-C to stop.
`, d.URL(), o.dataDir, serverFlag, serverFlag, serverFlag)
	return serveUntilDone(ctx, d, log)
}

// canceled is a context that is already done, for shutting down at once.
func canceled(ctx context.Context) context.Context {
	c, cancel := context.WithCancel(ctx)
	cancel()
	return c
}
