package plugins_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/apiserver"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	"github.com/wharfhq/wharf/plugins"
)

// BenchmarkAdmission is the latency one admission plugin adds to a create:
// the example validator and mutator called as the API server calls them,
// for a typical pod. The last line is JSON with p50 and p99 per plugin.
func BenchmarkAdmission(b *testing.B) {
	s := startServer(b)
	s.install(b, "require-limits", example(b, "requirelimits"), nil)
	s.install(b, "defaults", example(b, "defaults"), &wharfv1.PluginSpec{Config: config(b, map[string]any{
		"labels": map[string]any{"team": "platform"},
	})})
	adm := s.Host.Admission()
	ctx := context.Background()
	newReq := func() *apiserver.AdmissionRequest {
		p := pod("web", true, "nginx:1.27", map[string]string{"owner": "team-a"})
		p.Metadata.Labels = map[string]string{"app": "web", "tier": "frontend"}
		return &apiserver.AdmissionRequest{Operation: apiserver.OpCreate, Kind: "Pod", Namespace: "default", Name: "web", Object: p}
	}
	result := map[string]float64{}
	for _, point := range []string{"validate", "mutate"} {
		n := max(b.N, 2000)
		lat := make([]time.Duration, 0, n)
		for i := range n + 100 {
			req := newReq()
			start := time.Now()
			var err error
			if point == "validate" {
				err = adm.Validate(ctx, req)
			} else {
				err = adm.Admit(ctx, req)
			}
			if err != nil {
				b.Fatal(err)
			}
			if i >= 100 { // warm-up
				lat = append(lat, time.Since(start))
			}
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		result[point+"_p50_us"] = float64(lat[len(lat)/2].Nanoseconds()) / 1e3
		result[point+"_p99_us"] = float64(lat[len(lat)*99/100].Nanoseconds()) / 1e3
	}
	line, _ := json.Marshal(result)
	fmt.Println(string(line))
}

// BenchmarkSchedulerScore is a GPU pod's score call as the scheduler
// makes it through the aggregate plugin, with the example GPU scorer: a
// new pod each time, 750 candidate nodes of 5,000, and the last pod placed
// on one of them (its accounting rides in the call). It is the host's
// share that it shows (allocs/op are the host's): the pod's encoding,
// mapping candidates to ids, the request and the response.
func BenchmarkSchedulerScore(b *testing.B) {
	s := startServer(b)
	src := &nodeSource{}
	for i := range 5000 {
		n := &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: fmt.Sprintf("gpu-%04d", i), Uid: fmt.Sprint("u", i), ResourceVersion: "1"},
			Status: &wharfv1.NodeStatus{Allocatable: map[string]string{"cpu": "64", "memory": "512Gi", "nvidia.com/gpu": "8"}}}
		for g := range 8 {
			n.Status.Gpus = append(n.Status.Gpus, &wharfv1.GPUDevice{Index: int32(g), Model: "NVIDIA A100-SXM4-40GB", MemoryMib: 40960})
		}
		ni, err := framework.NewNodeInfo(n)
		if err != nil {
			b.Fatal(err)
		}
		ni.ID = uint32(i)
		src.nodes = append(src.nodes, ni)
	}
	s.Host.SetNodeSource(src)
	s.install(b, "gpu", example(b, "gpuscore"), nil)
	agg, err := s.Host.SchedulerAggregate()[plugins.AggregateName](framework.Args{})
	if err != nil {
		b.Fatal(err)
	}
	score := agg.(framework.ScorePlugin)
	pods := make([]*framework.PodInfo, 64)
	for i := range pods {
		p := pod(fmt.Sprintf("train-%d", i), true, "trainer:1", map[string]string{"gpu.wharf.dev/models": "NVIDIA A100-SXM4-40GB"})
		p.Metadata.Uid = fmt.Sprint("pod-", i)
		p.Spec.Containers[0].Resources.Limits["nvidia.com/gpu"] = "1"
		pods[i] = framework.MustNewPodInfo(p)
	}
	scores := make([]int64, 750)
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		start := (i * 131) % (len(src.nodes) - 750)
		cand := src.nodes[start : start+750]
		pi := pods[i%len(pods)]
		if st := score.Score(ctx, nil, pi, cand, scores); !st.IsSuccess() {
			b.Fatal(st)
		}
		b.StopTimer()
		n := cand[i%750]
		if len(n.Pods) > 0 {
			n.RemovePod(n.Pods[0])
		} else {
			n.AddPod(pi)
		}
		b.StartTimer()
	}
}
