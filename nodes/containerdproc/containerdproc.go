// Package containerdproc runs a private containerd as a child process, for
// `wharf up` on a machine where no containerd is running: its config, root,
// state, socket and runc state all live under one directory, so it never
// meddles with a system containerd.
//
// cmd/wharf imports it; testing/containerd shares its config.
//
// # Notes
//
// The child is started in its own process group, so a Ctrl-C in the
// terminal reaches `wharf up` only, which stops containerd last. Containers
// run under their shims, which outlive containerd: stopping it leaves them
// running, and the next start finds them again (as after a containerd
// restart). Logs go to containerd.log in the directory.
package containerdproc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
)

// DefaultAddress is where a system containerd listens.
const DefaultAddress = "/run/containerd/containerd.sock"

// Reachable reports whether a containerd answers at address.
func Reachable(ctx context.Context, address string) bool {
	if _, err := os.Stat(address); err != nil {
		return false
	}
	c, err := containerd.New(address, containerd.WithTimeout(2*time.Second))
	if err != nil {
		return false
	}
	defer c.Close()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	defer cancel()
	_, err = c.Version(ctx)
	return err == nil
}

// Missing says which binaries containerd needs are not on PATH, and how to
// install them, or returns "".
func Missing() string {
	var miss []string
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			miss = append(miss, bin)
		}
	}
	if len(miss) == 0 {
		return ""
	}
	return fmt.Sprintf("%v not found on PATH; install with: apt-get install -y containerd runc", miss)
}

// Process is a running containerd child.
type Process struct {
	// Address is its gRPC socket.
	Address string
	// RuncRoot is the runc state directory its containers use; pass it to
	// the runtime (runtime.Config.RuncRoot).
	RuncRoot string
	// Dir holds its config, root, state and log.
	Dir string

	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts containerd with everything under dir and returns once it
// answers (or fails, with the end of its log in the error).
func Start(ctx context.Context, dir string) (*Process, error) {
	if m := Missing(); m != "" {
		return nil, errors.New("containerdproc: " + m)
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o711); err != nil {
		return nil, fmt.Errorf("containerdproc: %w", err)
	}
	p := &Process{Dir: dir, RuncRoot: filepath.Join(dir, "runc"), done: make(chan struct{})}
	// Unix socket paths are limited to 108 bytes.
	p.Address = filepath.Join(dir, "containerd.sock")
	if len(p.Address) > 100 {
		run := filepath.Join("/run", "wharf-"+shortHash(dir))
		if err := os.MkdirAll(run, 0o711); err != nil {
			return nil, fmt.Errorf("containerdproc: %w", err)
		}
		p.Address = filepath.Join(run, "containerd.sock")
	}
	cfg := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(cfg, []byte(Config(dir, p.Address)), 0o600); err != nil {
		return nil, fmt.Errorf("containerdproc: %w", err)
	}
	logf, err := os.OpenFile(filepath.Join(dir, "containerd.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("containerdproc: %w", err)
	}
	p.cmd = exec.Command("containerd", "--config", cfg)
	p.cmd.Stdout, p.cmd.Stderr = logf, logf
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := p.cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("containerdproc: start containerd: %w", err)
	}
	go func() {
		p.cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	deadline := time.Now().Add(30 * time.Second)
	for !Reachable(ctx, p.Address) {
		select {
		case <-p.done:
			return nil, fmt.Errorf("containerdproc: containerd exited during start-up; see %s", filepath.Join(dir, "containerd.log"))
		case <-ctx.Done():
			p.Stop(context.Background())
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			p.Stop(context.Background())
			return nil, fmt.Errorf("containerdproc: containerd did not answer on %s within 30s; see %s", p.Address, filepath.Join(dir, "containerd.log"))
		}
	}
	return p, nil
}

// Stop stops containerd (SIGTERM, SIGKILL after ctx ends or 10 s).
// Containers keep running under their shims.
func (p *Process) Stop(ctx context.Context) error {
	p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(10 * time.Second)
	defer t.Stop()
	select {
	case <-p.done:
		return nil
	case <-ctx.Done():
	case <-t.C:
	}
	p.cmd.Process.Kill()
	<-p.done
	return nil
}

// Config is the config of a private containerd with its root and state
// under dir, listening at address: version 2 (read by containerd 1.6 to
// 2.x), the CRI plugin off (Wharf talks to containerd's own API). The test
// harness (testing/containerd) starts its containerd with it too.
func Config(dir, address string) string {
	return fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.tracing.processor.v1.otlp",
  "io.containerd.internal.v1.tracing",
]

[grpc]
  address = %q

[ttrpc]
  address = %q
`, filepath.Join(dir, "root"), filepath.Join(dir, "state"), address, address+".ttrpc")
}

func shortHash(s string) string {
	var h uint32 = 2166136261
	for i := 0; i < len(s); i++ {
		h = (h ^ uint32(s[i])) * 16777619
	}
	return fmt.Sprintf("%08x", h)
}
