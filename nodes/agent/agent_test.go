package agent_test

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/pkg/namespaces"
	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/agent"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/testing/testimage"
)

func TestNodeRegistration(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.startAgent(t)
	n, err := e.c.Nodes().Get(ctx(t), "", e.node)
	if err != nil {
		t.Fatalf("the node is not registered: %v", err)
	}
	l := n.GetMetadata().GetLabels()
	if l[agent.LabelOS] != "linux" || l[agent.LabelArch] == "" || l[agent.LabelHostname] != e.node {
		t.Errorf("labels = %v", l)
	}
	if got := n.GetMetadata().GetAnnotations()[agent.AnnotationEndpoint]; got != a.Endpoint() || !strings.HasPrefix(got, "http://127.0.0.1:") {
		t.Errorf("endpoint annotation %q, agent serves at %q", got, a.Endpoint())
	}
	st := n.GetStatus()
	c := st.GetCapacity()
	if c["cpu"] == "" || !strings.HasSuffix(c["memory"], "Ki") || c["pods"] != "110" {
		t.Errorf("capacity = %v", c)
	}
	if len(st.GetAllocatable()) != len(c) {
		t.Errorf("allocatable = %v", st.GetAllocatable())
	}
	if st.GetNodeInfo().GetContainerRuntimeVersion() == "" || st.GetNodeInfo().GetKernelVersion() == "" || st.GetNodeInfo().GetArchitecture() == "" {
		t.Errorf("nodeInfo = %v", st.GetNodeInfo())
	}
	if len(st.GetAddresses()) == 0 || st.GetAddresses()[0].GetAddress() != "127.0.0.1" {
		t.Errorf("addresses = %v", st.GetAddresses())
	}
	readyCond := func(n *wharfv1.Node) *wharfv1.NodeCondition {
		for _, c := range n.GetStatus().GetConditions() {
			if c.GetType() == "Ready" {
				return c
			}
		}
		return nil
	}
	r := readyCond(n)
	if r.GetStatus() != "True" || r.GetLastHeartbeatTime() == nil {
		t.Fatalf("Ready condition = %v", r)
	}
	// The heartbeat renews it.
	deadline := time.Now().Add(10 * time.Second)
	for {
		n2, err := e.c.Nodes().Get(ctx(t), "", e.node)
		if err == nil && readyCond(n2).GetLastHeartbeatTime().AsTime().After(r.GetLastHeartbeatTime().AsTime()) {
			if !readyCond(n2).GetLastTransitionTime().AsTime().Equal(r.GetLastTransitionTime().AsTime()) {
				t.Errorf("a heartbeat moved lastTransitionTime")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no heartbeat within 10s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := n.GetSpec().GetPodCidr(); got == "" {
		t.Errorf("the server gave the node no podCIDR")
	}
}

func TestRunToCompletion(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startAgent(t)
	p := e.pod("done", "echo=hello", "exit=0")
	p.Spec.RestartPolicy = "Never"
	e.create(t, p)
	got := e.waitPod(t, "done", "Succeeded", phase("Succeeded"))
	c := cs(got, "c")
	term := c.GetState().GetTerminated()
	if term.GetExitCode() != 0 || term.GetReason() != "Completed" || term.GetFinishedAt() == nil || c.GetRestartCount() != 0 {
		t.Errorf("container status = %v", c)
	}
	if !strings.HasPrefix(c.GetContainerId(), "containerd://") || c.GetImageId() != e.img.Digest {
		t.Errorf("container id %q, image id %q", c.GetContainerId(), c.GetImageId())
	}
	st := got.GetStatus()
	if st.GetStartTime() == nil || st.GetHostIp() != "127.0.0.1" || st.GetPodIp() == "" || st.GetQosClass() != "BestEffort" {
		t.Errorf("status = %v", st)
	}
	if condition(got, "Ready") != "False" || condition(got, "PodScheduled") != "True" || condition(got, "Initialized") != "True" {
		t.Errorf("conditions = %v", st.GetConditions())
	}
	e.waitEvent(t, "done", "Created", "Created container c")
	e.waitEvent(t, "done", "Started", "Started container c")
}

func TestLongRunning(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startAgent(t)
	e.create(t, e.pod("server", "sleep"))
	got := e.waitPod(t, "server", "Running and Ready", ready)
	c := cs(got, "c")
	if c.GetState().GetRunning().GetStartedAt() == nil || !c.GetReady() || !c.GetStarted() {
		t.Errorf("container status = %v", c)
	}
	if condition(got, "ContainersReady") != "True" {
		t.Errorf("conditions = %v", got.GetStatus().GetConditions())
	}
	// Nothing changes by itself: no status writes while all is steady.
	rv := got.GetMetadata().GetResourceVersion()
	time.Sleep(2500 * time.Millisecond)
	again, _ := e.c.Pods().Get(ctx(t), "default", "server")
	if again.GetMetadata().GetResourceVersion() != rv {
		t.Errorf("a steady pod was rewritten: %s -> %s\n%v\n%v", rv, again.GetMetadata().GetResourceVersion(), got.GetStatus(), again.GetStatus())
	}
}

func TestRestartPolicies(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startAgent(t)
	for _, tc := range []struct {
		name, policy string
		args         []string
		want         func(*wharfv1.Pod) bool
	}{
		{"never-fails", "Never", []string{"exit=3"}, func(p *wharfv1.Pod) bool {
			c := cs(p, "c")
			return p.GetStatus().GetPhase() == "Failed" && c.GetState().GetTerminated().GetExitCode() == 3 &&
				c.GetState().GetTerminated().GetReason() == "Error" && c.GetRestartCount() == 0
		}},
		{"onfailure-succeeds", "OnFailure", []string{"exit=0"}, phase("Succeeded")},
		{"onfailure-restarts", "OnFailure", []string{"exit=1"}, func(p *wharfv1.Pod) bool {
			c := cs(p, "c")
			return c.GetRestartCount() >= 1 && c.GetLastState().GetTerminated().GetExitCode() == 1 && p.GetStatus().GetPhase() == "Running"
		}},
		{"always-restarts-success", "Always", []string{"exit=0"}, func(p *wharfv1.Pod) bool {
			return cs(p, "c").GetRestartCount() >= 1 && p.GetStatus().GetPhase() == "Running"
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			p := e.pod(tc.name, tc.args...)
			p.Spec.RestartPolicy = tc.policy
			e.create(t, p)
			e.waitPod(t, tc.name, tc.policy, tc.want)
		})
	}
}

func TestCrashLoopBackOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startAgent(t)
	e.create(t, e.pod("crash", "echo=crashing", "exit=1"))
	got := e.waitPod(t, "crash", "CrashLoopBackOff after 2 restarts", func(p *wharfv1.Pod) bool {
		c := cs(p, "c")
		return c.GetRestartCount() >= 2 && c.GetState().GetWaiting().GetReason() == "CrashLoopBackOff"
	})
	c := cs(got, "c")
	if c.GetLastState().GetTerminated().GetExitCode() != 1 || !strings.Contains(c.GetState().GetWaiting().GetMessage(), "back-off") {
		t.Errorf("container status = %v", c)
	}
	if got.GetStatus().GetPhase() != "Running" || condition(got, "Ready") != "False" {
		t.Errorf("phase %s, Ready %s", got.GetStatus().GetPhase(), condition(got, "Ready"))
	}
	e.waitEvent(t, "crash", "BackOff", "Back-off restarting failed container c")
	// Old runs are collected: at most the current and the previous one.
	if n := len(e.containers(t, got.GetMetadata().GetUid())); n > 2 {
		t.Errorf("%d containers kept, want at most 2", n)
	}
}

func TestOOMKilled(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startAgent(t)
	p := e.pod("oom", "alloc=256", "sleep")
	p.Spec.RestartPolicy = "Never"
	p.Spec.Containers[0].Resources = &wharfv1.ResourceRequirements{Limits: map[string]string{"memory": "32Mi"}}
	e.create(t, p)
	got := e.waitPod(t, "oom", "Failed", phase("Failed"))
	term := cs(got, "c").GetState().GetTerminated()
	if term.GetReason() != "OOMKilled" || term.GetExitCode() != 137 || term.GetSignal() != 9 {
		t.Errorf("terminated = %v, want OOMKilled 137", term)
	}
	if got.GetStatus().GetQosClass() != "Burstable" {
		t.Errorf("qosClass %q", got.GetStatus().GetQosClass())
	}
	e.waitEvent(t, "oom", "OOMKilling", "memory limit")
}

func TestInitContainers(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startAgent(t)
	t.Run("in_order", func(t *testing.T) {
		t.Parallel()
		p := e.pod("init", "cat=/work/first", "cat=/work/second", "sleep")
		p.Spec.Volumes = []*wharfv1.Volume{{Name: "work", EmptyDir: &wharfv1.EmptyDirVolumeSource{}}}
		mount := []*wharfv1.VolumeMount{{Name: "work", MountPath: "/work"}}
		p.Spec.InitContainers = []*wharfv1.Container{
			busy("first", "write=/work/first=one"),
			busy("second", "exists=/work/first", "write=/work/second=two"),
		}
		for _, c := range append(p.Spec.InitContainers, p.Spec.Containers...) {
			c.VolumeMounts = mount
		}
		e.create(t, p)
		got := e.waitPod(t, "init", "Running", ready)
		for _, name := range []string{"first", "second"} {
			if term := cs(got, name).GetState().GetTerminated(); term.GetExitCode() != 0 || term.GetReason() != "Completed" {
				t.Errorf("init container %s: %v", name, cs(got, name))
			}
		}
		if cs(got, "first").GetState().GetTerminated().GetFinishedAt().AsTime().After(cs(got, "second").GetState().GetTerminated().GetStartedAt().AsTime()) {
			t.Errorf("second init container started before the first finished")
		}
		if condition(got, "Initialized") != "True" {
			t.Errorf("Initialized = %s", condition(got, "Initialized"))
		}
	})
	t.Run("failure_fails_the_pod", func(t *testing.T) {
		t.Parallel()
		p := e.pod("init-fails", "sleep")
		p.Spec.RestartPolicy = "Never"
		p.Spec.InitContainers = []*wharfv1.Container{busy("setup", "exit=2")}
		e.create(t, p)
		got := e.waitPod(t, "init-fails", "Failed", phase("Failed"))
		if w := cs(got, "c").GetState().GetWaiting().GetReason(); w != "PodInitializing" {
			t.Errorf("main container waiting reason %q", w)
		}
		if condition(got, "Initialized") != "False" {
			t.Errorf("Initialized = %s", condition(got, "Initialized"))
		}
	})
}

func TestProbes(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startAgent(t)
	t.Run("readiness_http", func(t *testing.T) {
		t.Parallel()
		port := freePort(t)
		p := e.pod("ready-http", fmt.Sprintf("serve=127.0.0.1:%d", port), "sleep")
		p.Spec.Containers[0].Ports = []*wharfv1.ContainerPort{{Name: "http", ContainerPort: int32(port)}}
		p.Spec.Containers[0].ReadinessProbe = &wharfv1.Probe{HttpGet: &wharfv1.HTTPGetAction{Path: "/healthz", Port: "http"}, PeriodSeconds: 1}
		e.create(t, p)
		e.waitPod(t, "ready-http", "Ready", ready)
	})
	t.Run("status_written_by_others", func(t *testing.T) {
		t.Parallel()
		// The server marks the pods of an unreachable node not ready; the
		// agent, back, writes what it knows again (at its next resync of
		// the pod at the latest).
		e.create(t, e.pod("vouched", "sleep"))
		p := e.waitPod(t, "vouched", "Ready", ready)
		for _, c := range p.GetStatus().GetConditions() {
			if c.GetType() == "Ready" {
				c.Status, c.Reason = "False", "NodeNotReady"
			}
		}
		if _, err := e.c.Pods().UpdateStatus(ctx(t), p); err != nil {
			t.Fatal(err)
		}
		e.waitPod(t, "vouched", "Ready again", ready)
	})
	t.Run("readiness_fails", func(t *testing.T) {
		t.Parallel()
		port := freePort(t)
		p := e.pod("not-ready", "sleep")
		p.Spec.Containers[0].ReadinessProbe = &wharfv1.Probe{TcpSocket: &wharfv1.TCPSocketAction{Port: fmt.Sprint(port)}, PeriodSeconds: 1}
		e.create(t, p)
		got := e.waitPod(t, "not-ready", "Running", phase("Running"))
		e.waitEvent(t, "not-ready", "Unhealthy", "Readiness probe failed")
		got, _ = e.c.Pods().Get(ctx(t), "default", "not-ready")
		if condition(got, "Ready") != "False" || cs(got, "c").GetReady() {
			t.Errorf("an unready container is reported ready: %v", got.GetStatus())
		}
	})
	t.Run("liveness_exec_restarts", func(t *testing.T) {
		t.Parallel()
		p := e.pod("live", "write=/healthy=yes", "sleep=2s", "rm=/healthy", "sleep")
		p.Spec.RestartPolicy = "OnFailure" // a liveness kill restarts even when the exit is 0
		p.Spec.Containers[0].LivenessProbe = &wharfv1.Probe{
			Exec:          &wharfv1.ExecAction{Command: []string{"/busy", "exists=/healthy"}},
			PeriodSeconds: 1, FailureThreshold: 1, TerminationGracePeriodSeconds: proto.Int64(1),
		}
		e.create(t, p)
		e.waitPod(t, "live", "restarted by its liveness probe", func(p *wharfv1.Pod) bool { return cs(p, "c").GetRestartCount() >= 1 })
		e.waitEvent(t, "live", "Unhealthy", "Liveness probe failed")
		e.waitEvent(t, "live", "Killing", "failed liveness probe")
	})
	t.Run("readiness_grpc", func(t *testing.T) {
		t.Parallel()
		// The pods run in the node's network namespace here, so a server
		// of the test on loopback is at the pod's address.
		hs := health.NewServer()
		hs.SetServingStatus("wharf.test.Echo", healthpb.HealthCheckResponse_NOT_SERVING)
		port := grpcServer(t, hs)
		whole := e.pod("ready-grpc", "sleep")
		whole.Spec.Containers[0].ReadinessProbe = &wharfv1.Probe{Grpc: &wharfv1.GRPCAction{Port: int32(port)}, PeriodSeconds: 1}
		e.create(t, whole)
		svc := e.pod("ready-grpc-svc", "sleep")
		svc.Spec.Containers[0].ReadinessProbe = &wharfv1.Probe{Grpc: &wharfv1.GRPCAction{Port: int32(port), Service: proto.String("wharf.test.Echo")}, PeriodSeconds: 1}
		e.create(t, svc)
		e.waitPod(t, "ready-grpc", "Ready", ready)
		e.waitEvent(t, "ready-grpc-svc", "Unhealthy", `Readiness probe failed: service unhealthy (responded with "NOT_SERVING")`)
		if got, _ := e.c.Pods().Get(ctx(t), "default", "ready-grpc-svc"); condition(got, "Ready") != "False" {
			t.Errorf("ready while its service is not serving: %v", got.GetStatus())
		}
		hs.SetServingStatus("wharf.test.Echo", healthpb.HealthCheckResponse_SERVING)
		e.waitPod(t, "ready-grpc-svc", "Ready once its service serves", ready)
	})
	t.Run("liveness_grpc_unimplemented", func(t *testing.T) {
		t.Parallel()
		port := grpcServer(t, nil) // a gRPC server without the health service
		p := e.pod("live-grpc", "sleep")
		p.Spec.Containers[0].LivenessProbe = &wharfv1.Probe{
			Grpc: &wharfv1.GRPCAction{Port: int32(port)}, PeriodSeconds: 1, FailureThreshold: 1, TerminationGracePeriodSeconds: proto.Int64(1),
		}
		e.create(t, p)
		e.waitEvent(t, "live-grpc", "Unhealthy", "does not implement the grpc health protocol")
		e.waitPod(t, "live-grpc", "restarted by its liveness probe", func(p *wharfv1.Pod) bool { return cs(p, "c").GetRestartCount() >= 1 })
	})
	t.Run("startup_tcp", func(t *testing.T) {
		t.Parallel()
		port := freePort(t)
		p := e.pod("startup", "sleep=1500ms", fmt.Sprintf("serve=127.0.0.1:%d", port), "sleep")
		p.Spec.Containers[0].StartupProbe = &wharfv1.Probe{TcpSocket: &wharfv1.TCPSocketAction{Port: fmt.Sprint(port)}, PeriodSeconds: 1, FailureThreshold: 30}
		e.create(t, p)
		got := e.waitPod(t, "startup", "Running", phase("Running"))
		if c := cs(got, "c"); c.GetStarted() && c.GetState().GetRunning().GetStartedAt().AsTime().After(time.Now().Add(-time.Second)) {
			t.Errorf("started before its startup probe could pass: %v", c)
		}
		e.waitPod(t, "startup", "started and Ready", func(p *wharfv1.Pod) bool { return cs(p, "c").GetStarted() && ready(p) })
	})
}

func TestDelete(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startAgent(t)
	t.Run("graceful", func(t *testing.T) {
		t.Parallel()
		e.create(t, e.pod("graceful", "sleep"))
		got := e.waitPod(t, "graceful", "Running", ready)
		if _, err := e.c.Pods().Delete(ctx(t), "default", "graceful", client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitGone(t, "graceful")
		e.waitNoContainers(t, got.GetMetadata().GetUid())
		e.waitEvent(t, "graceful", "Killing", "Stopping container c")
	})
	t.Run("sigkill_after_grace", func(t *testing.T) {
		t.Parallel()
		p := e.pod("stubborn", "ignore-term", "sleep")
		p.Spec.TerminationGracePeriodSeconds = proto.Int64(1)
		e.create(t, p)
		got := e.waitPod(t, "stubborn", "Running", ready)
		began := time.Now()
		if _, err := e.c.Pods().Delete(ctx(t), "default", "stubborn", client.DeleteOptions{}); err != nil {
			t.Fatal(err)
		}
		e.waitGone(t, "stubborn")
		if time.Since(began) > 20*time.Second {
			t.Errorf("a 1s grace period took %s", time.Since(began))
		}
		e.waitNoContainers(t, got.GetMetadata().GetUid())
	})
	t.Run("forced", func(t *testing.T) {
		t.Parallel()
		e.create(t, e.pod("forced", "sleep"))
		got := e.waitPod(t, "forced", "Running", ready)
		if _, err := e.c.Pods().Delete(ctx(t), "default", "forced", client.DeleteOptions{GracePeriodSeconds: proto.Int64(0)}); err != nil {
			t.Fatal(err)
		}
		e.waitGone(t, "forced")
		e.waitNoContainers(t, got.GetMetadata().GetUid())
	})
}

// TestImageChange updates a running pod's image, the one change a pod's
// spec allows: the container is restarted with it.
func TestImageChange(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startAgent(t)
	cl := e.inst.Client(t)
	nctx := namespaces.WithNamespace(ctx(t), "wharf")
	img, err := cl.ImageService().Get(nctx, testimage.BusyName)
	if err != nil {
		t.Fatal(err)
	}
	img.Name = "wharf.test/busy:v2"
	if _, err := cl.ImageService().Create(nctx, img); err != nil {
		t.Fatal(err)
	}
	e.create(t, e.pod("upgrade", "sleep"))
	got := e.waitPod(t, "upgrade", "Ready", ready)
	next := proto.Clone(got).(*wharfv1.Pod)
	next.Spec.Containers[0].Image = "wharf.test/busy:v2"
	if _, err := e.c.Pods().Update(ctx(t), next); err != nil {
		t.Fatal(err)
	}
	got = e.waitPod(t, "upgrade", "restarted with the new image", func(p *wharfv1.Pod) bool {
		c := cs(p, "c")
		return c.GetRestartCount() == 1 && c.GetImage() == "wharf.test/busy:v2" && ready(p)
	})
	e.waitEvent(t, "upgrade", "Killing", "definition changed")
}

// grpcServer serves gRPC on loopback until the test ends, with the health
// service hs when it is not nil, and returns its port.
func grpcServer(t *testing.T, hs *health.Server) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	if hs != nil {
		healthpb.RegisterHealthServer(srv, hs)
	}
	go srv.Serve(l)
	t.Cleanup(srv.Stop)
	return l.Addr().(*net.TCPAddr).Port
}
