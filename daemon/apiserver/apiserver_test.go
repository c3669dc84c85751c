package apiserver_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	"connectrpc.com/grpcreflect"
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/apiserver"
	"github.com/wharfhq/wharf/daemon/server"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/testing/wharftest"
)

func pod(name string, labels map[string]string) *wharfv1.Pod {
	return &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: name, Labels: labels},
		Spec: &wharfv1.PodSpec{Containers: []*wharfv1.Container{{
			Name: "app", Image: "registry.local/app:1.0",
			Resources: &wharfv1.ResourceRequirements{Limits: map[string]string{"cpu": "500m", "memory": "64Mi"}},
		}}},
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func code(err error) connect.Code { return connect.CodeOf(err) }

// protocols are the ways a client can talk to the server: Connect with
// protobuf and with JSON, gRPC and gRPC-Web.
var protocols = []struct {
	name string
	opts []client.Option
}{
	{"connect_proto", nil},
	{"connect_json", []client.Option{client.WithJSON()}},
	{"grpc", []client.Option{client.WithGRPC()}},
	{"grpc_web", []client.Option{client.WithGRPCWeb()}},
}

func TestProtocols(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t)
	for _, tc := range protocols {
		t.Run(tc.name, func(t *testing.T) {
			c := srv.Client(tc.opts...)
			created, err := c.Pods().Create(ctx(t), pod("p-"+strings.ReplaceAll(tc.name, "_", "-"), nil))
			if err != nil {
				t.Fatalf("create: %v", err)
			}
			got, err := c.Pods().Get(ctx(t), "default", created.GetMetadata().GetName())
			if err != nil {
				t.Fatalf("get: %v", err)
			}
			if !proto.Equal(got, created) {
				t.Fatalf("get returned\n%v\nwant\n%v", got, created)
			}
			// Errors keep their codes in every protocol.
			if _, err := c.Pods().Get(ctx(t), "default", "nope"); code(err) != connect.CodeNotFound {
				t.Fatalf("get missing: got %v, want NotFound", err)
			}
		})
	}
}

func TestCreateSetsServerMetadata(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	in := pod("web", map[string]string{"app": "web"})
	in.Metadata.Uid = "client-chosen"
	in.Status = &wharfv1.PodStatus{Phase: "Running"}
	p, err := c.Pods().Create(ctx(t), in)
	if err != nil {
		t.Fatal(err)
	}
	m := p.GetMetadata()
	if m.GetNamespace() != "default" || m.GetUid() == "" || m.GetUid() == "client-chosen" || m.GetGeneration() != 1 || m.GetCreationTimestamp() == nil || m.GetResourceVersion() == "" {
		t.Fatalf("server metadata not set: %v", m)
	}
	if p.GetStatus().GetPhase() != "Pending" {
		t.Fatalf("a new pod's status.phase = %q, want Pending (status is not client-settable on create)", p.GetStatus().GetPhase())
	}
	if p.GetSpec().GetRestartPolicy() != "Always" || p.GetSpec().GetTerminationGracePeriodSeconds() != 30 {
		t.Fatalf("defaults not applied: %v", p.GetSpec())
	}
	if _, err := c.Pods().Create(ctx(t), pod("web", nil)); code(err) != connect.CodeAlreadyExists {
		t.Fatalf("second create: got %v, want AlreadyExists", err)
	}
	g := pod("", nil)
	g.Metadata.GenerateName = "batch-"
	gp, err := c.Pods().Create(ctx(t), g)
	if err != nil || !strings.HasPrefix(gp.GetMetadata().GetName(), "batch-") || len(gp.GetMetadata().GetName()) != len("batch-")+5 {
		t.Fatalf("generateName: %v %v", gp.GetMetadata().GetName(), err)
	}
}

func TestValidationNamesFields(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	for _, tc := range []struct {
		name string
		mut  func(p *wharfv1.Pod)
		want string
	}{
		{"no_image", func(p *wharfv1.Pod) { p.Spec.Containers[0].Image = "" }, "spec.containers[0].image"},
		{"bad_name", func(p *wharfv1.Pod) { p.Metadata.Name = "Bad_Name" }, "metadata.name"},
		{"bad_quantity", func(p *wharfv1.Pod) { p.Spec.Containers[0].Resources.Limits["cpu"] = "lots" }, "spec.containers[0].resources.limits[cpu]"},
		{"request_over_limit", func(p *wharfv1.Pod) {
			p.Spec.Containers[0].Resources.Requests = map[string]string{"memory": "1Gi"}
		}, "spec.containers[0].resources.requests[memory]"},
		{"restart_policy", func(p *wharfv1.Pod) { p.Spec.RestartPolicy = "Sometimes" }, "spec.restartPolicy"},
		{"no_containers", func(p *wharfv1.Pod) { p.Spec.Containers = nil }, "spec.containers"},
		{"toleration", func(p *wharfv1.Pod) {
			p.Spec.Tolerations = []*wharfv1.Toleration{{Key: "gpu", Operator: "Exists", Value: "x"}}
		}, "spec.tolerations[0].value"},
		{"toleration_seconds", func(p *wharfv1.Pod) {
			p.Spec.Tolerations = []*wharfv1.Toleration{{Key: "gpu", Operator: "Exists", Effect: "NoExecute"}, {Key: "gpu", Operator: "Exists", Effect: "NoSchedule", TolerationSeconds: new(int64)}}
		}, "spec.tolerations[1].effect"},
		{"fractional_gpu", func(p *wharfv1.Pod) { p.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"] = "500m" }, "nvidia.com/gpu"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := pod("v-"+strings.ReplaceAll(tc.name, "_", "-"), nil)
			tc.mut(p)
			_, err := c.Pods().Create(ctx(t), p)
			if code(err) != connect.CodeInvalidArgument {
				t.Fatalf("got %v, want InvalidArgument", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %q does not name %q", err, tc.want)
			}
		})
	}
	t.Run("unknown_namespace", func(t *testing.T) {
		p := pod("x", nil)
		p.Metadata.Namespace = "nowhere"
		if _, err := c.Pods().Create(ctx(t), p); code(err) != connect.CodeNotFound || !strings.Contains(err.Error(), "nowhere") {
			t.Fatalf("got %v, want NotFound naming the namespace", err)
		}
	})
	t.Run("cluster_scoped_with_namespace", func(t *testing.T) {
		n := &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: "n1", Namespace: "default"}}
		if _, err := c.Nodes().Create(ctx(t), n); code(err) != connect.CodeInvalidArgument {
			t.Fatalf("got %v, want InvalidArgument", err)
		}
	})
}

func TestOptimisticConcurrency(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	p, err := c.Pods().Create(ctx(t), pod("occ", nil))
	if err != nil {
		t.Fatal(err)
	}
	stale := proto.Clone(p).(*wharfv1.Pod)

	p.Metadata.Labels = map[string]string{"v": "2"}
	p2, err := c.Pods().Update(ctx(t), p)
	if err != nil {
		t.Fatal(err)
	}
	if p2.GetMetadata().GetResourceVersion() == p.GetMetadata().GetResourceVersion() {
		t.Fatal("update did not change resourceVersion")
	}
	if p2.GetMetadata().GetGeneration() != 1 {
		t.Fatalf("a label change bumped generation to %d; it counts spec changes only", p2.GetMetadata().GetGeneration())
	}

	stale.Metadata.Labels = map[string]string{"v": "stale"}
	if _, err := c.Pods().Update(ctx(t), stale); code(err) != connect.CodeAborted {
		t.Fatalf("stale update: got %v, want Aborted", err)
	}
	stale.Status = &wharfv1.PodStatus{Phase: "Running"}
	if _, err := c.Pods().UpdateStatus(ctx(t), stale); code(err) != connect.CodeAborted {
		t.Fatalf("stale status update: got %v, want Aborted", err)
	}
	if _, err := c.Pods().Delete(ctx(t), "default", "occ", client.DeleteOptions{ResourceVersion: stale.GetMetadata().GetResourceVersion()}); code(err) != connect.CodeAborted {
		t.Fatalf("stale delete: got %v, want Aborted", err)
	}

	// Status and spec are written separately.
	p2.Status = &wharfv1.PodStatus{Phase: "Running", PodIp: "10.0.0.5"}
	p2.Metadata.Labels = map[string]string{"ignored": "by-status-update"}
	p3, err := c.Pods().UpdateStatus(ctx(t), p2)
	if err != nil {
		t.Fatal(err)
	}
	if p3.GetStatus().GetPodIp() != "10.0.0.5" || p3.GetMetadata().GetLabels()["v"] != "2" {
		t.Fatalf("status update: status %v labels %v", p3.GetStatus(), p3.GetMetadata().GetLabels())
	}
	p3.Status = nil
	p4, err := c.Pods().Update(ctx(t), p3)
	if err != nil {
		t.Fatal(err)
	}
	if p4.GetStatus().GetPodIp() != "10.0.0.5" {
		t.Fatal("a spec update dropped the status")
	}
}

// TestActiveDeadlineUpdate: as in Kubernetes, a pod's activeDeadlineSeconds
// may be set and lowered, not raised nor removed.
func TestActiveDeadlineUpdate(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	p, err := c.Pods().Create(ctx(t), pod("deadline", nil))
	if err != nil {
		t.Fatal(err)
	}
	for _, step := range []struct {
		deadline *int64
		ok       bool
	}{
		{proto.Int64(60), true},  // set
		{proto.Int64(30), true},  // lowered
		{proto.Int64(31), false}, // raised
		{nil, false},             // removed
	} {
		next := proto.Clone(p).(*wharfv1.Pod)
		next.Spec.ActiveDeadlineSeconds = step.deadline
		out, err := c.Pods().Update(ctx(t), next)
		switch {
		case step.ok && err != nil:
			t.Fatalf("activeDeadlineSeconds %v: %v", step.deadline, err)
		case step.ok:
			p = out
		case code(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "spec.activeDeadlineSeconds"):
			t.Errorf("activeDeadlineSeconds %v: got %v, want InvalidArgument naming spec.activeDeadlineSeconds", step.deadline, err)
		}
	}
}

// TestStaleUpdateIsHTTP409 drives the API the way curl does: Connect JSON
// over HTTP/1.1.
func TestStaleUpdateIsHTTP409(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t)
	post := func(method, body string) (int, map[string]any) {
		t.Helper()
		resp, err := http.Post(srv.URL()+"/wharf.v1.PodService/"+method, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		var out map[string]any
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("%s: %s: %v", method, b, err)
		}
		return resp.StatusCode, out
	}
	status, out := post("Create", `{"pod":{"metadata":{"name":"curl"},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}}`)
	if status != 200 {
		t.Fatalf("create: %d %v", status, out)
	}
	rv := out["pod"].(map[string]any)["metadata"].(map[string]any)["resourceVersion"].(string)
	status, _ = post("Update", fmt.Sprintf(`{"pod":{"metadata":{"name":"curl","resourceVersion":%q,"labels":{"a":"b"}},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}}`, rv))
	if status != 200 {
		t.Fatalf("update: %d", status)
	}
	status, out = post("Update", fmt.Sprintf(`{"pod":{"metadata":{"name":"curl","resourceVersion":%q},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}}`, rv))
	if status != http.StatusConflict || out["code"] != "aborted" {
		t.Fatalf("stale update: HTTP %d %v, want 409 aborted", status, out)
	}
	status, out = post("Create", `{"pod":{"metadata":{"name":"curl"},"spec":{"containers":[{"name":"c","image":"busybox:1.36"}]}}}`)
	if status != http.StatusConflict || out["code"] != "already_exists" {
		t.Fatalf("duplicate create: HTTP %d %v, want 409 already_exists", status, out)
	}
	status, out = post("Get", `{"namespace":"default","name":"missing"}`)
	if status != http.StatusNotFound {
		t.Fatalf("get missing: HTTP %d %v", status, out)
	}
}

func TestApplyIsIdempotent(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	manifest := pod("applied", map[string]string{"app": "a"})
	r1, err := c.Pods().Apply(ctx(t), manifest)
	if err != nil || !r1.Created {
		t.Fatalf("first apply: %+v %v", r1, err)
	}
	// The node writes status; a later apply of the same manifest keeps it
	// and makes no new revision.
	st := proto.Clone(r1.Object).(*wharfv1.Pod)
	st.Status = &wharfv1.PodStatus{Phase: "Running"}
	withStatus, err := c.Pods().UpdateStatus(ctx(t), st)
	if err != nil {
		t.Fatal(err)
	}
	r2, err := c.Pods().Apply(ctx(t), manifest)
	if err != nil {
		t.Fatal(err)
	}
	if r2.Changed || r2.Created || r2.Object.GetMetadata().GetResourceVersion() != withStatus.GetMetadata().GetResourceVersion() {
		t.Fatalf("re-apply changed the pod: %+v", r2)
	}
	if r2.Object.GetStatus().GetPhase() != "Running" {
		t.Fatal("apply dropped the status")
	}
	// A changed label applies; a changed pod spec is refused, as in Kubernetes.
	manifest.Metadata.Labels["app"] = "b"
	r3, err := c.Pods().Apply(ctx(t), manifest)
	if err != nil || !r3.Changed || r3.Object.GetMetadata().GetLabels()["app"] != "b" {
		t.Fatalf("label apply: %+v %v", r3, err)
	}
	manifest.Spec.Containers[0].Command = []string{"/bin/other"}
	if _, err := c.Pods().Apply(ctx(t), manifest); code(err) != connect.CodeInvalidArgument {
		t.Fatalf("pod spec change: got %v, want InvalidArgument", err)
	}

	// Generation counts spec changes (nodes' spec is mutable).
	n := &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: "gen"}, Spec: &wharfv1.NodeSpec{}}
	a, err := c.Nodes().Apply(ctx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	n.Spec.Unschedulable = true
	b, err := c.Nodes().Apply(ctx(t), n)
	if err != nil {
		t.Fatal(err)
	}
	if a.Object.GetMetadata().GetGeneration() != 1 || b.Object.GetMetadata().GetGeneration() != 2 {
		t.Fatalf("generation %d then %d, want 1 then 2", a.Object.GetMetadata().GetGeneration(), b.Object.GetMetadata().GetGeneration())
	}
}

func TestListSelectorsAndPagination(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	for i := range 25 {
		p := pod(fmt.Sprintf("p%02d", i), map[string]string{"tier": []string{"web", "db"}[i%2], "idx": strconv.Itoa(i)})
		if i < 5 {
			p.Spec.NodeName = "node-a"
		}
		if _, err := c.Pods().Create(ctx(t), p); err != nil {
			t.Fatal(err)
		}
	}
	names := func(items []*wharfv1.Pod) []string {
		var out []string
		for _, p := range items {
			out = append(out, p.GetMetadata().GetName())
		}
		return out
	}
	for _, tc := range []struct {
		name, labels, fields string
		want                 int
	}{
		{"all", "", "", 25},
		{"equals", "tier=web", "", 13},
		{"not_equals", "tier!=web", "", 12},
		{"in", "idx in (1,2,3)", "", 3},
		{"notin_and", "tier=db,idx notin (1,3)", "", 10},
		{"exists", "tier", "", 25},
		{"not_exists", "!tier", "", 0},
		{"node_name", "", "spec.nodeName=node-a", 5},
		{"unbound", "", "spec.nodeName=", 20},
		{"phase", "", "status.phase=Pending", 25},
		{"phase_not", "", "status.phase!=Pending", 0},
		{"both", "tier=web", "spec.nodeName=node-a", 3},
		{"metadata_name", "", "metadata.name=p07", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l, err := c.Pods().List(ctx(t), client.ListOptions{Namespace: "default", LabelSelector: tc.labels, FieldSelector: tc.fields})
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Items) != tc.want {
				t.Fatalf("got %d items %v, want %d", len(l.Items), names(l.Items), tc.want)
			}
			if l.ResourceVersion == "" {
				t.Fatal("list has no resourceVersion")
			}
		})
	}
	t.Run("bad_field", func(t *testing.T) {
		_, err := c.Pods().List(ctx(t), client.ListOptions{FieldSelector: "spec.nodeNam=x"})
		if code(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "spec.nodeNam") {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("pages", func(t *testing.T) {
		var got []string
		opts := client.ListOptions{Namespace: "default", Limit: 7, LabelSelector: "tier=web"}
		first := ""
		for page := 0; ; page++ {
			l, err := c.Pods().List(ctx(t), opts)
			if err != nil {
				t.Fatal(err)
			}
			if page == 0 {
				first = l.ResourceVersion
				// A write between pages must not show up: pages read one snapshot.
				if _, err := c.Pods().Create(ctx(t), pod("p99", map[string]string{"tier": "web"})); err != nil {
					t.Fatal(err)
				}
			} else if l.ResourceVersion != first {
				t.Fatalf("page %d read at %s, first page at %s", page, l.ResourceVersion, first)
			}
			got = append(got, names(l.Items)...)
			if l.Continue == "" {
				break
			}
			opts.Continue = l.Continue
		}
		if len(got) != 13 {
			t.Fatalf("paged through %d items %v, want 13", len(got), got)
		}
		seen := map[string]bool{}
		for _, n := range got {
			if seen[n] {
				t.Fatalf("%s listed twice", n)
			}
			seen[n] = true
		}
	})
}

func TestGracefulPodDelete(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	unbound, _ := c.Pods().Create(ctx(t), pod("unbound", nil))
	if _, err := c.Pods().Delete(ctx(t), "default", "unbound", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pods().Get(ctx(t), "default", "unbound"); code(err) != connect.CodeNotFound {
		t.Fatalf("an unbound pod must go at once: %v (%v)", err, unbound)
	}

	b := pod("bound", nil)
	b.Spec.NodeName = "node-1"
	if _, err := c.Pods().Create(ctx(t), b); err != nil {
		t.Fatal(err)
	}
	d, err := c.Pods().Delete(ctx(t), "default", "bound", client.DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if d.GetMetadata().GetDeletionTimestamp() == nil || d.GetMetadata().GetDeletionGracePeriodSeconds() != 30 {
		t.Fatalf("a bound pod must be marked, not removed: %v", d.GetMetadata())
	}
	if _, err := c.Pods().Get(ctx(t), "default", "bound"); err != nil {
		t.Fatalf("the bound pod must stay until its node finishes: %v", err)
	}
	// The node finishes it with grace 0.
	if _, err := c.Pods().Delete(ctx(t), "default", "bound", client.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pods().Get(ctx(t), "default", "bound"); code(err) != connect.CodeNotFound {
		t.Fatalf("after the node's delete: %v", err)
	}
}

func TestNamespaceDeleteRemovesContents(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	if _, err := c.Namespaces().Get(ctx(t), "", "default"); err != nil {
		t.Fatalf("namespace default must exist: %v", err)
	}
	if _, err := c.Namespaces().Create(ctx(t), &wharfv1.Namespace{Metadata: &wharfv1.ObjectMeta{Name: "team"}}); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		p := pod(fmt.Sprintf("p%d", i), nil)
		p.Metadata.Namespace = "team"
		if _, err := c.Pods().Create(ctx(t), p); err != nil {
			t.Fatal(err)
		}
	}
	ev := &wharfv1.Event{Metadata: &wharfv1.ObjectMeta{Name: "e1", Namespace: "team"}, InvolvedObject: &wharfv1.ObjectReference{Kind: "Pod", Name: "p0"}, Reason: "Test"}
	if _, err := c.Events().Create(ctx(t), ev); err != nil {
		t.Fatal(err)
	}
	ns, err := c.Namespaces().Delete(ctx(t), "", "team", client.DeleteOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if ns.GetStatus().GetPhase() != "Terminating" {
		t.Fatalf("phase %q, want Terminating", ns.GetStatus().GetPhase())
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		_, err := c.Namespaces().Get(ctx(t), "", "team")
		if code(err) == connect.CodeNotFound {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("namespace still there: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, check := range []func() (int, error){
		func() (int, error) {
			l, err := c.Pods().List(ctx(t), client.ListOptions{Namespace: "team"})
			if err != nil {
				return 0, err
			}
			return len(l.Items), nil
		},
		func() (int, error) {
			l, err := c.Events().List(ctx(t), client.ListOptions{Namespace: "team"})
			if err != nil {
				return 0, err
			}
			return len(l.Items), nil
		},
	} {
		if n, err := check(); err != nil || n != 0 {
			t.Fatalf("left behind: %d (%v)", n, err)
		}
	}
}

// TestWatchFromList: list at R, then watch from R sees every later change
// once, in order, with selector transitions as ADDED/DELETED.
func TestWatchFromList(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	if _, err := c.Pods().Create(ctx(t), pod("before", map[string]string{"sel": "yes"})); err != nil {
		t.Fatal(err)
	}
	l, err := c.Pods().List(ctx(t), client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	all, err := c.Pods().Watch(ctx(t), client.WatchOptions{ResourceVersion: l.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer all.Stop()
	sel, err := c.Pods().Watch(ctx(t), client.WatchOptions{ResourceVersion: l.ResourceVersion, LabelSelector: "sel=yes"})
	if err != nil {
		t.Fatal(err)
	}
	defer sel.Stop()

	p, err := c.Pods().Create(ctx(t), pod("w", map[string]string{"sel": "no"}))
	if err != nil {
		t.Fatal(err)
	}
	p.Metadata.Labels["sel"] = "yes"
	if p, err = c.Pods().Update(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	p.Metadata.Labels["sel"] = "no"
	if _, err = c.Pods().Update(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Pods().Delete(ctx(t), "default", "w", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	expect := func(w client.Watcher[*wharfv1.Pod], want ...string) {
		t.Helper()
		last := int64(0)
		for _, wt := range want {
			ev, err := w.Next()
			if err != nil {
				t.Fatal(err)
			}
			if got := string(ev.Type) + " " + ev.Object.GetMetadata().GetName(); got != wt {
				t.Fatalf("got %q, want %q", got, wt)
			}
			rv, _ := strconv.ParseInt(ev.ResourceVersion, 10, 64)
			if rv <= last {
				t.Fatalf("revision %d after %d", rv, last)
			}
			last = rv
		}
	}
	expect(all, "ADDED w", "MODIFIED w", "MODIFIED w", "DELETED w")
	expect(sel, "ADDED w", "DELETED w")

	// Resume from a revision in the middle replays the rest.
	again, err := c.Pods().Watch(ctx(t), client.WatchOptions{ResourceVersion: l.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer again.Stop()
	expect(again, "ADDED w", "MODIFIED w", "MODIFIED w", "DELETED w")

	// An empty resourceVersion starts with the current state.
	fresh, err := c.Pods().Watch(ctx(t), client.WatchOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Stop()
	expect(fresh, "ADDED before")
}

func TestWatchCompactedIsOutOfRange(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t)
	c := srv.Client()
	first, err := c.Pods().Create(ctx(t), pod("c0", nil))
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < 5; i++ {
		if _, err := c.Pods().Create(ctx(t), pod(fmt.Sprintf("c%d", i), nil)); err != nil {
			t.Fatal(err)
		}
	}
	if err := srv.Store.Compact(ctx(t), srv.Store.Revision()); err != nil {
		t.Fatal(err)
	}
	// Past the in-memory ring too: a fresh server on the same data dir.
	dir := srv.DataDir
	srv.Stop(t)
	srv = wharftest.Start(t, wharftest.WithDataDir(dir))
	w, err := srv.Client().Pods().Watch(ctx(t), client.WatchOptions{ResourceVersion: first.GetMetadata().GetResourceVersion()})
	if err == nil {
		_, err = w.Next()
	}
	if code(err) != connect.CodeOutOfRange || !client.IsCompacted(err) {
		t.Fatalf("got %v, want OutOfRange", err)
	}
}

func TestSlowWatcherIsCutOff(t *testing.T) {
	if raceDetector {
		// It pushes 45 MB through gzip and a watch stream, which takes
		// minutes under the race detector; the store's TestWatchSlow
		// covers cutting off a slow watcher there.
		t.Skip("too slow under the race detector")
	}
	t.Parallel()
	srv := wharftest.Start(t, wharftest.WithConfig(func(c *server.Config) {
		c.APIOptions = append(c.APIOptions, apiserver.WithWatchBuffer(8))
	}))
	c := srv.Client()
	slow, err := c.Pods().Watch(ctx(t), client.WatchOptions{ResourceVersion: strconv.FormatInt(srv.Store.Revision(), 10)})
	if err != nil {
		t.Fatal(err)
	}
	defer slow.Stop()
	// The slow watcher reads nothing while 300 writes go through; writers
	// never wait for it.
	// Incompressible padding: watch streams are gzip-compressed.
	raw := make([]byte, 150000)
	_, _ = rand.Read(raw)
	big := base64.StdEncoding.EncodeToString(raw)
	for i := range 300 {
		p := pod(fmt.Sprintf("s%03d", i), nil)
		p.Metadata.Annotations = map[string]string{"pad": big}
		if _, err := c.Pods().Create(ctx(t), p); err != nil {
			t.Fatal(err)
		}
	}
	var last string
	for {
		ev, err := slow.Next()
		if err != nil {
			if !client.IsWatchCutOff(err) {
				t.Fatalf("got %v, want a cut-off", err)
			}
			break
		}
		last = ev.ResourceVersion
	}
	if last == "" {
		t.Fatal("cut off before any event")
	}
	// Resuming from the last revision seen delivers the rest, in order.
	w, err := c.Pods().Watch(ctx(t), client.WatchOptions{ResourceVersion: last})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	prev, _ := strconv.ParseInt(last, 10, 64)
	for {
		ev, err := w.Next()
		if err != nil {
			t.Fatal(err)
		}
		rv, _ := strconv.ParseInt(ev.ResourceVersion, 10, 64)
		if rv != prev+1 {
			t.Fatalf("resumed at %d after %d", rv, prev)
		}
		prev = rv
		if ev.Object.GetMetadata().GetName() == "s299" {
			break
		}
	}
}

func TestReflectionHealthMetrics(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t)
	if _, err := srv.Client().Pods().Get(ctx(t), "default", "nope"); err == nil {
		t.Fatal("want NotFound")
	}
	resp, err := http.Get(srv.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{
		`wharf_api_requests_total{code="not_found",method="Get",service="wharf.v1.PodService"} 1`,
		"wharf_store_revision", "wharf_store_lsm_bytes", "wharf_api_watchers",
	} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	// gRPC health over the Connect protocol (JSON).
	resp, err = http.Post(srv.URL()+"/grpc.health.v1.Health/Check", "application/json", strings.NewReader(`{"service":"wharf.v1.PodService"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ = io.ReadAll(resp.Body)
	resp.Body.Close()
	if !bytes.Contains(b, []byte("SERVING")) {
		t.Fatalf("health: %s", b)
	}
}

func TestReflection(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t)
	rc := grpcreflect.NewClient(client.DefaultHTTPClient(), srv.URL())
	stream := rc.NewStream(ctx(t))
	defer stream.Close()
	names, err := stream.ListServices()
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]bool{}
	for _, k := range wharfv1.Kinds {
		want[k.Service] = true
	}
	for _, n := range names {
		delete(want, string(n))
	}
	if len(want) > 0 {
		t.Fatalf("reflection lacks %v (has %v)", want, names)
	}
}

func TestShutdownEndsWatchesWithUnavailable(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t)
	w, err := srv.Client().Pods().Watch(ctx(t), client.WatchOptions{ResourceVersion: "1"})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	go srv.Stop(t)
	_, err = w.Next()
	if !client.IsWatchCutOff(err) {
		t.Fatalf("got %v, want Unavailable (watch again)", err)
	}
}

// TestWatchWithoutCache: with no in-memory ring every watch that starts in
// the past is served from the store's history, losing nothing.
func TestWatchWithoutCache(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t, wharftest.WithConfig(func(c *server.Config) {
		c.APIOptions = append(c.APIOptions, apiserver.WithWatchCache(0))
	}))
	c := srv.Client()
	l, err := c.Pods().List(ctx(t), client.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"a", "b"} {
		if _, err := c.Pods().Create(ctx(t), pod(n, nil)); err != nil {
			t.Fatal(err)
		}
	}
	w, err := c.Pods().Watch(ctx(t), client.WatchOptions{ResourceVersion: l.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	for _, want := range []string{"a", "b"} {
		ev, err := w.Next()
		if err != nil {
			t.Fatal(err)
		}
		if ev.Type != client.Added || ev.Object.GetMetadata().GetName() != want {
			t.Fatalf("got %s %s, want ADDED %s", ev.Type, ev.Object.GetMetadata().GetName(), want)
		}
	}
}

// An Event that goes unwritten for the server's event TTL is deleted, and
// watchers see the delete.
func TestEventsExpire(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t, wharftest.WithConfig(func(c *server.Config) {
		c.APIOptions = append(c.APIOptions, apiserver.WithEventTTL(time.Second))
	}))
	c := srv.Client()
	ev, err := c.Events().Create(ctx(t), &wharfv1.Event{
		Metadata:       &wharfv1.ObjectMeta{Name: "web.started", Namespace: "default"},
		InvolvedObject: &wharfv1.ObjectReference{Kind: "Pod", Namespace: "default", Name: "web"},
		Reason:         "Started", Message: "Started container web", Type: "Normal",
	})
	if err != nil {
		t.Fatal(err)
	}
	w, err := c.Events().Watch(ctx(t), client.WatchOptions{Namespace: "default", ResourceVersion: ev.GetMetadata().GetResourceVersion()})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	got, err := w.Next()
	if err != nil || got.Type != client.Deleted || got.Object.GetMetadata().GetName() != "web.started" {
		t.Fatalf("watch: %v %v, want the event deleted", got, err)
	}
	if age := time.Since(ev.GetMetadata().GetCreationTimestamp().AsTime()); age < time.Second {
		t.Errorf("deleted %v after its creation, before its TTL of 1s", age)
	}
	// The expirer counts its deletes once they return, which can be after
	// the watch has the event.
	var b []byte
	for deadline := time.Now().Add(5 * time.Second); ; {
		resp, err := http.Get(srv.URL() + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ = io.ReadAll(resp.Body)
		resp.Body.Close()
		if bytes.Contains(b, []byte("wharf_api_events_expired_total 1")) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/metrics does not count the expired event:\n%s", b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A NoExecute taint gets the time it came (eviction counts from it): a
// new one now, one the node had its old time, and applying the same
// manifest again changes nothing.
func TestNoExecuteTaintTimeAdded(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	manifest := func(taints ...*wharfv1.Taint) *wharfv1.Node {
		return &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: "n1"}, Spec: &wharfv1.NodeSpec{Taints: taints}}
	}
	maint := &wharfv1.Taint{Key: "maintenance", Effect: "NoExecute"}
	gpu := &wharfv1.Taint{Key: "gpu", Value: "yes", Effect: "NoSchedule"}
	first, err := c.Nodes().Apply(ctx(t), manifest(maint, gpu))
	if err != nil {
		t.Fatal(err)
	}
	ts := first.Object.GetSpec().GetTaints()
	if ts[0].GetTimeAdded() == nil || ts[1].GetTimeAdded() != nil {
		t.Fatalf("taints %v; want a time on the NoExecute one only", ts)
	}
	again, err := c.Nodes().Apply(ctx(t), manifest(maint, gpu))
	if err != nil || again.Changed || again.Object.GetMetadata().GetResourceVersion() != first.Object.GetMetadata().GetResourceVersion() {
		t.Fatalf("re-apply: changed %v, %v", again.Changed, err)
	}
	time.Sleep(10 * time.Millisecond)
	drain := &wharfv1.Taint{Key: "drain", Effect: "NoExecute"}
	more, err := c.Nodes().Apply(ctx(t), manifest(maint, gpu, drain))
	if err != nil {
		t.Fatal(err)
	}
	ts = more.Object.GetSpec().GetTaints()
	if !ts[0].GetTimeAdded().AsTime().Equal(first.Object.GetSpec().GetTaints()[0].GetTimeAdded().AsTime()) ||
		!ts[2].GetTimeAdded().AsTime().After(ts[0].GetTimeAdded().AsTime()) {
		t.Errorf("taints %v; want maintenance's time kept and drain's later", ts)
	}
}

// TestWatchInEveryProtocol: a watcher gets each version of an object as
// the writes return it, resourceVersion included, in every protocol
// (binary clients get the object's stored bytes, JSON clients the object
// marshalled).
func TestWatchInEveryProtocol(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t)
	for _, tc := range protocols {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c := srv.Client(tc.opts...)
			name := "w-" + strings.ReplaceAll(tc.name, "_", "-")
			l, err := c.Pods().List(ctx(t), client.ListOptions{Namespace: "default"})
			if err != nil {
				t.Fatal(err)
			}
			w, err := c.Pods().Watch(ctx(t), client.WatchOptions{Namespace: "default", ResourceVersion: l.ResourceVersion, FieldSelector: "metadata.name=" + name})
			if err != nil {
				t.Fatal(err)
			}
			defer w.Stop()
			created, err := c.Pods().Create(ctx(t), pod(name, map[string]string{"v": "1"}))
			if err != nil {
				t.Fatal(err)
			}
			next := proto.Clone(created).(*wharfv1.Pod)
			next.Metadata.Labels["v"] = "2"
			updated, err := c.Pods().Update(ctx(t), next)
			if err != nil {
				t.Fatal(err)
			}
			next = proto.Clone(updated).(*wharfv1.Pod)
			next.Status.Message = "status written"
			statusUpdated, err := c.Pods().UpdateStatus(ctx(t), next)
			if err != nil {
				t.Fatal(err)
			}
			manifest := pod(name, map[string]string{"v": "3"})
			applied, err := c.Pods().Apply(ctx(t), manifest)
			if err != nil || !applied.Changed {
				t.Fatalf("apply: %v, %v", applied, err)
			}
			again, err := c.Pods().Apply(ctx(t), manifest)
			if err != nil || again.Changed || !proto.Equal(again.Object, applied.Object) {
				t.Fatalf("apply again: changed %v, object\n%v\nwant\n%v (%v)", again.Changed, again.Object, applied.Object, err)
			}
			if got, err := c.Pods().Get(ctx(t), "default", name); err != nil || !proto.Equal(got, applied.Object) {
				t.Fatalf("get\n%v\nwant what apply returned\n%v (%v)", got, applied.Object, err)
			}
			deleted, err := c.Pods().Delete(ctx(t), "default", name, client.DeleteOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for _, want := range []struct {
				typ client.EventType
				obj *wharfv1.Pod
			}{{client.Added, created}, {client.Modified, updated}, {client.Modified, statusUpdated}, {client.Modified, applied.Object}, {client.Deleted, deleted}} {
				ev, err := w.Next()
				if err != nil {
					t.Fatal(err)
				}
				if ev.Type != want.typ || ev.ResourceVersion != ev.Object.GetMetadata().GetResourceVersion() {
					t.Fatalf("event %s (resourceVersion %s) of %v; want %s", ev.Type, ev.ResourceVersion, ev.Object.GetMetadata(), want.typ)
				}
				if !proto.Equal(ev.Object, want.obj) {
					t.Fatalf("%s event's object\n%v\nwant what the write returned\n%v", ev.Type, ev.Object, want.obj)
				}
			}
		})
	}
}

// TestListInEveryProtocol: a list, whole, by selector and in pages, gives
// the same objects, resourceVersions included, in every protocol (binary
// clients get the objects' stored bytes).
func TestListInEveryProtocol(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t)
	c := srv.Client()
	for i := range 5 {
		if _, err := c.Pods().Create(ctx(t), pod(fmt.Sprintf("l-%d", i), map[string]string{"half": fmt.Sprint(i % 2)})); err != nil {
			t.Fatal(err)
		}
	}
	var want []*wharfv1.Pod
	for i := range 5 {
		p, err := c.Pods().Get(ctx(t), "default", fmt.Sprintf("l-%d", i))
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, p)
	}
	for _, tc := range protocols {
		t.Run(tc.name, func(t *testing.T) {
			c := srv.Client(tc.opts...)
			check := func(what string, got []*wharfv1.Pod, want []*wharfv1.Pod) {
				t.Helper()
				if len(got) != len(want) {
					t.Fatalf("%s: %d pods, want %d", what, len(got), len(want))
				}
				for i := range got {
					if !proto.Equal(got[i], want[i]) {
						t.Fatalf("%s: item %d\n%v\nwant\n%v", what, i, got[i], want[i])
					}
				}
			}
			l, err := c.Pods().List(ctx(t), client.ListOptions{Namespace: "default"})
			if err != nil {
				t.Fatal(err)
			}
			check("whole", l.Items, want)
			l, err = c.Pods().List(ctx(t), client.ListOptions{Namespace: "default", LabelSelector: "half=1"})
			if err != nil {
				t.Fatal(err)
			}
			check("half=1", l.Items, []*wharfv1.Pod{want[1], want[3]})
			pages := func(opts client.ListOptions) []*wharfv1.Pod {
				t.Helper()
				var items []*wharfv1.Pod
				for {
					l, err := c.Pods().List(ctx(t), opts)
					if err != nil {
						t.Fatal(err)
					}
					items = append(items, l.Items...)
					if l.Continue == "" {
						return items
					}
					opts.Continue = l.Continue
				}
			}
			check("pages of 2", pages(client.ListOptions{Namespace: "default", Limit: 2}), want)
			check("half=0 in pages of 1", pages(client.ListOptions{Namespace: "default", Limit: 1, LabelSelector: "half=0"}), []*wharfv1.Pod{want[0], want[2], want[4]})
		})
	}
}

// TestUpdateStatusOfAKindWithoutStatus: UpdateStatus of an Event (which has
// no status) is refused, and says to use Update.
func TestUpdateStatusOfAKindWithoutStatus(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	ev, err := c.Events().Create(ctx(t), &wharfv1.Event{Metadata: &wharfv1.ObjectMeta{Name: "e1"},
		InvolvedObject: &wharfv1.ObjectReference{Kind: "Pod", Name: "p0"}, Reason: "Test"})
	if err != nil {
		t.Fatal(err)
	}
	ev.Message = "changed"
	if _, err := c.Events().UpdateStatus(ctx(t), ev); code(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "Events have no status; use Update") {
		t.Fatalf("UpdateStatus of an event: %v; want InvalidArgument saying to use Update", err)
	}
}
