package agent_test

import (
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/runtime"
	"github.com/wharfhq/wharf/sdk/client"
)

// TestActiveDeadline: a pod that runs past spec.activeDeadlineSeconds
// fails with reason DeadlineExceeded, and its containers are stopped and
// not restarted, whatever the restart policy; a deadline lowered on a
// running pod applies at once.
func TestActiveDeadline(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startAgent(t)
	failed := func(t *testing.T, name string) {
		t.Helper()
		got := e.waitPod(t, name, "Failed with a terminated container", func(p *wharfv1.Pod) bool {
			return p.GetStatus().GetPhase() == "Failed" && cs(p, "c").GetState().GetTerminated() != nil
		})
		if st := got.GetStatus(); st.GetReason() != "DeadlineExceeded" || !strings.Contains(st.GetMessage(), "deadline") {
			t.Errorf("reason %q, message %q; want DeadlineExceeded", st.GetReason(), st.GetMessage())
		}
		if condition(got, "Ready") != "False" || cs(got, "c").GetReady() {
			t.Errorf("a failed pod is ready: %v", got.GetStatus())
		}
		e.waitEvent(t, name, "DeadlineExceeded", "longer than the specified deadline")
		// Past the restart back-off (1 s in tests): still one stopped run.
		time.Sleep(1500 * time.Millisecond)
		uid := got.GetMetadata().GetUid()
		if ctrs := e.containers(t, uid); len(ctrs) != 1 || ctrs[0].State != runtime.StateExited {
			t.Errorf("containers of %s: %+v, want one exited", name, ctrs)
		}
		got, err := e.c.Pods().Get(ctx(t), "default", name)
		if err != nil {
			t.Fatal(err)
		}
		if got.GetStatus().GetPhase() != "Failed" || cs(got, "c").GetRestartCount() != 0 {
			t.Errorf("after the deadline: phase %s, restarts %d", got.GetStatus().GetPhase(), cs(got, "c").GetRestartCount())
		}
	}
	t.Run("from_start", func(t *testing.T) {
		t.Parallel()
		p := e.pod("deadline", "sleep")
		p.Spec.ActiveDeadlineSeconds = proto.Int64(2)
		p.Spec.TerminationGracePeriodSeconds = proto.Int64(1)
		e.create(t, p)
		e.waitPod(t, "deadline", "Running", phase("Running"))
		failed(t, "deadline")
	})
	t.Run("lowered", func(t *testing.T) {
		t.Parallel()
		p := e.pod("lowered", "sleep")
		p.Spec.ActiveDeadlineSeconds = proto.Int64(600)
		e.create(t, p)
		e.waitPod(t, "lowered", "Ready", ready)
		for {
			got, err := e.c.Pods().Get(ctx(t), "default", "lowered")
			if err != nil {
				t.Fatal(err)
			}
			got.Spec.ActiveDeadlineSeconds = proto.Int64(1)
			if _, err = e.c.Pods().Update(ctx(t), got); err == nil {
				break
			} else if !client.IsConflict(err) {
				t.Fatal(err)
			}
		}
		failed(t, "lowered")
	})
}
