// Command logdriver (installed as wharf-log-driver) is the log driver containerd's shim starts for
// each container the node agent runs: it copies the container's stdout and
// stderr into its log file (see package containerlog).
//
// The wharf binary can do the same, but it is large and starts slowly (every
// package it links is initialized first), and the shim waits for the driver
// before the container starts. Installed next to wharf, this program is used
// instead: it links little beyond the driver and starts in a millisecond or
// two.
package main

import (
	"fmt"
	"os"

	"github.com/wharfhq/wharf/nodes/containerlog"
)

func main() {
	if !containerlog.IsDriver(os.Args) {
		fmt.Fprintln(os.Stderr, "wharf-log-driver: containerd's shim starts this program for the wharf node agent; it is not run by hand")
		os.Exit(2)
	}
	os.Exit(containerlog.RunDriver(os.Args))
}
