package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Watch.
//
// The hub holds every watcher. After each group commit the committer
// publishes the group's events under hub.mu; published is the revision up
// to which that has happened. A watcher is in one of two modes:
//
//   - live: the committer sends to its Events channel without blocking; a
//     full channel ends the watch with ErrWatcherTooSlow.
//   - catching up: its own goroutine replays history from the change log.
//     Before it starts receiving live events it is cut off with
//     ErrWatcherTooSlow once it is further behind the published revision
//     than it was at the start plus its buffer (it is losing ground); after,
//     the committer appends live events to a pending list bounded by the
//     buffer.
//
// The hand-over: the goroutine replays from disk up to the published
// revision, then (under hub.mu) starts receiving at the then published
// revision P, replays up to P, and sends the pending events (all above P)
// until the list is empty, at which point (under the watcher's lock) it
// turns live and exits. No revision is missed or repeated because events
// above P reach the watcher only through pending and those at or below P
// only through the replay.

// errStopped ends a catch-up because the watch was stopped.
var errStopped = errors.New("watch stopped")

// catchUpRounds bounds the replays a watcher makes before it starts
// receiving live events; it stops early once it is within a quarter of its
// buffer of the published revision.
const catchUpRounds = 4

// Watch delivers changes under prefix with revisions above afterRevision:
// first from the kept history, then live. See Store.Watch.
//
// # Notes
//
// afterRevision below CompactedRevision fails with ErrCompacted; above
// Revision with ErrFutureRevision (the store does not wait for it). If
// compaction overtakes a watch that is still replaying history, the watch
// ends with ErrCompacted. Stop and ctx cancellation end the watch with a nil
// Err; Close ends it with ErrClosed. Event values are shared between
// watchers: do not modify them.
func (db *DB) Watch(ctx context.Context, prefix string, afterRevision int64) (Watcher, error) {
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("store: watch %q: %w", prefix, err)
	}
	if comp := db.compacted.Load(); afterRevision < comp {
		return nil, fmt.Errorf("store: watch %q after %d (compacted %d): %w", prefix, afterRevision, comp, ErrCompacted)
	}
	if cur := db.rev.Load(); afterRevision > cur {
		return nil, fmt.Errorf("store: watch %q after %d (latest %d): %w", prefix, afterRevision, cur, ErrFutureRevision)
	}
	w := &watcher{
		db:     db,
		prefix: prefix,
		after:  afterRevision,
		out:    make(chan Event, db.cfg.watchBuffer),
		done:   make(chan struct{}),
		exited: make(chan struct{}),
	}
	live, err := db.hub.add(w)
	if err != nil {
		return nil, fmt.Errorf("store: watch %q: %w", prefix, err)
	}
	if live {
		close(w.exited)
	} else {
		go w.catchUp()
	}
	stop := context.AfterFunc(ctx, w.Stop)
	w.mu.Lock()
	w.stopCtx = stop
	w.mu.Unlock()
	return w, nil
}

// hub fans events out to watchers.
type hub struct {
	db        *DB
	mu        sync.Mutex
	ws        []*watcher
	closed    error
	published atomic.Int64 // written under mu
	n         atomic.Int32
	catchers  sync.WaitGroup
}

func (h *hub) init(db *DB) { h.db = db }

func (h *hub) count() int { return int(h.n.Load()) }

// add registers w. A watcher that starts at or after the published revision
// is live at once (live == true); otherwise the caller starts its catch-up.
func (h *hub) add(w *watcher) (live bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed != nil {
		return false, h.closed
	}
	w.idx = len(h.ws)
	h.ws = append(h.ws, w)
	h.n.Store(int32(len(h.ws)))
	w.pos.Store(w.after)
	w.maxLag = h.published.Load() - w.after + int64(cap(w.out))
	if w.after >= h.published.Load() {
		w.receiving, w.live = true, true
		return true, nil
	}
	h.catchers.Add(1)
	return false, nil
}

// receive makes w receive live events above the returned revision.
func (h *hub) receive(w *watcher) (int64, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed != nil {
		return 0, h.closed
	}
	w.mu.Lock()
	w.receiving = !w.closed
	w.mu.Unlock()
	return h.published.Load(), nil
}

func (h *hub) remove(w *watcher) {
	h.mu.Lock()
	h.removeLocked(w)
	h.mu.Unlock()
}

func (h *hub) removeLocked(w *watcher) {
	i := w.idx
	if i < 0 || i >= len(h.ws) || h.ws[i] != w {
		return
	}
	last := len(h.ws) - 1
	h.ws[i] = h.ws[last]
	h.ws[i].idx = i
	h.ws[last] = nil
	h.ws = h.ws[:last]
	w.idx = -1
	h.n.Store(int32(len(h.ws)))
}

// publish hands a committed group's events to every watcher. Called by the
// committer only; it never blocks on a watcher.
func (h *hub) publish(events []Event, rev int64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for i := 0; i < len(h.ws); {
		w := h.ws[i]
		if !w.deliver(events, rev) {
			h.removeLocked(w) // moves another watcher into i
			continue
		}
		i++
	}
	h.published.Store(rev)
}

// progressLoop sends EventProgress to live watchers that were idle for a
// whole interval.
func (h *hub) progressLoop(every time.Duration) {
	defer h.db.bg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.db.stop:
			return
		case <-t.C:
		}
		h.mu.Lock()
		rev := h.published.Load()
		for _, w := range h.ws {
			w.progress(rev)
		}
		h.mu.Unlock()
	}
}

// closeAll ends every watch with err and waits for catch-ups to finish.
func (h *hub) closeAll(err error) {
	h.mu.Lock()
	h.closed = err
	ws := h.ws
	h.ws = nil
	h.n.Store(0)
	for _, w := range ws {
		w.idx = -1
		w.end(err)
	}
	h.mu.Unlock()
	h.catchers.Wait()
}

// watcher is one Watch. See the comment at the top of this file for modes.
type watcher struct {
	db     *DB
	prefix string
	after  int64 // nothing at or below this revision is sent
	out    chan Event
	done   chan struct{} // closed when the watch ends while catching up
	exited chan struct{} // closed when no goroutine of this watch runs

	idx int // in hub.ws; -1 when removed (guarded by hub.mu)

	pos    atomic.Int64 // catch-up: all changes up to pos were sent
	maxLag int64        // catch-up: cut off when published-pos exceeds it

	mu        sync.Mutex
	receiving bool    // gets live events (set under hub.mu)
	live      bool    // the committer sends to out directly
	closed    bool    // the watch has ended
	err       error   // why it ended
	pending   []Event // live events held while catching up
	spare     []Event
	sent      bool // an event went out since the last progress tick
	stopCtx   func() bool
}

var _ Watcher = (*watcher)(nil)

func (w *watcher) Events() <-chan Event { return w.out }

func (w *watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Stop ends the watch; Events is closed when Stop returns (after buffered
// events are read). Err is nil unless the watch had already ended.
func (w *watcher) Stop() {
	w.end(nil)
	w.db.hub.remove(w)
	<-w.exited
	w.mu.Lock()
	stop := w.stopCtx
	w.mu.Unlock()
	if stop != nil {
		stop()
	}
}

// end ends the watch with err (first caller wins). In live mode it closes
// out at once; while catching up it wakes the goroutine, which closes out.
func (w *watcher) end(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return
	}
	w.closed, w.err = true, err
	w.pending = nil
	if w.live {
		close(w.out)
	} else {
		close(w.done)
	}
}

// deliver queues the events that concern w, the group up to rev; false
// when w has ended. Called under hub.mu.
func (w *watcher) deliver(events []Event, rev int64) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return false
	}
	if !w.receiving {
		if rev-w.pos.Load() <= w.maxLag {
			return true
		}
		w.closed, w.err = true, ErrWatcherTooSlow
		close(w.done)
		return false
	}
	for i := range events {
		ev := &events[i]
		if ev.Revision <= w.after || !strings.HasPrefix(ev.KV.Key, w.prefix) {
			continue
		}
		if w.live {
			select {
			case w.out <- *ev:
				w.sent = true
				continue
			default:
			}
		} else if len(w.pending) < cap(w.out) {
			w.pending = append(w.pending, *ev)
			continue
		}
		w.closed, w.err = true, ErrWatcherTooSlow
		w.pending = nil
		if w.live {
			close(w.out)
		} else {
			close(w.done)
		}
		return false
	}
	return true
}

// progress sends EventProgress at rev when w was idle. Called under hub.mu.
func (w *watcher) progress(rev int64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed || !w.live || rev < w.after {
		return
	}
	if w.sent {
		w.sent = false
		return
	}
	select {
	case w.out <- Event{Type: EventProgress, Revision: rev}:
	default: // not idle: the reader has not drained what it has
	}
}

// catchUp replays history and hands w over to live delivery. It runs in its
// own goroutine and exits once w is live or has ended.
func (w *watcher) catchUp() {
	h := &w.db.hub
	defer h.catchers.Done()
	defer close(w.exited)
	err := w.replayThenLive()
	if err == nil {
		return // live: the committer owns out now
	}
	w.mu.Lock()
	if !w.closed {
		w.closed, w.err = true, err
	}
	if errors.Is(w.err, errStopped) {
		w.err = nil
	}
	w.pending = nil
	w.mu.Unlock()
	close(w.out)
	h.remove(w)
}

func (w *watcher) replayThenLive() error {
	h := &w.db.hub
	pos := w.after
	// Catch up without live events first, so that the pending list only
	// has to hold what is committed during the last, short replay.
	for range catchUpRounds {
		p := h.published.Load()
		if p-pos <= int64(cap(w.out)/4) {
			break
		}
		var err error
		if pos, err = w.replay(pos, p); err != nil {
			return err
		}
	}
	p, err := h.receive(w)
	if err != nil {
		return err
	}
	if pos, err = w.replay(pos, p); err != nil {
		return err
	}
	for {
		w.mu.Lock()
		if w.closed {
			w.mu.Unlock()
			return errStopped
		}
		if len(w.pending) == 0 {
			w.live = true
			w.mu.Unlock()
			return nil
		}
		batch := w.pending
		w.pending = w.spare[:0]
		w.mu.Unlock()
		if err := w.send(batch); err != nil {
			return err
		}
		clear(batch)
		w.spare = batch
	}
}

// replay sends the changes in (from, to] from the change log and returns to.
func (w *watcher) replay(from, to int64) (int64, error) {
	const chunk = 512
	var buf []Event
	for from < to {
		end := min(to, from+chunk)
		var err error
		buf, err = w.db.readLog(w.prefix, from, end, buf[:0])
		if err != nil {
			return from, err
		}
		if err := w.send(buf); err != nil {
			return from, err
		}
		clear(buf)
		from = end
		w.pos.Store(end)
	}
	return to, nil
}

func (w *watcher) send(evs []Event) error {
	for i := range evs {
		select {
		case w.out <- evs[i]:
			w.pos.Store(evs[i].Revision)
		case <-w.done:
			return errStopped
		}
	}
	return nil
}
