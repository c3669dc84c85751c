package sim_test

import (
	"context"
	"slices"
	"testing"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/testing/sim"
	"github.com/wharfhq/wharf/testing/wharftest"
)

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

// Simulated nodes register like agents (capacity, GPU devices and their
// labels, a taint, a Ready condition with heartbeats), mark pods bound to
// them Running with the devices the binding named, and finish deletions.
func TestSimulatedNodes(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t)
	c := srv.Client()
	s, err := sim.Start(ctx(t), sim.Config{Client: c, Nodes: 3, GPUNodes: 1, HeartbeatInterval: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Stop)
	if got := s.NodeNames(); !slices.Equal(got, []string{"sim-00000", "sim-00001", "sim-00002"}) {
		t.Fatalf("names %v", got)
	}
	gpu, err := c.Nodes().Get(ctx(t), "", "sim-00000")
	if err != nil {
		t.Fatal(err)
	}
	l := gpu.GetMetadata().GetLabels()
	if l["nvidia.com/gpu.product"] != "NVIDIA-H100-80GB-HBM3" || l["nvidia.com/gpu.count"] != "8" || l["nvidia.com/gpu.memory"] != "81559" {
		t.Errorf("GPU labels %v", l)
	}
	if len(gpu.GetStatus().GetGpus()) != 8 || gpu.GetStatus().GetAllocatable()["nvidia.com/gpu"] != "8" {
		t.Errorf("GPU status %v", gpu.GetStatus())
	}
	if tt := gpu.GetSpec().GetTaints(); len(tt) != 1 || tt[0].GetKey() != sim.TaintGPU || tt[0].GetEffect() != "NoSchedule" {
		t.Errorf("taints %v", tt)
	}
	if gpu.GetSpec().GetPodCidr() == "" {
		t.Errorf("no pod CIDR")
	}
	cpu, _ := c.Nodes().Get(ctx(t), "", "sim-00001")
	if len(cpu.GetStatus().GetGpus()) != 0 || len(cpu.GetSpec().GetTaints()) != 0 || cpu.GetStatus().GetAllocatable()["cpu"] != "32" {
		t.Errorf("CPU node %v", cpu)
	}
	// Heartbeats move the Ready condition's heartbeat time.
	first := cpu.GetStatus().GetConditions()[0].GetLastHeartbeatTime().AsTime()
	waitFor(t, "a heartbeat", func() bool {
		n, _ := c.Nodes().Get(ctx(t), "", "sim-00001")
		return n.GetStatus().GetConditions()[0].GetLastHeartbeatTime().AsTime().After(first)
	})

	// A pod bound to the GPU node with devices 2 and 5 turns Running with
	// those devices' UUIDs.
	p := &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: "train", Annotations: map[string]string{"gpu.wharf.dev/devices": "2,5"}},
		Spec: &wharfv1.PodSpec{NodeName: "sim-00000", Containers: []*wharfv1.Container{{
			Name: "t", Image: "trainer:1", Resources: &wharfv1.ResourceRequirements{Limits: map[string]string{"nvidia.com/gpu": "2"}},
		}}},
	}
	if _, err := c.Pods().Create(ctx(t), p); err != nil {
		t.Fatal(err)
	}
	var running *wharfv1.Pod
	waitFor(t, "the pod Running", func() bool {
		running, _ = c.Pods().Get(ctx(t), "default", "train")
		return running.GetStatus().GetPhase() == "Running"
	})
	cs := running.GetStatus().GetContainerStatuses()
	if len(cs) != 1 || !cs[0].GetReady() || !slices.Equal(cs[0].GetAllocatedDevices(), []string{"GPU-sim-00000-2", "GPU-sim-00000-5"}) {
		t.Errorf("container statuses %v", cs)
	}
	if running.GetStatus().GetPodIp() == "" || running.GetStatus().GetHostIp() == "" {
		t.Errorf("no IPs: %v", running.GetStatus())
	}
	if got := s.PodsOn("sim-00000"); len(got) != 1 {
		t.Errorf("PodsOn = %d pods", len(got))
	}
	// A graceful delete ends with the pod gone: the node removes it.
	if _, err := c.Pods().Delete(ctx(t), "default", "train", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the pod removed", func() bool {
		_, err := c.Pods().Get(ctx(t), "default", "train")
		return client.IsNotFound(err)
	})
	if s.Running() != 1 {
		t.Errorf("Running() = %d", s.Running())
	}
	// Registering again (a restart) works; DeleteNodes removes them all.
	s2, err := sim.Start(ctx(t), sim.Config{Client: c, Nodes: 3, GPUNodes: 1})
	if err != nil {
		t.Fatalf("register again: %v", err)
	}
	s2.Stop()
	if err := s2.DeleteNodes(ctx(t)); err != nil {
		t.Fatal(err)
	}
	if l, _ := c.Nodes().List(ctx(t), client.ListOptions{}); len(l.Items) != 0 {
		t.Errorf("%d nodes left", len(l.Items))
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		if ok() {
			return
		}
	}
	t.Fatalf("never saw %s", what)
}
