package runtime_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/wharfhq/wharf/nodes/runtime"
)

func TestExec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.run(t, pod("echo=up", "sleep"), 0)
	st, _ := e.rt.ContainerStatus(ctx(t), id)
	waitLog(t, st, "up")
	t.Run("exit_code_and_output", func(t *testing.T) {
		res, err := e.rt.Exec(ctx(t), id, []string{"/busy", "echoerr=oops", "echo=hello", "exit=3"}, 10*time.Second)
		if err != nil {
			t.Fatalf("Exec: %v", err)
		}
		// containerd 1.6's shim may drop the end of stderr when both streams
		// go to one file: only stdout is certain.
		if res.ExitCode != 3 || !strings.Contains(string(res.Output), "hello") {
			t.Errorf("Exec = %d %q, want 3 with hello", res.ExitCode, res.Output)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		began := time.Now()
		_, err := e.rt.Exec(ctx(t), id, []string{"/busy", "sleep=30s"}, 300*time.Millisecond)
		if !errors.Is(err, runtime.ErrExecTimeout) {
			t.Errorf("error = %v, want ErrExecTimeout", err)
		}
		if time.Since(began) > 10*time.Second {
			t.Errorf("a 300ms timeout took %s", time.Since(began))
		}
	})
	t.Run("not_running", func(t *testing.T) {
		done := e.run(t, pod("exit=0"), 0)
		e.wait(t, done)
		if _, err := e.rt.Exec(ctx(t), done, []string{"/busy"}, time.Second); err == nil {
			t.Error("Exec in an exited container succeeded")
		}
	})
	// The container itself was not disturbed.
	if st, err := e.rt.ContainerStatus(ctx(t), id); err != nil || st.State != runtime.StateRunning {
		t.Errorf("container after the execs: %v, %v", st.State, err)
	}
}
