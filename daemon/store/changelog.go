package store

import (
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// readLog appends to buf the events under prefix with revisions in
// (from, to], read from the change log and the history entries it points
// at, all from one snapshot.
func (db *DB) readLog(prefix string, from, to int64, buf []Event) ([]Event, error) {
	err := db.reading(func() error {
		txn := db.bdb.NewTransaction(false)
		defer txn.Discard()
		// After the snapshot: see List.
		if comp := db.compacted.Load(); from < comp {
			return fmt.Errorf("replay after %d (compacted %d): %w", from, comp, ErrCompacted)
		}
		it := txn.NewIterator(badger.IteratorOptions{
			PrefetchValues: true,
			PrefetchSize:   int(min(to-from, 256)),
			Prefix:         []byte(pfxLog),
		})
		defer it.Close()
		var arena, hkey []byte
		expect := from + 1
		for it.Seek(appendLogKey(nil, expect)); it.Valid() && expect <= to; it.Next() {
			item := it.Item()
			rev, ok := logKeyRev(item.Key())
			if !ok || rev != expect {
				return fmt.Errorf("change log: want revision %d, found key %q: %w", expect, item.Key(), errCorrupt)
			}
			expect++
			var (
				op      OpType
				prevMod int64
				key     string
			)
			err := item.Value(func(v []byte) error {
				o, p, k, err := decodeLog(v)
				if err != nil {
					return err
				}
				if strings.HasPrefix(string(k), prefix) { // no allocation
					op, prevMod, key = o, p, string(k)
				}
				return nil
			})
			if err != nil {
				return fmt.Errorf("change log revision %d: %w", rev, err)
			}
			if key == "" {
				continue // not under prefix
			}
			var prev *KV
			if prevMod != 0 {
				kv, a, err := historyKV(txn, &hkey, arena, key, prevMod)
				if err != nil {
					return fmt.Errorf("change log revision %d: previous version: %w", rev, err)
				}
				arena, prev = a, &kv
			}
			switch op {
			case OpCreate, OpUpdate:
				kv, a, err := historyKV(txn, &hkey, arena, key, rev)
				if err != nil {
					return fmt.Errorf("change log revision %d: %w", rev, err)
				}
				arena = a
				buf = append(buf, Event{Type: EventPut, KV: kv, PrevKV: prev, Revision: rev})
			case OpDelete:
				if prev == nil {
					return fmt.Errorf("change log revision %d: delete without previous version: %w", rev, errCorrupt)
				}
				kv := *prev
				kv.ModRevision = rev
				buf = append(buf, Event{Type: EventDelete, KV: kv, PrevKV: prev, Revision: rev})
			default:
				return fmt.Errorf("change log revision %d: op %d: %w", rev, op, errCorrupt)
			}
		}
		if expect <= to {
			return fmt.Errorf("change log ends before revision %d: %w", expect, errCorrupt)
		}
		return nil
	})
	return buf, err
}

// historyKV reads key's version at rev, copying the value into arena.
func historyKV(txn *badger.Txn, hkey *[]byte, arena []byte, key string, rev int64) (KV, []byte, error) {
	*hkey = appendHistoryKey((*hkey)[:0], key, rev)
	item, err := txn.Get(*hkey)
	if err != nil {
		return KV{}, arena, fmt.Errorf("history of %q at %d: %w", key, rev, err)
	}
	kv := KV{Key: key, ModRevision: rev}
	err = item.Value(func(v []byte) error {
		flag, cr, val, err := decodeHistory(v)
		if err != nil {
			return err
		}
		if flag != histPut {
			return errCorrupt
		}
		kv.CreateRevision = cr
		start := len(arena)
		arena = append(arena, val...)
		kv.Value = arena[start:len(arena):len(arena)]
		return nil
	})
	if err != nil {
		return KV{}, arena, fmt.Errorf("history of %q at %d: %w", key, rev, err)
	}
	return kv, arena, nil
}
