package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/dgraph-io/badger/v4"
)

// Get returns the current value of key, or ErrNotFound.
func (db *DB) Get(ctx context.Context, key string) (KV, error) {
	if err := ctx.Err(); err != nil {
		return KV{}, fmt.Errorf("store: get %q: %w", key, err)
	}
	var kv KV
	err := db.reading(func() error {
		txn := db.bdb.NewTransaction(false)
		defer txn.Discard()
		item, err := txn.Get(appendCurrentKey(make([]byte, 0, len(pfxCurrent)+len(key)), key))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return err
		}
		kv, err = currentKV(key, item)
		return err
	})
	if err != nil {
		return KV{}, fmt.Errorf("store: get %q: %w", key, err)
	}
	return kv, nil
}

func currentKV(key string, item *badger.Item) (KV, error) {
	kv := KV{Key: key}
	err := item.Value(func(v []byte) error {
		cr, mr, val, err := decodeCurrent(v)
		if err != nil {
			return err
		}
		kv.CreateRevision, kv.ModRevision = cr, mr
		kv.Value = bytes.Clone(val)
		return nil
	})
	return kv, err
}

// List returns keys with the prefix in key order, from one consistent
// snapshot.
//
// # Notes
//
// With opts.Revision zero the page is read at the latest revision, which
// ListResult.Revision reports; pass it back as opts.Revision (with
// StartAfter the last key) to read the next page from the same snapshot.
// opts.Revision below CompactedRevision fails with ErrCompacted, above the
// latest revision with ErrFutureRevision.
func (db *DB) List(ctx context.Context, prefix string, opts ListOptions) (ListResult, error) {
	if err := ctx.Err(); err != nil {
		return ListResult{}, fmt.Errorf("store: list %q: %w", prefix, err)
	}
	var res ListResult
	err := db.reading(func() error {
		txn := db.bdb.NewTransaction(false)
		defer txn.Discard()
		// m/state is written by every group, so it is the snapshot's revision.
		rev, _, err := readState(txn)
		if err != nil {
			return err
		}
		at := opts.Revision
		switch {
		case at == 0 || at == rev:
			res.Revision = rev
			return listCurrent(ctx, txn, prefix, opts, &res)
		case at > rev:
			return fmt.Errorf("at revision %d (latest %d): %w", at, rev, ErrFutureRevision)
		}
		// Checked after the snapshot is taken: compaction raises the
		// compacted revision before it deletes anything, so a snapshot that
		// passes this check still holds every version at and above at.
		if comp := db.compacted.Load(); at < comp {
			return fmt.Errorf("at revision %d (compacted %d): %w", at, comp, ErrCompacted)
		}
		res.Revision = at
		return listHistory(ctx, txn, prefix, opts, at, &res)
	})
	if err != nil {
		return ListResult{}, fmt.Errorf("store: list %q: %w", prefix, err)
	}
	return res, nil
}

// seekStart is where a listing under pfx+prefix starts, after StartAfter.
// Keys hold no NUL, so StartAfter+NUL is the least c/ key after StartAfter
// and StartAfter+0x01 the least h/ key after all of StartAfter's versions.
func seekStart(pfx, prefix string, opts ListOptions) []byte {
	seek := append([]byte(pfx), prefix...)
	if opts.StartAfter != "" && opts.StartAfter >= prefix {
		var past byte
		if pfx == pfxHistory {
			past = 1
		}
		seek = append(append(seek[:len(pfx)], opts.StartAfter...), past)
	}
	return seek
}

// listCurrent lists from the c/ keys (the latest state).
func listCurrent(ctx context.Context, txn *badger.Txn, prefix string, opts ListOptions, res *ListResult) error {
	it := txn.NewIterator(badger.IteratorOptions{
		PrefetchValues: true,
		PrefetchSize:   min(max(opts.Limit, 16), 100),
		Prefix:         append([]byte(pfxCurrent), prefix...),
	})
	defer it.Close()
	n := 0
	for it.Seek(seekStart(pfxCurrent, prefix, opts)); it.Valid(); it.Next() {
		if opts.Limit > 0 && len(res.KVs) == opts.Limit {
			res.More = true
			return nil
		}
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		item := it.Item()
		kv, err := currentKV(string(item.Key()[len(pfxCurrent):]), item)
		if err != nil {
			return err
		}
		res.KVs = append(res.KVs, kv)
	}
	return nil
}

// listHistory lists the state as of revision at from the h/ keys: for each
// key, the newest version at or below at, unless that is a tombstone.
func listHistory(ctx context.Context, txn *badger.Txn, prefix string, opts ListOptions, at int64, res *ListResult) error {
	it := txn.NewIterator(badger.IteratorOptions{Prefix: append([]byte(pfxHistory), prefix...)})
	defer it.Close()
	var seek []byte
	n := 0
	for it.Seek(seekStart(pfxHistory, prefix, opts)); it.Valid(); {
		if n++; n%1024 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		key, _, ok := historyKeyParts(it.Item().Key())
		if !ok {
			return fmt.Errorf("history key %q: %w", it.Item().Key(), errCorrupt)
		}
		ukey := string(key)
		// Versions sort newest first: the first at or below at.
		seek = appendHistoryKey(seek[:0], ukey, at)
		it.Seek(seek)
		if it.Valid() {
			if k, rev, ok := historyKeyParts(it.Item().Key()); ok && string(k) == ukey {
				var kv KV
				live := false
				err := it.Item().Value(func(v []byte) error {
					flag, cr, val, err := decodeHistory(v)
					if err != nil {
						return err
					}
					if flag == histPut {
						live = true
						kv = KV{Key: ukey, Value: bytes.Clone(val), CreateRevision: cr, ModRevision: rev}
					}
					return nil
				})
				if err != nil {
					return err
				}
				if live {
					if opts.Limit > 0 && len(res.KVs) == opts.Limit {
						res.More = true
						return nil
					}
					res.KVs = append(res.KVs, kv)
				}
			}
		}
		// Next key: past every version of this one (NUL then revision).
		seek = append(append(seek[:0], pfxHistory...), ukey...)
		seek = append(seek, 1)
		it.Seek(seek)
	}
	return nil
}
