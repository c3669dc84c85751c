package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"syscall"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/sdk/client"
)

// defaultServer is where the CLI looks for the API unless --server or
// WHARF_SERVER says otherwise.
const defaultServer = "http://127.0.0.1:7070"

// streams are the command's standard input, output and error; tests
// inject buffers.
type streams struct {
	In  io.Reader
	Out io.Writer
	Err io.Writer
}

// globals are the flags every command shares.
type globals struct {
	streams
	server string
}

// client returns an API client for --server.
func (g *globals) client() *client.Client { return client.New(g.server) }

// run executes the CLI with args and returns the process exit code.
// Errors are printed as "error: <message>" on the error stream.
func run(ctx context.Context, args []string, s streams) int {
	g := &globals{streams: s}
	root := newRootCommand(g)
	root.SetArgs(args)
	if err := root.ExecuteContext(ctx); err != nil {
		var se silentError
		if !errors.As(err, &se) {
			fmt.Fprintf(s.Err, "error: %s\n", g.message(err))
		}
		return 1
	}
	return 0
}

func newRootCommand(g *globals) *cobra.Command {
	root := &cobra.Command{
		Use:   "wharf",
		Short: "Wharf runs containers on a cluster of machines",
		Long: "Wharf is a container orchestrator: one binary that is the API server (wharf server),\n" +
			"a one-command local cluster (wharf up) and the client (wharf apply, get, describe, delete).",
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetIn(g.In)
	root.SetOut(g.Out)
	root.SetErr(g.Err)
	server := os.Getenv("WHARF_SERVER")
	if server == "" {
		server = defaultServer
	}
	root.PersistentFlags().StringVar(&g.server, "server", server,
		"the Wharf API server's URL; $WHARF_SERVER sets the default")
	root.AddCommand(
		newServerCommand(g),
		newUpCommand(g),
		newApplyCommand(g),
		newGetCommand(g),
		newDescribeCommand(g),
		newDeleteCommand(g),
		newVersionCommand(g),
		newBenchCommand(g),
		newSimCommand(g), newExplainCommand(g),
		newNodeCommand(g), newLogsCommand(g),
		newPluginCommand(g),
		newCordonCommand(g), newUncordonCommand(g), newDrainCommand(g),
		newLabelCommand(g), newTaintCommand(g),
	)
	return root
}

// silentError is an error whose details the command already printed; the
// process only exits non-zero.
type silentError struct{ err error }

func (e silentError) Error() string { return e.err.Error() }
func (e silentError) Unwrap() error { return e.err }

// message turns an error into what the user reads after "error: ".
// Connect errors show the server's message; an unreachable server says
// where the CLI looked and what to do.
func (g *globals) message(err error) string {
	if unreachable(err) {
		return fmt.Sprintf("the Wharf server is not reachable at %s: %s\n"+
			"Start one with `wharf up`, or point --server (or $WHARF_SERVER) at a running server.",
			g.server, rootCause(err))
	}
	var ce *connect.Error
	if errors.As(err, &ce) {
		msg := ce.Message()
		if msg == "" {
			msg = ce.Code().String()
		}
		return msg
	}
	return err.Error()
}

// unreachable reports whether err says nothing answered at the server's
// address.
func unreachable(err error) bool {
	if errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.EHOSTUNREACH) || errors.Is(err, syscall.ENETUNREACH) {
		return true
	}
	var dnsErr *net.DNSError
	if errors.As(err, &dnsErr) {
		return true
	}
	var opErr *net.OpError
	return errors.As(err, &opErr) && opErr.Op == "dial"
}

// rootCause is the innermost error's message.
func rootCause(err error) string {
	for {
		next := errors.Unwrap(err)
		if next == nil {
			return err.Error()
		}
		err = next
	}
}

// namespaceFlag adds -n/--namespace to cmd.
func namespaceFlag(cmd *cobra.Command, ns *string) {
	cmd.Flags().StringVarP(ns, "namespace", "n", "", `the namespace (default "default")`)
}

// namespaceOr returns ns, or "default" when it is empty.
func namespaceOr(ns string) string {
	if ns == "" {
		return "default"
	}
	return ns
}

// usageError is a mistake in the command line.
func usageError(cmd *cobra.Command, format string, args ...any) error {
	return fmt.Errorf("%s\nSee '%s --help'.", fmt.Sprintf(format, args...), cmd.CommandPath())
}

// joinLines is for lists in messages.
func joinLines(lines []string) string { return strings.Join(lines, "\n") }
