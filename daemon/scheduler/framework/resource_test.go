package framework_test

import (
	"maps"
	"testing"

	"github.com/wharfhq/wharf/daemon/scheduler/framework"
)

func TestResourceMap(t *testing.T) {
	r, err := framework.ParseResourceList(map[string]string{
		"cpu": "1500m", "memory": "2Gi", "nvidia.com/gpu": "2", "pods": "110", "example.com/fpga": "3", "ephemeral-storage": "0",
	}, "status.allocatable")
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"cpu": 1500, "memory": 2 << 30, "nvidia.com/gpu": 2, "pods": 110, "example.com/fpga": 3, "ephemeral-storage": 0}
	if got := r.Map(); !maps.Equal(got, want) {
		t.Errorf("Map() = %v; want %v", got, want)
	}
	if got := (&framework.Resource{}).Map(); len(got) != 0 {
		t.Errorf("an empty Resource maps to %v; want zero cpu, memory, GPUs and pods left out", got)
	}
}
