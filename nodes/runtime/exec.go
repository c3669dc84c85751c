package runtime

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
)

// ExecResult is the outcome of [Containerd.Exec].
type ExecResult struct {
	// ExitCode is the command's exit status (128+n when killed by signal n).
	ExitCode int32
	// Output is the command's stdout and stderr, interleaved, cut at
	// MaxExecOutput bytes. It is for messages (probe failures): the shim
	// copies it, and containerd 1.6's may lose the last of stderr.
	Output []byte
}

// MaxExecOutput bounds the output [Containerd.Exec] keeps.
const MaxExecOutput = 10 << 10

// ErrExecTimeout: the command ran past its timeout and was killed.
var ErrExecTimeout = errors.New("exec timed out")

// Exec runs cmd inside the running container id, as its main process runs
// (same user, env, working dir, namespaces and cgroup), and waits for it
// for at most timeout (0: until ctx ends). A command that outlives timeout
// is killed and ErrExecTimeout returned. This is what exec probes use.
func (r *Containerd) Exec(ctx context.Context, id string, cmd []string, timeout time.Duration) (ExecResult, error) {
	ctx = r.ns(ctx)
	if len(cmd) == 0 {
		return ExecResult{}, fmt.Errorf("runtime: exec in %s: empty command: %w", id, ErrInvalidSpec)
	}
	ctr, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return ExecResult{}, wrap("exec in", id, err)
	}
	spec, err := ctr.Spec(ctx)
	if err != nil {
		return ExecResult{}, wrap("exec in", id, err)
	}
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		return ExecResult{}, wrap("exec in", id, err)
	}
	pspec := *spec.Process
	pspec.Args = cmd
	pspec.Terminal = false
	pspec.ConsoleSize = nil
	pspec.CommandLine = ""

	// The output goes to a file the shim writes itself, not through FIFOs
	// this process reads: a shim left with an exec's FIFOs and no reader
	// (the agent killed mid-probe) blocks opening them and stops
	// answering for the whole container.
	b := make([]byte, 8)
	rand.Read(b)
	execID := "exec-" + hex.EncodeToString(b)
	outFile := filepath.Join(os.TempDir(), "wharf-"+execID+".out")
	if err := os.WriteFile(outFile, nil, 0o600); err != nil {
		return ExecResult{}, fmt.Errorf("runtime: exec in %s: %w", id, err)
	}
	defer os.Remove(outFile)
	output := func() []byte {
		f, err := os.Open(outFile)
		if err != nil {
			return nil
		}
		defer f.Close()
		b, _ := io.ReadAll(io.LimitReader(f, MaxExecOutput))
		return b
	}
	proc, err := task.Exec(ctx, execID, &pspec, cio.LogFile(outFile))
	if err != nil {
		return ExecResult{}, wrap("exec in", id, err)
	}
	// Delete reaps the process and closes its IO, whatever happened; the
	// shim finishes copying the output first, so it is read after.
	deleted := false
	reap := func() {
		if !deleted {
			deleted = true
			proc.Delete(context.WithoutCancel(ctx), containerd.WithProcessKill)
		}
	}
	defer reap()
	exited, err := proc.Wait(ctx)
	if err != nil {
		return ExecResult{}, wrap("exec in", id, err)
	}
	if err := proc.Start(ctx); err != nil {
		return ExecResult{}, wrap("exec in", id, err)
	}
	var timer <-chan time.Time
	if timeout > 0 {
		t := time.NewTimer(timeout)
		defer t.Stop()
		timer = t.C
	}
	select {
	case st := <-exited:
		code, _, err := st.Result()
		if err != nil {
			return ExecResult{}, wrap("exec in", id, err)
		}
		reap()
		return ExecResult{ExitCode: int32(code), Output: output()}, nil
	case <-timer:
		proc.Kill(context.WithoutCancel(ctx), syscall.SIGKILL)
		<-exited
		reap()
		return ExecResult{ExitCode: 137, Output: output()}, fmt.Errorf("runtime: exec in %s: %v after %s: %w", id, cmd, timeout, ErrExecTimeout)
	case <-ctx.Done():
		proc.Kill(context.WithoutCancel(ctx), syscall.SIGKILL)
		return ExecResult{}, wrap("exec in", id, ctx.Err())
	}
}
