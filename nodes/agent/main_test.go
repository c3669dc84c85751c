package agent_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/agent"
	"github.com/wharfhq/wharf/nodes/containerlog"
	"github.com/wharfhq/wharf/nodes/gpu"
	"github.com/wharfhq/wharf/nodes/runtime"
	"github.com/wharfhq/wharf/sdk/client"
	containerdtest "github.com/wharfhq/wharf/testing/containerd"
	"github.com/wharfhq/wharf/testing/testimage"
	"github.com/wharfhq/wharf/testing/wharftest"
)

// helperEnv, when set, makes the test binary run an agent (configured by
// the JSON in it) instead of the tests: the agent-restart test starts it
// as a child process so it can SIGKILL it.
const helperEnv = "WHARF_TEST_AGENT_HELPER"

func TestMain(m *testing.M) {
	// The shim runs this binary as the containers' log driver.
	if containerlog.IsDriver(os.Args) {
		os.Exit(containerlog.RunDriver(os.Args))
	}
	if cfg := os.Getenv(helperEnv); cfg != "" {
		os.Exit(runHelperAgent(cfg))
	}
	code := m.Run()
	testimage.Cleanup()
	os.Exit(code)
}

// helperConfig is what a helper agent process runs with.
type helperConfig struct {
	Server   string
	Node     string
	DataDir  string
	Runtime  runtime.Config
	NodeIP   string
	ReadyOut string // file written once the agent is ready
}

func runHelperAgent(js string) int {
	var hc helperConfig
	if err := json.Unmarshal([]byte(js), &hc); err != nil {
		fmt.Fprintln(os.Stderr, "helper agent:", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	rt, err := runtime.New(hc.Runtime)
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper agent:", err)
		return 2
	}
	a, err := agent.New(ctx, testAgentConfig(hc.Node, client.New(hc.Server), rt, hc.DataDir, hc.NodeIP,
		slog.New(slog.NewTextHandler(os.Stderr, nil))))
	if err != nil {
		fmt.Fprintln(os.Stderr, "helper agent:", err)
		return 2
	}
	go func() {
		<-a.Ready()
		os.WriteFile(hc.ReadyOut, []byte("ready"), 0o644)
	}()
	if err := a.Run(ctx); err != nil {
		fmt.Fprintln(os.Stderr, "helper agent:", err)
		return 1
	}
	return 0
}

// testAgentConfig is the agent config tests use: quick heartbeats and
// back-offs, the service on loopback, fake GPUs (none).
func testAgentConfig(node string, c *client.Client, rt agent.Runtime, dataDir, nodeIP string, log *slog.Logger) agent.Config {
	return agent.Config{
		NodeName:          node,
		Client:            c,
		Runtime:           rt,
		DataDir:           dataDir,
		GPUs:              gpu.Fake{},
		CDIDirs:           []string{filepath.Join(dataDir, "no-cdi")},
		Listen:            "127.0.0.1:0",
		NodeIP:            nodeIP,
		HeartbeatInterval: time.Second,
		ResyncInterval:    2 * time.Second,
		RestartBackOff:    agent.BackOff{Initial: time.Second, Max: 4 * time.Second, Reset: 10 * time.Minute},
		PullBackOff:       agent.BackOff{Initial: time.Second, Max: 4 * time.Second, Reset: 10 * time.Minute},
		Logger:            log,
	}
}

// env is one test's cluster: a server, a containerd with the busy image,
// and (once started) an agent for one node.
type env struct {
	srv     *wharftest.Server
	c       *client.Client
	inst    *containerdtest.Instance
	rtCfg   runtime.Config
	node    string
	dataDir string
	img     testimage.Image

	// Set before startAgent to change the agent's config.
	configure func(*agent.Config)
}

func newEnv(t *testing.T, srvOpts ...wharftest.Option) *env {
	t.Helper()
	img := testimage.Busy(t)
	inst := containerdtest.Start(t)
	srv := wharftest.Start(t, srvOpts...)
	e := &env{
		srv:  srv,
		c:    srv.Client(),
		inst: inst,
		rtCfg: runtime.Config{
			Address:      inst.Address,
			Namespace:    "wharf",
			Snapshotter:  inst.Snapshotter,
			RuncRoot:     inst.RuncRoot,
			CgroupParent: inst.CgroupParent,
			LogDir:       filepath.Join(inst.Dir, "logs"),
			PodDir:       filepath.Join(inst.Dir, "pods"),
		},
		node:    "node-" + randHex(4),
		dataDir: filepath.Join(inst.Dir, "agent"),
		img:     img,
	}
	rt := e.runtime(t)
	f, err := img.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := rt.ImportImage(ctx(t), f); err != nil {
		t.Fatalf("import the busy image: %v", err)
	}
	return e
}

func (e *env) runtime(t *testing.T) *runtime.Containerd {
	t.Helper()
	rt, err := runtime.New(e.rtCfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt
}

// runningAgent is an agent running in this process.
type runningAgent struct {
	*agent.Agent
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// stop ends the agent as a crash would: no cleanup of containers.
func (r *runningAgent) stop() {
	r.once.Do(func() {
		r.cancel()
		<-r.done
	})
}

// startAgent starts the node's agent in this process and waits until it
// is ready; the test's cleanup stops it.
func (e *env) startAgent(t *testing.T) *runningAgent {
	t.Helper()
	cfg := testAgentConfig(e.node, e.c, e.runtime(t), e.dataDir, "127.0.0.1", testLogger(t))
	if e.configure != nil {
		e.configure(&cfg)
	}
	actx, cancel := context.WithCancel(context.Background())
	a, err := agent.New(actx, cfg)
	if err != nil {
		cancel()
		t.Fatalf("agent.New: %v", err)
	}
	r := &runningAgent{Agent: a, cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- a.Run(actx) }()
	t.Cleanup(r.stop)
	select {
	case <-a.Ready():
	case err := <-r.done:
		r.done <- err
		t.Fatalf("agent stopped before it was ready: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("agent not ready after 30s")
	}
	return r
}

// helperAgent is an agent in a child process (the test binary again).
type helperAgent struct {
	cmd   *exec.Cmd
	ready string
	done  chan struct{} // closed when the process is gone
}

// startHelperAgent starts the node's agent as a child process and waits
// until it is ready.
func (e *env) startHelperAgent(t *testing.T) *helperAgent {
	t.Helper()
	ready := filepath.Join(t.TempDir(), "ready")
	js, _ := json.Marshal(helperConfig{Server: e.srv.URL(), Node: e.node, DataDir: e.dataDir, Runtime: e.rtCfg, NodeIP: "127.0.0.1", ReadyOut: ready})
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(js))
	if os.Getenv("WHARF_TEST_LOG") != "" {
		cmd.Stderr = os.Stderr
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	h := &helperAgent{cmd: cmd, ready: ready, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the starting thread ends, and Go ends threads
		// a goroutine left locked: hold one for the child's whole life.
		goruntime.LockOSThread()
		defer goruntime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		cmd.Wait()
		close(h.done)
	}()
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { h.kill() })
	deadline := time.Now().Add(30 * time.Second)
	for {
		if _, err := os.Stat(ready); err == nil {
			return h
		}
		if time.Now().After(deadline) {
			t.Fatal("helper agent not ready after 30s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// kill SIGKILLs the agent process: no chance to clean anything up.
func (h *helperAgent) kill() {
	h.cmd.Process.Signal(syscall.SIGKILL)
	<-h.done
}

func testLogger(t *testing.T) *slog.Logger {
	if os.Getenv("WHARF_TEST_LOG") == "" {
		return slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	t.Cleanup(cancel)
	return c
}

func randHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return fmt.Sprintf("%x", b)
}

// pod is a pod bound to the env's node with one busy container "c"
// running args.
func (e *env) pod(name string, args ...string) *wharfv1.Pod {
	return &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: name, Namespace: "default"},
		Spec: &wharfv1.PodSpec{
			NodeName:                      e.node,
			TerminationGracePeriodSeconds: proto.Int64(5),
			Containers:                    []*wharfv1.Container{busy("c", args...)},
		},
	}
}

func busy(name string, args ...string) *wharfv1.Container {
	return &wharfv1.Container{Name: name, Image: testimage.BusyName, ImagePullPolicy: "Never", Args: args}
}

func (e *env) create(t *testing.T, p *wharfv1.Pod) *wharfv1.Pod {
	t.Helper()
	out, err := e.c.Pods().Create(ctx(t), p)
	if err != nil {
		t.Fatalf("create pod %s: %v", p.GetMetadata().GetName(), err)
	}
	return out
}

// waitPod polls the pod until ok holds, failing the test (with the pod and
// its events) after a minute.
func (e *env) waitPod(t *testing.T, name, what string, ok func(*wharfv1.Pod) bool) *wharfv1.Pod {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	var last *wharfv1.Pod
	for time.Now().Before(deadline) {
		p, err := e.c.Pods().Get(ctx(t), "default", name)
		if err == nil {
			last = p
			if ok(p) {
				return p
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	b, _ := protojson.MarshalOptions{Multiline: true}.Marshal(last)
	t.Fatalf("pod %s: %s: not after a minute; the pod:\n%s\nevents:\n%s", name, what, b, e.events(t, name))
	return nil
}

// waitGone waits until the pod is no longer in the API.
func (e *env) waitGone(t *testing.T, name string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		_, err := e.c.Pods().Get(ctx(t), "default", name)
		if client.IsNotFound(err) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("pod %s still exists after a minute; events:\n%s", name, e.events(t, name))
}

// events are the pod's events, one "type reason: message" a line.
func (e *env) events(t *testing.T, pod string) string {
	l, err := e.c.Events().List(ctx(t), client.ListOptions{Namespace: "default", FieldSelector: "involvedObject.name=" + pod})
	if err != nil {
		return err.Error()
	}
	var lines []string
	for _, ev := range l.Items {
		lines = append(lines, fmt.Sprintf("%s %s (x%d): %s", ev.GetType(), ev.GetReason(), ev.GetCount(), ev.GetMessage()))
	}
	slices.Sort(lines)
	return strings.Join(lines, "\n")
}

// waitEvent waits until the pod has an event with reason whose message
// contains msg.
func (e *env) waitEvent(t *testing.T, pod, reason, msg string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		l, err := e.c.Events().List(ctx(t), client.ListOptions{Namespace: "default", FieldSelector: "involvedObject.name=" + pod})
		if err == nil {
			for _, ev := range l.Items {
				if ev.GetReason() == reason && strings.Contains(ev.GetMessage(), msg) {
					return
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("pod %s: no %s event with %q; events:\n%s", pod, reason, msg, e.events(t, pod))
}

// containers are the containerd containers of the pod uid.
func (e *env) containers(t *testing.T, uid string) []runtime.ContainerStatus {
	t.Helper()
	rt := e.runtime(t)
	l, err := rt.ListContainers(ctx(t), runtime.ListFilter{PodUID: uid})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// waitNoContainers waits until containerd has no container of pod uid.
func (e *env) waitNoContainers(t *testing.T, uid string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if len(e.containers(t, uid)) == 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Errorf("pod %s still has containers: %+v", uid, e.containers(t, uid))
}

// cs returns the status of the pod's container name.
func cs(p *wharfv1.Pod, name string) *wharfv1.ContainerStatus {
	for _, c := range append(p.GetStatus().GetContainerStatuses(), p.GetStatus().GetInitContainerStatuses()...) {
		if c.GetName() == name {
			return c
		}
	}
	return nil
}

func condition(p *wharfv1.Pod, typ string) string {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == typ {
			return c.GetStatus()
		}
	}
	return ""
}

func phase(want string) func(*wharfv1.Pod) bool {
	return func(p *wharfv1.Pod) bool { return p.GetStatus().GetPhase() == want }
}

func ready(p *wharfv1.Pod) bool {
	return p.GetStatus().GetPhase() == "Running" && condition(p, "Ready") == "True"
}

// freePort returns a TCP port free on loopback now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
