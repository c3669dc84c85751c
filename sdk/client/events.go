package client

import (
	"cmp"
	"container/heap"
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// EventRecorder writes Events about objects through the API, as
// Kubernetes' event recorder does for its components:
//
//   - In the background: Event queues and returns; a slow or unreachable
//     API server never holds the caller, and a failed write is tried again.
//   - The same event (object, field path, type, reason and message) is one
//     Event object, named after the object and a hash of the rest, whose
//     count grows. Its first occurrence is written at once; repeats are
//     counted and written together at most once per Interval, so a probe
//     failing every second costs a write per Interval, and no count is
//     lost while Run runs (repeats not yet written when it stops are).
//   - An object's (type, reason) that comes with more than MaxSimilar
//     different messages within SimilarWindow (an error that names a new
//     port, path or duration each time) gets one more Event for the rest,
//     its message "(combined from similar events): " and the latest.
//
// Events about cluster-scoped objects go to Namespace. An EventRecorder is
// safe for concurrent use; Run writes.
type EventRecorder struct {
	cfg  EventRecorderConfig
	wake chan struct{}

	mu      sync.Mutex
	series  map[string]*eventSeries   // by Event name
	similar map[string]*similarEvents // by object, type and reason
	// Series with occurrences not written: ready to write now, or later,
	// by when they are due (Interval after their last write).
	ready   []*eventSeries
	later   seriesHeap
	dropped int       // occurrences refused for MaxSeries
	forgot  time.Time // when old series were last dropped
}

// EventRecorderConfig configures an EventRecorder. Component is required.
type EventRecorderConfig struct {
	// Component is the events' source.component and reportingComponent
	// ("wharf-node", "wharf-plugin-host").
	Component string
	// Host is source.host and reportingInstance: the node the component
	// runs on, when it runs on one.
	Host string
	// Namespace holds the events about cluster-scoped objects (default
	// "default").
	Namespace string
	// Interval is the least time between two writes of one Event (default
	// 30s).
	Interval time.Duration
	// MaxSimilar and SimilarWindow bound the Events of one object's type
	// and reason (default 10 in 10 minutes).
	MaxSimilar    int
	SimilarWindow time.Duration
	// MaxSeries bounds the events held in memory (default 4096): past it,
	// new events are dropped (and counted in a log line) until written
	// ones age out.
	MaxSeries int
	// Writers is how many writes run at once (default 1): a component that
	// records thousands of events in a burst (the scheduler) wants a few.
	Writers int
	Logger  *slog.Logger
}

// eventSeries is one Event: what was written, and what is to be.
type eventSeries struct {
	ev      *wharfv1.Event // as last written (or to be created)
	count   int32          // occurrences seen
	written int32          // occurrences in the Event's count as written
	message string         // latest message (combined series change it)
	first   time.Time
	last    time.Time
	wroteAt time.Time // zero: never written
	created bool      // ev is in the store, as far as this recorder knows
	queued  bool      // in ready or later
	dueAt   time.Time // in later: when it is due
	index   int       // in later
}

// seriesHeap orders series by when they are due (container/heap).
type seriesHeap []*eventSeries

func (h seriesHeap) Len() int           { return len(h) }
func (h seriesHeap) Less(i, j int) bool { return h[i].dueAt.Before(h[j].dueAt) }
func (h seriesHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].index, h[j].index = i, j
}
func (h *seriesHeap) Push(x any) {
	s := x.(*eventSeries)
	s.index = len(*h)
	*h = append(*h, s)
}
func (h *seriesHeap) Pop() any {
	old := *h
	s := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return s
}

// similarEvents are the messages one object's type and reason came with
// in the current window.
type similarEvents struct {
	start    time.Time
	messages map[string]bool
}

// NewEventRecorder returns a recorder; nothing is written until Run.
func NewEventRecorder(cfg EventRecorderConfig) *EventRecorder {
	cfg.Namespace = cmp.Or(cfg.Namespace, "default")
	cfg.Interval = cmp.Or(cfg.Interval, 30*time.Second)
	cfg.MaxSimilar = cmp.Or(cfg.MaxSimilar, 10)
	cfg.SimilarWindow = cmp.Or(cfg.SimilarWindow, 10*time.Minute)
	cfg.MaxSeries = cmp.Or(cfg.MaxSeries, 4096)
	cfg.Writers = max(cfg.Writers, 1)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &EventRecorder{
		cfg:     cfg,
		wake:    make(chan struct{}, 1),
		series:  map[string]*eventSeries{},
		similar: map[string]*similarEvents{},
	}
}

// maxEventMessage bounds a message (as Kubernetes' 1 KiB note).
const maxEventMessage = 1024

// combinedPrefix starts the message of an Event that combines similar ones.
const combinedPrefix = "(combined from similar events): "

// Event records that typ ("Normal" or "Warning") reason happened to the
// object obj names (kind, namespace, name, uid, and fieldPath for a part
// of it, e.g. "spec.containers{web}").
func (r *EventRecorder) Event(obj *wharfv1.ObjectReference, typ, reason, message string) {
	if len(message) > maxEventMessage {
		message = message[:maxEventMessage-3] + "..."
	}
	now := time.Now()
	objKey := obj.GetKind() + "/" + obj.GetNamespace() + "/" + obj.GetName() + "/" + obj.GetUid() + "/" + obj.GetFieldPath()
	r.mu.Lock()
	defer r.mu.Unlock()
	simKey := objKey + "\x00" + typ + "\x00" + reason
	sim := r.similar[simKey]
	if sim == nil || now.Sub(sim.start) > r.cfg.SimilarWindow {
		sim = &similarEvents{start: now, messages: map[string]bool{}}
		r.similar[simKey] = sim
	}
	key := message
	if !sim.messages[message] {
		if len(sim.messages) < r.cfg.MaxSimilar {
			sim.messages[message] = true
		} else {
			key, message = "\x00combined", combinedPrefix+message
			if len(message) > maxEventMessage {
				message = message[:maxEventMessage-3] + "..."
			}
		}
	}
	name := eventName(obj.GetName(), objKey, typ, reason, key)
	s := r.series[name]
	if s == nil {
		if len(r.series) >= r.cfg.MaxSeries {
			r.dropped++
			return
		}
		ns := cmp.Or(obj.GetNamespace(), r.cfg.Namespace)
		s = &eventSeries{first: now, ev: &wharfv1.Event{
			Metadata:       &wharfv1.ObjectMeta{Name: name, Namespace: ns},
			InvolvedObject: proto.Clone(obj).(*wharfv1.ObjectReference),
			Reason:         reason,
			Type:           typ,
			Source:         &wharfv1.EventSource{Component: r.cfg.Component, Host: r.cfg.Host},
			FirstTimestamp: timestamppb.New(now),
			EventTime:      timestamppb.New(now),
			Action:         reason,

			ReportingComponent: r.cfg.Component,
			ReportingInstance:  r.cfg.Host,
		}}
		r.series[name] = s
	}
	s.count++
	s.last, s.message = now, message
	if r.queue(s, now) {
		select {
		case r.wake <- struct{}{}:
		default:
		}
	}
}

// queue puts s, which has something to write, in ready or later (unless
// it is in one already), and reports whether the writer should look
// again: s is ready, or due before what the writer waits for.
func (r *EventRecorder) queue(s *eventSeries, now time.Time) bool {
	if s.queued {
		return false
	}
	s.queued = true
	due := s.wroteAt.Add(r.cfg.Interval)
	if s.wroteAt.IsZero() || !due.After(now) {
		r.ready = append(r.ready, s)
		return true
	}
	s.dueAt = due
	heap.Push(&r.later, s)
	return r.later[0] == s
}

// eventName is the Event's name: the object's name and a hash of the
// event's identity, so that the same event is the same Event across
// restarts of the component.
func eventName(objName string, parts ...string) string {
	h := fnv.New64a()
	for _, p := range parts {
		h.Write([]byte(p))
		h.Write([]byte{0})
	}
	if max := 253 - 17; len(objName) > max { // a name is at most 253 bytes
		objName = objName[:max]
	}
	return fmt.Sprintf("%s.%016x", objName, h.Sum64())
}

// Run writes events with c until ctx ends.
func (r *EventRecorder) Run(ctx context.Context, c *Client) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	sem := make(chan struct{}, r.cfg.Writers)
	for {
		due, next := r.takeDue(time.Now())
		var wg sync.WaitGroup
		for _, w := range due {
			sem <- struct{}{}
			wg.Go(func() {
				defer func() { <-sem }()
				if err := r.write(ctx, c, w); err != nil && ctx.Err() == nil {
					r.cfg.Logger.Debug("writing an event failed; will retry", "event", w.ev.GetMetadata().GetName(), "reason", w.ev.GetReason(), "err", err)
					r.retry(w)
				}
			})
		}
		wg.Wait()
		if len(due) > 0 {
			continue // more may be due by now
		}
		timer.Reset(next)
		select {
		case <-ctx.Done():
			return
		case <-r.wake:
		case <-timer.C:
		}
	}
}

// pendingWrite is a series' state to write, taken under the lock.
type pendingWrite struct {
	s       *eventSeries
	ev      *wharfv1.Event // what to write
	count   int32          // s.count it includes
	created bool
}

// takeDue returns the writes due at now, and how long until the next one
// is (an hour when none is pending). It also drops written series and
// windows that are old.
func (r *EventRecorder) takeDue(now time.Time) ([]pendingWrite, time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	due := r.ready
	r.ready = nil
	for len(r.later) > 0 && !r.later[0].dueAt.After(now) {
		due = append(due, heap.Pop(&r.later).(*eventSeries))
	}
	writes := make([]pendingWrite, 0, len(due))
	for _, s := range due {
		ev := proto.Clone(s.ev).(*wharfv1.Event)
		ev.Count = s.count - s.written + ev.GetCount()
		ev.Message = s.message
		ev.LastTimestamp = timestamppb.New(s.last)
		writes = append(writes, pendingWrite{s: s, ev: ev, count: s.count, created: s.created})
		s.queued, s.wroteAt = false, now // a failed write is retried after Interval
	}
	next := time.Hour
	if len(r.later) > 0 {
		next = r.later[0].dueAt.Sub(now)
	}
	if r.dropped > 0 {
		r.cfg.Logger.Warn("events dropped: too many held for writing", "dropped", r.dropped, "held", len(r.series))
		r.dropped = 0
	}
	if len(r.series) >= r.cfg.MaxSeries/2 && now.Sub(r.forgot) > time.Minute {
		r.forget(now)
		r.forgot = now
	}
	return writes, next
}

// forget drops series written long ago and with nothing pending, and
// similar-message windows that ended: the Events stay in the store.
func (r *EventRecorder) forget(now time.Time) {
	for name, s := range r.series {
		if !s.queued && now.Sub(s.last) > r.cfg.SimilarWindow {
			delete(r.series, name)
		}
	}
	for k, sim := range r.similar {
		if now.Sub(sim.start) > r.cfg.SimilarWindow {
			delete(r.similar, k)
		}
	}
}

// retry puts back a write that failed.
func (r *EventRecorder) retry(w pendingWrite) {
	r.mu.Lock()
	r.queue(w.s, time.Now())
	r.mu.Unlock()
}

// write creates or updates the Event, and notes what the store now holds.
func (r *EventRecorder) write(ctx context.Context, c *Client, w pendingWrite) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	events := c.Events()
	ev, delta := w.ev, w.count-w.s.written
	var out *wharfv1.Event
	var err error
	if w.created {
		out, err = events.Update(ctx, ev)
		if IsNotFound(err) { // deleted meanwhile (expired): start again
			ev.Metadata.ResourceVersion, ev.Count, ev.FirstTimestamp = "", delta, ev.LastTimestamp
			out, err = events.Create(ctx, ev)
		}
	} else {
		out, err = events.Create(ctx, ev)
	}
	for try := 0; try < 3 && (IsAlreadyExists(err) || IsConflict(err)); try++ {
		// Written by an earlier run of the component, or changed by someone
		// else: count on top of what is there.
		old, gerr := events.Get(ctx, ev.GetMetadata().GetNamespace(), ev.GetMetadata().GetName())
		if gerr != nil {
			return gerr
		}
		next := proto.Clone(old).(*wharfv1.Event)
		next.Count = old.GetCount() + delta
		next.Message, next.LastTimestamp = ev.GetMessage(), ev.GetLastTimestamp()
		out, err = events.Update(ctx, next)
	}
	if err != nil {
		return err
	}
	r.mu.Lock()
	w.s.ev, w.s.written, w.s.created = out, w.count, true
	r.mu.Unlock()
	return nil
}
