package client_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/apiserver"
	"github.com/wharfhq/wharf/daemon/server"
	"github.com/wharfhq/wharf/daemon/store"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/testing/wharftest"
)

func newPod(name string, labels map[string]string, node string) *wharfv1.Pod {
	return &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: name, Labels: labels},
		Spec: &wharfv1.PodSpec{
			NodeName:   node,
			Containers: []*wharfv1.Container{{Name: "app", Image: "busybox:1.36"}},
		},
	}
}

func createPods(t *testing.T, c *client.Client, pods ...*wharfv1.Pod) {
	t.Helper()
	for _, p := range pods {
		if _, err := c.Pods().Create(t.Context(), p); err != nil {
			t.Fatalf("create pod %s: %v", p.GetMetadata().GetName(), err)
		}
	}
}

// recorder collects handler calls as "add web", "update web", "delete web".
type recorder struct {
	mu     sync.Mutex
	events []string
}

func (r *recorder) handler() client.EventHandler[*wharfv1.Pod] {
	rec := func(s string) {
		r.mu.Lock()
		r.events = append(r.events, s)
		r.mu.Unlock()
	}
	return client.EventHandler[*wharfv1.Pod]{
		AddFunc: func(p *wharfv1.Pod) { rec("add " + p.GetMetadata().GetName()) },
		UpdateFunc: func(old, p *wharfv1.Pod) {
			if old.GetMetadata().GetResourceVersion() == p.GetMetadata().GetResourceVersion() {
				rec("resync " + p.GetMetadata().GetName())
				return
			}
			rec("update " + p.GetMetadata().GetName())
		},
		DeleteFunc: func(p *wharfv1.Pod) { rec("delete " + p.GetMetadata().GetName()) },
	}
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.events)
}

// waitFor waits until the recorded events, from index from on, are want.
func (r *recorder) waitFor(t *testing.T, from int, want ...string) {
	t.Helper()
	eventually(t, func() bool {
		got := r.snapshot()
		return len(got) >= from+len(want) && slices.Equal(got[from:from+len(want)], want)
	}, func() string {
		return fmt.Sprintf("events[%d:] = %q, want %q", from, r.snapshot()[min(from, len(r.snapshot())):], want)
	})
}

func eventually(t *testing.T, cond func() bool, msg func() string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal(msg())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// runInformer runs inf until the test ends and waits for it to sync.
func runInformer[T client.Object](t *testing.T, inf *client.Informer[T]) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- inf.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("informer Run: %v", err)
		}
	})
	wctx, wcancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer wcancel()
	if err := inf.WaitForSync(wctx); err != nil {
		t.Fatalf("WaitForSync: %v", err)
	}
}

func names(pods []*wharfv1.Pod) []string {
	var out []string
	for _, p := range pods {
		out = append(out, p.GetMetadata().GetName())
	}
	slices.Sort(out)
	return out
}

func TestInformerSyncAndEvents(t *testing.T) {
	t.Parallel()
	s := wharftest.Start(t)
	c := s.Client()
	createPods(t, c, newPod("a", map[string]string{"app": "web"}, ""), newPod("b", nil, ""))

	inf := client.NewInformer(c.Pods(), client.InformerOptions{Namespace: "default"})
	var rec recorder
	inf.AddEventHandler(rec.handler())
	if inf.HasSynced() {
		t.Fatal("HasSynced before Run")
	}
	runInformer(t, inf)

	t.Run("initial_sync", func(t *testing.T) {
		// Handlers have seen the whole first list once WaitForSync returns.
		got := rec.snapshot()
		slices.Sort(got)
		if want := []string{"add a", "add b"}; !slices.Equal(got, want) {
			t.Fatalf("events after sync = %q, want %q", got, want)
		}
		if p, ok := inf.Get("default", "a"); !ok || p.GetMetadata().GetName() != "a" {
			t.Fatalf("Get(default, a) = %v, %v", p, ok)
		}
		if _, ok := inf.Get("default", "nope"); ok {
			t.Fatal("Get(default, nope) found something")
		}
		if got := names(inf.List()); !slices.Equal(got, []string{"a", "b"}) {
			t.Fatalf("List = %q", got)
		}
		if inf.ResourceVersion() == "" {
			t.Fatal("ResourceVersion empty after sync")
		}
	})

	t.Run("add_update_delete_in_order", func(t *testing.T) {
		from := len(rec.snapshot())
		createPods(t, c, newPod("c", nil, ""))
		p, err := c.Pods().Get(t.Context(), "default", "c")
		if err != nil {
			t.Fatal(err)
		}
		p.Metadata.Labels = map[string]string{"app": "web"}
		if _, err := c.Pods().Update(t.Context(), p); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Pods().Delete(t.Context(), "default", "c", client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		rec.waitFor(t, from, "add c", "update c", "delete c")
		if _, ok := inf.Get("default", "c"); ok {
			t.Fatal("deleted pod still cached")
		}
	})

	t.Run("list_by_labels", func(t *testing.T) {
		sel, err := client.ParseLabelSelector("app=web")
		if err != nil {
			t.Fatal(err)
		}
		if got := names(inf.ListByLabels(sel)); !slices.Equal(got, []string{"a"}) {
			t.Fatalf("ListByLabels(app=web) = %q", got)
		}
	})

	t.Run("late_handler_gets_current_objects", func(t *testing.T) {
		var late recorder
		inf.AddEventHandler(late.handler())
		eventually(t, func() bool { return len(late.snapshot()) == 2 }, func() string {
			return fmt.Sprintf("late handler got %q", late.snapshot())
		})
		got := late.snapshot()
		slices.Sort(got)
		if want := []string{"add a", "add b"}; !slices.Equal(got, want) {
			t.Fatalf("late handler got %q, want %q", got, want)
		}
		createPods(t, c, newPod("d", nil, ""))
		late.waitFor(t, 2, "add d")
	})
}

func TestInformerIndex(t *testing.T) {
	t.Parallel()
	s := wharftest.Start(t)
	c := s.Client()
	createPods(t, c, newPod("p1", nil, "node-1"), newPod("p2", nil, "node-1"), newPod("p3", nil, "node-2"), newPod("p4", nil, ""))
	ns := &wharfv1.Namespace{Metadata: &wharfv1.ObjectMeta{Name: "other"}}
	if _, err := c.Namespaces().Create(t.Context(), ns); err != nil {
		t.Fatal(err)
	}
	other := newPod("o1", nil, "node-2")
	other.Metadata.Namespace = "other"
	createPods(t, c, other)

	inf := client.NewInformer(c.Pods(), client.InformerOptions{})
	byNode := func(p *wharfv1.Pod) []string {
		if n := p.GetSpec().GetNodeName(); n != "" {
			return []string{n}
		}
		return nil
	}
	if err := inf.AddIndex("node", byNode); err != nil {
		t.Fatal(err)
	}
	if err := inf.AddIndex("node", byNode); err == nil {
		t.Fatal("AddIndex twice: no error")
	}
	var rec recorder
	inf.AddEventHandler(rec.handler())
	runInformer(t, inf)

	for _, tc := range []struct {
		index, value string
		want         []string
	}{
		{"node", "node-1", []string{"p1", "p2"}},
		{"node", "node-2", []string{"o1", "p3"}},
		{"node", "", nil},
		{"node", "node-3", nil},
		{client.NamespaceIndex, "default", []string{"p1", "p2", "p3", "p4"}},
		{client.NamespaceIndex, "other", []string{"o1"}},
		{"nope", "x", nil},
	} {
		if got := names(inf.ByIndex(tc.index, tc.value)); !slices.Equal(got, tc.want) {
			t.Errorf("ByIndex(%q, %q) = %q, want %q", tc.index, tc.value, got, tc.want)
		}
	}
	values := inf.IndexValues("node")
	slices.Sort(values)
	if !slices.Equal(values, []string{"node-1", "node-2"}) {
		t.Errorf("IndexValues(node) = %q", values)
	}

	t.Run("follows_changes", func(t *testing.T) {
		// Bound pods are deleted gracefully; grace 0 removes one at once.
		from := len(rec.snapshot())
		if _, err := c.Pods().Delete(t.Context(), "default", "p1", client.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
			t.Fatal(err)
		}
		createPods(t, c, newPod("p5", nil, "node-3"))
		rec.waitFor(t, from, "delete p1", "add p5")
		if got := names(inf.ByIndex("node", "node-1")); !slices.Equal(got, []string{"p2"}) {
			t.Errorf("ByIndex(node-1) = %q, want [p2]", got)
		}
		if got := names(inf.ByIndex("node", "node-3")); !slices.Equal(got, []string{"p5"}) {
			t.Errorf("ByIndex(node-3) = %q, want [p5]", got)
		}
	})

	t.Run("index_added_after_sync", func(t *testing.T) {
		if err := inf.AddIndex("image", func(p *wharfv1.Pod) []string {
			return []string{p.GetSpec().GetContainers()[0].GetImage()}
		}); err != nil {
			t.Fatal(err)
		}
		if got := len(inf.ByIndex("image", "busybox:1.36")); got != inf.Len() {
			t.Errorf("ByIndex(image) has %d pods, want all %d", got, inf.Len())
		}
	})
}

func TestInformerResumesAfterServerRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s1 := wharftest.Start(t, wharftest.WithDataDir(dir))
	p := newProxy(t, s1.Addr())
	c := client.New(p.URL())
	createPods(t, c, newPod("a", nil, ""))

	logs := &logCounter{}
	inf := client.NewInformer(c.Pods(), client.InformerOptions{Logger: slog.New(logs)})
	var rec recorder
	inf.AddEventHandler(rec.handler())
	runInformer(t, inf)
	rec.waitFor(t, 0, "add a")

	s1.Stop(t)
	s2 := wharftest.Start(t, wharftest.WithDataDir(dir))
	p.retarget(s2.Addr())
	// Another client writes b: c's pooled connection may still be the one
	// the proxy closed with s1, and a create sent on it is not retried
	// (it is not idempotent). What is tested is the informer's watch.
	createPods(t, s2.Client(), newPod("b", nil, ""))
	rec.waitFor(t, 1, "add b")
	if got := logs.count("listing again"); got != 0 {
		t.Errorf("informer listed again %d times; a restart keeps the history, so it should only watch again", got)
	}
	if got := rec.snapshot(); len(got) != 2 {
		t.Errorf("events = %q, want just [add a, add b]", got)
	}
}

func TestInformerResumesAfterCutOff(t *testing.T) {
	t.Parallel()
	// A watch buffer of 1 cuts a watcher off as soon as it is one event
	// behind, which a burst of writes does.
	s := wharftest.Start(t, wharftest.WithConfig(func(c *server.Config) {
		c.APIOptions = append(c.APIOptions, apiserver.WithWatchBuffer(1))
	}))
	c := s.Client()
	logs := &logCounter{}
	inf := client.NewInformer(c.Pods(), client.InformerOptions{Logger: slog.New(logs)})
	var mu sync.Mutex
	added := map[string]int{}
	inf.AddEventHandler(client.EventHandler[*wharfv1.Pod]{AddFunc: func(p *wharfv1.Pod) {
		mu.Lock()
		added[p.GetMetadata().GetName()]++
		mu.Unlock()
	}})
	runInformer(t, inf)

	const n = 300
	var wg sync.WaitGroup
	for w := range 10 {
		wg.Go(func() {
			for i := w; i < n; i += 10 {
				if _, err := c.Pods().Create(t.Context(), newPod(fmt.Sprintf("p%03d", i), nil, "")); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	// The cache has an object before the handlers hear of it: wait for
	// the handlers.
	addedLen := func() int { mu.Lock(); defer mu.Unlock(); return len(added) }
	eventually(t, func() bool { return inf.Len() == n && addedLen() == n }, func() string {
		return fmt.Sprintf("informer has %d pods, handlers heard of %d; want %d", inf.Len(), addedLen(), n)
	})
	mu.Lock()
	defer mu.Unlock()
	for name, k := range added {
		if k != 1 {
			t.Errorf("pod %s added %d times", name, k)
		}
	}
	if len(added) != n {
		t.Errorf("%d pods added, want %d", len(added), n)
	}
	t.Logf("watch cut off %d times", logs.count("cut off"))
}

func TestInformerRelistsAfterCompaction(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s1 := wharftest.Start(t, wharftest.WithDataDir(dir))
	p := newProxy(t, s1.Addr())
	direct := s1.Client()
	createPods(t, direct, newPod("keep", nil, ""), newPod("gone", nil, ""), newPod("changed", nil, ""))

	logs := &logCounter{}
	inf := client.NewInformer(client.New(p.URL()).Pods(), client.InformerOptions{Logger: slog.New(logs)})
	var rec recorder
	inf.AddEventHandler(rec.handler())
	runInformer(t, inf)
	from := len(rec.snapshot())

	// Cut the informer off, change things while it is away, and compact
	// the history it would need to catch up.
	p.block()
	if _, err := direct.Pods().Delete(t.Context(), "default", "gone", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	ch, err := direct.Pods().Get(t.Context(), "default", "changed")
	if err != nil {
		t.Fatal(err)
	}
	ch.Metadata.Labels = map[string]string{"v": "2"}
	if _, err := direct.Pods().Update(t.Context(), ch); err != nil {
		t.Fatal(err)
	}
	createPods(t, direct, newPod("new", nil, ""))
	if err := s1.Store.Compact(t.Context(), s1.Store.Revision()); err != nil {
		t.Fatal(err)
	}
	// A restart empties the API server's in-memory watch cache, so only
	// the compacted store can serve the informer's resume.
	s1.Stop(t)
	s2 := wharftest.Start(t, wharftest.WithDataDir(dir))
	p.retarget(s2.Addr())
	p.unblock()

	eventually(t, func() bool { return len(rec.snapshot()) >= from+3 }, func() string {
		return fmt.Sprintf("events = %q", rec.snapshot())
	})
	got := rec.snapshot()[from:]
	slices.Sort(got)
	if want := []string{"add new", "delete gone", "update changed"}; !slices.Equal(got, want) {
		t.Fatalf("events after re-list = %q, want %q", got, want)
	}
	if got := names(inf.List()); !slices.Equal(got, []string{"changed", "keep", "new"}) {
		t.Fatalf("cache = %q", got)
	}
	if pod, _ := inf.Get("default", "changed"); pod.GetMetadata().GetLabels()["v"] != "2" {
		t.Fatalf("cached 'changed' = %v, want label v=2", pod.GetMetadata())
	}
	if logs.count("listing again") == 0 {
		t.Error("informer did not log a re-list")
	}
	// And it watches again after the re-list.
	createPods(t, s2.Client(), newPod("after", nil, ""))
	rec.waitFor(t, from+3, "add after")
}

func TestInformerBookmarksAdvanceResourceVersion(t *testing.T) {
	t.Parallel()
	s := wharftest.Start(t, wharftest.WithConfig(func(c *server.Config) {
		c.StoreOptions = append(c.StoreOptions, store.WithProgressInterval(50*time.Millisecond))
	}))
	c := s.Client()
	inf := client.NewInformer(c.Pods(), client.InformerOptions{})
	runInformer(t, inf)
	// A write to another kind moves the cluster revision; the pod watch
	// learns of it from a bookmark, so a resume never starts further back.
	ns, err := c.Namespaces().Create(t.Context(), &wharfv1.Namespace{Metadata: &wharfv1.ObjectMeta{Name: "elsewhere"}})
	if err != nil {
		t.Fatal(err)
	}
	want := ns.GetMetadata().GetResourceVersion()
	eventually(t, func() bool { return inf.ResourceVersion() == want }, func() string {
		return fmt.Sprintf("informer resourceVersion = %s, want %s", inf.ResourceVersion(), want)
	})
	if inf.Len() != 0 {
		t.Fatalf("informer has %d pods", inf.Len())
	}
}

func TestInformerResync(t *testing.T) {
	t.Parallel()
	s := wharftest.Start(t)
	c := s.Client()
	createPods(t, c, newPod("a", nil, ""))
	inf := client.NewInformer(c.Pods(), client.InformerOptions{ResyncPeriod: 50 * time.Millisecond})
	var rec recorder
	inf.AddEventHandler(rec.handler())
	runInformer(t, inf)
	rec.waitFor(t, 1, "resync a", "resync a")
}

func TestInformerInvalidSelector(t *testing.T) {
	t.Parallel()
	s := wharftest.Start(t)
	inf := client.NewInformer(s.Client().Pods(), client.InformerOptions{FieldSelector: "spec.noSuchField=x"})
	errc := make(chan error, 1)
	go func() { errc <- inf.Run(t.Context()) }()
	err := inf.WaitForSync(t.Context())
	if err == nil || !strings.Contains(err.Error(), "noSuchField") {
		t.Fatalf("WaitForSync = %v, want the selector's error", err)
	}
	if err := <-errc; !client.IsInvalid(err) {
		t.Fatalf("Run = %v, want InvalidArgument", err)
	}
	if err := inf.Run(t.Context()); err != client.ErrInformerStarted {
		t.Fatalf("second Run = %v, want ErrInformerStarted", err)
	}
}

func TestInformerClusterScoped(t *testing.T) {
	t.Parallel()
	s := wharftest.Start(t)
	c := s.Client()
	node := &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: "node-1", Labels: map[string]string{"gpu": "h100"}}}
	if _, err := c.Nodes().Create(t.Context(), node); err != nil {
		t.Fatal(err)
	}
	inf := client.NewInformer(c.Nodes(), client.InformerOptions{})
	runInformer(t, inf)
	got, ok := inf.Get("", "node-1")
	if !ok || got.GetMetadata().GetLabels()["gpu"] != "h100" {
		t.Fatalf("Get(node-1) = %v, %v", got, ok)
	}
	if got := len(inf.ByIndex(client.NamespaceIndex, "")); got != 1 {
		t.Fatalf("ByIndex(namespace, \"\") has %d nodes, want 1", got)
	}
}

func TestParseLabelSelector(t *testing.T) {
	t.Parallel()
	labels := map[string]string{"app": "web", "tier": "front", "gpu": ""}
	for _, tc := range []struct {
		sel  string
		want bool
	}{
		{"", true},
		{"app=web", true},
		{"app==web", true},
		{"app=db", false},
		{"app!=db", true},
		{"app!=web", false},
		{"missing!=x", true},
		{"app in (web, db)", true},
		{"app notin (web,db)", false},
		{"app in (web),tier=front", true},
		{"gpu", true},
		{"!gpu", false},
		{"!spot", true},
		{"env notin (prod)", true},
		{"env in (prod)", false},
	} {
		sel, err := client.ParseLabelSelector(tc.sel)
		if err != nil {
			t.Errorf("ParseLabelSelector(%q): %v", tc.sel, err)
			continue
		}
		if got := sel.Matches(labels); got != tc.want {
			t.Errorf("%q matches %v = %v, want %v", tc.sel, labels, got, tc.want)
		}
	}
	for _, bad := range []string{"a=b,,c=d", "app between (a,b)", "=x", "a b (x"} {
		if _, err := client.ParseLabelSelector(bad); err == nil {
			t.Errorf("ParseLabelSelector(%q): no error", bad)
		}
	}
}

// logCounter is a slog handler that counts messages by substring.
type logCounter struct {
	mu   sync.Mutex
	msgs []string
}

func (l *logCounter) Enabled(context.Context, slog.Level) bool { return true }
func (l *logCounter) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	l.msgs = append(l.msgs, r.Message)
	l.mu.Unlock()
	return nil
}
func (l *logCounter) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *logCounter) WithGroup(string) slog.Handler      { return l }

func (l *logCounter) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, m := range l.msgs {
		if strings.Contains(m, sub) {
			n++
		}
	}
	return n
}

// proxy forwards TCP connections to a server; block cuts every
// connection and refuses new ones, as a network failure would.
type proxy struct {
	ln      net.Listener
	mu      sync.Mutex
	target  string
	blocked bool
	conns   map[net.Conn]struct{}
	closed  atomic.Bool
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	go p.serve()
	t.Cleanup(func() {
		p.closed.Store(true)
		ln.Close()
		p.block()
	})
	return p
}

func (p *proxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		target, blocked := p.target, p.blocked
		p.mu.Unlock()
		if blocked {
			c.Close()
			continue
		}
		up, err := net.Dial("tcp", target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns[c], p.conns[up] = struct{}{}, struct{}{}
		p.mu.Unlock()
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

func (p *proxy) pipe(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

func (p *proxy) block() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.blocked = true
	for c := range p.conns {
		c.Close()
	}
}

func (p *proxy) unblock() {
	p.mu.Lock()
	p.blocked = false
	p.mu.Unlock()
}

// retarget sends new connections to addr and cuts the old ones.
func (p *proxy) retarget(addr string) {
	p.mu.Lock()
	p.target = addr
	for c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
}
