package plugins

import (
	"context"
	"sync"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// eventInterval is the least time between two events of one plugin with
// the same reason: a plugin failing on every request must not flood the
// store.
const eventInterval = 30 * time.Second

// eventRecorder writes Events about Plugin objects, asynchronously and
// rate-limited; events are dropped, never queued without bound.
type eventRecorder struct {
	h    *Host
	mu   sync.Mutex
	last map[string]time.Time // plugin/reason -> last event
	ch   chan *wharfv1.Event
	once sync.Once
}

func newEventRecorder(h *Host) *eventRecorder {
	return &eventRecorder{h: h, last: map[string]time.Time{}, ch: make(chan *wharfv1.Event, 64)}
}

func (r *eventRecorder) record(plugin, typ, reason, msg string) {
	key := plugin + "/" + reason
	now := time.Now()
	r.mu.Lock()
	if t, ok := r.last[key]; ok && now.Sub(t) < eventInterval {
		r.mu.Unlock()
		return
	}
	r.last[key] = now
	r.mu.Unlock()
	if len(msg) > 1024 {
		msg = msg[:1021] + "..."
	}
	ev := &wharfv1.Event{
		Metadata:           &wharfv1.ObjectMeta{GenerateName: plugin + "-", Namespace: "default"},
		InvolvedObject:     &wharfv1.ObjectReference{Kind: "Plugin", Name: plugin, ApiVersion: "v1"},
		Reason:             reason,
		Message:            msg,
		Type:               typ,
		Count:              1,
		FirstTimestamp:     timestamppb.New(now),
		LastTimestamp:      timestamppb.New(now),
		ReportingComponent: "wharf-plugin-host",
	}
	r.once.Do(func() { go r.loop() })
	select {
	case r.ch <- ev:
	default:
	}
}

func (r *eventRecorder) loop() {
	for ev := range r.ch {
		c := r.h.client.Load()
		if c == nil {
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		if _, err := c.Events().Create(ctx, ev); err != nil {
			r.h.log.Debug("could not record a plugin event", "err", err)
		}
		cancel()
	}
}
