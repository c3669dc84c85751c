package agent

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/gpu"
	"github.com/wharfhq/wharf/nodes/network"
	"github.com/wharfhq/wharf/nodes/runtime"
	"github.com/wharfhq/wharf/sdk/client"
	"google.golang.org/protobuf/proto"
)

// Container waiting reasons, as Kubernetes reports them.
const (
	reasonContainerCreating = "ContainerCreating"
	reasonPodInitializing   = "PodInitializing"
	reasonCrashLoopBackOff  = "CrashLoopBackOff"
	reasonErrImagePull      = "ErrImagePull"
	reasonImagePullBackOff  = "ImagePullBackOff"
	reasonErrImageNeverPull = "ErrImageNeverPull"
	reasonCreateError       = "CreateContainerError"
	reasonConfigError       = "CreateContainerConfigError"
	reasonRunError          = "RunContainerError"
)

// sync reconciles the pod once. It returns done when the pod is gone and
// everything of it removed, else when to look again at the latest.
func (w *podWorker) sync(ctx context.Context) (done bool, after time.Duration) {
	a := w.a
	pod := a.pod(w.uid)
	ctrs, err := a.rt.ListContainers(ctx, runtime.ListFilter{PodUID: w.uid})
	if err != nil {
		if ctx.Err() == nil {
			a.log.Warn("listing a pod's containers failed", "pod", w.ns+"/"+w.name, "err", err)
		}
		return false, time.Second
	}
	switch {
	case pod == nil:
		// Removed from the API at once (forced), or while the agent was down.
		if err := w.terminate(ctx, nil, ctrs, ForcedDeleteGrace); err != nil {
			a.log.Warn("cleaning up a removed pod failed; retrying", "pod", w.ns+"/"+w.name, "uid", w.uid, "err", err)
			return false, time.Second
		}
		return true, 0
	case pod.GetMetadata().GetDeletionTimestamp() != nil:
		if err := w.terminate(ctx, pod, ctrs, deletionGrace(pod)); err != nil {
			a.log.Warn("deleting a pod failed; retrying", "pod", w.ns+"/"+w.name, "err", err)
			return false, time.Second
		}
		return true, 0
	}
	return false, w.reconcile(ctx, pod, ctrs)
}

// deletionGrace is how long the containers of a pod being deleted get
// between SIGTERM and SIGKILL: what remains of its grace period.
func deletionGrace(pod *wharfv1.Pod) time.Duration {
	md := pod.GetMetadata()
	grace := time.Duration(md.GetDeletionGracePeriodSeconds()) * time.Second
	if left := time.Until(md.GetDeletionTimestamp().AsTime()); left < grace {
		grace = max(left, 0)
	}
	return grace
}

// terminate stops the pod's containers (grace between SIGTERM and
// SIGKILL), reports their final status, removes everything the pod had on
// the node and, when pod is not nil, deletes the pod object.
func (w *podWorker) terminate(ctx context.Context, pod *wharfv1.Pod, ctrs []runtime.ContainerStatus, grace time.Duration) error {
	a := w.a
	w.stopWatches()
	ref := pod
	if ref == nil {
		ref = w.last.Load()
	}
	var wg sync.WaitGroup
	errs := make([]error, len(ctrs))
	for i, c := range ctrs {
		if c.State != runtime.StateRunning {
			continue
		}
		if ref != nil {
			a.events.container(ref, c.Name, typeNormal, "Killing", fmt.Sprintf("Stopping container %s", c.Name))
		}
		wg.Go(func() { errs[i] = a.rt.StopContainer(ctx, c.ID, grace) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	if pod != nil {
		if ctrs, err := a.rt.ListContainers(ctx, runtime.ListFilter{PodUID: w.uid}); err == nil {
			st := w.status(pod, runsByName(ctrs), true)
			if err := w.writeStatus(ctx, pod, st); err != nil && ctx.Err() == nil {
				a.log.Warn("writing the final status failed", "pod", w.ns+"/"+w.name, "err", err)
			}
		}
	}
	for _, c := range ctrs {
		if err := a.rt.DeleteContainer(ctx, c.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
			return err
		}
	}
	if a.cfg.Network != nil {
		if err := a.cfg.Network.Teardown(ctx, w.uid); err != nil {
			return err
		}
	}
	if err := a.rt.RemovePod(ctx, w.uid); err != nil {
		return err
	}
	if err := a.alloc.Release(w.uid); err != nil {
		return err
	}
	if pod != nil {
		_, err := a.c.Pods().Delete(ctx, w.ns, w.name, client.DeleteOptions{GracePeriodSeconds: proto.Int64(0)})
		if err != nil && !client.IsNotFound(err) {
			return err
		}
	}
	a.log.Info("pod removed from the node", "pod", w.ns+"/"+w.name, "uid", w.uid)
	return nil
}

// reconcile moves the pod one step towards its spec and writes its status;
// it returns when to look again.
func (w *podWorker) reconcile(ctx context.Context, pod *wharfv1.Pod, ctrs []runtime.ContainerStatus) time.Duration {
	a := w.a
	after := a.cfg.ResyncInterval
	runs := runsByName(ctrs)
	if w.startTime.IsZero() {
		if st := pod.GetStatus().GetStartTime(); st != nil {
			w.startTime = st.AsTime()
		} else {
			w.startTime = time.Now()
		}
	}
	w.observeExits(pod, runs)
	terminal := terminalPhase(pod.GetStatus().GetPhase())
	if !terminal && w.admitErr == nil {
		if left, ok := w.checkDeadline(pod, time.Now()); ok {
			after = min(after, left)
		}
	}

	changed := false
	switch {
	case terminal || w.failed != nil:
		var d time.Duration
		changed, d = w.stopAll(ctx, pod, runs)
		after = min(after, d)
	case w.admitErr == nil:
		var d time.Duration
		changed, d = w.advance(ctx, pod, runs)
		after = min(after, d)
	}
	if changed {
		ctrs, err := a.rt.ListContainers(ctx, runtime.ListFilter{PodUID: w.uid})
		if err != nil {
			return time.Second
		}
		runs = runsByName(ctrs)
	}
	// Keep what runs beside each running container in step with containerd.
	running := map[string]bool{}
	for _, c := range allContainers(pod) {
		if rs := runs[c.GetName()]; len(rs) > 0 && rs[0].State == runtime.StateRunning {
			running[rs[0].ID] = true
			w.watch(ctx, pod, c, rs[0].ID)
		}
	}
	for id := range w.watched {
		if !running[id] {
			w.unwatch(id)
		}
	}
	st := w.status(pod, runs, false)
	if err := w.writeStatus(ctx, pod, st); err != nil && ctx.Err() == nil {
		a.log.Warn("writing pod status failed", "pod", w.ns+"/"+w.name, "err", err)
		after = min(after, time.Second)
	}
	w.collectGarbage(ctx, runs)
	return after
}

func terminalPhase(p string) bool { return p == "Succeeded" || p == "Failed" }

func allContainers(pod *wharfv1.Pod) []*wharfv1.Container {
	s := pod.GetSpec()
	return append(append([]*wharfv1.Container{}, s.GetInitContainers()...), s.GetContainers()...)
}

// observeExits sends the events of runs that ended since the last look.
func (w *podWorker) observeExits(pod *wharfv1.Pod, runs map[string][]runtime.ContainerStatus) {
	for name, rs := range runs {
		r := rs[0]
		if r.State != runtime.StateExited || r.Reason != runtime.ReasonOOMKilled || w.reported["oom/"+r.ID] {
			continue
		}
		w.reported["oom/"+r.ID] = true
		w.a.events.container(pod, name, typeWarning, "OOMKilling",
			fmt.Sprintf("Container %s was killed by the kernel: it exceeded its memory limit", name))
	}
}

// advance takes the next steps: network, GPUs, init containers in order,
// then the containers. The runs of the containers it starts are put in
// runs; it reports whether it changed a container otherwise (runs is then
// stale), and when to look again.
func (w *podWorker) advance(ctx context.Context, pod *wharfv1.Pod, runs map[string][]runtime.ContainerStatus) (changed bool, after time.Duration) {
	a := w.a
	after = a.cfg.ResyncInterval
	spec := pod.GetSpec()

	// The network is set up while the first containers are created; they
	// start once it is there. Env that asks for the pod's IP needs it first.
	w.startNetwork(ctx, pod)
	if needsPodIP(pod) && !w.waitNetwork(ctx, pod) {
		return false, time.Second
	}
	if !w.admitGPUs(pod) {
		return false, after
	}

	for _, c := range spec.GetInitContainers() {
		rs := runs[c.GetName()]
		if len(rs) > 0 && rs[0].State == runtime.StateExited && rs[0].ExitCode == 0 {
			continue // done
		}
		ch, d := w.ensure(ctx, pod, c, runs, true)
		return ch, min(after, d)
	}
	for _, c := range spec.GetContainers() {
		ch, d := w.ensure(ctx, pod, c, runs, false)
		changed = changed || ch
		after = min(after, d)
	}
	return changed, after
}

// ensure moves one container towards running as the restart policy says:
// start its first run, restart it after its back-off, or kill it when a
// probe says so. A run it starts is put in runs.
func (w *podWorker) ensure(ctx context.Context, pod *wharfv1.Pod, c *wharfv1.Container, runs map[string][]runtime.ContainerStatus, init bool) (changed bool, after time.Duration) {
	a := w.a
	after = a.cfg.ResyncInterval
	name := c.GetName()
	rs := runs[name]
	if len(rs) == 0 {
		if d := w.restartBackOff(name).wait(time.Now()); d > 0 {
			return false, d // a failed start backs off too
		}
		return w.start(ctx, pod, c, 0, runs)
	}
	latest := rs[0]
	switch latest.State {
	case runtime.StateCreated:
		// Created by an agent that died before starting it, or a start that
		// failed: start it, within the back-off of failed starts.
		if d := w.restartBackOff(name).wait(time.Now()); d > 0 {
			return false, d
		}
		return w.start(ctx, pod, c, latest.RestartCount, runs)
	case runtime.StateRunning:
		grace := probeGrace(pod, c)
		failed, msg, why := false, "", killedProbe
		if want, err := runtime.NormalizeImage(c.GetImage()); err == nil && latest.Image != "" && want != latest.Image {
			// The image was changed (the one spec change allowed): restart.
			failed, msg, why = true, "definition changed (image "+latest.Image+" -> "+want+")", killedChanged
			grace = time.Duration(pod.GetSpec().GetTerminationGracePeriodSeconds()) * time.Second
		} else if rw := w.watched[latest.ID]; rw != nil {
			failed, msg = rw.probes.livenessFailed()
		}
		if !failed {
			return false, after
		}
		a.events.container(pod, name, typeNormal, "Killing", fmt.Sprintf("Container %s %s, will be restarted", name, msg))
		w.killed[latest.ID] = why
		if err := a.rt.StopContainer(ctx, latest.ID, grace); err != nil {
			a.log.Warn("stopping an unhealthy container failed", "pod", w.ns+"/"+w.name, "container", name, "err", err)
			return false, time.Second
		}
		w.unwatch(latest.ID)
		return true, 0
	}
	// Exited (or lost: StateUnknown).
	if !w.shouldRestart(pod, latest, init) {
		return false, after
	}
	bo := w.restartBackOff(name)
	if !latest.StartedAt.IsZero() && !latest.FinishedAt.IsZero() && latest.FinishedAt.Sub(latest.StartedAt) >= a.cfg.RestartBackOff.Reset {
		bo.reset()
	}
	if d := bo.wait(time.Now()); d > 0 {
		w.waiting[name] = w.crashLoopWaiting(name)
		if key := "backoff/" + latest.ID; !w.reported[key] {
			w.reported[key] = true
			a.events.container(pod, name, typeWarning, "BackOff", "Back-off restarting failed container "+name+" in pod "+w.name)
		}
		return false, d
	}
	bo.retry(time.Now())
	return w.start(ctx, pod, c, latest.RestartCount+1, runs)
}

// Why this agent killed a run (podWorker.killed).
const (
	killedProbe   = "probe"
	killedChanged = "changed"
)

// crashLoopWaiting is the waiting state of a container in its restart
// back-off.
func (w *podWorker) crashLoopWaiting(name string) *wharfv1.ContainerStateWaiting {
	return &wharfv1.ContainerStateWaiting{Reason: reasonCrashLoopBackOff, Message: fmt.Sprintf(
		"back-off %s restarting failed container=%s pod=%s_%s(%s)", w.restartBackOff(name).current(), name, w.name, w.ns, w.uid)}
}

// shouldRestart applies the restart policy to an ended run.
func (w *podWorker) shouldRestart(pod *wharfv1.Pod, r runtime.ContainerStatus, init bool) bool {
	failed := r.State != runtime.StateExited || r.ExitCode != 0 || w.killed[r.ID] != ""
	if w.killed[r.ID] == killedChanged {
		return true
	}
	switch pod.GetSpec().GetRestartPolicy() {
	case "Never":
		return false
	case "OnFailure":
		return failed
	}
	// Always: init containers run to completion once.
	return !init || failed
}

func (w *podWorker) restartBackOff(name string) *backOff {
	b := w.restarts[name]
	if b == nil {
		b = &backOff{cfg: w.a.cfg.RestartBackOff}
		w.restarts[name] = b
	}
	return b
}

// probeGrace is the grace period of a container killed for a failed probe.
func probeGrace(pod *wharfv1.Pod, c *wharfv1.Container) time.Duration {
	for _, p := range []*wharfv1.Probe{c.GetLivenessProbe(), c.GetStartupProbe()} {
		if p != nil && p.TerminationGracePeriodSeconds != nil {
			return time.Duration(p.GetTerminationGracePeriodSeconds()) * time.Second
		}
	}
	return time.Duration(pod.GetSpec().GetTerminationGracePeriodSeconds()) * time.Second
}

// start makes run restartCount of container c, unless runs has it (created
// before and not started), and starts it. The started run goes first in
// runs[c's name], so the status written next shows it without asking
// containerd again: that is part of every pod's start-up.
func (w *podWorker) start(ctx context.Context, pod *wharfv1.Pod, c *wharfv1.Container, restartCount int32, runs map[string][]runtime.ContainerStatus) (changed bool, after time.Duration) {
	a := w.a
	name := c.GetName()
	id := runtime.ContainerID(w.uid, name, restartCount)
	rs := runs[name]
	if len(rs) > 0 && rs[0].ID == id {
		rs = rs[1:] // created before: this run replaces it below
	} else {
		if ok, d := w.ensureImage(ctx, pod, c); !ok {
			return false, d
		}
		cfg, err := w.containerConfig(pod, c, restartCount)
		if err != nil {
			w.waiting[name] = &wharfv1.ContainerStateWaiting{Reason: reasonConfigError, Message: err.Error()}
			a.events.container(pod, name, typeWarning, "Failed", "Error: "+err.Error())
			return false, time.Second
		}
		_, err = a.rt.CreateContainer(ctx, cfg)
		if errors.Is(err, runtime.ErrImageNotPresent) {
			a.images.Delete(c.GetImage()) // removed behind our back: look again
			return false, 0
		}
		if err != nil && !errors.Is(err, runtime.ErrAlreadyExists) {
			reason := reasonCreateError
			if errors.Is(err, runtime.ErrInvalidSpec) {
				reason = reasonConfigError
			}
			w.waiting[name] = &wharfv1.ContainerStateWaiting{Reason: reason, Message: err.Error()}
			a.events.container(pod, name, typeWarning, "Failed", "Error: "+err.Error())
			return false, 2 * time.Second
		}
		a.events.container(pod, name, typeNormal, "Created", "Created container "+name)
	}
	if !w.waitNetwork(ctx, pod) {
		return false, time.Second
	}
	st, err := a.rt.StartContainer(ctx, id)
	if err != nil {
		// Start again from a fresh container, within the restart back-off.
		a.rt.DeleteContainer(context.WithoutCancel(ctx), id)
		w.restartBackOff(name).retry(time.Now())
		w.waiting[name] = &wharfv1.ContainerStateWaiting{Reason: reasonRunError, Message: err.Error()}
		a.events.container(pod, name, typeWarning, "Failed", "Error: "+err.Error())
		return true, w.restartBackOff(name).wait(time.Now())
	}
	runs[name] = append([]runtime.ContainerStatus{st}, rs...)
	delete(w.waiting, name)
	a.events.container(pod, name, typeNormal, "Started", "Started container "+name)
	// Its exit wakes the worker (watch), and so do its probes.
	return false, a.cfg.ResyncInterval
}

// containerConfig is the runtime's view of run restartCount of c: the
// network namespace, and the GPUs with their env and CDI edits.
func (w *podWorker) containerConfig(pod *wharfv1.Pod, c *wharfv1.Container, restartCount int32) (runtime.ContainerConfig, error) {
	cfg := runtime.ContainerConfig{Pod: pod, Container: c, RestartCount: restartCount}
	if !pod.GetSpec().GetHostNetwork() && w.a.cfg.Network != nil {
		cfg.NetNSPath = w.a.cfg.Network.NetNSPath(w.uid)
	}
	// Env fieldRefs to status.podIP and hostIP see the addresses.
	if ip := w.podIP.Load(); ip != nil && (pod.GetStatus().GetPodIp() != *ip || pod.GetStatus().GetHostIp() != w.a.cfg.NodeIP) {
		p := proto.Clone(pod).(*wharfv1.Pod)
		if p.Status == nil {
			p.Status = &wharfv1.PodStatus{}
		}
		p.Status.PodIp, p.Status.HostIp = *ip, w.a.cfg.NodeIP
		cfg.Pod = p
	}
	devs := w.a.alloc.Devices(w.uid, c.GetName())
	n, _ := gpu.Request(c)
	if n > 0 || len(devs) > 0 || len(w.a.gpus) > 0 {
		env, opts, err := w.a.injector.ContainerOpts(devs)
		if err != nil {
			return cfg, err
		}
		cfg.Env, cfg.SpecOpts = env, opts
	}
	return cfg, nil
}

// netJob is a pod network setup running in the background.
type netJob struct {
	done chan struct{}
	att  network.Attachment
	err  error
}

// startNetwork starts giving the pod its network namespace and IP, unless
// it has them, uses the host's network, or a setup is under way.
func (w *podWorker) startNetwork(ctx context.Context, pod *wharfv1.Pod) {
	a := w.a
	if w.netReady || w.net != nil {
		return
	}
	if pod.GetSpec().GetHostNetwork() || a.cfg.Network == nil {
		ip := a.cfg.NodeIP
		w.podIP.Store(&ip)
		w.netReady = true
		return
	}
	j := &netJob{done: make(chan struct{})}
	w.net = j
	a.wg.Go(func() {
		defer close(j.done)
		j.att, j.err = a.cfg.Network.Setup(ctx, w.uid, w.ns, w.name)
	})
}

// waitNetwork waits for the setup startNetwork began and reports whether
// the pod has its network; a failure is in the containers' waiting reasons
// and the next sync tries again.
func (w *podWorker) waitNetwork(ctx context.Context, pod *wharfv1.Pod) bool {
	if w.netReady {
		return true
	}
	j := w.net
	if j == nil {
		return false
	}
	select {
	case <-j.done:
	case <-ctx.Done():
		return false
	}
	w.net = nil
	if err := j.err; err != nil {
		msg := fmt.Sprintf("Failed to set up the pod's network: %v", err)
		for _, c := range allContainers(pod) {
			w.waiting[c.GetName()] = &wharfv1.ContainerStateWaiting{Reason: reasonContainerCreating, Message: msg}
		}
		if !w.reported["net/"+err.Error()] {
			w.reported["net/"+err.Error()] = true
			w.a.events.pod(pod, typeWarning, "FailedCreatePodSandBox", msg)
		}
		return false
	}
	for _, c := range allContainers(pod) {
		if wt := w.waiting[c.GetName()]; wt != nil && strings.HasPrefix(wt.GetMessage(), "Failed to set up the pod's network") {
			delete(w.waiting, c.GetName())
		}
	}
	ip := j.att.IP
	w.podIP.Store(&ip)
	w.netReady = true
	return true
}

// needsPodIP reports whether a container's env refers to the pod's IP,
// which must then be known before the container is created.
func needsPodIP(pod *wharfv1.Pod) bool {
	for _, c := range allContainers(pod) {
		for _, e := range c.GetEnv() {
			if f := e.GetValueFrom().GetFieldRef().GetFieldPath(); f == "status.podIP" || f == "status.podIPs" {
				return true
			}
		}
	}
	return false
}

// admitGPUs gives the pod's containers their GPUs; a pod the node cannot
// give them to fails, as in Kubernetes.
func (w *podWorker) admitGPUs(pod *wharfv1.Pod) bool {
	a := w.a
	for _, c := range allContainers(pod) {
		n, err := gpu.Request(c)
		if err == nil && n == 0 {
			continue
		}
		if err == nil {
			_, err = a.alloc.Allocate(w.uid, c.GetName(), n)
		}
		if err != nil {
			msg := fmt.Sprintf("Pod was rejected: %v", err)
			w.admitErr = &wharfv1.PodStatus{Phase: "Failed", Reason: "OutOf" + gpu.ResourceName, Message: msg}
			a.events.pod(pod, typeWarning, "FailedAdmission", msg)
			return false
		}
	}
	return true
}

// collectGarbage deletes the runs older than the last two of each
// container: the previous run stays for its status and logs.
func (w *podWorker) collectGarbage(ctx context.Context, runs map[string][]runtime.ContainerStatus) {
	for _, rs := range runs {
		for _, r := range rs[min(len(rs), 2):] {
			if r.State == runtime.StateRunning {
				continue
			}
			if err := w.a.rt.DeleteContainer(ctx, r.ID); err != nil && !errors.Is(err, runtime.ErrNotFound) {
				w.a.log.Warn("removing an old container failed", "pod", w.ns+"/"+w.name, "container", r.Name, "err", err)
			}
		}
	}
}
