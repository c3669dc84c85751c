package agent

import (
	"context"
	"fmt"
	"hash/fnv"
	"log/slog"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
)

// Event types.
const (
	typeNormal  = "Normal"
	typeWarning = "Warning"
)

// component is the events' source.
const component = "wharf-node"

// recorder writes Events through the API in the background, so a slow or
// unreachable API server never holds a pod worker. The same event about
// the same object (reason and message) is one Event whose count grows.
type recorder struct {
	c    *client.Client
	node string
	log  *slog.Logger
	ch   chan *wharfv1.Event
}

func newRecorder(c *client.Client, node string, log *slog.Logger) *recorder {
	return &recorder{c: c, node: node, log: log, ch: make(chan *wharfv1.Event, 1024)}
}

// pod records an event about the pod.
func (r *recorder) pod(p *wharfv1.Pod, typ, reason, msg string) {
	r.record(p, "", typ, reason, msg)
}

// container records an event about one of the pod's containers.
func (r *recorder) container(p *wharfv1.Pod, container, typ, reason, msg string) {
	path := "spec.containers{" + container + "}"
	for _, c := range p.GetSpec().GetInitContainers() {
		if c.GetName() == container {
			path = "spec.initContainers{" + container + "}"
		}
	}
	r.record(p, path, typ, reason, msg)
}

func (r *recorder) record(p *wharfv1.Pod, fieldPath, typ, reason, msg string) {
	md := p.GetMetadata()
	now := timestamppb.Now()
	h := fnv.New64a()
	fmt.Fprint(h, md.GetUid(), "\x00", fieldPath, "\x00", reason, "\x00", msg)
	ev := &wharfv1.Event{
		Metadata: &wharfv1.ObjectMeta{Name: fmt.Sprintf("%s.%x", md.GetName(), h.Sum64()), Namespace: md.GetNamespace()},
		InvolvedObject: &wharfv1.ObjectReference{
			Kind: "Pod", ApiVersion: "v1", Namespace: md.GetNamespace(), Name: md.GetName(), Uid: md.GetUid(), FieldPath: fieldPath,
		},
		Reason:             reason,
		Message:            msg,
		Type:               typ,
		Source:             &wharfv1.EventSource{Component: component, Host: r.node},
		FirstTimestamp:     now,
		LastTimestamp:      now,
		EventTime:          now,
		Count:              1,
		ReportingComponent: component,
		ReportingInstance:  r.node,
		Action:             reason,
	}
	select {
	case r.ch <- ev:
	default:
		r.log.Warn("event dropped: too many queued", "reason", reason, "object", md.GetNamespace()+"/"+md.GetName())
	}
}

// run writes queued events until ctx ends.
func (r *recorder) run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case ev := <-r.ch:
			if err := r.write(ctx, ev); err != nil && ctx.Err() == nil {
				r.log.Debug("writing an event failed", "reason", ev.GetReason(), "err", err)
			}
		}
	}
}

func (r *recorder) write(ctx context.Context, ev *wharfv1.Event) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	events := r.c.Events()
	_, err := events.Create(ctx, ev)
	if !client.IsAlreadyExists(err) {
		return err
	}
	for range 3 {
		old, err := events.Get(ctx, ev.GetMetadata().GetNamespace(), ev.GetMetadata().GetName())
		if err != nil {
			return err
		}
		next := proto.Clone(old).(*wharfv1.Event)
		next.Count++
		next.LastTimestamp = ev.GetLastTimestamp()
		if _, err = events.Update(ctx, next); !client.IsConflict(err) {
			return err
		}
	}
	return nil
}
