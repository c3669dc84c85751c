package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
)

func TestRevisions(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("dense_from_one", func(t *testing.T) {
		t.Parallel()
		db := openTest(t, t.TempDir())
		if got := db.Revision(); got != 0 {
			t.Fatalf("empty store Revision() = %d, want 0", got)
		}
		for i := int64(1); i <= 20; i++ {
			kv := mustCreate(t, db, fmt.Sprintf("k%02d", i), "v")
			if kv.ModRevision != i || kv.CreateRevision != i {
				t.Fatalf("write %d got revisions c%d m%d", i, kv.CreateRevision, kv.ModRevision)
			}
		}
		// A failed write takes no revision.
		if _, err := db.Create(ctx, "k01", nil); !errors.Is(err, ErrExists) {
			t.Fatalf("Create existing: %v", err)
		}
		if kv := mustUpdate(t, db, "k01", "w"); kv.ModRevision != 21 || kv.CreateRevision != 1 {
			t.Fatalf("update after failed write: %s", kvString(kv))
		}
		if got := db.Revision(); got != 21 {
			t.Fatalf("Revision() = %d, want 21", got)
		}
	})

	t.Run("monotonic_across_reopen", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		last := int64(0)
		for round := range 3 {
			db, err := Open(dir, testOpts()...)
			if err != nil {
				t.Fatal(err)
			}
			if got := db.Revision(); got != last {
				t.Fatalf("round %d: reopened at %d, want %d", round, got, last)
			}
			if got := db.Stats().Keys; got != int64(round*5) {
				t.Fatalf("round %d: %d keys, want %d", round, got, round*5)
			}
			for i := range 5 {
				kv := mustCreate(t, db, fmt.Sprintf("r%d/k%d", round, i), "v")
				if kv.ModRevision != last+1 {
					t.Fatalf("round %d: revision %d after %d", round, kv.ModRevision, last)
				}
				last = kv.ModRevision
			}
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
		}
	})
}

func TestWriteSemantics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, t.TempDir())

	t.Run("create_then_get", func(t *testing.T) {
		kv := mustCreate(t, db, "a", "1")
		got, err := db.Get(ctx, "a")
		if err != nil {
			t.Fatal(err)
		}
		if !kvEqual(got, kv) || string(got.Value) != "1" {
			t.Fatalf("Get = %s, Create = %s", kvString(got), kvString(kv))
		}
	})
	t.Run("create_existing_is_ErrExists", func(t *testing.T) {
		_, err := db.Create(ctx, "a", []byte("2"))
		if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), `"a"`) {
			t.Fatalf("err = %v, want ErrExists naming the key", err)
		}
	})
	t.Run("get_missing_is_ErrNotFound", func(t *testing.T) {
		if _, err := db.Get(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("update_missing_is_ErrNotFound", func(t *testing.T) {
		if _, err := db.Update(ctx, "nope", nil, 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("update_wrong_revision_is_ErrConflict", func(t *testing.T) {
		cur, _ := db.Get(ctx, "a")
		_, err := db.Update(ctx, "a", []byte("x"), cur.ModRevision+100)
		if !errors.Is(err, ErrConflict) {
			t.Fatalf("err = %v", err)
		}
		if got, _ := db.Get(ctx, "a"); !kvEqual(got, cur) {
			t.Fatalf("failed update changed the key: %s", kvString(got))
		}
	})
	t.Run("update_expected_revision", func(t *testing.T) {
		cur, _ := db.Get(ctx, "a")
		kv, err := db.Update(ctx, "a", []byte("3"), cur.ModRevision)
		if err != nil {
			t.Fatal(err)
		}
		if kv.CreateRevision != cur.CreateRevision || kv.ModRevision != db.Revision() || string(kv.Value) != "3" {
			t.Fatalf("Update = %s (was %s)", kvString(kv), kvString(cur))
		}
	})
	t.Run("delete_wrong_revision_is_ErrConflict", func(t *testing.T) {
		if _, err := db.Delete(ctx, "a", 1_000_000); !errors.Is(err, ErrConflict) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("delete_missing_is_ErrNotFound", func(t *testing.T) {
		if _, err := db.Delete(ctx, "nope", 0); !errors.Is(err, ErrNotFound) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("delete_returns_last_value", func(t *testing.T) {
		cur, _ := db.Get(ctx, "a")
		kv, err := db.Delete(ctx, "a", cur.ModRevision)
		if err != nil {
			t.Fatal(err)
		}
		if string(kv.Value) != "3" || kv.CreateRevision != cur.CreateRevision || kv.ModRevision != db.Revision() {
			t.Fatalf("Delete = %s (was %s, revision %d)", kvString(kv), kvString(cur), db.Revision())
		}
		if _, err := db.Get(ctx, "a"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("Get after delete: %v", err)
		}
	})
	t.Run("recreate_gets_new_create_revision", func(t *testing.T) {
		kv := mustCreate(t, db, "a", "again")
		if kv.CreateRevision != kv.ModRevision || kv.CreateRevision != db.Revision() {
			t.Fatalf("recreate = %s", kvString(kv))
		}
	})
	t.Run("invalid_keys", func(t *testing.T) {
		for _, key := range []string{"", "nul\x00key", strings.Repeat("k", maxKeyLen+1)} {
			if _, err := db.Create(ctx, key, nil); err == nil {
				t.Errorf("Create(%q) succeeded", key[:min(len(key), 10)])
			}
		}
	})
	t.Run("value_is_copied", func(t *testing.T) {
		v := []byte("orig")
		kv, err := db.Create(ctx, "copy", v)
		if err != nil {
			t.Fatal(err)
		}
		copy(v, "XXXX")
		got, _ := db.Get(ctx, "copy")
		if string(got.Value) != "orig" || string(kv.Value) != "orig" {
			t.Fatalf("value aliased the caller's slice: stored %q, returned %q", got.Value, kv.Value)
		}
	})
	t.Run("stats_count_keys", func(t *testing.T) {
		s := db.Stats()
		res, _ := db.List(ctx, "", ListOptions{})
		if s.Keys != int64(len(res.KVs)) || s.Revision != db.Revision() {
			t.Fatalf("Stats = %+v, %d keys listed", s, len(res.KVs))
		}
		if s.Commits == 0 || s.CommittedOps != uint64(s.Revision) {
			t.Fatalf("Stats commits %d ops %d, revision %d", s.Commits, s.CommittedOps, s.Revision)
		}
	})
}

func TestBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()

	t.Run("ops_see_each_other", func(t *testing.T) {
		t.Parallel()
		db := openTest(t, t.TempDir())
		res, err := db.Batch(ctx, []Op{
			{Type: OpCreate, Key: "x", Value: []byte("1")},
			{Type: OpCreate, Key: "x", Value: []byte("dup")},                  // ErrExists: sees the first op
			{Type: OpUpdate, Key: "x", Value: []byte("2"), ExpectRevision: 1}, // sees revision 1
			{Type: OpUpdate, Key: "x", Value: []byte("3"), ExpectRevision: 1}, // ErrConflict: now at 2
			{Type: OpDelete, Key: "x"},
			{Type: OpUpdate, Key: "x", Value: []byte("4")}, // ErrNotFound: deleted above
			{Type: OpCreate, Key: "x", Value: []byte("5")},
			{Type: OpCreate, Key: "y", Value: []byte("6")},
		})
		if err != nil {
			t.Fatal(err)
		}
		type want struct {
			err      error
			val      string
			cRev, mR int64
		}
		wants := []want{
			{nil, "1", 1, 1},
			{ErrExists, "", 0, 0},
			{nil, "2", 1, 2},
			{ErrConflict, "", 0, 0},
			{nil, "2", 1, 3}, // delete: last value, delete's revision
			{ErrNotFound, "", 0, 0},
			{nil, "5", 4, 4},
			{nil, "6", 5, 5},
		}
		if len(res) != len(wants) {
			t.Fatalf("%d results", len(res))
		}
		for i, w := range wants {
			r := res[i]
			if w.err != nil {
				if !errors.Is(r.Err, w.err) {
					t.Errorf("op %d: err %v, want %v", i, r.Err, w.err)
				}
				continue
			}
			if r.Err != nil || string(r.KV.Value) != w.val || r.KV.CreateRevision != w.cRev || r.KV.ModRevision != w.mR {
				t.Errorf("op %d: %s err %v, want %q c%d m%d", i, kvString(r.KV), r.Err, w.val, w.cRev, w.mR)
			}
		}
		if db.Revision() != 5 {
			t.Fatalf("Revision() = %d, want 5", db.Revision())
		}
		got, _ := db.Get(ctx, "x")
		if string(got.Value) != "5" || got.ModRevision != 4 {
			t.Fatalf("Get(x) = %s", kvString(got))
		}
	})

	t.Run("large_batch_spans_groups", func(t *testing.T) {
		t.Parallel()
		db := openTest(t, t.TempDir())
		ops := make([]Op, 3*maxGroupOps+7)
		for i := range ops {
			ops[i] = Op{Type: OpCreate, Key: fmt.Sprintf("k%06d", i), Value: []byte("v")}
		}
		res, err := db.Batch(ctx, ops)
		if err != nil {
			t.Fatal(err)
		}
		for i, r := range res {
			if r.Err != nil || r.KV.ModRevision != int64(i+1) {
				t.Fatalf("op %d: %s %v", i, kvString(r.KV), r.Err)
			}
		}
		if s := db.Stats(); s.Commits < 4 || s.Keys != int64(len(ops)) {
			t.Fatalf("Stats = %+v", s)
		}
	})

	t.Run("cancelled_context", func(t *testing.T) {
		t.Parallel()
		db := openTest(t, t.TempDir())
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		if _, err := db.Batch(cctx, []Op{{Type: OpCreate, Key: "a"}}); !errors.Is(err, context.Canceled) {
			t.Fatalf("err = %v", err)
		}
		if db.Revision() != 0 {
			t.Fatal("a cancelled batch was committed")
		}
	})
}

func TestConcurrentWriters(t *testing.T) {
	t.Parallel()
	const writers, each = 64, 200
	db := openTest(t, t.TempDir())
	ctx := context.Background()
	revs := make([][]KV, writers)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				key := fmt.Sprintf("w%02d/%03d", g, i)
				kv, err := db.Create(ctx, key, []byte(key))
				if err != nil {
					t.Errorf("Create(%q): %v", key, err)
					return
				}
				if i%4 == 3 { // some updates too, with the precondition
					kv, err = db.Update(ctx, key, []byte(key+"!"), kv.ModRevision)
					if err != nil {
						t.Errorf("Update(%q): %v", key, err)
						return
					}
				}
				revs[g] = append(revs[g], kv)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	total := int64(writers*each + writers*each/4)
	if got := db.Revision(); got != total {
		t.Fatalf("Revision() = %d, want %d", got, total)
	}
	seen := make(map[int64]string, total)
	for _, kvs := range revs {
		for _, kv := range kvs {
			if other, dup := seen[kv.ModRevision]; dup {
				t.Fatalf("revision %d given to %q and %q", kv.ModRevision, other, kv.Key)
			}
			seen[kv.ModRevision] = kv.Key
			got, err := db.Get(ctx, kv.Key)
			if err != nil || !kvEqual(got, kv) {
				t.Fatalf("Get(%q) = %s, %v; acked %s", kv.Key, kvString(got), err, kvString(kv))
			}
		}
	}
	s := db.Stats()
	if s.Commits >= s.CommittedOps {
		t.Errorf("no group commit: %d commits for %d ops", s.Commits, s.CommittedOps)
	}
	t.Logf("%d ops in %d commits", s.CommittedOps, s.Commits)
}

func TestList(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, t.TempDir())
	var m model
	rec := func(op OpType, kv KV, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		m.add(change{rev: kv.ModRevision, op: op, key: kv.Key, value: string(kv.Value)})
	}
	for i := range 30 {
		kv, err := db.Create(ctx, fmt.Sprintf("p/%02d", i), []byte(fmt.Sprint(i)))
		rec(OpCreate, kv, err)
		kv, err = db.Create(ctx, fmt.Sprintf("q/%02d", i), []byte("q"))
		rec(OpCreate, kv, err)
	}
	mid := db.Revision()
	for i := 0; i < 30; i += 3 {
		kv, err := db.Update(ctx, fmt.Sprintf("p/%02d", i), []byte("upd"), 0)
		rec(OpUpdate, kv, err)
		kv, err = db.Delete(ctx, fmt.Sprintf("p/%02d", i+1), 0)
		rec(OpDelete, kv, err)
	}
	kv, err := db.Create(ctx, "p/01", []byte("reborn"))
	rec(OpCreate, kv, err)
	kv, err = db.Create(ctx, "p", []byte("exact prefix key"))
	rec(OpCreate, kv, err)
	latest := db.Revision()

	t.Run("latest_in_key_order", func(t *testing.T) {
		res, err := db.List(ctx, "p/", ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if res.Revision != latest || res.More {
			t.Fatalf("Revision %d More %v, want %d false", res.Revision, res.More, latest)
		}
		if err := diffKVs(res.KVs, m.stateAt("p/", latest)); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("pages", func(t *testing.T) {
		for _, limit := range []int{1, 3, 7, 100} {
			got, rev := listAll(t, db, "p/", 0, limit)
			if rev != latest {
				t.Fatalf("limit %d: revision %d", limit, rev)
			}
			if err := diffKVs(got, m.stateAt("p/", latest)); err != nil {
				t.Fatalf("limit %d: %v", limit, err)
			}
		}
	})
	t.Run("start_after", func(t *testing.T) {
		res, err := db.List(ctx, "p/", ListOptions{StartAfter: "p/20", Limit: 2})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.KVs) != 2 || res.KVs[0].Key != "p/21" || res.KVs[1].Key != "p/23" || !res.More {
			t.Fatalf("got %s More %v", kvsString(res.KVs), res.More)
		}
		res, _ = db.List(ctx, "p/", ListOptions{StartAfter: "p/29"})
		if len(res.KVs) != 0 || res.More {
			t.Fatalf("after last: %s More %v", kvsString(res.KVs), res.More)
		}
	})
	t.Run("snapshot_at_every_revision", func(t *testing.T) {
		for rev := int64(1); rev <= latest; rev++ {
			for _, limit := range []int{0, 4} {
				got, at := listAll(t, db, "p/", rev, limit)
				if at != rev {
					t.Fatalf("read at %d reported %d", rev, at)
				}
				if err := diffKVs(got, m.stateAt("p/", rev)); err != nil {
					t.Fatalf("at revision %d (limit %d): %v", rev, limit, err)
				}
			}
		}
		got, _ := listAll(t, db, "", mid, 0)
		if err := diffKVs(got, m.stateAt("", mid)); err != nil {
			t.Fatalf("whole store at %d: %v", mid, err)
		}
	})
	t.Run("continue_pages_while_writing", func(t *testing.T) {
		page, err := db.List(ctx, "q/", ListOptions{Limit: 10})
		if err != nil {
			t.Fatal(err)
		}
		want := m.stateAt("q/", page.Revision)
		for i := range 30 {
			_, _ = db.Update(ctx, fmt.Sprintf("q/%02d", i), []byte("changed"), 0)
			_, _ = db.Create(ctx, fmt.Sprintf("q/%02da", i), []byte("new"))
		}
		got := page.KVs
		opts := ListOptions{Limit: 10, Revision: page.Revision}
		for page.More {
			opts.StartAfter = got[len(got)-1].Key
			if page, err = db.List(ctx, "q/", opts); err != nil {
				t.Fatal(err)
			}
			got = append(got, page.KVs...)
		}
		if err := diffKVs(got, want); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("future_revision", func(t *testing.T) {
		_, err := db.List(ctx, "", ListOptions{Revision: db.Revision() + 1})
		if !errors.Is(err, ErrFutureRevision) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("values_are_copies", func(t *testing.T) {
		res, _ := db.List(ctx, "p", ListOptions{Limit: 1})
		if len(res.KVs) != 1 || !bytes.Equal(res.KVs[0].Value, []byte("exact prefix key")) {
			t.Fatalf("got %s", kvsString(res.KVs))
		}
	})
}

func TestClose(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(t.TempDir(), testOpts()...)
	if err != nil {
		t.Fatal(err)
	}
	mustCreate(t, db, "a", "1")
	w, err := db.Watch(ctx, "", db.Revision())
	if err != nil {
		t.Fatal(err)
	}
	// Writers racing with Close either commit or fail with ErrClosed.
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				_, err := db.Create(ctx, fmt.Sprintf("g%d/%d", g, i), nil)
				if errors.Is(err, ErrClosed) {
					return
				}
				if err != nil {
					t.Errorf("Create: %v", err)
					return
				}
			}
		}()
	}
	for db.Revision() < 200 {
		// let writers run
		if _, err := db.Get(ctx, "a"); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for range w.Events() {
	}
	if !errors.Is(w.Err(), ErrClosed) {
		t.Fatalf("watch Err() = %v, want ErrClosed", w.Err())
	}
	if _, err := db.Get(ctx, "a"); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get after Close: %v", err)
	}
	if _, err := db.List(ctx, "", ListOptions{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("List after Close: %v", err)
	}
	if _, err := db.Watch(ctx, "", 0); !errors.Is(err, ErrClosed) {
		t.Fatalf("Watch after Close: %v", err)
	}
	if _, err := db.Batch(ctx, []Op{{Type: OpCreate, Key: "z"}}); !errors.Is(err, ErrClosed) {
		t.Fatalf("Batch after Close: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}
