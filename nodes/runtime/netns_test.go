package runtime_test

import (
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/nodes/containerlog"
	"github.com/wharfhq/wharf/nodes/runtime"
	"golang.org/x/sys/unix"
)

// newNetNS makes a network namespace pinned by a bind mount at a file
// under dir, as CNI tooling does, and returns the file's path.
func newNetNS(t *testing.T, dir string) string {
	t.Helper()
	path := filepath.Join(dir, "netns")
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		// The thread enters the new namespace and is thrown away after.
		goruntime.LockOSThread()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			errc <- err
			return
		}
		errc <- unix.Mount("/proc/thread-self/ns/net", path, "", unix.MS_BIND, "")
	}()
	if err := <-errc; err != nil {
		t.Fatalf("make netns: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(path, unix.MNT_DETACH) })
	return path
}

// TestNetNS runs a container in a network namespace given by path: it sees
// only that namespace's interfaces, and the pod's hostname.
func TestNetNS(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ns := newNetNS(t, t.TempDir())
	p := pod("cat=/proc/net/dev", "cat=/proc/sys/kernel/hostname")
	p.Spec.Hostname = "pod-host"
	id, err := e.rt.CreateContainer(ctx(t), runtime.ContainerConfig{Pod: p, Container: p.Spec.Containers[0], NetNSPath: ns})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.rt.StartContainer(ctx(t), id); err != nil {
		t.Fatal(err)
	}
	st := e.wait(t, id)
	waitLog(t, st, "pod-host")
	out := strings.Join(logs(t, st, containerlog.ReadOptions{}), "\n")
	var ifaces []string
	for _, l := range strings.Split(out, "\n") {
		if name, _, ok := strings.Cut(strings.TrimPrefix(l, "stdout: "), ":"); ok && !strings.Contains(name, "|") {
			ifaces = append(ifaces, strings.TrimSpace(name))
		}
	}
	if len(ifaces) != 1 || ifaces[0] != "lo" {
		t.Errorf("interfaces in the container: %q, want only lo\n%s", ifaces, out)
	}
}
