package store

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"sort"
	"testing"
	"time"
)

// testOpts keep test stores small and quiet; scheduled compaction and
// progress are off unless a test turns them on.
func testOpts(extra ...Option) []Option {
	return append([]Option{
		WithMemTableSize(16 << 20),
		WithCompaction(0, 0),
		WithProgressInterval(0),
	}, extra...)
}

func openTest(t testing.TB, dir string, opts ...Option) *DB {
	t.Helper()
	db, err := Open(dir, testOpts(opts...)...)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db
}

func mustCreate(t testing.TB, db *DB, key, value string) KV {
	t.Helper()
	kv, err := db.Create(context.Background(), key, []byte(value))
	if err != nil {
		t.Fatalf("Create(%q): %v", key, err)
	}
	return kv
}

func mustUpdate(t testing.TB, db *DB, key, value string) KV {
	t.Helper()
	kv, err := db.Update(context.Background(), key, []byte(value), 0)
	if err != nil {
		t.Fatalf("Update(%q): %v", key, err)
	}
	return kv
}

func mustDelete(t testing.TB, db *DB, key string) KV {
	t.Helper()
	kv, err := db.Delete(context.Background(), key, 0)
	if err != nil {
		t.Fatalf("Delete(%q): %v", key, err)
	}
	return kv
}

// change is one acknowledged write, for building the expected state.
type change struct {
	rev   int64
	op    OpType
	key   string
	value string
}

// model replays changes (any order) into the state as of each revision.
type model struct{ changes []change }

func (m *model) add(c change) { m.changes = append(m.changes, c) }

func (m *model) sorted() []change {
	cs := slices.Clone(m.changes)
	sort.Slice(cs, func(i, j int) bool { return cs[i].rev < cs[j].rev })
	return cs
}

// stateAt returns the keys under prefix as of rev.
func (m *model) stateAt(prefix string, rev int64) []KV {
	state := map[string]KV{}
	for _, c := range m.sorted() {
		if c.rev > rev {
			break
		}
		switch c.op {
		case OpCreate:
			state[c.key] = KV{Key: c.key, Value: []byte(c.value), CreateRevision: c.rev, ModRevision: c.rev}
		case OpUpdate:
			kv := state[c.key]
			kv.Value, kv.ModRevision = []byte(c.value), c.rev
			state[c.key] = kv
		case OpDelete:
			delete(state, c.key)
		}
	}
	var out []KV
	for k, kv := range state {
		if len(k) >= len(prefix) && k[:len(prefix)] == prefix {
			out = append(out, kv)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

func kvEqual(a, b KV) bool {
	return a.Key == b.Key && bytes.Equal(a.Value, b.Value) && a.CreateRevision == b.CreateRevision && a.ModRevision == b.ModRevision
}

func diffKVs(got, want []KV) error {
	if len(got) != len(want) {
		return fmt.Errorf("got %d keys, want %d\n got: %v\nwant: %v", len(got), len(want), kvsString(got), kvsString(want))
	}
	for i := range got {
		if !kvEqual(got[i], want[i]) {
			return fmt.Errorf("key %d: got %s, want %s", i, kvString(got[i]), kvString(want[i]))
		}
	}
	return nil
}

func kvString(kv KV) string {
	return fmt.Sprintf("{%s=%q c%d m%d}", kv.Key, kv.Value, kv.CreateRevision, kv.ModRevision)
}

func kvsString(kvs []KV) string {
	var b bytes.Buffer
	for _, kv := range kvs {
		b.WriteString(kvString(kv))
	}
	return b.String()
}

// listAll pages through prefix at one revision.
func listAll(t testing.TB, db *DB, prefix string, rev int64, limit int) ([]KV, int64) {
	t.Helper()
	var all []KV
	opts := ListOptions{Limit: limit, Revision: rev}
	for {
		page, err := db.List(context.Background(), prefix, opts)
		if err != nil {
			t.Fatalf("List(%q, %+v): %v", prefix, opts, err)
		}
		all = append(all, page.KVs...)
		if !page.More {
			return all, page.Revision
		}
		if len(page.KVs) == 0 {
			t.Fatalf("List(%q, %+v): More with an empty page", prefix, opts)
		}
		opts.Revision = page.Revision
		opts.StartAfter = page.KVs[len(page.KVs)-1].Key
	}
}

// collect reads events from w until one with revision >= until arrives.
func collect(t testing.TB, w Watcher, until int64, timeout time.Duration) []Event {
	t.Helper()
	var evs []Event
	deadline := time.After(timeout)
	for {
		select {
		case ev, ok := <-w.Events():
			if !ok {
				t.Fatalf("watch closed early (err %v) after %d events; waiting for revision %d", w.Err(), len(evs), until)
			}
			if ev.Type == EventProgress {
				continue
			}
			evs = append(evs, ev)
			if ev.Revision >= until {
				return evs
			}
		case <-deadline:
			last := int64(0)
			if len(evs) > 0 {
				last = evs[len(evs)-1].Revision
			}
			t.Fatalf("timed out waiting for revision %d; %d events, last %d", until, len(evs), last)
		}
	}
}

// checkContiguous asserts that evs have exactly the revisions from..to.
func checkContiguous(evs []Event, from, to int64) error {
	want := from
	for _, ev := range evs {
		if ev.Revision != want {
			return fmt.Errorf("event revision %d, want %d", ev.Revision, want)
		}
		want++
	}
	if want != to+1 {
		return fmt.Errorf("events end at %d, want %d", want-1, to)
	}
	return nil
}
