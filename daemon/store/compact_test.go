package store

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// rawCounts counts change-log entries at or below rev and, per key, history
// versions at or below rev (at most one, never a tombstone, after Compact).
func rawCounts(t *testing.T, db *DB, rev int64) (logEntries int, oldVersions map[string]int, oldTombstones int) {
	t.Helper()
	oldVersions = map[string]int{}
	err := db.bdb.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if r, ok := logKeyRev(k); ok && string(k[:2]) == pfxLog && r <= rev {
				logEntries++
			}
			if string(k[:2]) != pfxHistory {
				continue
			}
			key, r, ok := historyKeyParts(k)
			if !ok || r > rev {
				continue
			}
			oldVersions[string(key)]++
			_ = it.Item().Value(func(v []byte) error {
				if v[0] == histTombstone {
					oldTombstones++
				}
				return nil
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return logEntries, oldVersions, oldTombstones
}

func TestCompaction(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	db, err := Open(dir, testOpts(WithWatchBuffer(64))...)
	if err != nil {
		t.Fatal(err)
	}
	var rec recorder
	churn(t, db, &rec, 8, 2000, "c/", "d/")
	at := db.Revision() / 2
	// A watch replaying history when compaction overtakes it ends with
	// ErrCompacted (it is blocked on a full buffer past its first chunk).
	overtaken := mustWatchRaw(t, db, "", 0)
	time.Sleep(50 * time.Millisecond)

	if err := db.Compact(ctx, at); err != nil {
		t.Fatal(err)
	}
	var n int
	for range overtaken.Events() {
		n++
	}
	if !errors.Is(overtaken.Err(), ErrCompacted) {
		t.Fatalf("overtaken watch: Err() = %v after %d events", overtaken.Err(), n)
	}

	churn(t, db, &rec, 8, 800, "c/", "d/")
	latest := db.Revision()
	changes := rec.snapshot()
	m := model{changes: changes}

	check := func(t *testing.T, db *DB) {
		t.Run("compacted_revision", func(t *testing.T) {
			if got := db.CompactedRevision(); got != at {
				t.Fatalf("CompactedRevision() = %d, want %d", got, at)
			}
			if s := db.Stats(); s.CompactedRevision != at {
				t.Fatalf("Stats = %+v", s)
			}
		})
		t.Run("watch_before_is_ErrCompacted", func(t *testing.T) {
			if _, err := db.Watch(ctx, "", at-1); !errors.Is(err, ErrCompacted) {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run("list_before_is_ErrCompacted", func(t *testing.T) {
			if _, err := db.List(ctx, "", ListOptions{Revision: at - 1}); !errors.Is(err, ErrCompacted) {
				t.Fatalf("err = %v", err)
			}
		})
		t.Run("list_at_kept_revisions", func(t *testing.T) {
			for _, rev := range []int64{at, at + 1, (at + latest) / 2, latest - 1, latest} {
				got, _ := listAll(t, db, "c/", rev, 5)
				if err := diffKVs(got, m.stateAt("c/", rev)); err != nil {
					t.Fatalf("at %d: %v", rev, err)
				}
			}
		})
		t.Run("watch_from_compacted_revision", func(t *testing.T) {
			r := startReader(mustWatchRaw(t, db, "", at))
			defer r.stop()
			if err := checkEvents(changes, r.waitFor(t, latest), "", at, latest); err != nil {
				t.Fatal(err)
			}
		})
		t.Run("history_purged", func(t *testing.T) {
			logs, versions, tombs := rawCounts(t, db, at)
			if logs != 0 || tombs != 0 {
				t.Fatalf("%d change-log entries and %d tombstones at or below %d", logs, tombs, at)
			}
			for k, n := range versions {
				if n > 1 {
					t.Fatalf("key %q keeps %d versions at or below %d", k, n, at)
				}
			}
		})
	}
	t.Run("open", func(t *testing.T) { check(t, db) })

	if err := db.Compact(ctx, at-10); err != nil {
		t.Fatalf("compacting below the compacted revision: %v", err)
	}
	if err := db.Compact(ctx, latest+1); !errors.Is(err, ErrFutureRevision) {
		t.Fatalf("compacting the future: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db = openTest(t, dir)
	t.Run("reopened", func(t *testing.T) { check(t, db) })

	t.Run("compact_everything", func(t *testing.T) {
		if err := db.Compact(ctx, latest); err != nil {
			t.Fatal(err)
		}
		got, rev := listAll(t, db, "", 0, 0)
		if err := diffKVs(got, m.stateAt("", latest)); err != nil || rev != latest {
			t.Fatalf("at %d: %v", rev, err)
		}
		if db.Close() != nil {
			t.Fatal("close")
		}
		db2 := openTest(t, dir)
		if db2.Revision() != latest || db2.CompactedRevision() != latest {
			t.Fatalf("reopened at %d compacted %d, want %d", db2.Revision(), db2.CompactedRevision(), latest)
		}
		kv := mustCreate(t, db2, "after/compaction", "v")
		if kv.ModRevision != latest+1 {
			t.Fatalf("next revision %d, want %d", kv.ModRevision, latest+1)
		}
	})
}

func TestScheduledCompaction(t *testing.T) {
	t.Parallel()
	db := openTest(t, t.TempDir(), WithCompaction(10*time.Millisecond, 50))
	for i := range 300 {
		mustCreate(t, db, "k/"+string(rune('a'+i%26))+string(rune('a'+i/26)), "v")
	}
	deadline := time.Now().Add(10 * time.Second)
	for db.CompactedRevision() != 250 {
		if time.Now().After(deadline) {
			t.Fatalf("compacted revision %d, want 250", db.CompactedRevision())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if s := db.Stats(); s.Compactions == 0 || s.LastCompacted == 0 {
		t.Fatalf("Stats = %+v", s)
	}
	if _, err := db.Watch(context.Background(), "", 249); !errors.Is(err, ErrCompacted) {
		t.Fatalf("err = %v", err)
	}
}
