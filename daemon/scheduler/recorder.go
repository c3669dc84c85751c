package scheduler

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
)

// What the scheduler writes besides bindings: events, the PodScheduled
// condition of pods that do not fit, and PodGroup status.
//
// Writes go through the API from a few worker goroutines, off the
// scheduling loop, coalesced by object: a pod's newer condition replaces
// one not yet written. Events go through a client.EventRecorder, as the
// node agent's and the plugin host's do. Event volume is bounded so that
// a burst of 10,000 pods does not double the write load:
//
//   - FailedScheduling (Warning) is written per pod and message; a repeat
//     of the same message only bumps the event's count, written at most
//     once per EventSeriesInterval (Kubernetes' event series), and past
//     ten messages in ten minutes one event combines the rest.
//   - Scheduled (Normal) is sampled: at most ScheduledEventBurst at once and
//     ScheduledEventsPerSecond after that. Every bound pod has its
//     PodScheduled=True condition, written with the binding; the event is
//     for people reading `wharf describe`, and in a burst a sample is
//     enough.

// Event limits.
const (
	EventSeriesInterval      = time.Minute
	ScheduledEventBurst      = 100
	ScheduledEventsPerSecond = 20
	recorderWorkers          = 4
	maxPendingWrites         = 100000
)

// Event reasons the scheduler writes.
const (
	ReasonScheduled        = "Scheduled"
	ReasonFailedScheduling = "FailedScheduling"
	// GangTimeoutPrefix starts the message of the FailedScheduling events
	// written when a gang's time ran out.
	GangTimeoutPrefix = "GangTimeout: "
)

type recorder struct {
	c         *client.Client
	pods      *client.Informer[*wharfv1.Pod]
	groups    *client.Informer[*wharfv1.PodGroup]
	component string
	log       *slog.Logger

	mu      sync.Mutex
	pending map[string]func(context.Context) error
	order   []string
	sig     chan struct{}

	// events writes the events (counting repeats, at most one write per
	// EventSeriesInterval for each).
	events *client.EventRecorder

	// Scheduled-event token bucket; owned by the binder goroutines.
	bucketMu sync.Mutex
	tokens   float64
	refilled time.Time
}

func newRecorder(c *client.Client, pods *client.Informer[*wharfv1.Pod], groups *client.Informer[*wharfv1.PodGroup], component string, log *slog.Logger) *recorder {
	return &recorder{
		c: c, pods: pods, groups: groups, component: component, log: log,
		pending: map[string]func(context.Context) error{},
		sig:     make(chan struct{}, 1),
		tokens:  ScheduledEventBurst,
		events: client.NewEventRecorder(client.EventRecorderConfig{
			Component: component, Interval: EventSeriesInterval,
			Writers: recorderWorkers, MaxSeries: maxPendingWrites, Logger: log,
		}),
	}
}

// run writes until ctx ends.
func (r *recorder) run(ctx context.Context) {
	var wg sync.WaitGroup
	wg.Go(func() { r.events.Run(ctx, r.c) })
	for range recorderWorkers {
		wg.Go(func() {
			for {
				fn := r.next(ctx)
				if fn == nil {
					return
				}
				wctx, cancel := context.WithTimeout(ctx, 30*time.Second)
				if err := fn(wctx); err != nil && ctx.Err() == nil && !client.IsNotFound(err) && !client.IsConflict(err) {
					r.log.Warn("scheduler write failed", "err", err)
				}
				cancel()
			}
		})
	}
	wg.Wait()
}

func (r *recorder) next(ctx context.Context) func(context.Context) error {
	for {
		r.mu.Lock()
		if len(r.order) > 0 {
			key := r.order[0]
			r.order[0] = ""
			r.order = r.order[1:]
			fn := r.pending[key]
			delete(r.pending, key)
			more := len(r.order) > 0
			r.mu.Unlock()
			if more {
				r.signal()
			}
			return fn
		}
		r.mu.Unlock()
		select {
		case <-ctx.Done():
			return nil
		case <-r.sig:
		}
	}
}

func (r *recorder) signal() {
	select {
	case r.sig <- struct{}{}:
	default:
	}
}

// enqueue schedules fn under key, replacing a pending write with the same
// key (its newer state wins).
func (r *recorder) enqueue(key string, fn func(context.Context) error) {
	r.mu.Lock()
	if _, ok := r.pending[key]; !ok {
		if len(r.order) >= maxPendingWrites {
			r.mu.Unlock()
			return // far behind: drop (events and conditions are advisory)
		}
		r.order = append(r.order, key)
	}
	r.pending[key] = fn
	r.mu.Unlock()
	r.signal()
}

// unschedulable records that pod fits no node: the PodScheduled=False
// condition (reason Unschedulable) with msg, and a FailedScheduling event.
// Called from the scheduling loop.
func (r *recorder) unschedulable(key string, pod *wharfv1.Pod, msg string) {
	r.failedEvent(pod, msg)
	r.condition(key, pod, msg)
}

// condition writes PodScheduled=False with msg on the pod, unless it has
// it already. The write is conditional on the pod's version the cache had
// when the write runs, so a pod bound meanwhile keeps its condition.
func (r *recorder) condition(key string, pod *wharfv1.Pod, msg string) {
	if c := podCondition(pod, "PodScheduled"); c != nil && c.GetStatus() == "False" && c.GetMessage() == msg {
		return
	}
	ns, name := pod.GetMetadata().GetNamespace(), pod.GetMetadata().GetName()
	r.enqueue("cond/"+key, func(ctx context.Context) error {
		cur, ok := r.pods.Get(ns, name)
		if !ok || cur.GetSpec().GetNodeName() != "" || cur.GetMetadata().GetUid() != pod.GetMetadata().GetUid() {
			return nil
		}
		if c := podCondition(cur, "PodScheduled"); c != nil && c.GetStatus() == "False" && c.GetMessage() == msg {
			return nil
		}
		next := &wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{
			Name: name, Namespace: ns, ResourceVersion: cur.GetMetadata().GetResourceVersion(),
		}}
		st := proto.Clone(cur.GetStatus()).(*wharfv1.PodStatus)
		if st == nil {
			st = &wharfv1.PodStatus{Phase: "Pending"}
		}
		setCondition(st, &wharfv1.PodCondition{Type: "PodScheduled", Status: "False", Reason: "Unschedulable", Message: msg})
		next.Status = st
		_, err := r.c.Pods().UpdateStatus(ctx, next)
		return err
	})
}

// failedEvent writes or counts the pod's FailedScheduling event.
func (r *recorder) failedEvent(pod *wharfv1.Pod, msg string) {
	r.events.Event(podRef(pod), "Warning", ReasonFailedScheduling, msg)
}

// scheduled writes the Normal Scheduled event of a bound pod, when the
// sampling allows. Called from binder goroutines.
func (r *recorder) scheduled(b bindItem, now time.Time) {
	r.bucketMu.Lock()
	if !r.refilled.IsZero() {
		r.tokens = min(ScheduledEventBurst, r.tokens+now.Sub(r.refilled).Seconds()*ScheduledEventsPerSecond)
	}
	r.refilled = now
	ok := r.tokens >= 1
	if ok {
		r.tokens--
	}
	r.bucketMu.Unlock()
	if !ok {
		return
	}
	ref := &wharfv1.ObjectReference{Kind: "Pod", ApiVersion: "v1", Namespace: b.binding.GetNamespace(), Name: b.binding.GetName(), Uid: b.binding.GetUid()}
	msg := fmt.Sprintf("Successfully assigned %s/%s to %s", b.binding.GetNamespace(), b.binding.GetName(), b.binding.GetNodeName())
	r.events.Event(ref, "Normal", ReasonScheduled, msg)
}

// warning writes a Warning event about ref.
func (r *recorder) warning(ref *wharfv1.ObjectReference, reason, msg string) {
	r.events.Event(ref, "Warning", reason, msg)
}

// groupStatus writes a PodGroup's status when it differs.
func (r *recorder) groupStatus(key, ns, name string, scheduled int32, minMember int32, message string, now time.Time) {
	r.enqueue("pg/"+key, func(ctx context.Context) error {
		cur, ok := r.groups.Get(ns, name)
		if !ok {
			return nil
		}
		st := proto.Clone(cur.GetStatus()).(*wharfv1.PodGroupStatus)
		if st == nil {
			st = &wharfv1.PodGroupStatus{}
		}
		phase := "Pending"
		if scheduled >= minMember {
			phase = "Scheduled"
			if st.GetPhase() != "Scheduled" {
				st.ScheduleTime = timestamppb.New(now)
			}
			message = ""
		}
		if st.GetPhase() == phase && st.GetScheduled() == scheduled && (message == "" || st.GetMessage() == message) {
			return nil
		}
		st.Phase, st.Scheduled = phase, scheduled
		if message != "" || phase == "Scheduled" {
			st.Message = message
		}
		_, err := r.c.PodGroups().UpdateStatus(ctx, &wharfv1.PodGroup{
			Metadata: &wharfv1.ObjectMeta{Name: name, Namespace: ns}, Status: st,
		})
		return err
	})
}

func podRef(p *wharfv1.Pod) *wharfv1.ObjectReference {
	m := p.GetMetadata()
	return &wharfv1.ObjectReference{Kind: "Pod", ApiVersion: "v1", Namespace: m.GetNamespace(), Name: m.GetName(), Uid: m.GetUid()}
}

func podCondition(p *wharfv1.Pod, typ string) *wharfv1.PodCondition {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == typ {
			return c
		}
	}
	return nil
}

// setCondition replaces or adds c (by type), keeping the transition time
// when the status did not change.
func setCondition(st *wharfv1.PodStatus, c *wharfv1.PodCondition) {
	now := timestamppb.Now()
	for i, old := range st.Conditions {
		if old.GetType() != c.GetType() {
			continue
		}
		c.LastTransitionTime = old.GetLastTransitionTime()
		if old.GetStatus() != c.GetStatus() || c.LastTransitionTime == nil {
			c.LastTransitionTime = now
		}
		st.Conditions[i] = c
		return
	}
	c.LastTransitionTime = now
	st.Conditions = append(st.Conditions, c)
}
