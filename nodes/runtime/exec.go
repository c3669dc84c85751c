package runtime

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
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
	// MaxExecOutput bytes.
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

	var out limitedBuffer
	b := make([]byte, 8)
	rand.Read(b)
	execID := "exec-" + hex.EncodeToString(b)
	proc, err := task.Exec(ctx, execID, &pspec, cio.NewCreator(cio.WithStreams(nil, &out, &out)))
	if err != nil {
		return ExecResult{}, wrap("exec in", id, err)
	}
	// Delete reaps the process and closes its IO, whatever happened.
	defer proc.Delete(context.WithoutCancel(ctx), containerd.WithProcessKill)
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
		// The output may still be in flight: the IO is drained on Delete.
		proc.IO().Wait()
		return ExecResult{ExitCode: int32(code), Output: out.Bytes()}, nil
	case <-timer:
		proc.Kill(context.WithoutCancel(ctx), syscall.SIGKILL)
		<-exited
		return ExecResult{ExitCode: 137, Output: out.Bytes()}, fmt.Errorf("runtime: exec in %s: %v after %s: %w", id, cmd, timeout, ErrExecTimeout)
	case <-ctx.Done():
		proc.Kill(context.WithoutCancel(ctx), syscall.SIGKILL)
		return ExecResult{}, wrap("exec in", id, ctx.Err())
	}
}

// limitedBuffer keeps the first MaxExecOutput bytes written to it; it is
// written from two goroutines (stdout and stderr).
type limitedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := MaxExecOutput - b.buf.Len(); room > 0 {
		if len(p) > room {
			b.buf.Write(p[:room])
		} else {
			b.buf.Write(p)
		}
	}
	return len(p), nil
}

func (b *limitedBuffer) Bytes() []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	return bytes.Clone(b.buf.Bytes())
}
