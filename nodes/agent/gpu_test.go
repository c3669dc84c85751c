package agent_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/agent"
	"github.com/wharfhq/wharf/nodes/gpu"
	"github.com/wharfhq/wharf/sdk/client"
)

var fakeGPUs = []*wharfv1.GPUDevice{
	{Index: 0, Uuid: "GPU-11111111-aaaa", Model: "NVIDIA H100 80GB HBM3", MemoryMib: 81559, DriverVersion: "550.54.15", NumaNode: 0, PciBusId: "0000:1b:00.0"},
	{Index: 1, Uuid: "GPU-22222222-bbbb", Model: "NVIDIA H100 80GB HBM3", MemoryMib: 81559, DriverVersion: "550.54.15", NumaNode: 0, PciBusId: "0000:43:00.0"},
}

// writeCDISpec writes a fake nvidia.com/gpu CDI spec: each GPU, by UUID,
// gets an env var and a device node (/dev/null on the host).
func writeCDISpec(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	var devices []any
	for i, g := range fakeGPUs {
		devices = append(devices, map[string]any{
			"name": g.Uuid,
			"containerEdits": map[string]any{
				"env":         []string{"CDI_GPU_" + string(rune('0'+i)) + "=" + g.Uuid},
				"deviceNodes": []any{map[string]any{"path": "/dev/fake-nvidia" + string(rune('0'+i)), "hostPath": "/dev/null"}},
			},
		})
	}
	b, _ := json.Marshal(map[string]any{
		"cdiVersion":     "0.5.0",
		"kind":           "nvidia.com/gpu",
		"devices":        devices,
		"containerEdits": map[string]any{"env": []string{"CDI_DRIVER=550.54.15"}},
	})
	if err := os.WriteFile(filepath.Join(dir, "nvidia.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestGPUs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cdi := writeCDISpec(t)
	e.configure = func(c *agent.Config) {
		c.GPUs = gpu.Fake{Devices: fakeGPUs}
		c.CDIDirs = []string{cdi}
	}
	a := e.startAgent(t)

	n, err := e.c.Nodes().Get(ctx(t), "", e.node)
	if err != nil {
		t.Fatal(err)
	}
	if got := n.GetStatus().GetCapacity()[gpu.ResourceName]; got != "2" {
		t.Errorf("capacity nvidia.com/gpu = %q, want 2", got)
	}
	l := n.GetMetadata().GetLabels()
	if l[gpu.LabelProduct] != "NVIDIA-H100-80GB-HBM3" || l[gpu.LabelCount] != "2" || l[gpu.LabelMemory] != "81559" {
		t.Errorf("GPU labels = %v", l)
	}
	if g := n.GetStatus().GetGpus(); len(g) != 2 || g[1].GetUuid() != fakeGPUs[1].Uuid || g[1].GetPciBusId() != "0000:43:00.0" {
		t.Errorf("status.gpus = %v", g)
	}

	gpuPod := func(name string, n string, args ...string) *wharfv1.Pod {
		p := e.pod(name, args...)
		p.Spec.Containers[0].Resources = &wharfv1.ResourceRequirements{Limits: map[string]string{gpu.ResourceName: n}}
		return p
	}
	e.create(t, gpuPod("trainer", "1", "env", "exists=/dev/fake-nvidia0", "echo=END", "sleep"))
	got := e.waitPod(t, "trainer", "Ready", ready)
	devs := cs(got, "c").GetAllocatedDevices()
	if len(devs) != 1 || devs[0] != fakeGPUs[0].Uuid {
		t.Fatalf("allocatedDevices = %v, want [%s]", devs, fakeGPUs[0].Uuid)
	}
	out := e.waitLogLine(t, "trainer", "END")
	for _, want := range []string{"NVIDIA_VISIBLE_DEVICES=" + fakeGPUs[0].Uuid, "CDI_GPU_0=" + fakeGPUs[0].Uuid, "CDI_DRIVER=550.54.15"} {
		if !slices.Contains(out, want) {
			t.Errorf("the container's env lacks %q:\n%s", want, strings.Join(out, "\n"))
		}
	}
	if slices.Contains(out, "CDI_GPU_1="+fakeGPUs[1].Uuid) {
		t.Errorf("the container got the other GPU's CDI edits")
	}

	// The allocation survives an agent restart: the next pod gets the other GPU.
	a.stop()
	e.startAgent(t)
	e.create(t, gpuPod("second", "1", "env", "sleep"))
	got = e.waitPod(t, "second", "Ready", ready)
	if devs := cs(got, "c").GetAllocatedDevices(); len(devs) != 1 || devs[0] != fakeGPUs[1].Uuid {
		t.Errorf("second pod's allocatedDevices = %v, want [%s]", devs, fakeGPUs[1].Uuid)
	}
	// No GPU left: a pod that asks for one fails.
	e.create(t, gpuPod("greedy", "1", "sleep"))
	got = e.waitPod(t, "greedy", "Failed", phase("Failed"))
	if got.GetStatus().GetReason() != "OutOfnvidia.com/gpu" {
		t.Errorf("reason %q", got.GetStatus().GetReason())
	}
	// A pod without GPUs sees none.
	e.create(t, e.pod("cpu-only", "env", "echo=END", "sleep"))
	e.waitPod(t, "cpu-only", "Ready", ready)
	if out := e.waitLogLine(t, "cpu-only", "END"); !slices.Contains(out, "NVIDIA_VISIBLE_DEVICES=void") || slices.ContainsFunc(out, func(s string) bool { return strings.HasPrefix(s, "CDI_") }) {
		t.Errorf("a pod without GPUs: env %q, want NVIDIA_VISIBLE_DEVICES=void and no CDI edits", out)
	}
	// Deleting a pod frees its GPU.
	if _, err := e.c.Pods().Delete(ctx(t), "default", "trainer", client.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	e.waitGone(t, "trainer")
	e.create(t, gpuPod("third", "1", "sleep"))
	got = e.waitPod(t, "third", "Ready", ready)
	if devs := cs(got, "c").GetAllocatedDevices(); len(devs) != 1 || devs[0] != fakeGPUs[0].Uuid {
		t.Errorf("third pod's allocatedDevices = %v, want the freed %s", devs, fakeGPUs[0].Uuid)
	}
}

// waitLogLine waits until the pod's log has the line want and returns the
// log's lines.
func (e *env) waitLogLine(t *testing.T, pod, want string) []string {
	t.Helper()
	var lines []string
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		got, err := e.logs(t, &wharfv1.LogsRequest{Name: pod})
		if err != nil {
			continue
		}
		lines = lines[:0]
		for _, l := range got {
			lines = append(lines, strings.TrimPrefix(l, "stdout: "))
		}
		if slices.Contains(lines, want) {
			return lines
		}
	}
	t.Fatalf("pod %s: no log line %q; log:\n%s", pod, want, strings.Join(lines, "\n"))
	return nil
}
