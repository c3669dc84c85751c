package gpu_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/containerlog"
	"github.com/wharfhq/wharf/nodes/gpu"
	"github.com/wharfhq/wharf/nodes/runtime"
	containerdtest "github.com/wharfhq/wharf/testing/containerd"
	"github.com/wharfhq/wharf/testing/testimage"
)

// TestMain lets the shim run this test binary as the log driver.
func TestMain(m *testing.M) {
	if containerlog.IsDriver(os.Args) {
		os.Exit(containerlog.RunDriver(os.Args))
	}
	code := m.Run()
	testimage.Cleanup()
	os.Exit(code)
}

// writeFakeCDISpec writes a CDI spec for nvidia.com/gpu that describes GPU
// 0 by index (a device node, /dev/null on the host) and GPU 1 by UUID (a
// mounted file), plus spec-wide env, as nvidia-ctk would for real GPUs.
func writeFakeCDISpec(t *testing.T) (specDir, mountedFile string) {
	t.Helper()
	specDir = t.TempDir()
	mountedFile = filepath.Join(t.TempDir(), "gpu1-info")
	if err := os.WriteFile(mountedFile, []byte("fake GPU 1 info\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	spec := map[string]any{
		"cdiVersion": "0.5.0",
		"kind":       "nvidia.com/gpu",
		"devices": []any{
			map[string]any{
				"name": "0",
				"containerEdits": map[string]any{
					"env":         []string{"WHARF_FAKE_GPU_0=present"},
					"deviceNodes": []any{map[string]any{"path": "/dev/wharf-fake-gpu0", "hostPath": "/dev/null"}},
				},
			},
			map[string]any{
				"name": h100s[1].Uuid,
				"containerEdits": map[string]any{
					"env": []string{"WHARF_FAKE_GPU_1=present"},
					"mounts": []any{map[string]any{
						"hostPath": mountedFile, "containerPath": "/run/wharf-fake-gpu1", "options": []string{"ro", "bind"},
					}},
				},
			},
		},
		"containerEdits": map[string]any{"env": []string{"WHARF_FAKE_DRIVER=550.54.15"}},
	}
	b, err := json.Marshal(spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(specDir, "nvidia.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	return specDir, mountedFile
}

func TestInjectorEnv(t *testing.T) {
	t.Parallel()
	inj := gpu.NewInjector(t.TempDir())
	if got := inj.Env(nil); !slices.Equal(got, []string{"NVIDIA_VISIBLE_DEVICES=void"}) {
		t.Errorf("Env(none) = %q", got)
	}
	want := "NVIDIA_VISIBLE_DEVICES=" + h100s[0].Uuid + "," + h100s[1].Uuid
	if got := inj.Env(h100s[:2]); !slices.Equal(got, []string{want}) {
		t.Errorf("Env = %q, want %q", got, want)
	}
	t.Run("no_cdi_spec", func(t *testing.T) {
		env, opts, err := inj.ContainerOpts(h100s[:1])
		if err != nil || len(opts) != 0 || len(env) != 1 {
			t.Errorf("ContainerOpts = %q, %d opts, %v; want env only", env, len(opts), err)
		}
	})
	t.Run("device_not_in_spec", func(t *testing.T) {
		dir, _ := writeFakeCDISpec(t)
		_, _, err := gpu.NewInjector(dir).ContainerOpts(h100s[2:])
		if !errors.Is(err, gpu.ErrCDIDevice) {
			t.Errorf("error = %v, want ErrCDIDevice", err)
		}
	})
}

// TestCDIInjection runs a real container with two fake GPUs injected from a
// fake CDI spec, and checks what the container sees.
func TestCDIInjection(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	img := testimage.Busy(t)
	inst := containerdtest.Start(t)
	rt, err := runtime.New(runtime.Config{
		Address:      inst.Address,
		Snapshotter:  inst.Snapshotter,
		RuncRoot:     inst.RuncRoot,
		CgroupParent: inst.CgroupParent,
		LogDir:       filepath.Join(inst.Dir, "logs"),
		PodDir:       filepath.Join(inst.Dir, "pods"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	f, err := img.Open()
	if err != nil {
		t.Fatal(err)
	}
	_, err = rt.ImportImage(ctx, f)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}

	specDir, _ := writeFakeCDISpec(t)
	alloc, err := gpu.NewAllocator(t.TempDir(), h100s[:2])
	if err != nil {
		t.Fatal(err)
	}
	pod := &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: "train", Namespace: "ml", Uid: "0f7e5d1c-9b1a-4d5e-8f00-cd1a2b3c4d5e"},
		Spec: &wharfv1.PodSpec{Containers: []*wharfv1.Container{{
			Name:      "trainer",
			Image:     testimage.BusyName,
			Args:      []string{"env", "exists=/dev/wharf-fake-gpu0", "cat=/run/wharf-fake-gpu1"},
			Resources: &wharfv1.ResourceRequirements{Limits: map[string]string{"nvidia.com/gpu": "2"}},
		}}},
	}
	c := pod.Spec.Containers[0]
	n, err := gpu.Request(c)
	if err != nil {
		t.Fatal(err)
	}
	devices, err := alloc.Allocate(pod.Metadata.Uid, c.Name, n)
	if err != nil {
		t.Fatal(err)
	}
	env, opts, err := gpu.NewInjector(specDir).ContainerOpts(devices)
	if err != nil {
		t.Fatalf("ContainerOpts: %v", err)
	}
	if len(opts) != 1 {
		t.Fatalf("%d SpecOpts, want the CDI one", len(opts))
	}
	id, err := rt.CreateContainer(ctx, runtime.ContainerConfig{Pod: pod, Container: c, Env: env, SpecOpts: opts})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := rt.StartContainer(ctx, id); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	st, err := rt.WaitContainer(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		lines = lines[:0]
		containerlog.Read(ctx, st.LogPath, containerlog.ReadOptions{}, func(e containerlog.Entry) error {
			lines = append(lines, string(e.Content))
			return nil
		})
		if slices.Contains(lines, "fake GPU 1 info") {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if st.ExitCode != 0 {
		t.Errorf("container exited %d (3: the CDI device node is missing); output:\n%s", st.ExitCode, strings.Join(lines, "\n"))
	}
	for _, want := range []string{
		"NVIDIA_VISIBLE_DEVICES=" + h100s[0].Uuid + "," + h100s[1].Uuid,
		"WHARF_FAKE_GPU_0=present",
		"WHARF_FAKE_GPU_1=present",
		"WHARF_FAKE_DRIVER=550.54.15",
		"fake GPU 1 info",
	} {
		if !slices.Contains(lines, want) {
			t.Errorf("container output lacks %q:\n%s", want, strings.Join(lines, "\n"))
		}
	}
}
