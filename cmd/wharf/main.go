// Command wharf is Wharf's single binary: the API server (wharf server),
// the all-in-one local cluster (wharf up) and the command-line client
// (apply, get, describe, delete, version).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/wharfhq/wharf/nodes/containerlog"
)

func main() {
	// containerd's shim runs this binary as the log driver of containers the
	// node agent starts; that mode must come before anything else.
	if containerlog.IsDriver(os.Args) {
		os.Exit(containerlog.RunDriver(os.Args))
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr})
	stop()
	os.Exit(code)
}
