package agent_test

import (
	"syscall"
	"testing"

	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/runtime"
	"github.com/wharfhq/wharf/sdk/client"
)

// TestAgentSIGKILL kills the agent process with SIGKILL and starts a new
// one: no container restarts, their status goes on, and pods deleted while
// the agent was away are cleaned up.
func TestAgentSIGKILL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	h := e.startHelperAgent(t)

	steady := e.pod("steady", "sleep")
	steady.Spec.Containers[0].ReadinessProbe = &wharfv1.Probe{Exec: &wharfv1.ExecAction{Command: []string{"/busy", "exit=0"}}, PeriodSeconds: 1}
	e.create(t, steady)
	done := e.pod("done", "exit=0")
	done.Spec.RestartPolicy = "Never"
	e.create(t, done)
	e.create(t, e.pod("forced", "sleep"))
	e.create(t, e.pod("graceful", "sleep"))
	// An exec probe that is always running: the agent dies in the middle of
	// one, which must not wedge the container's shim.
	probed := e.pod("probed", "sleep")
	probed.Spec.Containers[0].ReadinessProbe = &wharfv1.Probe{
		Exec: &wharfv1.ExecAction{Command: []string{"/busy", "sleep=1500ms"}}, PeriodSeconds: 1, TimeoutSeconds: 5,
	}
	e.create(t, probed)

	before := e.waitPod(t, "steady", "Ready", ready)
	e.waitPod(t, "done", "Succeeded", phase("Succeeded"))
	forced := e.waitPod(t, "forced", "Ready", ready)
	e.waitPod(t, "graceful", "Ready", ready)
	probedBefore := e.waitPod(t, "probed", "Ready", ready)
	ctrs := e.containers(t, before.GetMetadata().GetUid())
	if len(ctrs) != 1 || ctrs[0].State != runtime.StateRunning {
		t.Fatalf("containers of steady: %+v", ctrs)
	}
	orig := ctrs[0]

	h.kill()
	// While the agent is away: one pod removed at once, one deleted
	// gracefully (it waits for its node).
	if _, err := e.c.Pods().Delete(ctx(t), "default", "forced", client.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.c.Pods().Delete(ctx(t), "default", "graceful", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.startHelperAgent(t)

	e.waitGone(t, "graceful")
	e.waitNoContainers(t, forced.GetMetadata().GetUid())

	after := e.waitPod(t, "steady", "Ready", ready)
	ctrs = e.containers(t, before.GetMetadata().GetUid())
	if len(ctrs) != 1 || ctrs[0].ID != orig.ID || ctrs[0].Pid != orig.Pid || !ctrs[0].StartedAt.Equal(orig.StartedAt) || ctrs[0].State != runtime.StateRunning {
		t.Errorf("after the agent restart: containers %+v, want only %+v", ctrs, orig)
	}
	if c := cs(after, "c"); c.GetRestartCount() != 0 || !c.GetState().GetRunning().GetStartedAt().AsTime().Equal(cs(before, "c").GetState().GetRunning().GetStartedAt().AsTime()) {
		t.Errorf("container status changed across the agent restart: %v -> %v", cs(before, "c"), c)
	}
	probedAfter := e.waitPod(t, "probed", "Ready", ready)
	if a, b := cs(probedAfter, "c"), cs(probedBefore, "c"); a.GetRestartCount() != 0 || a.GetContainerId() != b.GetContainerId() {
		t.Errorf("the probed container changed across the agent restart: %v -> %v", b, a)
	}
	if p, _ := e.c.Pods().Get(ctx(t), "default", "done"); p.GetStatus().GetPhase() != "Succeeded" || cs(p, "c").GetRestartCount() != 0 {
		t.Errorf("the finished pod changed: %v", p.GetStatus())
	}

	// The new agent runs the pod: a crash is restarted and counted.
	if err := syscall.Kill(int(orig.Pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitPod(t, "steady", "restarted once", func(p *wharfv1.Pod) bool {
		c := cs(p, "c")
		return c.GetRestartCount() == 1 && c.GetLastState().GetTerminated().GetExitCode() == 137 && ready(p)
	})
}

// TestContainerdRestart kills containerd under a running agent and starts
// it again: containers keep running under their shims, and the agent goes
// on with them.
func TestContainerdRestart(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startAgent(t)
	e.create(t, e.pod("survivor", "sleep"))
	before := e.waitPod(t, "survivor", "Ready", ready)
	orig := e.containers(t, before.GetMetadata().GetUid())[0]

	e.inst.Restart(t)

	ctrs := e.containers(t, before.GetMetadata().GetUid())
	if len(ctrs) != 1 || ctrs[0].ID != orig.ID || ctrs[0].Pid != orig.Pid || ctrs[0].State != runtime.StateRunning {
		t.Fatalf("after a containerd restart: %+v, want %+v", ctrs, orig)
	}
	// The agent still sees the container's exit.
	if err := syscall.Kill(int(orig.Pid), syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	e.waitPod(t, "survivor", "restarted once", func(p *wharfv1.Pod) bool { return cs(p, "c").GetRestartCount() == 1 && ready(p) })
	// And new pods run.
	e.create(t, e.pod("newcomer", "sleep"))
	e.waitPod(t, "newcomer", "Ready", ready)
}
