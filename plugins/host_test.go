package plugins_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"connectrpc.com/connect"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	schedplugins "github.com/wharfhq/wharf/daemon/scheduler/plugins"
	"github.com/wharfhq/wharf/plugins"
	"github.com/wharfhq/wharf/sdk/plugin/abi"
)

func pod(name string, limits bool, image string, ann map[string]string) *wharfv1.Pod {
	c := &wharfv1.Container{Name: "main", Image: image}
	if limits {
		c.Resources = &wharfv1.ResourceRequirements{Limits: map[string]string{"cpu": "1", "memory": "1Gi"}}
	}
	return &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: name, Namespace: "default", Annotations: ann},
		Spec:     &wharfv1.PodSpec{Containers: []*wharfv1.Container{c}},
	}
}

func TestAdmissionValidate(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := context.Background()
	s.install(t, "require-limits", example(t, "requirelimits"), &wharfv1.PluginSpec{
		AdmissionRules: []*wharfv1.AdmissionRule{{Kinds: []string{"pods"}, Operations: []string{"CREATE", "UPDATE"}}},
	})
	_, err := s.Client.Pods().Create(ctx, pod("nolimits", false, "nginx:1.27", nil))
	if connect.CodeOf(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), `admission plugin "require-limits" denied the request: container "main" has no cpu or memory limit`) {
		t.Fatalf("create without limits: %v", err)
	}
	_, err = s.Client.Pods().Create(ctx, pod("latest", true, "nginx:latest", nil))
	if connect.CodeOf(err) != connect.CodePermissionDenied || !strings.Contains(err.Error(), "floats; pin a version") {
		t.Fatalf("create with :latest: %v", err)
	}
	if _, err := s.Client.Pods().Create(ctx, pod("good", true, "nginx:1.27", nil)); err != nil {
		t.Fatalf("create a good pod: %v", err)
	}
	// Other kinds are not the plugin's business (its rules say pods).
	if _, err := s.Client.Namespaces().Create(ctx, &wharfv1.Namespace{Metadata: &wharfv1.ObjectMeta{Name: "team-a"}}); err != nil {
		t.Fatal(err)
	}
	if n := (s.metric(t, "require-limits", "admission.validate", "denied")); n != 2 {
		t.Errorf("denied calls metric = %v; want 2", n)
	}
	// Removal at run time: the same pod is now accepted.
	if _, err := s.Client.Plugins().Delete(ctx, "", "require-limits", clientDelete()); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the plugin to be removed", func() bool {
		_, err := s.Client.Pods().Create(ctx, pod("nolimits", false, "nginx:1.27", nil))
		return err == nil
	})
}

func TestAdmissionMutate(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := context.Background()
	s.install(t, "defaults", example(t, "defaults"), &wharfv1.PluginSpec{Config: config(t, map[string]any{
		"labels":      map[string]any{"team": "platform"},
		"tolerations": []any{map[string]any{"key": "dedicated", "value": "batch", "effect": "NoSchedule"}},
	})})
	p, err := s.Client.Pods().Create(ctx, pod("web", true, "nginx:1.27", nil))
	if err != nil {
		t.Fatal(err)
	}
	if p.GetMetadata().GetLabels()["team"] != "platform" {
		t.Errorf("labels %v; want team=platform added", p.GetMetadata().GetLabels())
	}
	if ts := p.GetSpec().GetTolerations(); len(ts) != 1 || ts[0].GetKey() != "dedicated" || ts[0].GetOperator() != "Equal" {
		t.Errorf("tolerations %v; want the default one", ts)
	}
	// A config the plugin rejects fails the upgrade; the loaded version
	// keeps serving.
	bad := &wharfv1.Plugin{Metadata: &wharfv1.ObjectMeta{Name: "defaults"}, Spec: &wharfv1.PluginSpec{
		Module: p.GetMetadata().GetName(), // replaced below
	}}
	cur, err := s.Client.Plugins().Get(ctx, "", "defaults")
	if err != nil {
		t.Fatal(err)
	}
	bad.Spec = cur.GetSpec()
	bad.Spec.Config = config(t, map[string]any{"tolerations": []any{map[string]any{"key": "x", "operator": "Sometimes"}}})
	if _, err := s.Client.Plugins().Apply(ctx, bad); err != nil {
		t.Fatal(err)
	}
	failed := s.waitPlugin(t, "defaults", func(p *wharfv1.Plugin) bool { return p.GetStatus().GetPhase() == "Failed" })
	if msg := failed.GetStatus().GetMessage(); !strings.Contains(msg, `operator "Sometimes": want Equal or Exists`) || !strings.Contains(msg, "keeps serving") {
		t.Errorf("status message %q", msg)
	}
	p, err = s.Client.Pods().Create(ctx, pod("web2", true, "nginx:1.27", nil))
	if err != nil || p.GetMetadata().GetLabels()["team"] != "platform" {
		t.Errorf("after a failed upgrade the old version should still serve: %v %v", p.GetMetadata().GetLabels(), err)
	}
}

func TestScheduling(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := context.Background()
	s.install(t, "gpu-score", example(t, "gpuscore"), &wharfv1.PluginSpec{ScoreWeight: 5})
	gpuNode := func(name, model string, gpus int) *wharfv1.Node {
		n := &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: name}, Status: &wharfv1.NodeStatus{
			Allocatable: map[string]string{"cpu": "32", "memory": "256Gi", "pods": "110", "nvidia.com/gpu": fmt.Sprint(gpus)},
		}}
		for i := range gpus {
			n.Status.Gpus = append(n.Status.Gpus, &wharfv1.GPUDevice{Index: int32(i), Model: model, MemoryMib: 81920})
		}
		return n
	}
	for _, n := range []*wharfv1.Node{
		gpuNode("h100-a", "NVIDIA H100 80GB HBM3", 8),
		gpuNode("h100-b", "NVIDIA H100 80GB HBM3", 8),
		gpuNode("a100-a", "NVIDIA A100-SXM4-80GB", 8),
		gpuNode("l4-a", "NVIDIA L4", 4),
		{Metadata: &wharfv1.ObjectMeta{Name: "cpu-a"}, Status: &wharfv1.NodeStatus{Allocatable: map[string]string{"cpu": "64", "memory": "256Gi"}}},
	} {
		if _, err := s.Client.Nodes().Create(ctx, n); err != nil {
			t.Fatal(err)
		}
	}
	// h100-b already runs a pod with 4 GPUs: bin-packing prefers it.
	busy := pod("busy", true, "trainer:1", nil)
	busy.Spec.NodeName = "h100-b"
	busy.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"] = "4"
	if _, err := s.Client.Pods().Create(ctx, busy); err != nil {
		t.Fatal(err)
	}
	// The scheduler's side: a framework built from the host's profile and
	// registry (here a profile of the plugin alone, so that its verdicts
	// are not hidden by the built-in GPU filter), over a snapshot of the
	// nodes and pods read through the API.
	reg := schedplugins.NewRegistry()
	if err := reg.Merge(s.Host.SchedulerRegistry()); err != nil {
		t.Fatal(err)
	}
	prof := s.Host.SchedulerProfile(framework.Profile{SchedulerName: "wasm", PercentageOfNodesToScore: 100})
	if len(prof.Filter) != 1 || len(prof.Score) != 1 || prof.Score[0].Weight != 5 {
		t.Fatalf("profile %+v; want gpu-score as filter and scorer (weight 5)", prof)
	}
	fw, err := framework.New(prof, reg)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := s.Client.Nodes().List(ctx, clientList())
	if err != nil {
		t.Fatal(err)
	}
	pods, err := s.Client.Pods().List(ctx, clientList())
	if err != nil {
		t.Fatal(err)
	}
	snap, err := framework.NewSnapshot(nodes.Items, pods.Items)
	if err != nil {
		t.Fatal(err)
	}
	p := pod("train", true, "trainer:1", map[string]string{"gpu.wharf.dev/models": "NVIDIA H100 80GB HBM3"})
	p.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"] = "2"
	pi := framework.MustNewPodInfo(p)
	res, err := fw.Explain(ctx, nil, pi, snap)
	if err != nil {
		t.Fatal(err)
	}
	if res.Node == nil || res.Node.Name != "h100-b" {
		t.Fatalf("chosen node %v; want h100-b (same model, fuller)", res.Node)
	}
	// The plugin's verdicts and scores are part of the explanation.
	st, ok := res.Diagnosis.NodeStatus("a100-a")
	if !ok || st.Plugin() != "gpu-score" || !strings.Contains(st.Message(), "0 free GPU(s) of the wanted model") {
		t.Errorf("a100-a: %v (%v); want rejected by gpu-score", st, ok)
	}
	var sawScore bool
	for _, ns := range res.Diagnosis.Scores() {
		for _, ps := range ns.Plugins {
			if ps.Plugin == "gpu-score" && ns.Node == "h100-b" && ps.Score > 0 {
				sawScore = true
			}
		}
	}
	if !sawScore {
		t.Errorf("no score from gpu-score for h100-b in %+v", res.Diagnosis.Scores())
	}
	// The same through the aggregate plugin a scheduler built at start
	// uses (plugins installed later join it).
	agg := s.Host.SchedulerAggregate()
	if err := agg.Merge(schedplugins.NewRegistry()); err != nil {
		t.Fatal(err)
	}
	cfg := plugins.EnableAggregate(nil, 5)
	fws, err := cfg.Frameworks(agg)
	if err != nil {
		t.Fatal(err)
	}
	res, err = fws[framework.DefaultSchedulerName].Explain(ctx, nil, pi, snap)
	if err != nil || res.Node == nil || res.Node.Name != "h100-b" {
		t.Fatalf("through the aggregate: %v %v; want h100-b", res.Node, err)
	}
	// A pod without GPUs is not the plugin's business (its metadata's
	// podResources): it goes anywhere, and the module is not called.
	calls := func() float64 {
		return s.metric(t, "gpu-score", pluginv1.PointSchedulerFilter, "ok") + s.metric(t, "gpu-score", pluginv1.PointSchedulerScore, "ok")
	}
	before := calls()
	if before == 0 {
		t.Fatal("no calls counted for the GPU pod")
	}
	res, err = fw.Schedule(ctx, nil, framework.MustNewPodInfo(pod("web", true, "nginx:1", nil)), snap)
	if err != nil || res.Node == nil {
		t.Fatalf("plain pod: %v %v", res.Node, err)
	}
	if after := calls(); after != before {
		t.Errorf("%v calls into the module for a pod without GPUs; want none", after-before)
	}
}

func TestController(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := context.Background()
	s.install(t, "pod-ttl", example(t, "podttl"), &wharfv1.PluginSpec{Config: config(t, map[string]any{"ttlSeconds": 0})})
	p, err := s.Client.Pods().Create(ctx, pod("job", true, "busybox:1", nil))
	if err != nil {
		t.Fatal(err)
	}
	running, err := s.Client.Pods().Create(ctx, pod("server", true, "busybox:1", nil))
	if err != nil {
		t.Fatal(err)
	}
	p.Status = &wharfv1.PodStatus{Phase: "Succeeded"}
	if _, err := s.Client.Pods().UpdateStatus(ctx, p); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the finished pod to be deleted", func() bool {
		_, err := s.Client.Pods().Get(ctx, "default", "job")
		return connect.CodeOf(err) == connect.CodeNotFound
	})
	if _, err := s.Client.Pods().Get(ctx, "default", running.GetMetadata().GetName()); err != nil {
		t.Errorf("the running pod should stay: %v", err)
	}
}

// TestHostileAdmission: a plugin that hangs, crashes or fails is contained;
// failurePolicy decides whether requests pass; the failure is visible as
// a metric and an event; the server keeps serving.
func TestHostileAdmission(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := context.Background()
	mod := hostile(t)
	s.install(t, "hostile", mod, &wharfv1.PluginSpec{FailurePolicy: "Ignore", Timeout: "100ms"})
	for _, mode := range []string{"loop", "panic", "exit"} {
		if _, err := s.Client.Pods().Create(ctx, pod("ignored-"+mode, true, "nginx:1", map[string]string{"hostile": mode})); err != nil {
			t.Errorf("%s with failurePolicy Ignore: %v", mode, err)
		}
	}
	if n := (s.metric(t, "hostile", "admission.validate", "timeout")); n != 1 {
		t.Errorf("timeouts metric = %v", n)
	}
	cur, _ := s.Client.Plugins().Get(ctx, "", "hostile")
	cur.Spec.FailurePolicy = "Fail"
	if _, err := s.Client.Plugins().Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "failurePolicy Fail to apply", func() bool {
		_, err := s.Client.Pods().Create(ctx, pod("refused", true, "nginx:1", map[string]string{"hostile": "panic"}))
		return connect.CodeOf(err) == connect.CodeUnavailable && strings.Contains(err.Error(), `admission plugin "hostile" failed`)
	})
	if _, err := s.Client.Pods().Create(ctx, pod("fine", true, "nginx:1", nil)); err != nil {
		t.Errorf("a request the plugin handles well: %v", err)
	}
	waitFor(t, "a warning event about the plugin", func() bool {
		evs, err := s.Client.Events().List(ctx, clientListNS("default"))
		if err != nil {
			return false
		}
		for _, ev := range evs.Items {
			if ev.GetInvolvedObject().GetName() == "hostile" && ev.GetReason() == "CallFailed" {
				return true
			}
		}
		return false
	})
}

// TestUpgradeUnderLoad: upgrading a validator while requests flow fails
// none of them and never lets a bad object through.
func TestUpgradeUnderLoad(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := context.Background()
	v1 := example(t, "requirelimits")
	// v2: the same code under a new version, via the metadata section.
	md := `{"name":"require-limits","version":"2.0.0","abiVersion":3,"extensionPoints":["admission.validate"],"capabilities":["log"]}`
	v2, err := abi.AppendCustomSection(v1, abi.SectionMetadata, []byte(md))
	if err != nil {
		t.Fatal(err)
	}
	// A generous deadline: this test is about the swap, and a loaded test
	// machine can stall a thread for longer than the default 100ms.
	spec := func() *wharfv1.PluginSpec { return &wharfv1.PluginSpec{Timeout: "5s"} }
	s.install(t, "require-limits", v1, spec())
	var (
		stop       atomic.Bool
		wg         sync.WaitGroup
		good, bad  atomic.Int64
		unexpected = make(chan error, 100)
	)
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				_, err := s.Client.Pods().Create(ctx, pod(fmt.Sprintf("ok-%d-%d", w, i), true, "nginx:1.27", nil))
				if err != nil {
					unexpected <- fmt.Errorf("good pod refused: %w", err)
					return
				}
				good.Add(1)
				_, err = s.Client.Pods().Create(ctx, pod(fmt.Sprintf("bad-%d-%d", w, i), false, "nginx:1.27", nil))
				if connect.CodeOf(err) != connect.CodePermissionDenied {
					unexpected <- fmt.Errorf("bad pod: %v", err)
					return
				}
				bad.Add(1)
			}
		}()
	}
	for i := range 4 {
		mod, version := v2, "2.0.0"
		if i%2 == 1 {
			mod, version = v1, "1.0.0"
		}
		p := s.install(t, "require-limits", mod, spec())
		if got := p.GetStatus().GetPluginVersion(); got != version {
			t.Errorf("upgrade %d: serving %s; want %s", i, got, version)
		}
		time.Sleep(100 * time.Millisecond)
	}
	stop.Store(true)
	wg.Wait()
	close(unexpected)
	for err := range unexpected {
		t.Error(err)
	}
	if good.Load() == 0 || bad.Load() == 0 {
		t.Errorf("no load: %d good, %d bad", good.Load(), bad.Load())
	}
	t.Logf("%d good and %d bad pods during 4 upgrades", good.Load(), bad.Load())
}

func TestUploadRefusesBadModules(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := context.Background()
	_, err := s.Modules.Upload(ctx, connectRequest(&wharfv1.UploadPluginModuleRequest{Module: []byte("\x00asm\x01\x00\x00\x00")}))
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "not a Wharf plugin") {
		t.Errorf("upload of an empty module: %v", err)
	}
	// A Plugin naming a module never uploaded fails with a clear status.
	_, err = s.Client.Plugins().Create(ctx, &wharfv1.Plugin{Metadata: &wharfv1.ObjectMeta{Name: "ghost"},
		Spec: &wharfv1.PluginSpec{Module: "sha256:" + strings.Repeat("ab", 32)}})
	if err != nil {
		t.Fatal(err)
	}
	p := s.waitPlugin(t, "ghost", func(p *wharfv1.Plugin) bool { return p.GetStatus().GetPhase() == "Failed" })
	if !strings.Contains(p.GetStatus().GetMessage(), "was never uploaded") {
		t.Errorf("status %q", p.GetStatus().GetMessage())
	}
	_, err = s.Client.Plugins().Create(ctx, &wharfv1.Plugin{Metadata: &wharfv1.ObjectMeta{Name: "bad"},
		Spec: &wharfv1.PluginSpec{Module: "md5:xyz", FailurePolicy: "Sometimes", Timeout: "forever"}})
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "spec.module") || !strings.Contains(err.Error(), "spec.failurePolicy") || !strings.Contains(err.Error(), "spec.timeout") {
		t.Errorf("invalid plugin: %v", err)
	}
}

type nodeSource struct {
	nodes []*framework.NodeInfo
	calls atomic.Int64
}

func (s *nodeSource) NodeInfos(context.Context) ([]*framework.NodeInfo, error) {
	s.calls.Add(1)
	out := make([]*framework.NodeInfo, len(s.nodes))
	for i, n := range s.nodes {
		out[i] = n.Clone()
	}
	return out, nil
}

// TestSchedulingPluginGetsNodesBeforeServing: with the scheduler's nodes
// at hand, a scheduling plugin's instance holds every node when the
// plugin turns Ready, before any scheduling call; and an upgrade to a new
// module gets them again before it serves.
func TestSchedulingPluginGetsNodesBeforeServing(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	src := &nodeSource{}
	for i, zone := range []string{"zone-a", "zone-b", "zone-c"} {
		ni, err := framework.NewNodeInfo(&wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: fmt.Sprintf("n%d", i),
			Labels: map[string]string{"topology.kubernetes.io/zone": zone}}})
		if err != nil {
			t.Fatal(err)
		}
		ni.ID = uint32(i)
		src.nodes = append(src.nodes, ni)
	}
	s.Host.SetNodeSource(src)
	cfg := config(t, map[string]any{"zones": []any{"zone-b", "zone-a"}})
	s.install(t, "zones", example(t, "preferzone"), &wharfv1.PluginSpec{Config: cfg})
	st, ok := plugins.ModuleStats(s.Host, "zones")
	if !ok || st.NodeUpdates == 0 || src.calls.Load() != 1 {
		t.Fatalf("stats %+v, %d node listings; want the nodes sent before the plugin is Ready", st, src.calls.Load())
	}
	// It scores the scheduler's own NodeInfos by the nodes it holds.
	pi, err := framework.NewPodInfo(pod("web", true, "nginx:1.27", nil))
	if err != nil {
		t.Fatal(err)
	}
	scores := make([]int64, len(src.nodes))
	if status := s.Host.SchedulerPlugin("zones").(framework.ScorePlugin).Score(context.Background(), nil, pi, src.nodes, scores); !status.IsSuccess() {
		t.Fatal(status)
	}
	if scores[1] <= scores[0] || scores[0] <= scores[2] {
		t.Errorf("scores %v; want zone-b best, then zone-a", scores)
	}
	// An upgrade (another module) lists the nodes again for the new one.
	s.install(t, "zones", example(t, "gpuscore"), &wharfv1.PluginSpec{})
	if st, _ := plugins.ModuleStats(s.Host, "zones"); st.NodeUpdates == 0 || src.calls.Load() != 2 {
		t.Errorf("after the upgrade: stats %+v, %d node listings", st, src.calls.Load())
	}
}

// TestAggregateScore: the aggregate plugin's score is the loaded scorers'
// mean weighted by their scoreWeight; with one scorer, its scores.
func TestAggregateScore(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := context.Background()
	var nodes []*framework.NodeInfo
	for i, zone := range []string{"zone-a", "zone-b", "zone-c", "zone-a"} {
		n := &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: fmt.Sprintf("n%d", i), Labels: map[string]string{"topology.kubernetes.io/zone": zone}},
			Status: &wharfv1.NodeStatus{Allocatable: map[string]string{"cpu": "32", "memory": "256Gi", "nvidia.com/gpu": "4"}}}
		for g := range 4 {
			n.Status.Gpus = append(n.Status.Gpus, &wharfv1.GPUDevice{Index: int32(g), Model: "NVIDIA L4", MemoryMib: int64(24576 * (i + 1))})
		}
		ni, err := framework.NewNodeInfo(n)
		if err != nil {
			t.Fatal(err)
		}
		nodes = append(nodes, ni)
	}
	p := pod("train", true, "trainer:1", nil)
	p.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"] = "1"
	pi := framework.MustNewPodInfo(p)
	agg, err := s.Host.SchedulerAggregate()[plugins.AggregateName](framework.Args{})
	if err != nil {
		t.Fatal(err)
	}
	score := func(sp framework.Plugin) []int64 {
		t.Helper()
		out := make([]int64, len(nodes))
		for i := range out {
			out[i] = -1 // overwritten
		}
		if st := sp.(framework.ScorePlugin).Score(ctx, framework.NewCycleState(), pi, nodes, out); !st.IsSuccess() {
			t.Fatalf("%s: %v", sp.Name(), st)
		}
		return out
	}

	s.install(t, "gpu", example(t, "gpuscore"), &wharfv1.PluginSpec{ScoreWeight: 3})
	gpu := score(s.Host.SchedulerPlugin("gpu"))
	if got := score(agg); !slices.Equal(got, gpu) {
		t.Errorf("one scorer: aggregate %v, want its scores %v", got, gpu)
	}
	s.install(t, "zones", example(t, "preferzone"), &wharfv1.PluginSpec{ScoreWeight: 1,
		Config: config(t, map[string]any{"zones": []any{"zone-b", "zone-a"}})})
	zones := score(s.Host.SchedulerPlugin("zones"))
	want := make([]int64, len(nodes))
	for i := range want {
		want[i] = (3*gpu[i] + zones[i]) / 4
	}
	if got := score(agg); !slices.Equal(got, want) || slices.Equal(gpu, zones) {
		t.Errorf("aggregate %v; want (3 x gpu %v + zones %v) / 4 = %v", got, gpu, zones, want)
	}
	// The plugins' calls for one pod share one encoding of it.
	enc := plugins.EncodedPod(s.Host, pi)
	if enc == nil {
		t.Fatal("the host kept no encoding of the pod it scored")
	}
	score(agg)
	if plugins.EncodedPod(s.Host, pi) != enc {
		t.Error("the pod was encoded again for the same PodInfo")
	}
}
