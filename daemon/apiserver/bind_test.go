package apiserver_test

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"connectrpc.com/connect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/api/wharf/v1/wharfv1connect"
	"github.com/wharfhq/wharf/daemon/apiserver"
	"github.com/wharfhq/wharf/daemon/server"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/testing/wharftest"
)

// BindPods binds many pods in one batch with an Update's rules: only from
// an empty nodeName, the uid as a precondition; it adds annotations and
// sets PodScheduled=True in the same write.
func TestBindPods(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t)
	c := srv.Client()
	var uids []string
	for _, n := range []string{"a", "b", "c", "d", "e"} {
		p, err := c.Pods().Create(ctx(t), pod(n, nil))
		if err != nil {
			t.Fatal(err)
		}
		uids = append(uids, p.GetMetadata().GetUid())
	}
	errs := srv.API.BindPods(ctx(t), []*wharfv1.Binding{
		{Name: "a", Uid: uids[0], NodeName: "node-1", Annotations: map[string]string{"gpu.wharf.dev/devices": "0,1"}},
		{Namespace: "default", Name: "b", NodeName: "node-2"},
		{Name: "c", Uid: "not-its-uid", NodeName: "node-1"},
		{Name: "missing", NodeName: "node-1"},
		{Name: "d", NodeName: "Not_A_Node"},
		{Name: "", NodeName: "node-1"},
	})
	want := []connect.Code{0, 0, connect.CodeAborted, connect.CodeNotFound, connect.CodeInvalidArgument, connect.CodeInvalidArgument}
	for i, err := range errs {
		if (err == nil) != (want[i] == 0) || (err != nil && code(err) != want[i]) {
			t.Errorf("binding %d: err %v, want code %v", i, err, want[i])
		}
	}
	a, err := c.Pods().Get(ctx(t), "default", "a")
	if err != nil {
		t.Fatal(err)
	}
	if a.GetSpec().GetNodeName() != "node-1" || a.GetMetadata().GetAnnotations()["gpu.wharf.dev/devices"] != "0,1" {
		t.Errorf("a: nodeName %q annotations %v", a.GetSpec().GetNodeName(), a.GetMetadata().GetAnnotations())
	}
	if a.GetMetadata().GetGeneration() != 2 {
		t.Errorf("a: generation %d, want 2 (the spec changed)", a.GetMetadata().GetGeneration())
	}
	var sched *wharfv1.PodCondition
	for _, cond := range a.GetStatus().GetConditions() {
		if cond.GetType() == "PodScheduled" {
			sched = cond
		}
	}
	if sched.GetStatus() != "True" || sched.GetLastTransitionTime() == nil {
		t.Errorf("a: PodScheduled condition %v, want True with a transition time", sched)
	}
	// Binding again to the same node succeeds without a write; to another
	// node fails.
	before := a.GetMetadata().GetResourceVersion()
	errs = srv.API.BindPods(ctx(t), []*wharfv1.Binding{{Name: "a", NodeName: "node-1"}, {Name: "b", NodeName: "node-9"}})
	if errs[0] != nil || code(errs[1]) != connect.CodeAborted {
		t.Errorf("re-bind: errs %v, want nil and Aborted", errs)
	}
	if a2, _ := c.Pods().Get(ctx(t), "default", "a"); a2.GetMetadata().GetResourceVersion() != before {
		t.Errorf("re-binding to the same node wrote a new revision")
	}
	// A plain Update cannot move a bound pod either.
	b, _ := c.Pods().Get(ctx(t), "default", "b")
	b.Spec.NodeName = "node-3"
	if _, err := c.Pods().Update(ctx(t), b); code(err) != connect.CodeInvalidArgument {
		t.Errorf("update moving a bound pod: %v, want InvalidArgument", err)
	}
}

// SchedulerService.Bind is BindPods over the wire; Explain without a
// scheduler is Unavailable.
func TestSchedulerServiceOverTheWire(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t)
	c := srv.Client()
	if _, err := c.Pods().Create(ctx(t), pod("web", nil)); err != nil {
		t.Fatal(err)
	}
	sc := wharfv1connect.NewSchedulerServiceClient(client.DefaultHTTPClient(), srv.URL())
	res, err := sc.Bind(ctx(t), connect.NewRequest(&wharfv1.BindRequest{Bindings: []*wharfv1.Binding{
		{Name: "web", NodeName: "node-1"}, {Name: "gone", NodeName: "node-1"},
	}}))
	if err != nil {
		t.Fatal(err)
	}
	r := res.Msg.GetResults()
	if len(r) != 2 || r[0].GetCode() != "" || r[0].GetResourceVersion() == "" || r[1].GetCode() != connect.CodeNotFound.String() {
		t.Errorf("results %v", r)
	}
	if _, err := sc.Explain(ctx(t), connect.NewRequest(&wharfv1.ExplainRequest{Name: "web"})); code(err) != connect.CodeUnavailable {
		t.Errorf("explain without a scheduler: %v, want Unavailable", err)
	}
	srv.API.SetExplainer(fakeExplainer{})
	e, err := sc.Explain(ctx(t), connect.NewRequest(&wharfv1.ExplainRequest{Name: "web"}))
	if err != nil || e.Msg.GetSummary() != "default/web" {
		t.Errorf("explain: %v %v", e, err)
	}
}

type fakeExplainer struct{}

func (fakeExplainer) Explain(_ context.Context, req *wharfv1.ExplainRequest) (*wharfv1.ExplainResponse, error) {
	return &wharfv1.ExplainResponse{Summary: req.GetNamespace() + "/" + req.GetName()}, nil
}

// A PodGroup gets defaults and is validated.
func TestPodGroupStrategy(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t)
	c := srv.Client()
	g, err := c.PodGroups().Create(ctx(t), &wharfv1.PodGroup{
		Metadata: &wharfv1.ObjectMeta{Name: "train"},
		Spec:     &wharfv1.PodGroupSpec{MinMember: 4},
		Status:   &wharfv1.PodGroupStatus{Phase: "Scheduled", Scheduled: 9},
	})
	if err != nil {
		t.Fatal(err)
	}
	if g.GetSpec().GetScheduleTimeoutSeconds() != 60 || g.GetStatus().GetPhase() != "Pending" || g.GetStatus().GetScheduled() != 0 {
		t.Errorf("created %v", g)
	}
	for _, spec := range []*wharfv1.PodGroupSpec{{MinMember: 0}, {MinMember: 2, ScheduleTimeoutSeconds: 901}, {MinMember: 2, ScheduleTimeoutSeconds: -1}} {
		_, err := c.PodGroups().Create(ctx(t), &wharfv1.PodGroup{Metadata: &wharfv1.ObjectMeta{Name: "bad"}, Spec: spec})
		if code(err) != connect.CodeInvalidArgument {
			t.Errorf("create %v: %v, want InvalidArgument", spec, err)
		}
	}
}

// recordingAdmission records the binds (updates of pods) it is called for,
// and with matches set says, as an AdmissionMatcher, which it takes.
type recordingAdmission struct {
	matches func(op apiserver.Operation, kind, ns string) bool
	mu      sync.Mutex
	seen    []string // "old nodeName -> new nodeName"
}

func (r *recordingAdmission) Name() string { return "recording" }

func (r *recordingAdmission) Validate(_ context.Context, req *apiserver.AdmissionRequest) error {
	if req.Kind == "Pod" && req.Operation == apiserver.OpUpdate {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.seen = append(r.seen, req.OldObject.(*wharfv1.Pod).GetSpec().GetNodeName()+" -> "+req.Object.(*wharfv1.Pod).GetSpec().GetNodeName())
	}
	return nil
}

type matchingAdmission struct{ *recordingAdmission }

func (m matchingAdmission) Matches(op apiserver.Operation, kind, ns string) bool {
	return m.matches(op, kind, ns)
}

// TestBindAdmission: an admission plugin sees a bind as an update from the
// pod as it was; one that says (AdmissionMatcher) binds in a namespace are
// not its business is not called for them.
func TestBindAdmission(t *testing.T) {
	t.Parallel()
	all := &recordingAdmission{}
	onlyTeam := &recordingAdmission{matches: func(_ apiserver.Operation, _, ns string) bool { return ns == "team" }}
	srv := wharftest.Start(t, wharftest.WithConfig(func(c *server.Config) {
		c.APIOptions = append(c.APIOptions, apiserver.WithValidatingAdmission(all, matchingAdmission{onlyTeam}))
	}))
	c := srv.Client()
	if _, err := c.Pods().Create(ctx(t), pod("web", nil)); err != nil {
		t.Fatal(err)
	}
	if errs := srv.API.BindPods(ctx(t), []*wharfv1.Binding{{Name: "web", NodeName: "node-1"}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	if fmt.Sprint(all.seen) != "[ -> node-1]" || len(onlyTeam.seen) != 0 {
		t.Errorf("binds seen: by the plugin for all %q, want [\" -> node-1\"]; by the plugin for namespace team %q, want none", all.seen, onlyTeam.seen)
	}
	// With no plugin taking it, the bind is the same.
	srv2 := wharftest.Start(t, wharftest.WithConfig(func(c *server.Config) {
		c.APIOptions = append(c.APIOptions, apiserver.WithValidatingAdmission(matchingAdmission{onlyTeam}))
	}))
	if _, err := srv2.Client().Pods().Create(ctx(t), pod("web", nil)); err != nil {
		t.Fatal(err)
	}
	if errs := srv2.API.BindPods(ctx(t), []*wharfv1.Binding{{Name: "web", NodeName: "node-2"}}); errs[0] != nil {
		t.Fatal(errs[0])
	}
	p, err := srv2.Client().Pods().Get(ctx(t), "default", "web")
	if err != nil || p.GetSpec().GetNodeName() != "node-2" || p.GetMetadata().GetGeneration() != 2 || len(onlyTeam.seen) != 0 {
		t.Errorf("bound without admission: %v (%v); plugin saw %q", p, err, onlyTeam.seen)
	}
}
