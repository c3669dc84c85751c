package gpu_test

import (
	"errors"
	"maps"
	"strings"
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/gpu"
)

func TestNodeFacts(t *testing.T) {
	t.Parallel()
	if got := gpu.Capacity(h100s); !maps.Equal(got, map[string]string{"nvidia.com/gpu": "3"}) {
		t.Errorf("Capacity = %v", got)
	}
	want := map[string]string{
		"nvidia.com/gpu.product": "NVIDIA-H100-80GB-HBM3",
		"nvidia.com/gpu.memory":  "81559",
		"nvidia.com/gpu.count":   "3",
	}
	if got := gpu.Labels(h100s); !maps.Equal(got, want) {
		t.Errorf("Labels = %v, want %v", got, want)
	}
	if gpu.Capacity(nil) != nil || gpu.Labels(nil) != nil {
		t.Error("a node without GPUs got GPU capacity or labels")
	}
	for in, want := range map[string]string{
		"Tesla T4":                    "Tesla-T4",
		"NVIDIA A100-SXM4-40GB":       "NVIDIA-A100-SXM4-40GB",
		" GeForce RTX 4090 (Laptop) ": "GeForce-RTX-4090--Laptop",
		strings.Repeat("a", 70):       strings.Repeat("a", 63),
	} {
		if got := gpu.LabelValue(in); got != want {
			t.Errorf("LabelValue(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRequest(t *testing.T) {
	t.Parallel()
	ctr := func(limits, requests map[string]string) *wharfv1.Container {
		return &wharfv1.Container{Name: "c", Resources: &wharfv1.ResourceRequirements{Limits: limits, Requests: requests}}
	}
	for _, tc := range []struct {
		c    *wharfv1.Container
		want int
		err  bool
	}{
		{&wharfv1.Container{}, 0, false},
		{ctr(map[string]string{"nvidia.com/gpu": "2"}, nil), 2, false},
		{ctr(nil, map[string]string{"nvidia.com/gpu": "1"}), 1, false},
		{ctr(map[string]string{"nvidia.com/gpu": "500m"}, nil), 0, true},
	} {
		n, err := gpu.Request(tc.c)
		if n != tc.want || (err != nil) != tc.err || (err != nil && !errors.Is(err, gpu.ErrInvalidRequest)) {
			t.Errorf("Request(%v) = %d, %v", tc.c.GetResources(), n, err)
		}
	}
}
