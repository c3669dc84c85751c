package runtime_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/containerlog"
	"github.com/wharfhq/wharf/nodes/runtime"
	"github.com/wharfhq/wharf/testing/testimage"
)

func TestImportImage(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	img, err := e.rt.GetImage(ctx(t), testimage.BusyName)
	if err != nil {
		t.Fatalf("GetImage: %v", err)
	}
	if img.Digest != e.img.Digest || img.Name != testimage.BusyName || img.Size == 0 {
		t.Errorf("GetImage = %+v, want digest %s", img, e.img.Digest)
	}
	if _, err := e.rt.GetImage(ctx(t), "wharf.test/missing:v1"); !errors.Is(err, runtime.ErrNotFound) {
		t.Errorf("GetImage(missing) error = %v, want ErrNotFound", err)
	}
	v, err := e.rt.Version(ctx(t))
	if err != nil || !strings.HasPrefix(v, "containerd://") {
		t.Errorf("Version = %q, %v", v, err)
	}
}

func TestRunToCompletion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	for _, tc := range []struct {
		name   string
		args   []string
		code   int32
		reason string
	}{
		{"exit_0", []string{"echo=hello", "echoerr=warning"}, 0, runtime.ReasonCompleted},
		{"exit_3", []string{"echo=hello", "echoerr=warning", "exit=3"}, 3, runtime.ReasonError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := pod(tc.args...)
			id := e.run(t, p, 0)
			st := e.wait(t, id)
			if st.State != runtime.StateExited || st.ExitCode != tc.code || st.Reason != tc.reason {
				t.Errorf("status = %v %d %q, want exited %d %q", st.State, st.ExitCode, st.Reason, tc.code, tc.reason)
			}
			if st.StartedAt.IsZero() || st.FinishedAt.Before(st.StartedAt) {
				t.Errorf("started %v, finished %v", st.StartedAt, st.FinishedAt)
			}
			if st.PodUID != p.Metadata.Uid || st.Name != "c" || st.ImageID != e.img.Digest {
				t.Errorf("status = %+v", st)
			}
			term := st.ContainerState().GetTerminated()
			if term.GetExitCode() != tc.code || term.GetContainerId() != "containerd://"+id {
				t.Errorf("ContainerState = %v", st.ContainerState())
			}
			// The recorded exit outlives the task: ask again.
			again, err := e.rt.ContainerStatus(ctx(t), id)
			if err != nil || again.ExitCode != tc.code || again.State != runtime.StateExited {
				t.Errorf("ContainerStatus again = %+v, %v", again, err)
			}
			waitLog(t, st, "warning")
			got := logs(t, st, containerlog.ReadOptions{})
			if !slices.Contains(got, "stdout: hello") || !slices.Contains(got, "stderr: warning") {
				t.Errorf("logs = %q", got)
			}
		})
	}
}

func TestStop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t.Run("sigterm", func(t *testing.T) {
		t.Parallel()
		id := e.run(t, pod("echo=up", "sleep"), 0)
		st, _ := e.rt.ContainerStatus(ctx(t), id)
		waitLog(t, st, "up")
		if err := e.rt.StopContainer(ctx(t), id, time.Minute); err != nil {
			t.Fatalf("StopContainer: %v", err)
		}
		st, err := e.rt.ContainerStatus(ctx(t), id)
		if err != nil || st.State != runtime.StateExited || st.ExitCode != 0 {
			t.Errorf("after stop: %+v, %v; want exited 0", st, err)
		}
		waitLog(t, st, "busy: SIGTERM")
	})
	t.Run("sigkill_after_grace", func(t *testing.T) {
		t.Parallel()
		id := e.run(t, pod("ignore-term", "sleep"), 0)
		st, _ := e.rt.ContainerStatus(ctx(t), id)
		waitLog(t, st, "ignoring SIGTERM")
		if err := e.rt.StopContainer(ctx(t), id, time.Second); err != nil {
			t.Fatalf("StopContainer: %v", err)
		}
		st, err := e.rt.ContainerStatus(ctx(t), id)
		if err != nil || st.State != runtime.StateExited || st.ExitCode != 137 || st.Reason != runtime.ReasonError {
			t.Errorf("after stop: %+v, %v; want exited 137 Error", st, err)
		}
		// Stopping again is a no-op.
		if err := e.rt.StopContainer(ctx(t), id, time.Second); err != nil {
			t.Errorf("second StopContainer: %v", err)
		}
	})
	t.Run("kill", func(t *testing.T) {
		t.Parallel()
		id := e.run(t, pod("ignore-term", "sleep"), 0)
		st, _ := e.rt.ContainerStatus(ctx(t), id)
		waitLog(t, st, "ignoring SIGTERM")
		if err := e.rt.KillContainer(ctx(t), id, syscall.SIGKILL); err != nil {
			t.Fatalf("KillContainer: %v", err)
		}
		if st := e.wait(t, id); st.ExitCode != 137 {
			t.Errorf("exit code %d, want 137", st.ExitCode)
		}
	})
}

func TestOOMKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := pod("alloc=256", "sleep")
	p.Spec.Containers[0].Resources = &wharfv1.ResourceRequirements{Limits: map[string]string{"memory": "32Mi"}}
	id := e.run(t, p, 0)
	st := e.wait(t, id)
	if st.State != runtime.StateExited || st.ExitCode != 137 || st.Reason != runtime.ReasonOOMKilled {
		t.Errorf("status = %v %d %q, want exited 137 OOMKilled", st.State, st.ExitCode, st.Reason)
	}
	if r := st.ContainerState().GetTerminated().GetReason(); r != "OOMKilled" {
		t.Errorf("ContainerState reason %q", r)
	}
}

func TestLogs(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t.Run("tail_across_rotation", func(t *testing.T) {
		t.Parallel()
		// Config is per runtime: this one rotates at 4 KiB, keeping 3 files.
		cfg := e.rt.Config()
		cfg.LogMaxSize, cfg.LogMaxFiles = 4096, 3
		rt, err := runtime.New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		defer rt.Close()
		p := pod("lines=300")
		id, err := rt.CreateContainer(ctx(t), runtime.ContainerConfig{Pod: p, Container: p.Spec.Containers[0]})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rt.StartContainer(ctx(t), id); err != nil {
			t.Fatal(err)
		}
		st, err := rt.WaitContainer(ctx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		waitLog(t, st, "line 300")
		if _, err := os.Stat(containerlog.RotatedPath(st.LogPath, 2)); err != nil {
			t.Errorf("no second rotated file: %v", err)
		}
		if _, err := os.Stat(containerlog.RotatedPath(st.LogPath, 3)); !os.IsNotExist(err) {
			t.Errorf("more than 3 files kept: %v", err)
		}
		got := logs(t, st, containerlog.ReadOptions{Tail: 3})
		if want := []string{"stdout: line 298", "stdout: line 299", "stdout: line 300"}; !slices.Equal(got, want) {
			t.Errorf("tail 3 = %q, want %q", got, want)
		}
	})
	t.Run("follow", func(t *testing.T) {
		t.Parallel()
		id := e.run(t, pod("echo=first", "sleep=500ms", "echo=second", "sleep=500ms", "echo=third"), 0)
		st, err := e.rt.ContainerStatus(ctx(t), id)
		if err != nil {
			t.Fatal(err)
		}
		exited := make(chan struct{})
		go func() {
			e.rt.WaitContainer(ctx(t), id)
			close(exited)
		}()
		var got []string
		err = containerlog.Read(ctx(t), st.LogPath, containerlog.ReadOptions{Follow: true, Until: exited, PollInterval: 10 * time.Millisecond},
			func(en containerlog.Entry) error {
				got = append(got, string(en.Content))
				return nil
			})
		if err != nil {
			t.Fatalf("follow: %v", err)
		}
		if want := []string{"first", "second", "third"}; !slices.Equal(got, want) {
			t.Errorf("followed %q, want %q", got, want)
		}
	})
}

// TestReadopt drops the runtime while a container runs, and finds it again
// with a new one: same process, not restarted, and its exit is seen.
func TestReadopt(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	p := pod("echo=up", "sleep")
	id, err := e.rt.CreateContainer(ctx(t), runtime.ContainerConfig{Pod: p, Container: p.Spec.Containers[0],
		RestartCount: 2, Labels: map[string]string{"team": "ml"}})
	if err != nil {
		t.Fatal(err)
	}
	started, err := e.rt.StartContainer(ctx(t), id)
	if err != nil {
		t.Fatal(err)
	}
	before, err := e.rt.ContainerStatus(ctx(t), id)
	if err != nil || before.State != runtime.StateRunning || before.Pid == 0 {
		t.Fatalf("status = %+v, %v", before, err)
	}
	// What the start returned is what a look at the container says.
	if started.ID != before.ID || started.State != before.State || started.Pid != before.Pid ||
		!started.StartedAt.Equal(before.StartedAt) || !started.CreatedAt.Equal(before.CreatedAt) ||
		started.RestartCount != 2 || started.Name != "c" || started.PodUID != before.PodUID ||
		started.Image != before.Image || started.ImageID != before.ImageID || started.LogPath != before.LogPath ||
		!maps.Equal(started.Labels, before.Labels) {
		t.Errorf("StartContainer returned\n%+v\nContainerStatus says\n%+v", started, before)
	}
	waitLog(t, before, "up")
	e.rt.Close()

	rt, err := runtime.New(e.rt.Config())
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	list, err := rt.ListContainers(ctx(t), runtime.ListFilter{PodUID: p.Metadata.Uid, Name: "c", Labels: map[string]string{"team": "ml"}})
	if err != nil || len(list) != 1 {
		t.Fatalf("ListContainers = %+v, %v; want 1", list, err)
	}
	got := list[0]
	if got.ID != id || got.State != runtime.StateRunning || got.Pid != before.Pid ||
		!got.StartedAt.Equal(before.StartedAt) || got.RestartCount != 2 || got.Name != "c" {
		t.Errorf("re-adopted %+v, want %+v", got, before)
	}
	for _, f := range []runtime.ListFilter{{PodUID: newUID()}, {Name: "other"}, {Labels: map[string]string{"team": "web"}}} {
		if none, err := rt.ListContainers(ctx(t), f); err != nil || len(none) != 0 {
			t.Errorf("ListContainers(%+v) = %d, %v; want none", f, len(none), err)
		}
	}
	waited := make(chan runtime.ContainerStatus)
	go func() {
		st, _ := rt.WaitContainer(ctx(t), id)
		waited <- st
	}()
	if err := syscall.Kill(int(before.Pid), syscall.SIGTERM); err != nil {
		t.Fatalf("signal the container's process: %v", err)
	}
	st := <-waited
	if st.State != runtime.StateExited || st.ExitCode != 0 || !st.StartedAt.Equal(before.StartedAt) {
		t.Errorf("waited %+v", st)
	}
	// The log driver outlived the first runtime.
	waitLog(t, st, "busy: SIGTERM")
}

func TestPull(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := httptest.NewServer(registry.New(registry.Logger(nilLogger())))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/wharf/busy:v1"
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, e.img.Image); err != nil {
		t.Fatalf("push: %v", err)
	}
	t.Run("pull_and_run", func(t *testing.T) {
		img, err := e.rt.PullImage(ctx(t), ref, runtime.PullOptions{})
		if err != nil {
			t.Fatalf("PullImage: %v", err)
		}
		if img.Name != ref || img.Digest != e.img.Digest {
			t.Errorf("pulled %+v, want %s %s", img, ref, e.img.Digest)
		}
		p := pod("echo=pulled")
		p.Spec.Containers[0].Image = ref
		st := e.wait(t, e.run(t, p, 0))
		if st.ExitCode != 0 || st.Image != ref {
			t.Errorf("status = %+v", st)
		}
	})
	t.Run("unknown_image", func(t *testing.T) {
		_, err := e.rt.PullImage(ctx(t), host+"/wharf/nope:v1", runtime.PullOptions{})
		if !errors.Is(err, runtime.ErrImagePull) || !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("error = %v, want ErrImagePull and ErrNotFound", err)
		}
	})
	t.Run("unreachable_registry", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		l.Close()
		_, err = e.rt.PullImage(ctx(t), addr+"/wharf/busy:v1", runtime.PullOptions{})
		if !errors.Is(err, runtime.ErrImagePull) {
			t.Errorf("error = %v, want ErrImagePull", err)
		}
	})
}

// TestCreateUnpacksAgain: an image whose snapshots went after a create saw
// it unpacked is unpacked again by the next create, not reported broken.
func TestCreateUnpacksAgain(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	id := e.run(t, pod("sleep"), 0)
	if err := e.rt.DeleteContainer(ctx(t), id); err != nil {
		t.Fatal(err)
	}
	cl, err := containerd.New(e.inst.Address, containerd.WithDefaultNamespace("wharf"))
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	// Only the image's snapshots are left: remove them, leaves first.
	sn := cl.SnapshotService(e.inst.Snapshotter)
	for removed := true; removed; {
		removed = false
		var keys []string
		sn.Walk(ctx(t), func(_ context.Context, i snapshots.Info) error {
			keys = append(keys, i.Name)
			return nil
		})
		for _, k := range keys {
			if sn.Remove(ctx(t), k) == nil {
				removed = true
			}
		}
	}
	if n := 0; sn.Walk(ctx(t), func(context.Context, snapshots.Info) error { n++; return nil }) != nil || n != 0 {
		t.Fatalf("%d snapshots left", n)
	}
	id = e.run(t, pod("sleep"), 0)
	if st, err := e.rt.ContainerStatus(ctx(t), id); err != nil || st.State != runtime.StateRunning {
		t.Fatalf("status = %+v, %v", st, err)
	}
}

func TestCreateErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	t.Run("image_not_present", func(t *testing.T) {
		p := pod()
		p.Spec.Containers[0].Image = "wharf.test/absent:v1"
		_, err := e.rt.CreateContainer(ctx(t), runtime.ContainerConfig{Pod: p, Container: p.Spec.Containers[0]})
		if !errors.Is(err, runtime.ErrImageNotPresent) || !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("error = %v, want ErrImageNotPresent", err)
		}
	})
	t.Run("unknown_volume", func(t *testing.T) {
		p := pod()
		p.Spec.Containers[0].VolumeMounts = []*wharfv1.VolumeMount{{Name: "nope", MountPath: "/x"}}
		_, err := e.rt.CreateContainer(ctx(t), runtime.ContainerConfig{Pod: p, Container: p.Spec.Containers[0]})
		if !errors.Is(err, runtime.ErrInvalidSpec) {
			t.Errorf("error = %v, want ErrInvalidSpec", err)
		}
	})
	t.Run("subpath_escape", func(t *testing.T) {
		p := pod()
		p.Spec.Volumes = []*wharfv1.Volume{{Name: "v", EmptyDir: &wharfv1.EmptyDirVolumeSource{}}}
		p.Spec.Containers[0].VolumeMounts = []*wharfv1.VolumeMount{{Name: "v", MountPath: "/x", SubPath: "../../etc"}}
		_, err := e.rt.CreateContainer(ctx(t), runtime.ContainerConfig{Pod: p, Container: p.Spec.Containers[0]})
		if !errors.Is(err, runtime.ErrInvalidSpec) {
			t.Errorf("error = %v, want ErrInvalidSpec", err)
		}
	})
	t.Run("reserved_label", func(t *testing.T) {
		p := pod()
		_, err := e.rt.CreateContainer(ctx(t), runtime.ContainerConfig{Pod: p, Container: p.Spec.Containers[0],
			Labels: map[string]string{runtime.LabelExitCode: "0"}})
		if !errors.Is(err, runtime.ErrInvalidSpec) {
			t.Errorf("error = %v, want ErrInvalidSpec", err)
		}
	})
	t.Run("twice", func(t *testing.T) {
		p := pod()
		cfg := runtime.ContainerConfig{Pod: p, Container: p.Spec.Containers[0]}
		id, err := e.rt.CreateContainer(ctx(t), cfg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.rt.CreateContainer(ctx(t), cfg); !errors.Is(err, runtime.ErrAlreadyExists) {
			t.Errorf("second create error = %v, want ErrAlreadyExists", err)
		}
		st, err := e.rt.ContainerStatus(ctx(t), id)
		if err != nil || st.State != runtime.StateCreated {
			t.Errorf("status = %v, %v; want created", st.State, err)
		}
		if err := e.rt.DeleteContainer(ctx(t), id); err != nil {
			t.Errorf("DeleteContainer: %v", err)
		}
		if _, err := e.rt.ContainerStatus(ctx(t), id); !errors.Is(err, runtime.ErrNotFound) {
			t.Errorf("status after delete: %v, want ErrNotFound", err)
		}
	})
}

// TestContainerSpec checks what the container sees: command and args, env
// (with fieldRefs and extra env), working dir, volumes, and the cgroup
// limits its resources set.
func TestContainerSpec(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	hostDir := filepath.Join(e.inst.Dir, "host")
	os.MkdirAll(hostDir, 0o755)
	os.WriteFile(filepath.Join(hostDir, "greeting"), []byte("hello from the host\n"), 0o644)

	p := pod()
	p.Metadata.Labels = map[string]string{"app": "web"}
	p.Spec.NodeName = "node-1"
	p.Spec.Volumes = []*wharfv1.Volume{
		{Name: "scratch", EmptyDir: &wharfv1.EmptyDirVolumeSource{}},
		{Name: "mem", EmptyDir: &wharfv1.EmptyDirVolumeSource{Medium: "Memory", SizeLimit: "8Mi"}},
		{Name: "host", HostPath: &wharfv1.HostPathVolumeSource{Path: hostDir, Type: "Directory"}},
	}
	c := p.Spec.Containers[0]
	c.Command = []string{"/busy", "echo=from-command"}
	c.Args = []string{"env", "cat=/host/greeting", "write=/scratch/out=written", "write=/mem/out=in-memory", "echo=steps done", "sleep"}
	c.WorkingDir = "/scratch"
	c.Env = []*wharfv1.EnvVar{
		{Name: "PLAIN", Value: "v"},
		{Name: "POD_NAME", ValueFrom: &wharfv1.EnvVarSource{FieldRef: &wharfv1.ObjectFieldSelector{FieldPath: "metadata.name"}}},
		{Name: "APP", ValueFrom: &wharfv1.EnvVarSource{FieldRef: &wharfv1.ObjectFieldSelector{FieldPath: "metadata.labels['app']"}}},
		{Name: "NODE", ValueFrom: &wharfv1.EnvVarSource{FieldRef: &wharfv1.ObjectFieldSelector{FieldPath: "spec.nodeName"}}},
		{Name: "MEM_MI", ValueFrom: &wharfv1.EnvVarSource{ResourceFieldRef: &wharfv1.ResourceFieldSelector{Resource: "limits.memory", Divisor: "1Mi"}}},
	}
	c.VolumeMounts = []*wharfv1.VolumeMount{
		{Name: "scratch", MountPath: "/scratch"},
		{Name: "mem", MountPath: "/mem"},
		{Name: "host", MountPath: "/host", ReadOnly: true},
	}
	c.Resources = &wharfv1.ResourceRequirements{
		Requests: map[string]string{"cpu": "250m", "memory": "32Mi"},
		Limits:   map[string]string{"cpu": "500m", "memory": "64Mi"},
	}
	id, err := e.rt.CreateContainer(ctx(t), runtime.ContainerConfig{Pod: p, Container: c, Env: []string{"EXTRA=1"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt.StartContainer(ctx(t), id); err != nil {
		t.Fatal(err)
	}
	st, _ := e.rt.ContainerStatus(ctx(t), id)
	waitLog(t, st, "steps done") // after the writes the checks below read
	out := strings.Join(logs(t, st, containerlog.ReadOptions{}), "\n")
	for _, want := range []string{"stdout: hello from the host", "stdout: from-command", "stdout: PLAIN=v", "stdout: POD_NAME=p", "stdout: APP=web",
		"stdout: NODE=node-1", "stdout: MEM_MI=64", "stdout: EXTRA=1", "stdout: PATH="} {
		if !strings.Contains(out, want) {
			t.Errorf("container output lacks %q:\n%s", want, out)
		}
	}
	runtimeCfg := e.rt.Config()
	scratch := filepath.Join(runtimeCfg.PodDir, p.Metadata.Uid, "volumes", "empty-dir", "scratch", "out")
	if b, err := os.ReadFile(scratch); err != nil || string(b) != "written\n" {
		t.Errorf("emptyDir file: %q, %v", b, err)
	}
	memDir := filepath.Join(runtimeCfg.PodDir, p.Metadata.Uid, "volumes", "empty-dir", "mem")
	var sfs syscall.Statfs_t
	if err := syscall.Statfs(memDir, &sfs); err != nil || sfs.Type != 0x01021994 { // TMPFS_MAGIC
		t.Errorf("medium Memory emptyDir is not tmpfs: type %#x, %v", sfs.Type, err)
	}

	cg := filepath.Join(runtimeCfg.CgroupParent, id)
	checked := 0
	for file, want := range map[string]string{
		"cpu/" + cg + "/cpu.shares":               "256",
		"cpu/" + cg + "/cpu.cfs_quota_us":         "50000",
		"memory/" + cg + "/memory.limit_in_bytes": fmt.Sprint(64 << 20),
		cg + "/cpu.max":                           "50000 100000",
		cg + "/memory.max":                        fmt.Sprint(64 << 20),
	} {
		b, err := os.ReadFile(filepath.Join("/sys/fs/cgroup", file))
		if err != nil {
			continue // the other cgroup version
		}
		checked++
		if got := strings.TrimSpace(string(b)); got != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if checked < 2 {
		t.Errorf("found %d of the container's cgroup files under /sys/fs/cgroup", checked)
	}

	if err := e.rt.RemovePod(ctx(t), p.Metadata.Uid); !errors.Is(err, runtime.ErrPodInUse) {
		t.Errorf("RemovePod with a container left: %v, want ErrPodInUse", err)
	}
	if err := e.rt.DeleteContainer(ctx(t), id); err != nil {
		t.Fatalf("DeleteContainer (running): %v", err)
	}
	if err := e.rt.RemovePod(ctx(t), p.Metadata.Uid); err != nil {
		t.Fatalf("RemovePod: %v", err)
	}
	for _, dir := range []string{filepath.Join(runtimeCfg.PodDir, p.Metadata.Uid), filepath.Dir(filepath.Dir(st.LogPath))} {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("%s left after RemovePod: %v", dir, err)
		}
	}
}
