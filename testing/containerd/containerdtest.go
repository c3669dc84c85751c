// Package containerdtest starts a private, real containerd daemon for tests.
//
// [Start] writes a config with its own root, state, socket, runc root and
// cgroup parent under a fresh temporary directory, starts `containerd` as a
// child process, waits until it answers, and registers a t.Cleanup that kills
// every task it ran, stops the daemon and removes what it left behind. Tests
// use [Instance.Address] and [Instance.Namespace] to connect, and pass
// [Instance.RuncRoot] and [Instance.CgroupParent] to the code under test, so
// that several instances (parallel packages) never share runc state or
// cgroups.
//
// Only tests and test harnesses may import this package.
//
// # Requirements
//
// Root, and the containerd, containerd-shim-runc-v2 and runc binaries on
// PATH (Debian: apt-get install -y containerd runc). When one is missing,
// [Start] skips the test with a message that says what is missing and how to
// install it; with WHARF_REQUIRE_CONTAINERD=1 in the environment (CI) it fails
// the test instead, so a broken CI machine cannot pass by skipping.
package containerdtest

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	containerd "github.com/containerd/containerd/v2/client"

	"github.com/wharfhq/wharf/nodes/containerdproc"
)

// RequireEnv is the environment variable that turns a skip for missing
// requirements into a failure.
const RequireEnv = "WHARF_REQUIRE_CONTAINERD"

// Instance is a running containerd started by [Start].
type Instance struct {
	// Address is the path of the daemon's gRPC unix socket.
	Address string
	// Namespace is a containerd namespace unique to this instance, for the
	// code under test.
	Namespace string
	// Dir holds everything the instance writes: root/, state/, runc/, the
	// config and containerd.log.
	Dir string
	// RuncRoot is a runc state directory unique to this instance (runc's
	// default, /run/containerd/runc, is shared by every daemon on the host).
	RuncRoot string
	// CgroupParent is a cgroup path ("/wharf-test-…") unique to this
	// instance, for the containers the code under test creates.
	CgroupParent string
	// Snapshotter is the snapshotter to unpack images with ("overlayfs").
	Snapshotter string
	// LogPath is the daemon's log file; its tail is printed when a test fails.
	LogPath string

	cmd  *exec.Cmd
	done chan struct{}
}

// Start starts a containerd for the test and returns it once it answers. The
// daemon and all its tasks are torn down by t.Cleanup.
func Start(t testing.TB) *Instance {
	t.Helper()
	if missing := Missing(); missing != "" {
		msg := "containerdtest: " + missing
		if os.Getenv(RequireEnv) == "1" {
			t.Fatal(msg + " (" + RequireEnv + "=1)")
		}
		t.Skip(msg)
	}
	// Unix socket paths are limited to 108 bytes: keep the directory short
	// rather than under t.TempDir, whose name carries the test name.
	dir, err := os.MkdirTemp("", "ctd")
	if err != nil {
		t.Fatalf("containerdtest: %v", err)
	}
	base := filepath.Base(dir)
	inst := &Instance{
		Address:      filepath.Join(dir, "c.sock"),
		Namespace:    "wharf-test",
		Dir:          dir,
		RuncRoot:     filepath.Join(dir, "runc"),
		CgroupParent: "/wharf-test-" + base,
		Snapshotter:  "overlayfs",
		LogPath:      filepath.Join(dir, "containerd.log"),
	}
	if err := os.WriteFile(inst.configPath(), []byte(containerdproc.Config(inst.Dir, inst.Address)), 0o600); err != nil {
		t.Fatalf("containerdtest: %v", err)
	}
	if err := inst.launch(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("containerdtest: %v", err)
	}
	t.Cleanup(func() { inst.stop(t) })
	if err := inst.waitReady(30 * time.Second); err != nil {
		t.Fatalf("containerdtest: %v\n%s", err, inst.logTail(40))
	}
	return inst
}

func (i *Instance) configPath() string { return filepath.Join(i.Dir, "config.toml") }

// launch starts the daemon process.
func (i *Instance) launch() error {
	logf, err := os.OpenFile(i.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command("containerd", "--config", i.configPath())
	cmd.Stdout, cmd.Stderr = logf, logf
	// If the test binary dies without running its cleanups, the daemon goes
	// with it. Pdeathsig fires when the OS *thread* that started the child
	// exits, and Go ends threads that a goroutine left locked (network
	// namespace code does that on purpose): so start and wait for the
	// daemon from a goroutine locked to its own thread for the daemon's
	// whole life.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
	started := make(chan error, 1)
	done := make(chan struct{})
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			logf.Close()
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		logf.Close()
		close(done)
	}()
	if err := <-started; err != nil {
		return fmt.Errorf("start containerd: %w", err)
	}
	i.cmd, i.done = cmd, done
	return nil
}

// Restart kills the daemon (SIGKILL: no chance to clean up) and starts it
// again on the same root, state and socket, as after a crash. Containers
// keep running under their shims; the new daemon finds them again.
func (i *Instance) Restart(t testing.TB) {
	t.Helper()
	i.cmd.Process.Kill()
	<-i.done
	if err := i.launch(); err != nil {
		t.Fatalf("containerdtest: restart: %v", err)
	}
	if err := i.waitReady(30 * time.Second); err != nil {
		t.Fatalf("containerdtest: restart: %v\n%s", err, i.logTail(40))
	}
}

// Missing says what is missing to run containerd here and how to install it,
// or returns "" when nothing is.
func Missing() string {
	if os.Geteuid() != 0 {
		return fmt.Sprintf("containerd needs root; these tests run as uid %d (run them as root)", os.Geteuid())
	}
	var miss []string
	for _, bin := range []string{"containerd", "containerd-shim-runc-v2", "runc"} {
		if _, err := exec.LookPath(bin); err != nil {
			miss = append(miss, bin)
		}
	}
	if len(miss) > 0 {
		return fmt.Sprintf("%s not found on PATH; install with: apt-get install -y containerd runc",
			strings.Join(miss, ", "))
	}
	return ""
}

func (i *Instance) waitReady(timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		select {
		case <-i.done:
			return fmt.Errorf("containerd exited during start-up")
		default:
		}
		if _, err := os.Stat(i.Address); err == nil {
			c, err := containerd.New(i.Address, containerd.WithTimeout(time.Second))
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				_, err = c.Version(ctx)
				cancel()
				c.Close()
				if err == nil {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("containerd did not answer on %s within %s", i.Address, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Client returns a client connected to the instance, with the instance's
// namespace as default; it is closed by t.Cleanup.
func (i *Instance) Client(t testing.TB) *containerd.Client {
	t.Helper()
	c, err := containerd.New(i.Address, containerd.WithDefaultNamespace(i.Namespace))
	if err != nil {
		t.Fatalf("containerdtest: connect: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (i *Instance) stop(t testing.TB) {
	if t.Failed() {
		t.Logf("containerdtest: containerd log (%s), last lines:\n%s", i.LogPath, i.logTail(30))
	}
	i.killTasks()
	i.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-i.done:
	case <-time.After(10 * time.Second):
		i.cmd.Process.Kill()
		<-i.done
	}
	unmountUnder(i.Dir)
	removeCgroups(i.CgroupParent)
	if err := os.RemoveAll(i.Dir); err != nil {
		t.Logf("containerdtest: remove %s: %v", i.Dir, err)
	}
}

// killTasks kills and deletes every task and container in every namespace,
// so no shim or container outlives the daemon.
func (i *Instance) killTasks() {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := containerd.New(i.Address, containerd.WithTimeout(2*time.Second))
	if err != nil {
		return
	}
	defer c.Close()
	nss, err := c.NamespaceService().List(ctx)
	if err != nil {
		return
	}
	for _, ns := range nss {
		nctx := namespaced(ctx, ns)
		ctrs, err := c.Containers(nctx)
		if err != nil {
			continue
		}
		for _, ctr := range ctrs {
			if task, err := ctr.Task(nctx, nil); err == nil {
				if st, err := task.Wait(nctx); err == nil {
					if task.Kill(nctx, syscall.SIGKILL, containerd.WithKillAll) == nil {
						select {
						case <-st:
						case <-time.After(5 * time.Second):
						}
					}
				}
				task.Delete(nctx, containerd.WithProcessKill)
			}
			ctr.Delete(nctx, containerd.WithSnapshotCleanup)
		}
	}
}

func (i *Instance) logTail(n int) string {
	f, err := os.Open(i.LogPath)
	if err != nil {
		return ""
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
		if len(lines) > n {
			lines = lines[1:]
		}
	}
	return strings.Join(lines, "\n")
}
