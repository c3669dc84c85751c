package agent

import (
	"context"
	"errors"
	"sync"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/runtime"
)

// The pod's failure when spec.activeDeadlineSeconds passes, as Kubernetes
// reports it.
const (
	reasonDeadlineExceeded  = "DeadlineExceeded"
	messageDeadlineExceeded = "Pod was active on the node longer than the specified deadline"
)

// podFailure is why this agent failed a pod that was running.
type podFailure struct {
	reason, message string
}

// checkDeadline fails the pod once its activeDeadlineSeconds, counted from
// its start time, has passed. It returns how long is left, or ok false when
// the pod has no deadline or has failed.
func (w *podWorker) checkDeadline(pod *wharfv1.Pod, now time.Time) (left time.Duration, ok bool) {
	spec := pod.GetSpec()
	if spec.ActiveDeadlineSeconds == nil || w.failed != nil {
		return 0, false
	}
	left = w.startTime.Add(time.Duration(spec.GetActiveDeadlineSeconds()) * time.Second).Sub(now)
	if left > 0 {
		return left, true
	}
	w.failed = &podFailure{reason: reasonDeadlineExceeded, message: messageDeadlineExceeded}
	w.a.events.pod(pod, typeNormal, reasonDeadlineExceeded, messageDeadlineExceeded)
	return 0, false
}

// stopAll stops the pod's running containers, which must not run any more:
// the pod failed on this node or its phase is final. The pod's status is
// written first, so the failure shows at once, not after the grace period.
// It reports whether it stopped any, and when to look again.
func (w *podWorker) stopAll(ctx context.Context, pod *wharfv1.Pod, runs map[string][]runtime.ContainerStatus) (stopped bool, after time.Duration) {
	a := w.a
	var ids []string
	for _, c := range allContainers(pod) {
		if rs := runs[c.GetName()]; len(rs) > 0 && rs[0].State == runtime.StateRunning {
			ids = append(ids, rs[0].ID)
			a.events.container(pod, c.GetName(), typeNormal, "Killing", "Stopping container "+c.GetName())
		}
	}
	if len(ids) == 0 {
		return false, a.cfg.ResyncInterval
	}
	if err := w.writeStatus(ctx, pod, w.status(pod, runs, false)); err != nil && ctx.Err() == nil {
		a.log.Warn("writing pod status failed", "pod", w.ns+"/"+w.name, "err", err)
	}
	grace := time.Duration(pod.GetSpec().GetTerminationGracePeriodSeconds()) * time.Second
	var wg sync.WaitGroup
	errs := make([]error, len(ids))
	for i, id := range ids {
		wg.Go(func() { errs[i] = a.rt.StopContainer(ctx, id, grace) })
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		a.log.Warn("stopping the containers of a finished pod failed", "pod", w.ns+"/"+w.name, "err", err)
		return true, time.Second
	}
	for _, id := range ids {
		w.unwatch(id)
	}
	return true, a.cfg.ResyncInterval
}
