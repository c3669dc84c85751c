package bench

import (
	"context"
	"testing"
)

// TestScheduleBenchBindsEveryPod runs the scheduler benchmark small: every
// pod is bound, and GPU pods leave GPU nodes full or empty.
func TestScheduleBenchBindsEveryPod(t *testing.T) {
	res, err := Schedule(context.Background(), ScheduleConfig{
		Nodes: 100, Pods: 400, GPUNodes: 20, GPUPods: 80, CreateClients: 8, DataDir: t.TempDir(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if res.Unscheduled != 0 || res.PodsPerS <= 0 || res.BindCalls == 0 {
		t.Fatalf("%+v", res)
	}
	if res.GPUOccupancy == nil || *res.GPUOccupancy < 0.8 {
		t.Errorf("gpu occupancy %v", res.GPUOccupancy)
	}
	t.Logf("%+v (gpu occupancy %.3f)", res, *res.GPUOccupancy)
}
