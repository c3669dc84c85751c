package scheduler_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/api/wharf/v1/wharfv1connect"
	"github.com/wharfhq/wharf/daemon/scheduler"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/testing/sim"
	"github.com/wharfhq/wharf/testing/wharftest"
)

// cluster is a real server (Badger in a temp dir, a real listener), the
// scheduler running as in `wharf server` (binding through the service
// layer), and simulated nodes registered through the API.
type cluster struct {
	t     *testing.T
	srv   *wharftest.Server
	c     *client.Client
	sched *scheduler.Scheduler
	sim   *sim.Sim
}

// waitTimeout bounds every wait; waits end as soon as their condition
// holds (nothing here asserts on time).
const waitTimeout = 30 * time.Second

func startCluster(t *testing.T, nodes sim.Config, profiles string) *cluster {
	t.Helper()
	srv := wharftest.Start(t)
	cl := &cluster{t: t, srv: srv, c: srv.Client()}
	if nodes.Nodes > 0 {
		nodes.Client = cl.c
		nodes.HeartbeatInterval = time.Hour
		s, err := sim.Start(cl.ctx(), nodes)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Stop)
		cl.sim = s
	}
	var cfg *framework.Config
	if profiles != "" {
		var err error
		if cfg, err = framework.ParseConfig([]byte(profiles)); err != nil {
			t.Fatal(err)
		}
	}
	s, err := scheduler.New(scheduler.Config{Client: cl.c, Binder: srv.API, Profiles: cfg, Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv.API.SetExplainer(s)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("scheduler: %v", err)
		}
	})
	cl.sched = s
	return cl
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("WHARF_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func (cl *cluster) ctx() context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	cl.t.Cleanup(cancel)
	return ctx
}

func (cl *cluster) create(pods ...*wharfv1.Pod) {
	cl.t.Helper()
	for _, p := range pods {
		if _, err := cl.c.Pods().Create(cl.ctx(), p); err != nil {
			cl.t.Fatalf("create pod %s: %v", p.GetMetadata().GetName(), err)
		}
	}
}

// waitPod waits until the pod satisfies ok and returns it.
func (cl *cluster) waitPod(name, what string, ok func(*wharfv1.Pod) bool) *wharfv1.Pod {
	cl.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var p *wharfv1.Pod
	for time.Now().Before(deadline) {
		var err error
		p, err = cl.c.Pods().Get(cl.ctx(), "default", name)
		if err == nil && ok(p) {
			return p
		}
		time.Sleep(20 * time.Millisecond)
	}
	cl.t.Fatalf("pod %s never %s; last seen: node %q status %v", name, what, p.GetSpec().GetNodeName(), p.GetStatus())
	return nil
}

// bound waits until the pod is bound and returns its node.
func (cl *cluster) bound(name string) string {
	cl.t.Helper()
	return cl.waitPod(name, "bound", func(p *wharfv1.Pod) bool { return p.GetSpec().GetNodeName() != "" }).GetSpec().GetNodeName()
}

// running waits until the simulated node marked the pod Running.
func (cl *cluster) running(name string) *wharfv1.Pod {
	cl.t.Helper()
	return cl.waitPod(name, "Running", func(p *wharfv1.Pod) bool { return p.GetStatus().GetPhase() == "Running" })
}

// unschedulable waits for the pod's PodScheduled=False condition and
// returns its message.
func (cl *cluster) unschedulable(name string) string {
	cl.t.Helper()
	p := cl.waitPod(name, "marked unschedulable", func(p *wharfv1.Pod) bool {
		c := condition(p, "PodScheduled")
		return c != nil && c.GetStatus() == "False"
	})
	c := condition(p, "PodScheduled")
	if c.GetReason() != "Unschedulable" {
		cl.t.Errorf("pod %s: PodScheduled reason %q, want Unschedulable", name, c.GetReason())
	}
	if p.GetSpec().GetNodeName() != "" {
		cl.t.Errorf("pod %s is unschedulable but bound to %s", name, p.GetSpec().GetNodeName())
	}
	return c.GetMessage()
}

// settle waits until the scheduler has handled everything created before
// it: a pod created now is bound (the queue is first in, first out).
func (cl *cluster) settle(marker *wharfv1.Pod) {
	cl.t.Helper()
	cl.create(marker)
	cl.bound(marker.GetMetadata().GetName())
}

// events waits for an event about kind/name whose message has prefix and
// returns it.
func (cl *cluster) event(kind, name, reason, prefix string) *wharfv1.Event {
	cl.t.Helper()
	deadline := time.Now().Add(waitTimeout)
	var seen []string
	for time.Now().Before(deadline) {
		l, err := cl.c.Events().List(cl.ctx(), client.ListOptions{
			Namespace: "default", FieldSelector: "involvedObject.kind=" + kind + ",involvedObject.name=" + name,
		})
		if err != nil {
			cl.t.Fatal(err)
		}
		seen = seen[:0]
		for _, e := range l.Items {
			if e.GetReason() == reason && strings.HasPrefix(e.GetMessage(), prefix) {
				return e
			}
			seen = append(seen, e.GetReason()+": "+e.GetMessage())
		}
		time.Sleep(20 * time.Millisecond)
	}
	cl.t.Fatalf("no %s event %q... on %s %s; events: %q", reason, prefix, kind, name, seen)
	return nil
}

func (cl *cluster) explain(name string) (*wharfv1.ExplainResponse, error) {
	sc := wharfv1connect.NewSchedulerServiceClient(client.DefaultHTTPClient(), cl.srv.URL())
	res, err := sc.Explain(cl.ctx(), connect.NewRequest(&wharfv1.ExplainRequest{Name: name}))
	if err != nil {
		return nil, err
	}
	return res.Msg, nil
}

func condition(p *wharfv1.Pod, typ string) *wharfv1.PodCondition {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

// Pod builders.

type podOpt func(*wharfv1.Pod)

func newPod(name string, opts ...podOpt) *wharfv1.Pod {
	p := &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: name, Labels: map[string]string{}, Annotations: map[string]string{}},
		Spec: &wharfv1.PodSpec{Containers: []*wharfv1.Container{{
			Name: "main", Image: "app:1", Resources: &wharfv1.ResourceRequirements{Requests: map[string]string{}, Limits: map[string]string{}},
		}}},
	}
	for _, o := range opts {
		o(p)
	}
	return p
}

func requests(kv ...string) podOpt {
	return func(p *wharfv1.Pod) {
		for i := 0; i+1 < len(kv); i += 2 {
			p.Spec.Containers[0].Resources.Requests[kv[i]] = kv[i+1]
		}
	}
}

func gpus(n int) podOpt {
	return func(p *wharfv1.Pod) {
		p.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"] = fmt.Sprint(n)
	}
}

func annotation(k, v string) podOpt {
	return func(p *wharfv1.Pod) { p.Metadata.Annotations[k] = v }
}

func label(k, v string) podOpt {
	return func(p *wharfv1.Pod) { p.Metadata.Labels[k] = v }
}

func tolerateGPU(p *wharfv1.Pod) {
	p.Spec.Tolerations = append(p.Spec.Tolerations, &wharfv1.Toleration{Key: sim.TaintGPU, Operator: "Exists", Effect: "NoSchedule"})
}

func nodeSelector(kv ...string) podOpt {
	return func(p *wharfv1.Pod) {
		if p.Spec.NodeSelector == nil {
			p.Spec.NodeSelector = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			p.Spec.NodeSelector[kv[i]] = kv[i+1]
		}
	}
}

func affinity(required bool, key, op string, values ...string) podOpt {
	return func(p *wharfv1.Pod) {
		if p.Spec.Affinity == nil {
			p.Spec.Affinity = &wharfv1.Affinity{NodeAffinity: &wharfv1.NodeAffinity{}}
		}
		na := p.Spec.Affinity.NodeAffinity
		term := &wharfv1.NodeSelectorTerm{MatchExpressions: []*wharfv1.NodeSelectorRequirement{{Key: key, Operator: op, Values: values}}}
		if required {
			if na.RequiredDuringSchedulingIgnoredDuringExecution == nil {
				na.RequiredDuringSchedulingIgnoredDuringExecution = &wharfv1.NodeSelector{}
			}
			r := na.RequiredDuringSchedulingIgnoredDuringExecution
			r.NodeSelectorTerms = append(r.NodeSelectorTerms, term)
			return
		}
		na.PreferredDuringSchedulingIgnoredDuringExecution = append(na.PreferredDuringSchedulingIgnoredDuringExecution,
			&wharfv1.PreferredSchedulingTerm{Weight: 100, Preference: term})
	}
}

func schedulerName(n string) podOpt { return func(p *wharfv1.Pod) { p.Spec.SchedulerName = n } }

func sleep() { time.Sleep(20 * time.Millisecond) }
