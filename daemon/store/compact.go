package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// compactChunk is how many change-log entries one purge step handles.
const compactChunk = 4096

// Compact drops history at and below rev: the change-log entries and every
// version that a newer version at or below rev replaced (and tombstones).
// Afterwards watches must start at or after rev and Lists read at or above
// it. Compacting at or below CompactedRevision does nothing.
//
// # Notes
//
// The compacted revision is made durable before anything is deleted, and
// readers check it after taking their snapshot, so a reader never sees a
// half-compacted history. A purge cut short (crash, Close) is finished by
// the next compaction, which starts at the oldest change-log entry left.
func (db *DB) Compact(ctx context.Context, rev int64) error {
	db.compactMu.Lock()
	defer db.compactMu.Unlock()
	if cur := db.rev.Load(); rev > cur {
		return fmt.Errorf("store: compact at %d (latest %d): %w", rev, cur, ErrFutureRevision)
	}
	if rev <= db.compacted.Load() {
		return nil
	}
	start := time.Now()
	err := db.reading(func() error {
		txn := db.bdb.NewTransaction(true)
		defer txn.Discard()
		if err := txn.Set(keyCompacted, encodeRev(rev)); err != nil {
			return err
		}
		return txn.Commit()
	})
	if err != nil {
		return fmt.Errorf("store: compact at %d: %w", rev, err)
	}
	db.compacted.Store(rev)
	db.compactions.Add(1)
	db.lastCompacted.Store(time.Now().UnixNano())
	n, err := db.purge(ctx, rev)
	if err != nil {
		return fmt.Errorf("store: compact at %d: purge: %w", rev, err)
	}
	db.log.Info("store compacted", "revision", rev, "log_entries", n, "took", time.Since(start))
	return nil
}

// purge deletes the change log and superseded history at and below rev.
func (db *DB) purge(ctx context.Context, rev int64) (int, error) {
	total := 0
	for {
		select {
		case <-ctx.Done():
			return total, context.Cause(ctx)
		case <-db.stop:
			return total, ErrClosed
		default:
		}
		var dels [][]byte
		n := 0
		err := db.reading(func() error {
			txn := db.bdb.NewTransaction(false)
			defer txn.Discard()
			it := txn.NewIterator(badger.IteratorOptions{PrefetchValues: true, PrefetchSize: 256, Prefix: []byte(pfxLog)})
			defer it.Close()
			for it.Seek([]byte(pfxLog)); it.Valid() && n < compactChunk; it.Next() {
				item := it.Item()
				r, ok := logKeyRev(item.Key())
				if !ok {
					return fmt.Errorf("change log key %q: %w", item.Key(), errCorrupt)
				}
				if r > rev {
					break
				}
				n++
				dels = append(dels, item.KeyCopy(nil))
				err := item.Value(func(v []byte) error {
					op, prevMod, key, err := decodeLog(v)
					if err != nil {
						return err
					}
					if prevMod != 0 { // r replaced the version at prevMod
						dels = append(dels, appendHistoryKey(nil, string(key), prevMod))
					}
					if op == OpDelete { // the tombstone itself
						dels = append(dels, appendHistoryKey(nil, string(key), r))
					}
					return nil
				})
				if err != nil {
					return fmt.Errorf("change log revision %d: %w", r, err)
				}
			}
			if len(dels) == 0 {
				return nil
			}
			wb := db.bdb.NewWriteBatch()
			defer wb.Cancel()
			for _, k := range dels {
				if err := wb.Delete(k); err != nil {
					return err
				}
			}
			return wb.Flush()
		})
		if err != nil {
			return total, err
		}
		total += n
		if n < compactChunk {
			return total, nil
		}
	}
}

// compactLoop compacts every interval, keeping retain revisions, and lets
// Badger reclaim value-log space.
func (db *DB) compactLoop(every time.Duration, retain int64) {
	defer db.bg.Done()
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-db.stop:
			return
		case <-t.C:
		}
		if target := db.rev.Load() - retain; target > db.compacted.Load() {
			err := db.Compact(context.Background(), target)
			if err != nil && !errors.Is(err, ErrClosed) {
				db.log.Warn("store: scheduled compaction failed", "revision", target, "err", err)
			}
		}
		db.gcValueLog()
	}
}

// gcValueLog rewrites value-log files that are mostly garbage.
func (db *DB) gcValueLog() {
	for range 8 {
		select {
		case <-db.stop:
			return
		default:
		}
		err := db.reading(func() error { return db.bdb.RunValueLogGC(0.5) })
		if err != nil {
			if !errors.Is(err, badger.ErrNoRewrite) && !errors.Is(err, ErrClosed) {
				db.log.Warn("store: value-log GC failed", "err", err)
			}
			return
		}
	}
}
