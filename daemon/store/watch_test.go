package store

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// reader drains a watch in the background.
type reader struct {
	mu      sync.Mutex
	w       Watcher
	evs     []Event
	prog    []Event
	stopped bool
	done    chan struct{}
}

func startReader(w Watcher) *reader {
	return startReaderResuming(w, nil)
}

// startResumingReader is startReader for a reader that must see every
// change however slowly it runs (under the race detector, any reader may
// fall behind 8 writers): when the store cuts its watch off as too slow, it
// watches again from the last revision it saw, as a client does.
func startResumingReader(t testing.TB, db *DB, prefix string, from int64) *reader {
	return startReaderResuming(mustWatchRaw(t, db, prefix, from), func(last int64) (Watcher, error) {
		if last == 0 { // cut off before any event
			last = from
		}
		return db.Watch(context.Background(), prefix, last)
	})
}

// startReaderResuming starts a reader of w that, when resume is set and w
// is cut off as too slow, goes on with the watcher resume returns for the
// last revision it saw (0: none).
func startReaderResuming(w Watcher, resume func(last int64) (Watcher, error)) *reader {
	r := &reader{w: w, done: make(chan struct{})}
	go func() {
		defer close(r.done)
		for {
			for ev := range w.Events() {
				r.mu.Lock()
				if ev.Type == EventProgress {
					r.prog = append(r.prog, ev)
				} else {
					r.evs = append(r.evs, ev)
				}
				r.mu.Unlock()
			}
			if resume == nil || !errors.Is(w.Err(), ErrWatcherTooSlow) {
				return
			}
			next, err := resume(r.last())
			if err != nil {
				return // waitFor reports the first watch's error
			}
			r.mu.Lock()
			stopped := r.stopped
			if !stopped {
				r.w = next
			}
			r.mu.Unlock()
			if stopped {
				next.Stop()
				return
			}
			w = next
		}
	}()
	return r
}

func (r *reader) watcher() Watcher {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.w
}

func (r *reader) last() int64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.evs) == 0 {
		return 0
	}
	return r.evs[len(r.evs)-1].Revision
}

// waitFor waits until an event at or past rev arrived, then returns all.
func (r *reader) waitFor(t testing.TB, rev int64) []Event {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for r.last() < rev {
		select {
		case <-r.done:
			t.Fatalf("watch ended (err %v) at revision %d, waiting for %d", r.watcher().Err(), r.last(), rev)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out at revision %d, waiting for %d", r.last(), rev)
		}
		time.Sleep(time.Millisecond)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Event(nil), r.evs...)
}

func (r *reader) stop() {
	r.mu.Lock()
	r.stopped = true
	w := r.w
	r.mu.Unlock()
	w.Stop()
	<-r.done
}

// recorder is a model shared by concurrent writers.
type recorder struct {
	mu sync.Mutex
	m  model
}

func (r *recorder) add(c change) {
	r.mu.Lock()
	r.m.add(c)
	r.mu.Unlock()
}

func (r *recorder) snapshot() []change {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.m.sorted()
}

var churnRuns atomic.Int64

// churn runs writers doing creates, updates and deletes over keys under
// the given prefixes until n ops are acknowledged in total.
func churn(t testing.TB, db *DB, rec *recorder, writers, n int, prefixes ...string) {
	t.Helper()
	var wg sync.WaitGroup
	per := n / writers
	run := churnRuns.Add(1) // keys of separate runs never collide
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rng := rand.New(rand.NewPCG(uint64(g), 7))
			ctx := context.Background()
			live := map[string]bool{}
			for i := range per {
				key := fmt.Sprintf("%sg%02d-%d/%d", prefixes[rng.IntN(len(prefixes))], g, run, rng.IntN(8))
				val := fmt.Sprintf("%d.%d", g, i)
				var (
					kv  KV
					err error
					op  OpType
				)
				switch {
				case !live[key]:
					op = OpCreate
					kv, err = db.Create(ctx, key, []byte(val))
					live[key] = true
				case rng.IntN(3) == 0:
					op = OpDelete
					kv, err = db.Delete(ctx, key, 0)
					live[key] = false
				default:
					op = OpUpdate
					kv, err = db.Update(ctx, key, []byte(val), 0)
				}
				if err != nil {
					t.Errorf("%s %q: %v", opName(op), key, err)
					return
				}
				rec.add(change{rev: kv.ModRevision, op: op, key: key, value: val})
			}
		}()
	}
	wg.Wait()
}

// checkEvents asserts that evs are exactly the changes under prefix with
// revisions in (after, upto], in order, with the right values and PrevKV.
func checkEvents(changes []change, evs []Event, prefix string, after, upto int64) error {
	prevVal := map[string]change{} // key -> last live change
	prevOf := map[int64]*change{}
	for _, c := range changes {
		if p, ok := prevVal[c.key]; ok {
			prevOf[c.rev] = &p
		}
		if c.op == OpDelete {
			delete(prevVal, c.key)
		} else {
			prevVal[c.key] = c
		}
	}
	var want []change
	for _, c := range changes {
		if c.rev > after && c.rev <= upto && strings.HasPrefix(c.key, prefix) {
			want = append(want, c)
		}
	}
	var got []Event
	for _, ev := range evs {
		if ev.Revision <= upto {
			got = append(got, ev)
		}
	}
	for i := range min(len(got), len(want)) {
		ev, c := got[i], want[i]
		if ev.Revision != c.rev || ev.KV.Key != c.key || ev.KV.ModRevision != c.rev {
			return fmt.Errorf("event %d: revision %d key %q (KV m%d), want revision %d key %q", i, ev.Revision, ev.KV.Key, ev.KV.ModRevision, c.rev, c.key)
		}
		prev := prevOf[c.rev]
		switch c.op {
		case OpCreate, OpUpdate:
			if ev.Type != EventPut || string(ev.KV.Value) != c.value {
				return fmt.Errorf("revision %d: type %d value %q, want put %q", c.rev, ev.Type, ev.KV.Value, c.value)
			}
			if c.op == OpCreate && (ev.PrevKV != nil || ev.KV.CreateRevision != c.rev) {
				return fmt.Errorf("revision %d: create with PrevKV %v, create revision %d", c.rev, ev.PrevKV, ev.KV.CreateRevision)
			}
		case OpDelete:
			if ev.Type != EventDelete || prev == nil || string(ev.KV.Value) != prev.value {
				return fmt.Errorf("revision %d: type %d value %q, want delete of %v", c.rev, ev.Type, ev.KV.Value, prev)
			}
		}
		if c.op != OpCreate {
			if ev.PrevKV == nil || prev == nil || string(ev.PrevKV.Value) != prev.value || ev.PrevKV.ModRevision != prev.rev || ev.PrevKV.Key != c.key {
				return fmt.Errorf("revision %d: PrevKV %v, want value %q at %d", c.rev, ev.PrevKV, prev.value, prev.rev)
			}
			if ev.PrevKV.CreateRevision != ev.KV.CreateRevision {
				return fmt.Errorf("revision %d: create revision changed %d -> %d", c.rev, ev.PrevKV.CreateRevision, ev.KV.CreateRevision)
			}
		}
	}
	if len(got) != len(want) {
		return fmt.Errorf("%d events, want %d", len(got), len(want))
	}
	return nil
}

func TestWatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ordered_unique_gapfree_under_churn", func(t *testing.T) {
		t.Parallel()
		db := openTest(t, t.TempDir(), WithWatchBuffer(1<<16))
		all := mustWatch(t, db, "", 0)
		pa := mustWatch(t, db, "a/", 0)
		var rec recorder
		var mid []*reader
		var midFrom []int64
		done := make(chan struct{})
		go func() {
			defer close(done)
			churn(t, db, &rec, 16, 6000, "a/", "b/")
		}()
		// Watches started mid-churn from old revisions: history, then live.
		for i := 0; i < 6; i++ {
			time.Sleep(15 * time.Millisecond)
			cur := db.Revision()
			from := cur / int64(i%3+1)
			if i == 5 {
				from = cur
			}
			prefix := []string{"", "a/"}[i%2]
			mid = append(mid, mustWatch(t, db, prefix, from))
			midFrom = append(midFrom, from)
		}
		<-done
		if t.Failed() {
			return
		}
		n := db.Revision()
		changes := rec.snapshot()
		if int64(len(changes)) != n {
			t.Fatalf("%d acked changes, revision %d", len(changes), n)
		}
		if err := checkEvents(changes, all.waitFor(t, n), "", 0, n); err != nil {
			t.Fatalf("watch all: %v", err)
		}
		lastA := int64(0)
		for _, c := range changes {
			if strings.HasPrefix(c.key, "a/") {
				lastA = c.rev
			}
		}
		if err := checkEvents(changes, pa.waitFor(t, lastA), "a/", 0, n); err != nil {
			t.Fatalf("watch a/: %v", err)
		}
		for i, r := range mid {
			prefix := []string{"", "a/"}[i%2]
			until := n
			if prefix == "a/" {
				until = lastA
			}
			if err := checkEvents(changes, r.waitFor(t, until), prefix, midFrom[i], n); err != nil {
				t.Fatalf("watch %d (%q from %d): %v", i, prefix, midFrom[i], err)
			}
			r.stop()
		}
		all.stop()
		pa.stop()
		if got := db.Stats().Watchers; got != 0 {
			t.Fatalf("%d watchers left after Stop", got)
		}
	})

	t.Run("resume_from_last_seen", func(t *testing.T) {
		t.Parallel()
		db := openTest(t, t.TempDir(), WithWatchBuffer(1<<16))
		var rec recorder
		done := make(chan struct{})
		go func() {
			defer close(done)
			churn(t, db, &rec, 8, 3000, "r/")
		}()
		var got []Event
		from := int64(0)
		finished := func() bool {
			select {
			case <-done:
				return from == db.Revision()
			default:
				return false
			}
		}
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for round := 0; !finished(); round++ {
			w, err := db.Watch(ctx, "", from)
			if err != nil {
				t.Fatal(err)
			}
			// Take a few events, stop, resume from the last one seen.
			for i := 0; i < 100+round*37 && !finished(); {
				select {
				case ev, ok := <-w.Events():
					if !ok {
						t.Fatalf("watch closed: %v", w.Err())
					}
					got = append(got, ev)
					from = ev.Revision
					i++
				case <-tick.C:
				}
			}
			w.Stop()
			for range w.Events() { // buffered events after Stop are not taken
			}
			if w.Err() != nil {
				t.Fatalf("Err() after Stop = %v", w.Err())
			}
		}
		<-done
		if err := checkEvents(rec.snapshot(), got, "", 0, db.Revision()); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		db := openTest(t, t.TempDir())
		mustCreate(t, db, "k", "v")
		if _, err := db.Watch(ctx, "", 2); !errors.Is(err, ErrFutureRevision) {
			t.Fatalf("watch from the future: %v", err)
		}
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := db.Watch(cctx, "", 0); !errors.Is(err, context.Canceled) {
			t.Fatalf("cancelled context: %v", err)
		}
	})

	t.Run("progress_when_idle", func(t *testing.T) {
		t.Parallel()
		db := openTest(t, t.TempDir(), WithProgressInterval(20*time.Millisecond))
		w := mustWatch(t, db, "quiet/", 0)
		for i := range 20 {
			mustCreate(t, db, fmt.Sprintf("busy/%d", i), "v")
		}
		want := db.Revision()
		deadline := time.Now().Add(5 * time.Second)
		for {
			w.mu.Lock()
			var last int64
			if n := len(w.prog); n > 0 {
				last = w.prog[n-1].Revision
			}
			w.mu.Unlock()
			if last == want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("no progress event at %d (last %d)", want, last)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if len(w.evs) != 0 {
			t.Fatalf("prefix watch got %d events", len(w.evs))
		}
		w.stop()
	})

	t.Run("stop_and_cancel_end_cleanly", func(t *testing.T) {
		t.Parallel()
		db := openTest(t, t.TempDir(), WithWatchBuffer(16))
		for i := range 2000 {
			mustCreate(t, db, fmt.Sprintf("k/%04d", i), "v")
		}
		var ws []Watcher
		var cancels []context.CancelFunc
		for i := range 20 {
			wctx, cancel := context.WithCancel(ctx)
			cancels = append(cancels, cancel)
			from := []int64{0, 1000, db.Revision()}[i%3] // catching up (blocked on a full buffer) and live
			w, err := db.Watch(wctx, "", from)
			if err != nil {
				t.Fatal(err)
			}
			ws = append(ws, w)
		}
		for i, w := range ws {
			if i%2 == 0 {
				w.Stop()
			} else {
				cancels[i]()
			}
		}
		for i, w := range ws {
			timeout := time.After(5 * time.Second)
		drain:
			for {
				select {
				case _, ok := <-w.Events():
					if !ok {
						break drain
					}
				case <-timeout:
					t.Fatalf("watch %d not closed after stop/cancel", i)
				}
			}
			if err := w.Err(); err != nil {
				t.Fatalf("watch %d: Err() = %v, want nil", i, err)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for db.Stats().Watchers != 0 {
			if time.Now().After(deadline) {
				t.Fatalf("%d watchers still registered", db.Stats().Watchers)
			}
			time.Sleep(time.Millisecond)
		}
	})
}

// TestWatchSlow checks that a watcher that stops reading is cut off with
// ErrWatcherTooSlow and holds up neither writers nor other watchers.
func TestWatchSlow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	for _, tc := range []struct {
		name string
		from func(db *DB) int64
	}{
		{"live", func(db *DB) int64 { return db.Revision() }},
		{"while_catching_up", func(db *DB) int64 { return 0 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			db := openTest(t, t.TempDir(), WithWatchBuffer(64))
			for i := range 500 {
				mustCreate(t, db, fmt.Sprintf("pre/%d", i), "v")
			}
			from := tc.from(db)
			slow, err := db.Watch(ctx, "", from)
			if err != nil {
				t.Fatal(err)
			}
			fast := startResumingReader(t, db, "", from)
			var rec recorder
			start := time.Now()
			churn(t, db, &rec, 8, 2000, "x/")
			if took := time.Since(start); took > 20*time.Second {
				t.Fatalf("writers took %v", took)
			}
			n := db.Revision()
			evs := fast.waitFor(t, n)
			if err := checkContiguous(evs, from+1, n); err != nil {
				t.Fatalf("fast watcher: %v", err)
			}
			// The slow watcher: what it buffered, then closed.
			var got []Event
			timeout := time.After(10 * time.Second)
		drain:
			for {
				select {
				case ev, ok := <-slow.Events():
					if !ok {
						break drain
					}
					got = append(got, ev)
				case <-timeout:
					t.Fatal("slow watcher was not closed")
				}
			}
			if !errors.Is(slow.Err(), ErrWatcherTooSlow) {
				t.Fatalf("slow watcher Err() = %v", slow.Err())
			}
			// It may be cut before it sent anything (catching up).
			seen := from
			if len(got) > 0 {
				seen = got[len(got)-1].Revision
			}
			if int64(len(got)) >= n-from {
				t.Fatalf("slow watcher got all %d events", len(got))
			}
			if err := checkContiguous(got, from+1, seen); err != nil {
				t.Fatalf("slow watcher's events before the cut: %v", err)
			}
			// It resumes from the last revision it saw.
			again := startResumingReader(t, db, "", seen)
			if err := checkContiguous(again.waitFor(t, n), seen+1, n); err != nil {
				t.Fatalf("resumed watcher: %v", err)
			}
			again.stop()
			fast.stop()
		})
	}
}

// TestWatchNoGoroutineLeak runs alone (not parallel) so that the goroutine
// count is this test's.
func TestWatchNoGoroutineLeak(t *testing.T) {
	ctx := context.Background()
	before := runtime.NumGoroutine()
	db, err := Open(t.TempDir(), testOpts(WithWatchBuffer(8), WithProgressInterval(time.Millisecond))...)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		mustCreate(t, db, fmt.Sprintf("k/%d", i), "v")
	}
	for i := range 30 {
		wctx, cancel := context.WithCancel(ctx)
		w, err := db.Watch(wctx, "k/", int64(i*10))
		if err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			<-w.Events() // some read a little
		}
		switch i % 3 {
		case 0:
			w.Stop()
		case 1:
			cancel()
		default:
			// left open: Close ends it
		}
		defer cancel()
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		n := runtime.NumGoroutine()
		if n <= before {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines before Open, %d after Close:\n%s", before, n, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustWatchRaw(t testing.TB, db *DB, prefix string, from int64) Watcher {
	t.Helper()
	w, err := db.Watch(context.Background(), prefix, from)
	if err != nil {
		t.Fatalf("Watch(%q, %d): %v", prefix, from, err)
	}
	return w
}

func mustWatch(t testing.TB, db *DB, prefix string, from int64) *reader {
	t.Helper()
	r := startReader(mustWatchRaw(t, db, prefix, from))
	t.Cleanup(r.stop)
	return r
}
