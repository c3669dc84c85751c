package main

import (
	"fmt"
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/plugins/examples/gpuscore/scorer"
	"github.com/wharfhq/wharf/sdk/plugin/plugintest"
)

func node(name, model string, gpus int) *wharfv1.Node {
	n := &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: name}, Status: &wharfv1.NodeStatus{
		Allocatable: map[string]string{"cpu": "32", "memory": "256Gi", "nvidia.com/gpu": fmt.Sprint(gpus)},
	}}
	for i := range gpus {
		n.Status.Gpus = append(n.Status.Gpus, &wharfv1.GPUDevice{Index: int32(i), Model: model, MemoryMib: 81920})
	}
	return n
}

func gpuPod(gpus int, models string) *wharfv1.Pod {
	p := &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: "train", Namespace: "default"},
		Spec: &wharfv1.PodSpec{Containers: []*wharfv1.Container{{Name: "main", Image: "trainer:1",
			Resources: &wharfv1.ResourceRequirements{Limits: map[string]string{"nvidia.com/gpu": fmt.Sprint(gpus)}}}}},
	}
	if models != "" {
		p.Metadata.Annotations = map[string]string{scorer.AnnotationModels: models}
	}
	return p
}

// The same checks in-process and on the built module.
func plugins(t *testing.T) map[string]*plugintest.Plugin {
	return map[string]*plugintest.Plugin{
		"in-process": plugintest.New(t, scorer.Info, scorer.New()),
		"wasm":       plugintest.Load(t, plugintest.Build(t, ".")),
	}
}

func TestGPUScore(t *testing.T) {
	for name, p := range plugins(t) {
		t.Run(name, func(t *testing.T) {
			p.SetNodesWithUsage(map[string]plugintest.Usage{
				"h100-busy": {Requested: map[string]int64{"nvidia.com/gpu": 6}, AllocatedGPUs: []int32{0, 1, 2, 3, 4, 5}},
			},
				node("h100-free", "NVIDIA H100 80GB HBM3", 8),
				node("h100-busy", "NVIDIA H100 80GB HBM3", 8),
				node("a100", "NVIDIA A100-SXM4-80GB", 8),
				&wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: "cpu"}},
			)
			pod := gpuPod(2, "nvidia h100 80gb hbm3")
			verdicts, err := p.Filter(pod)
			if err != nil {
				t.Fatal(err)
			}
			want := []bool{false, false, true, true}
			for i, v := range verdicts {
				if v.Rejected != want[i] {
					t.Errorf("%s: rejected=%v (%v); want %v", v.Node, v.Rejected, v.Reasons, want[i])
				}
			}
			scores, skip, err := p.Score(pod)
			if err != nil || skip {
				t.Fatal(err, skip)
			}
			if !(scores[1] > scores[0] && scores[0] > scores[2]) {
				t.Errorf("scores %v; want the fuller H100 first, then the free one, then the A100", scores)
			}
			if _, skip, _ := p.Score(gpuPod(0, "")); !skip {
				t.Error("a pod without GPUs should be skipped")
			}
			if err := p.Configure(`{"modelWeight": 90, "binpackWeight": 20}`); err == nil {
				t.Error("weights over 100 accepted")
			}
			if err := p.Configure(`{"modelWeight": 50, "binpackWeight": 50}`); err != nil {
				t.Error(err)
			}
		})
	}
}
