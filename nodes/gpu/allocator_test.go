package gpu_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/gpu"
)

// eightGPUs: indexes 0-3 on NUMA node 0, 4-7 on node 1.
func eightGPUs() []*wharfv1.GPUDevice {
	var out []*wharfv1.GPUDevice
	for i := range 8 {
		out = append(out, &wharfv1.GPUDevice{Index: int32(i), Uuid: fmt.Sprintf("GPU-%d", i), NumaNode: int32(i / 4)})
	}
	return out
}

func indexes(ds []*wharfv1.GPUDevice) []int32 {
	var out []int32
	for _, d := range ds {
		out = append(out, d.GetIndex())
	}
	return out
}

func numaNodes(ds []*wharfv1.GPUDevice) []int32 {
	var out []int32
	for _, d := range ds {
		if !slices.Contains(out, d.GetNumaNode()) {
			out = append(out, d.GetNumaNode())
		}
	}
	return out
}

func TestAllocatorNUMA(t *testing.T) {
	t.Parallel()
	a, err := gpu.NewAllocator(t.TempDir(), eightGPUs())
	if err != nil {
		t.Fatal(err)
	}
	alloc := func(pod string, n int) []*wharfv1.GPUDevice {
		t.Helper()
		ds, err := a.Allocate(pod, "c", n)
		if err != nil {
			t.Fatalf("Allocate(%s, %d): %v", pod, n, err)
		}
		if len(ds) != n {
			t.Fatalf("Allocate(%s, %d) gave %d", pod, n, len(ds))
		}
		return ds
	}
	// 3 on node 0 (ties go to the lower node), leaving one there.
	if got := alloc("a", 3); !slices.Equal(indexes(got), []int32{0, 1, 2}) {
		t.Errorf("a got %v", indexes(got))
	}
	// 2 do not fit on node 0 any more: node 1.
	if got := alloc("b", 2); !slices.Equal(numaNodes(got), []int32{1}) {
		t.Errorf("b spans NUMA nodes %v", numaNodes(got))
	}
	// 1 goes to the node with the fewest free that fits (node 0's last),
	// keeping node 1's pair whole.
	if got := alloc("c", 1); !slices.Equal(indexes(got), []int32{3}) {
		t.Errorf("c got %v", indexes(got))
	}
	if got := alloc("d", 2); !slices.Equal(numaNodes(got), []int32{1}) {
		t.Errorf("d spans NUMA nodes %v", numaNodes(got))
	}
	if _, err := a.Allocate("e", "c", 1); !errors.Is(err, gpu.ErrInsufficient) {
		t.Errorf("ninth GPU: %v, want ErrInsufficient", err)
	}
	// Unique devices across pods.
	seen := map[string]string{}
	for pod, ctrs := range a.Allocations() {
		for _, id := range ctrs["c"] {
			if other, dup := seen[id]; dup {
				t.Errorf("%s given to %s and %s", id, other, pod)
			}
			seen[id] = pod
		}
	}

	t.Run("spans_when_it_must", func(t *testing.T) {
		b, _ := gpu.NewAllocator(t.TempDir(), eightGPUs())
		b.Allocate("x", "c", 2) // node 0: 2 left, node 1: 4
		b.Allocate("y", "c", 3) // node 1: 1 left
		got, err := b.Allocate("z", "c", 3)
		if err != nil {
			t.Fatal(err)
		}
		if len(numaNodes(got)) != 2 {
			t.Errorf("z spans %v, want both nodes", numaNodes(got))
		}
	})
}

func TestAllocatorIdempotentAndRelease(t *testing.T) {
	t.Parallel()
	a, _ := gpu.NewAllocator(t.TempDir(), eightGPUs())
	first, _ := a.Allocate("p", "train", 2)
	again, err := a.Allocate("p", "train", 2)
	if err != nil || !slices.Equal(indexes(first), indexes(again)) {
		t.Errorf("second Allocate = %v, %v; want %v", indexes(again), err, indexes(first))
	}
	if _, err := a.Allocate("p", "train", 3); !errors.Is(err, gpu.ErrAlreadyAllocated) {
		t.Errorf("different count: %v, want ErrAlreadyAllocated", err)
	}
	if got := a.Devices("p", "train"); !slices.Equal(indexes(got), indexes(first)) {
		t.Errorf("Devices = %v", indexes(got))
	}
	a.Allocate("p", "eval", 1)
	if none, err := a.Allocate("p", "sidecar", 0); none != nil || err != nil {
		t.Errorf("Allocate 0 = %v, %v", none, err)
	}
	if a.Free() != 5 {
		t.Errorf("Free = %d, want 5", a.Free())
	}
	if err := a.Release("p"); err != nil {
		t.Fatal(err)
	}
	if a.Free() != 8 || len(a.Allocations()) != 0 {
		t.Errorf("after release: %d free, %v", a.Free(), a.Allocations())
	}
}

// TestAllocatorCheckpoint restarts the allocator (a new one on the same data
// dir) and checks that it knows what was handed out.
func TestAllocatorCheckpoint(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a, _ := gpu.NewAllocator(dir, eightGPUs())
	held, _ := a.Allocate("keep", "c", 4)
	a.Allocate("gone", "c", 2)

	b, err := gpu.NewAllocator(dir, eightGPUs())
	if err != nil {
		t.Fatalf("reload: %v", err)
	}
	if got := b.Devices("keep", "c"); !slices.Equal(indexes(got), indexes(held)) {
		t.Errorf("reloaded keep = %v, want %v", indexes(got), indexes(held))
	}
	if b.Free() != 2 {
		t.Errorf("reloaded Free = %d, want 2", b.Free())
	}
	got, _ := b.Allocate("new", "c", 2)
	for _, d := range got {
		if slices.Contains(indexes(held), d.GetIndex()) {
			t.Errorf("device %d handed out twice after restart", d.GetIndex())
		}
	}
	released, err := b.ReleaseExcept(func(uid string) bool { return uid == "keep" })
	if err != nil || !slices.Equal(released, []string{"gone", "new"}) {
		t.Errorf("ReleaseExcept = %v, %v", released, err)
	}
	c, _ := gpu.NewAllocator(dir, eightGPUs())
	if c.Free() != 4 || len(c.Allocations()) != 1 {
		t.Errorf("after ReleaseExcept and reload: %d free, %v", c.Free(), c.Allocations())
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("data dir holds %d files, want only the checkpoint", len(ents))
	}

	t.Run("corrupt", func(t *testing.T) {
		bad := t.TempDir()
		os.WriteFile(filepath.Join(bad, gpu.CheckpointFile), []byte("{not json"), 0o644)
		if _, err := gpu.NewAllocator(bad, eightGPUs()); !errors.Is(err, gpu.ErrCorruptCheckpoint) {
			t.Errorf("NewAllocator = %v, want ErrCorruptCheckpoint", err)
		}
	})
	t.Run("write_failure_keeps_state", func(t *testing.T) {
		data := filepath.Join(t.TempDir(), "data")
		d, err := gpu.NewAllocator(data, eightGPUs())
		if err != nil {
			t.Fatal(err)
		}
		// A data dir that became a regular file cannot be written, even
		// by root.
		if err := os.WriteFile(data, nil, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := d.Allocate("p", "c", 2); err == nil {
			t.Fatal("Allocate succeeded without a checkpoint")
		}
		if d.Free() != 8 || len(d.Allocations()) != 0 {
			t.Errorf("failed Allocate left %d free, %v", d.Free(), d.Allocations())
		}
	})
}
