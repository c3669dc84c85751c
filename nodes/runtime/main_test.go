package runtime_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"log"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/containerlog"
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

type env struct {
	rt   *runtime.Containerd
	inst *containerdtest.Instance
	img  testimage.Image
}

// newEnv starts a containerd and a runtime on it with the busy image
// imported.
func newEnv(t *testing.T) *env {
	t.Helper()
	img := testimage.Busy(t)
	inst := containerdtest.Start(t)
	rt, err := runtime.New(runtime.Config{
		Address:      inst.Address,
		Namespace:    "wharf",
		Snapshotter:  inst.Snapshotter,
		RuncRoot:     inst.RuncRoot,
		CgroupParent: inst.CgroupParent,
		// Under the instance's dir, which its cleanup unmounts and removes
		// after containerd and the log drivers are gone.
		LogDir: filepath.Join(inst.Dir, "logs"),
		PodDir: filepath.Join(inst.Dir, "pods"),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	f, err := img.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := rt.ImportImage(ctx(t), f); err != nil {
		t.Fatalf("ImportImage: %v", err)
	}
	return &env{rt: rt, inst: inst, img: img}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return c
}

func newUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}

// pod returns a pod with one busy container running args.
func pod(args ...string) *wharfv1.Pod {
	return &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: "p", Namespace: "default", Uid: newUID()},
		Spec: &wharfv1.PodSpec{Containers: []*wharfv1.Container{{
			Name:  "c",
			Image: testimage.BusyName,
			Args:  args,
		}}},
	}
}

// run creates and starts the pod's first container.
func (e *env) run(t *testing.T, p *wharfv1.Pod, restart int32) string {
	t.Helper()
	id, err := e.rt.CreateContainer(ctx(t), runtime.ContainerConfig{Pod: p, Container: p.Spec.Containers[0], RestartCount: restart})
	if err != nil {
		t.Fatalf("CreateContainer: %v", err)
	}
	if _, err := e.rt.StartContainer(ctx(t), id); err != nil {
		t.Fatalf("StartContainer: %v", err)
	}
	return id
}

func (e *env) wait(t *testing.T, id string) runtime.ContainerStatus {
	t.Helper()
	st, err := e.rt.WaitContainer(ctx(t), id)
	if err != nil {
		t.Fatalf("WaitContainer: %v", err)
	}
	return st
}

// logs returns the container's log as "stream: line" lines.
func logs(t *testing.T, st runtime.ContainerStatus, opts containerlog.ReadOptions) []string {
	t.Helper()
	var out []string
	err := containerlog.Read(ctx(t), st.LogPath, opts, func(e containerlog.Entry) error {
		out = append(out, e.Stream+": "+string(e.Content))
		return nil
	})
	if err != nil {
		t.Fatalf("read logs: %v", err)
	}
	return out
}

// waitLog waits until the container's log holds a line containing s.
func waitLog(t *testing.T, st runtime.ContainerStatus, s string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if strings.Contains(strings.Join(logs(t, st, containerlog.ReadOptions{}), "\n"), s) {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("log of %s never showed %q; log: %q", st.ID, s, logs(t, st, containerlog.ReadOptions{}))
}

func nilLogger() *log.Logger { return log.New(io.Discard, "", 0) }
