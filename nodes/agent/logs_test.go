package agent_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/api/wharf/v1/wharfv1connect"
	"github.com/wharfhq/wharf/sdk/client"
)

// logs reads a container's log through the API server, as `wharf logs`
// does, and returns "stream: line" lines.
func (e *env) logs(t *testing.T, req *wharfv1.LogsRequest) ([]string, error) {
	t.Helper()
	lc := wharfv1connect.NewLogServiceClient(client.DefaultHTTPClient(), e.srv.URL())
	s, err := lc.Logs(ctx(t), connect.NewRequest(req))
	if err != nil {
		return nil, err
	}
	defer s.Close()
	var out []string
	for s.Receive() {
		for _, en := range s.Msg().GetEntries() {
			out = append(out, en.GetStream()+": "+string(en.GetContent()))
		}
	}
	return out, s.Err()
}

func TestLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startAgent(t)
	e.create(t, e.pod("talker", "echo=hello", "echoerr=oops", "lines=5", "sleep"))
	e.waitPod(t, "talker", "Ready", ready)
	// Wait for the last line to be written.
	waitLogs := func(req *wharfv1.LogsRequest, want ...string) []string {
		t.Helper()
		for range 200 {
			got, err := e.logs(t, req)
			if err == nil && !slices.ContainsFunc(want, func(w string) bool { return !slices.Contains(got, w) }) {
				return got
			}
			time.Sleep(50 * time.Millisecond)
		}
		got, err := e.logs(t, req)
		t.Fatalf("logs %v = %q, %v; want a line %q", req, got, err, want)
		return nil
	}

	var all []string
	t.Run("all", func(t *testing.T) {
		// The streams are copied apart: wait for the end of both.
		all = waitLogs(&wharfv1.LogsRequest{Name: "talker"}, "stdout: line 5", "stderr: oops")
		// Each stream keeps its order, not their mix.
		var stdout []string
		for _, l := range all {
			if strings.HasPrefix(l, "stdout: ") {
				stdout = append(stdout, l)
			}
		}
		want := []string{"stdout: hello", "stdout: line 1", "stdout: line 2", "stdout: line 3", "stdout: line 4", "stdout: line 5"}
		if !slices.Equal(stdout, want) || !slices.Contains(all, "stderr: oops") || len(all) != 7 {
			t.Errorf("logs = %q, want %q and stderr: oops", all, want)
		}
	})
	t.Run("tail", func(t *testing.T) {
		got, err := e.logs(t, &wharfv1.LogsRequest{Namespace: "default", Name: "talker", Container: "c", TailLines: proto.Int64(2)})
		if err != nil || len(all) < 2 || !slices.Equal(got, all[len(all)-2:]) {
			t.Errorf("tail 2 = %q, %v; want the last 2 of %q", got, err, all)
		}
	})
	t.Run("follow_until_exit", func(t *testing.T) {
		p := e.pod("follower", "echo=first", "sleep=1s", "echo=second", "sleep=500ms")
		p.Spec.RestartPolicy = "Never"
		e.create(t, p)
		e.waitPod(t, "follower", "Running", phase("Running"))
		got, err := e.logs(t, &wharfv1.LogsRequest{Name: "follower", Follow: true})
		if err != nil || !slices.Equal(got, []string{"stdout: first", "stdout: second"}) {
			t.Errorf("follow = %q, %v", got, err)
		}
	})
	t.Run("previous", func(t *testing.T) {
		e.create(t, e.pod("restarter", "echo=run", "exit=1"))
		e.waitPod(t, "restarter", "restarted", func(p *wharfv1.Pod) bool { return cs(p, "c").GetRestartCount() >= 1 })
		got, err := e.logs(t, &wharfv1.LogsRequest{Name: "restarter", Previous: true})
		if err != nil || !slices.Equal(got, []string{"stdout: run"}) {
			t.Errorf("previous = %q, %v", got, err)
		}
	})
	t.Run("errors", func(t *testing.T) {
		unbound := e.pod("unbound", "sleep")
		unbound.Spec.NodeName = ""
		e.create(t, unbound)
		two := e.pod("two", "sleep")
		two.Spec.Containers = append(two.Spec.Containers, busy("d", "sleep"))
		e.create(t, two)
		for _, tc := range []struct {
			name string
			req  *wharfv1.LogsRequest
			code connect.Code
		}{
			{"no_such_pod", &wharfv1.LogsRequest{Name: "nope"}, connect.CodeNotFound},
			{"no_such_container", &wharfv1.LogsRequest{Name: "talker", Container: "x"}, connect.CodeNotFound},
			{"unbound", &wharfv1.LogsRequest{Name: "unbound"}, connect.CodeFailedPrecondition},
			{"which_container", &wharfv1.LogsRequest{Name: "two"}, connect.CodeInvalidArgument},
		} {
			if _, err := e.logs(t, tc.req); connect.CodeOf(err) != tc.code {
				t.Errorf("%s: error %v, want %v", tc.name, err, tc.code)
			}
		}
	})
}
