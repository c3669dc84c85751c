package bench

import (
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/wharfhq/wharf/sdk/plugin/plugintest"
)

// TestScheduleWASMBindsEveryPod runs the WebAssembly scorer benchmark
// small: both runs bind every pod, and in the second the score calls of
// the GPU pods reached the module, which scored them, and no other (the
// scorer's metadata names nvidia.com/gpu in podResources).
func TestScheduleWASMBindsEveryPod(t *testing.T) {
	module, err := os.ReadFile(plugintest.Build(t, "github.com/wharfhq/wharf/plugins/examples/gpuscore"))
	if err != nil {
		t.Fatal(err)
	}
	res, err := ScheduleWASM(context.Background(), ScheduleWASMConfig{
		ScheduleConfig: ScheduleConfig{Nodes: 100, Pods: 400, GPUNodes: 20, GPUPods: 80, CreateClients: 8, DataDir: t.TempDir()},
		Module:         module,
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, r := range map[string]ScheduleResult{"native": res.Native, "wasm": res.WASM} {
		if r.Unscheduled != 0 || r.PodsPerS <= 0 {
			t.Errorf("%s run: %+v", name, r)
		}
	}
	if res.NativePodsPerS <= 0 || res.WASMPodsPerS <= 0 || res.Ratio <= 0 {
		t.Errorf("pods/s native %v, wasm %v, ratio %v", res.NativePodsPerS, res.WASMPodsPerS, res.Ratio)
	}
	if res.ScoreCalls == 0 || res.ScoredCalls == 0 || res.ScoredCalls > res.ScoreCalls || res.CandidatesPerScoredCall <= 1 {
		t.Errorf("%d score calls, %d scored, %.1f candidates per scored call", res.ScoreCalls, res.ScoredCalls, res.CandidatesPerScoredCall)
	}
	if ok := res.WASMCalls["ok"]; ok != int64(res.ScoredCalls) || len(res.WASMCalls) != 1 {
		t.Errorf("the module's score calls by outcome %v; want %d ok (the GPU pods' of %d)", res.WASMCalls, res.ScoredCalls, res.ScoreCalls)
	}
	if res.WASMScoreUSPerGPUPod <= 0 || res.NativeScoreUSPerGPUPod <= 0 {
		t.Errorf("score call %v us (wasm), %v us (native)", res.WASMScoreUSPerGPUPod, res.NativeScoreUSPerGPUPod)
	}
	t.Logf("%+v", res)
}

// TestMedianRound: of several rounds, the one with the median ratio,
// with every round's ratio in run order.
func TestMedianRound(t *testing.T) {
	rounds := []ScheduleWASMResult{{Ratio: 0.6, WASMPodsPerS: 1}, {Ratio: 0.4, WASMPodsPerS: 2}, {Ratio: 0.5, WASMPodsPerS: 3}}
	got := MedianRound(rounds)
	if got.WASMPodsPerS != 3 || got.Rounds != 3 || fmt.Sprint(got.RoundRatios) != "[0.6 0.4 0.5]" {
		t.Errorf("median round %+v; want the third (ratio 0.5), rounds 3, ratios [0.6 0.4 0.5]", got)
	}
	if one := MedianRound(rounds[:1]); one.WASMPodsPerS != 1 || one.Rounds != 0 || one.RoundRatios != nil {
		t.Errorf("one round: %+v; want it as it is", one)
	}
}
