package apiserver

import (
	"context"
	"errors"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// Events expire. As with kube-apiserver's --event-ttl, an Event is deleted
// once it has gone unwritten for the TTL, so that the events of a cluster
// that runs for months (every pod scheduled, pulled, started, probed) do
// not fill the store. The server sweeps the events every TTL/60 (between a
// second and a minute) and deletes, through the store like any delete
// (watchers see it), those whose latest time is older than the TTL: the
// latest of metadata.creationTimestamp, lastTimestamp and eventTime, so a
// recurring event that its writer keeps counting stays.

// DefaultEventTTL is how long an Event lives after its last write unless
// WithEventTTL says otherwise.
const DefaultEventTTL = time.Hour

// WithEventTTL sets how long an Event lives after its last write (default
// DefaultEventTTL); 0 keeps events until they are deleted.
func WithEventTTL(d time.Duration) Option {
	return optionFunc(func(c *config) { c.eventTTL = d })
}

// eventSweepInterval is how often events are looked at for a TTL.
func eventSweepInterval(ttl time.Duration) time.Duration {
	return min(max(ttl/60, time.Second), time.Minute)
}

// eventSweepPage is how many events one list of a sweep reads.
const eventSweepPage = 500

// eventDeleters bounds a sweep's concurrent deletes: enough for the
// store's group commit to take many in one durable write.
const eventDeleters = 32

// expireEvents deletes expired events until ctx ends.
func (s *Server) expireEvents(ctx context.Context) {
	if s.cfg.eventTTL <= 0 {
		return
	}
	tick := time.NewTicker(eventSweepInterval(s.cfg.eventTTL))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		n, err := s.expireEventsOnce(WithUser(ctx, systemUser), time.Now())
		if n > 0 {
			s.log.Debug("expired events deleted", "count", n, "ttl", s.cfg.eventTTL)
		}
		if err != nil && ctx.Err() == nil {
			s.log.Warn("deleting expired events failed; will retry", "err", err)
		}
	}
}

// expireEventsOnce deletes the events that had their last write before
// now minus the TTL and returns how many it deleted.
func (s *Server) expireEventsOnce(ctx context.Context, now time.Time) (int, error) {
	cutoff := now.Add(-s.cfg.eventTTL)
	deleted := 0
	for cont := ""; ; {
		l, err := s.events.list(ctx, listOptions{Limit: eventSweepPage, Continue: cont})
		if err != nil {
			return deleted, err
		}
		var expired []*wharfv1.Event
		for _, ev := range l.items {
			if eventLastWrite(ev).Before(cutoff) {
				expired = append(expired, ev)
			}
		}
		n, err := s.deleteEvents(ctx, expired)
		deleted += n
		s.metrics.eventsExpired.Add(float64(n))
		if err != nil || l.continueToken == "" {
			return deleted, err
		}
		cont = l.continueToken
	}
}

// deleteEvents deletes evs, each only as read (an event counted again
// meanwhile stays), and returns how many it deleted.
func (s *Server) deleteEvents(ctx context.Context, evs []*wharfv1.Event) (int, error) {
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		deleted int
		errs    []error
		sem     = make(chan struct{}, eventDeleters)
	)
	for _, ev := range evs {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			m := ev.GetMetadata()
			_, err := s.events.delete(ctx, deleteOptions{Namespace: m.GetNamespace(), Name: m.GetName(), ResourceVersion: m.GetResourceVersion()})
			var ae *apiError
			switch {
			case err == nil:
				mu.Lock()
				deleted++
				mu.Unlock()
			case isNotFound(err), errors.As(err, &ae) && ae.code == connect.CodeAborted:
				// Gone, or written again meanwhile: not expired after all.
			default:
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	return deleted, errors.Join(errs...)
}

// eventLastWrite is the latest time an event names: its creation, its
// lastTimestamp, its eventTime.
func eventLastWrite(ev *wharfv1.Event) time.Time {
	t := ev.GetMetadata().GetCreationTimestamp().AsTime()
	for _, ts := range []*timestamppb.Timestamp{ev.GetLastTimestamp(), ev.GetEventTime()} {
		if u := ts.AsTime(); ts != nil && u.After(t) {
			t = u
		}
	}
	return t
}
