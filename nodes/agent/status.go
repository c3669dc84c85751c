package agent

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/runtime"
	"github.com/wharfhq/wharf/sdk/client"
)

// status computes the pod's status from its runs. final is set when the
// pod is being removed: no container will run again.
func (w *podWorker) status(pod *wharfv1.Pod, runs map[string][]runtime.ContainerStatus, final bool) *wharfv1.PodStatus {
	old := pod.GetStatus()
	if w.admitErr != nil {
		st := proto.Clone(w.admitErr).(*wharfv1.PodStatus)
		st.QosClass, st.HostIp = old.GetQosClass(), w.a.cfg.NodeIP
		st.HostIps = []*wharfv1.HostIP{{Ip: w.a.cfg.NodeIP}}
		st.StartTime = timestamppb.New(w.startTime)
		st.Conditions = conditions(old, map[string]condition{
			"PodScheduled": {true, "", ""},
			"Ready":        {false, "PodFailed", ""},
		})
		return st
	}
	spec := pod.GetSpec()
	terminal := terminalPhase(old.GetPhase())
	// No container of a pod that failed here runs again.
	stopped := final || terminal || w.failed != nil
	st := &wharfv1.PodStatus{
		QosClass: old.GetQosClass(),
		HostIp:   w.a.cfg.NodeIP,
		HostIps:  []*wharfv1.HostIP{{Ip: w.a.cfg.NodeIP}},
	}
	if !w.startTime.IsZero() {
		st.StartTime = timestamppb.New(w.startTime)
	}
	if ip := w.podIP.Load(); ip != nil && *ip != "" {
		st.PodIp, st.PodIps = *ip, []*wharfv1.PodIP{{Ip: *ip}}
	} else if old.GetPodIp() != "" {
		st.PodIp, st.PodIps = old.GetPodIp(), old.GetPodIps()
	}

	// Init containers: done in order; a failed one under Never fails the pod.
	initDone, initFailed := true, false
	for _, c := range spec.GetInitContainers() {
		rs := runs[c.GetName()]
		cs := w.containerStatus(pod, c, rs, true, stopped, initDone)
		st.InitContainerStatuses = append(st.InitContainerStatuses, cs)
		if len(rs) > 0 && rs[0].State == runtime.StateExited && rs[0].ExitCode == 0 {
			continue
		}
		if len(rs) > 0 && rs[0].State != runtime.StateRunning && rs[0].State != runtime.StateCreated &&
			(stopped || !w.shouldRestart(pod, rs[0], true)) {
			initFailed = true
		}
		initDone = false
	}

	var waiting, running, succeeded, failed int
	var unready []string
	for _, c := range spec.GetContainers() {
		rs := runs[c.GetName()]
		cs := w.containerStatus(pod, c, rs, false, stopped, initDone)
		st.ContainerStatuses = append(st.ContainerStatuses, cs)
		if !cs.GetReady() {
			unready = append(unready, c.GetName())
		}
		switch {
		case len(rs) == 0, rs[0].State == runtime.StateCreated && rs[0].RestartCount == 0:
			waiting++
		case rs[0].State == runtime.StateRunning, rs[0].State == runtime.StateCreated:
			running++
		case rs[0].State == runtime.StateExited && rs[0].ExitCode == 0 && w.killed[rs[0].ID] == "":
			succeeded++
		default:
			failed++
		}
	}

	policy := spec.GetRestartPolicy()
	switch {
	case terminal:
		st.Phase = old.GetPhase()
	case w.failed != nil:
		st.Phase = "Failed"
	case initFailed:
		st.Phase = "Failed"
	case !initDone || waiting > 0:
		st.Phase = "Pending"
	case running > 0:
		st.Phase = "Running"
	case final:
		st.Phase = "Succeeded"
		if failed > 0 {
			st.Phase = "Failed"
		}
	case policy == "Never":
		st.Phase = "Succeeded"
		if failed > 0 {
			st.Phase = "Failed"
		}
	case policy == "OnFailure" && failed == 0:
		st.Phase = "Succeeded"
	default:
		st.Phase = "Running" // restarting
	}
	if terminalPhase(st.Phase) {
		st.Reason, st.Message = old.GetReason(), old.GetMessage()
		if !terminal && w.failed != nil {
			st.Reason, st.Message = w.failed.reason, w.failed.message
		}
		// No container of a finished pod is ready, not even one that is
		// still being stopped.
		for _, cs := range st.InitContainerStatuses {
			cs.Ready = false
		}
		unready = unready[:0]
		for _, cs := range st.ContainerStatuses {
			cs.Ready = false
			unready = append(unready, cs.GetName())
		}
	}

	ready := len(unready) == 0 && st.Phase == "Running"
	notReady := condition{false, "ContainersNotReady", fmt.Sprintf("containers with unready status: [%s]", strings.Join(unready, " "))}
	if st.Phase == "Succeeded" {
		notReady = condition{false, "PodCompleted", ""}
	}
	conds := map[string]condition{
		"PodScheduled":    {true, "", ""},
		"Initialized":     {true, "", ""},
		"ContainersReady": {true, "", ""},
		"Ready":           {true, "", ""},
	}
	if !initDone {
		var pending []string
		for _, c := range spec.GetInitContainers() {
			if rs := runs[c.GetName()]; len(rs) == 0 || rs[0].State != runtime.StateExited || rs[0].ExitCode != 0 {
				pending = append(pending, c.GetName())
			}
		}
		conds["Initialized"] = condition{false, "ContainersNotInitialized", fmt.Sprintf("containers with incomplete status: [%s]", strings.Join(pending, " "))}
	}
	if !ready {
		conds["ContainersReady"], conds["Ready"] = notReady, notReady
	}
	st.Conditions = conditions(old, conds)
	return st
}

// containerStatus is one container's status. stopped: no run will follow
// (the pod is terminal or being removed); initDone: the pod's init
// containers are done (for the waiting reason of the others).
func (w *podWorker) containerStatus(pod *wharfv1.Pod, c *wharfv1.Container, rs []runtime.ContainerStatus, init, stopped, initDone bool) *wharfv1.ContainerStatus {
	name := c.GetName()
	cs := &wharfv1.ContainerStatus{Name: name, Image: c.GetImage(), Started: proto.Bool(false)}
	for _, d := range w.a.alloc.Devices(w.uid, name) {
		cs.AllocatedDevices = append(cs.AllocatedDevices, d.GetUuid())
	}
	waiting := func() *wharfv1.ContainerState {
		if wt := w.waiting[name]; wt != nil {
			return &wharfv1.ContainerState{Waiting: proto.Clone(wt).(*wharfv1.ContainerStateWaiting)}
		}
		reason := reasonContainerCreating
		if !init && !initDone {
			reason = reasonPodInitializing
		}
		return &wharfv1.ContainerState{Waiting: &wharfv1.ContainerStateWaiting{Reason: reason}}
	}
	if len(rs) == 0 {
		cs.State = waiting() // never started
		return cs
	}
	latest := rs[0]
	cs.RestartCount = latest.RestartCount
	cs.ImageId = latest.ImageID
	cs.ContainerId = runtime.ContainerIDPrefix + latest.ID
	if len(rs) > 1 {
		cs.LastState = rs[1].ContainerState()
	}
	switch latest.State {
	case runtime.StateRunning:
		cs.State = latest.ContainerState()
		started, ready := true, true
		if rw := w.watched[latest.ID]; rw != nil {
			started, ready = rw.probes.status()
		}
		cs.Started, cs.Ready = proto.Bool(started), started && ready
	case runtime.StateCreated:
		cs.State = waiting()
	default:
		term := latest.ContainerState()
		if t := term.GetTerminated(); t != nil && latest.ExitCode > 128 && latest.ExitCode < 160 {
			t.Signal = latest.ExitCode - 128
		}
		if !stopped && w.shouldRestart(pod, latest, init) {
			// A restart is coming: it waits, and the run that ended is the
			// last state.
			cs.State, cs.LastState = waiting(), term
			if w.waiting[name] == nil {
				cs.State.Waiting = w.crashLoopWaiting(name)
			}
		} else {
			cs.State = term
		}
	}
	return cs
}

// condition is a pod condition's status, reason and message.
type condition struct {
	ok              bool
	reason, message string
}

// conditions turns want into pod conditions in a fixed order, keeping the
// transition time of those whose status did not change, and conditions
// of other types as they were.
func conditions(old *wharfv1.PodStatus, want map[string]condition) []*wharfv1.PodCondition {
	now := timestamppb.New(time.Now().Truncate(time.Second))
	prev := map[string]*wharfv1.PodCondition{}
	for _, c := range old.GetConditions() {
		prev[c.GetType()] = c
	}
	var out []*wharfv1.PodCondition
	for _, t := range []string{"PodScheduled", "Initialized", "ContainersReady", "Ready"} {
		c, ok := want[t]
		if !ok {
			continue
		}
		status := "False"
		if c.ok {
			status = "True"
		}
		pc := &wharfv1.PodCondition{Type: t, Status: status, Reason: c.reason, Message: c.message, LastTransitionTime: now}
		if p := prev[t]; p != nil && p.GetStatus() == status && p.GetLastTransitionTime() != nil {
			pc.LastTransitionTime = p.GetLastTransitionTime()
		}
		out = append(out, pc)
	}
	for _, c := range old.GetConditions() {
		if _, ours := want[c.GetType()]; !ours && !isAgentCondition(c.GetType()) {
			out = append(out, c)
		}
	}
	return out
}

func isAgentCondition(t string) bool {
	switch t {
	case "PodScheduled", "Initialized", "ContainersReady", "Ready":
		return true
	}
	return false
}

// writeStatus writes st as the pod's status unless it already is. A
// conflict (someone else changed the pod) is retried on the fresh object.
func (w *podWorker) writeStatus(ctx context.Context, pod *wharfv1.Pod, st *wharfv1.PodStatus) error {
	base := pod
	if w.written != nil && w.written.GetMetadata().GetUid() == pod.GetMetadata().GetUid() &&
		newer(w.written.GetMetadata().GetResourceVersion(), pod.GetMetadata().GetResourceVersion()) {
		base = w.written // our last write is ahead of the cache
	}
	if proto.Equal(base.GetStatus(), st) {
		return nil
	}
	pods := w.a.c.Pods()
	for range 5 {
		next := proto.Clone(base).(*wharfv1.Pod)
		next.Status = st
		out, err := pods.UpdateStatus(ctx, next)
		switch {
		case err == nil:
			w.written = out
			return nil
		case client.IsNotFound(err):
			return nil // deleted meanwhile: the next sync cleans up
		case !client.IsConflict(err):
			return err
		}
		fresh, err := pods.Get(ctx, w.ns, w.name)
		if client.IsNotFound(err) {
			return nil
		}
		if err != nil {
			return err
		}
		if fresh.GetMetadata().GetUid() != w.uid {
			return nil
		}
		base = fresh
	}
	return fmt.Errorf("agent: pod %s/%s status: still conflicting", w.ns, w.name)
}

// newer reports whether resourceVersion a is after b.
func newer(a, b string) bool {
	x, err1 := strconv.ParseInt(a, 10, 64)
	y, err2 := strconv.ParseInt(b, 10, 64)
	return err1 == nil && err2 == nil && x > y
}
