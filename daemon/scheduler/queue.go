package scheduler

import (
	"container/heap"
	"time"

	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
)

// Back-off and retry of pods that did not fit, as Kubernetes' scheduling
// queue does it.
const (
	// InitialBackoff is the wait before a pod's second attempt; it doubles
	// with every failed attempt up to MaxBackoff.
	InitialBackoff = time.Second
	MaxBackoff     = 10 * time.Second
	// UnschedulableTimeout: a pod that did not fit waits for a cluster
	// event that may make it fit (a node added or changed, a pod removed);
	// after this long it is tried again anyway.
	UnschedulableTimeout = 30 * time.Second
)

// where a queued pod is.
type where uint8

const (
	inActive where = iota + 1
	inBackoff
	inUnschedulable
)

// queuedPod is a pending pod in the queue, with its attempts.
type queuedPod struct {
	key      string
	pod      *wharfv1.Pod
	info     *framework.PodInfo // computed on first use, dropped when the pod changes
	infoErr  error
	priority int32

	added       time.Time // first entered the queue: latency is measured from here
	ts          time.Time // entered the active queue: FIFO within a priority
	attempts    int
	lastAttempt time.Time
	// groupMissing: the last attempt was made without the pod's PodGroup
	// in the scheduler's view (see Ungate).
	groupMissing bool
	unschedAt    time.Time // entered the unschedulable set

	where where
	index int // in its heap
}

// podInfo returns the pod's scheduling view, computed once per version.
func (qp *queuedPod) podInfo() (*framework.PodInfo, error) {
	if qp.info == nil && qp.infoErr == nil {
		qp.info, qp.infoErr = framework.NewPodInfo(qp.pod)
	}
	return qp.info, qp.infoErr
}

// backoffUntil is when the pod's back-off after its last attempt ends.
func (qp *queuedPod) backoffUntil() time.Time {
	return qp.lastAttempt.Add(backoffDuration(qp.attempts))
}

// backoffDuration is the back-off after n failed attempts: 1s, 2s, 4s, 8s,
// then 10s.
func backoffDuration(n int) time.Duration {
	if n <= 0 {
		return 0
	}
	d := InitialBackoff
	for i := 1; i < n && d < MaxBackoff; i++ {
		d *= 2
	}
	return min(d, MaxBackoff)
}

// queue holds the pending pods of one scheduler: an active heap (highest
// spec.priority first, then first in first out), a back-off heap (ordered
// by the end of each pod's back-off) and the unschedulable set (pods that
// did not fit, waiting for a cluster event). A popped pod is out of the
// queue until the scheduler puts it back (Requeue) or is done with it.
//
// It is not safe for concurrent use: the scheduling loop owns it. Times are
// passed in, so tests drive the clock.
type queue struct {
	active  podHeap
	backoff podHeap
	unsched map[string]*queuedPod
	all     map[string]*queuedPod
}

func newQueue() *queue {
	return &queue{
		active:  podHeap{less: activeLess},
		backoff: podHeap{less: backoffLess},
		unsched: map[string]*queuedPod{},
		all:     map[string]*queuedPod{},
	}
}

func activeLess(a, b *queuedPod) bool {
	if a.priority != b.priority {
		return a.priority > b.priority
	}
	return a.ts.Before(b.ts)
}

func backoffLess(a, b *queuedPod) bool { return a.backoffUntil().Before(b.backoffUntil()) }

// Len returns the number of queued pods (active, backing off, unschedulable).
func (q *queue) Len() int { return len(q.all) }

// Counts returns how many pods are active, backing off and unschedulable.
func (q *queue) Counts() (active, backoff, unschedulable int) {
	return q.active.Len(), q.backoff.Len(), len(q.unsched)
}

// Has reports whether the pod with key is queued.
func (q *queue) Has(key string) bool { _, ok := q.all[key]; return ok }

// Add queues a new pending pod, or applies an update to a queued one (see
// Update).
func (q *queue) Add(key string, pod *wharfv1.Pod, now time.Time) {
	if q.Update(key, pod, now) {
		return
	}
	qp := &queuedPod{key: key, pod: pod, priority: pod.GetSpec().GetPriority(), added: now, ts: now}
	q.all[key] = qp
	q.toActive(qp, now)
}

// Update replaces the object of a queued pod and reports whether the pod
// was queued. An unschedulable pod whose spec, labels or annotations
// changed may fit now: it moves to the active queue (or back-off). A change
// of status only (the scheduler's own condition) moves nothing.
func (q *queue) Update(key string, pod *wharfv1.Pod, now time.Time) bool {
	qp, ok := q.all[key]
	if !ok {
		return false
	}
	old := qp.pod
	qp.pod = pod
	if !schedulingChanged(old, pod) {
		return true
	}
	qp.info, qp.infoErr = nil, nil
	if p := pod.GetSpec().GetPriority(); p != qp.priority {
		qp.priority = p
		if qp.where == inActive {
			heap.Fix(&q.active, qp.index)
		}
	}
	if qp.where == inUnschedulable {
		delete(q.unsched, key)
		q.activeOrBackoff(qp, now)
	}
	return true
}

// schedulingChanged reports whether an update can change where the pod
// fits: spec, labels or annotations.
func schedulingChanged(old, pod *wharfv1.Pod) bool {
	om, nm := old.GetMetadata(), pod.GetMetadata()
	if om.GetGeneration() != nm.GetGeneration() || !proto.Equal(old.GetSpec(), pod.GetSpec()) {
		return true
	}
	return !mapsEqual(om.GetLabels(), nm.GetLabels()) || !mapsEqual(om.GetAnnotations(), nm.GetAnnotations())
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// Delete removes the pod with key, wherever it is.
func (q *queue) Delete(key string) {
	qp, ok := q.all[key]
	if !ok {
		return
	}
	delete(q.all, key)
	switch qp.where {
	case inActive:
		heap.Remove(&q.active, qp.index)
	case inBackoff:
		heap.Remove(&q.backoff, qp.index)
	case inUnschedulable:
		delete(q.unsched, key)
	}
	qp.where = 0
}

// Pop moves pods whose back-off ended to the active queue, then removes and
// returns the first active pod, counting an attempt; nil when none is
// active.
func (q *queue) Pop(now time.Time) *queuedPod {
	q.flushBackoff(now)
	if q.active.Len() == 0 {
		return nil
	}
	qp := heap.Pop(&q.active).(*queuedPod)
	delete(q.all, qp.key)
	qp.where = 0
	qp.attempts++
	qp.lastAttempt = now
	return qp
}

// Requeue puts a popped pod back after a failed attempt: into the
// unschedulable set when it did not fit (it waits for a cluster event, or
// UnschedulableTimeout), else (an error, a rejected reservation) into
// back-off. A pod deleted or bound meanwhile must not be requeued; the
// caller checks.
func (q *queue) Requeue(qp *queuedPod, unschedulable bool, now time.Time) {
	if _, ok := q.all[qp.key]; ok {
		return // re-added by an event meanwhile
	}
	q.all[qp.key] = qp
	if unschedulable {
		qp.where, qp.unschedAt = inUnschedulable, now
		q.unsched[qp.key] = qp
		return
	}
	q.activeOrBackoff(qp, now)
}

// MoveAll moves every unschedulable pod to the active queue, or to back-off
// while its back-off lasts: a cluster event may have made room. It reports
// how many moved.
func (q *queue) MoveAll(now time.Time) int {
	n := len(q.unsched)
	for key, qp := range q.unsched {
		delete(q.unsched, key)
		q.activeOrBackoff(qp, now)
	}
	return n
}

// MoveIf is MoveAll for the unschedulable pods match selects.
func (q *queue) MoveIf(now time.Time, match func(*queuedPod) bool) int {
	n := 0
	for key, qp := range q.unsched {
		if match(qp) {
			delete(q.unsched, key)
			q.activeOrBackoff(qp, now)
			n++
		}
	}
	return n
}

// Ungate moves the unschedulable pods match selects whose last attempt
// was made without their PodGroup (groupMissing) back as though that
// attempt had not happened. The watches deliver pods and groups in no
// order across kinds, so a member can come before its group; being turned
// away for that said nothing about room. So it costs no back-off, and the
// pod takes its first place in line again, ahead of pods created after it.
func (q *queue) Ungate(now time.Time, match func(*queuedPod) bool) int {
	n := 0
	for key, qp := range q.unsched {
		if !qp.groupMissing || !match(qp) {
			continue
		}
		delete(q.unsched, key)
		qp.attempts, qp.groupMissing = max(qp.attempts-1, 0), false
		if now.Before(qp.backoffUntil()) {
			qp.where = inBackoff
			heap.Push(&q.backoff, qp)
		} else {
			qp.where, qp.ts = inActive, qp.added
			heap.Push(&q.active, qp)
		}
		n++
	}
	return n
}

// FlushUnschedulable moves pods unschedulable for UnschedulableTimeout.
func (q *queue) FlushUnschedulable(now time.Time) int {
	return q.MoveIf(now, func(qp *queuedPod) bool { return !now.Before(qp.unschedAt.Add(UnschedulableTimeout)) })
}

// NextBackoff returns when the earliest back-off ends; zero when no pod
// backs off. (Unschedulable pods wait for events; the loop flushes the
// ones that waited UnschedulableTimeout now and then.)
func (q *queue) NextBackoff() time.Time {
	if q.backoff.Len() > 0 {
		return q.backoff.items[0].backoffUntil()
	}
	return time.Time{}
}

func (q *queue) flushBackoff(now time.Time) {
	for q.backoff.Len() > 0 && !now.Before(q.backoff.items[0].backoffUntil()) {
		qp := heap.Pop(&q.backoff).(*queuedPod)
		q.toActive(qp, now)
	}
}

func (q *queue) activeOrBackoff(qp *queuedPod, now time.Time) {
	if now.Before(qp.backoffUntil()) {
		qp.where = inBackoff
		heap.Push(&q.backoff, qp)
		return
	}
	q.toActive(qp, now)
}

func (q *queue) toActive(qp *queuedPod, now time.Time) {
	qp.where, qp.ts = inActive, now
	heap.Push(&q.active, qp)
}

// podHeap is a heap of queued pods that keeps each pod's index.
type podHeap struct {
	items []*queuedPod
	less  func(a, b *queuedPod) bool
}

func (h *podHeap) Len() int           { return len(h.items) }
func (h *podHeap) Less(i, j int) bool { return h.less(h.items[i], h.items[j]) }
func (h *podHeap) Swap(i, j int) {
	h.items[i], h.items[j] = h.items[j], h.items[i]
	h.items[i].index, h.items[j].index = i, j
}
func (h *podHeap) Push(x any) {
	qp := x.(*queuedPod)
	qp.index = len(h.items)
	h.items = append(h.items, qp)
}
func (h *podHeap) Pop() any {
	n := len(h.items) - 1
	qp := h.items[n]
	h.items[n] = nil
	h.items = h.items[:n]
	qp.index = -1
	return qp
}
