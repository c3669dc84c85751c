package store

import (
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dgraph-io/badger/v4"
)

// DB is the Badger implementation of Store. Open one with Open.
//
// # Notes
//
// Writes go through one committer goroutine (see Batch); reads use Badger
// snapshots and run concurrently with it. Close fails queued writes with
// ErrClosed, ends every watch with ErrClosed and then closes Badger.
type DB struct {
	cfg config
	log *slog.Logger
	bdb *badger.DB

	// life guards bdb against Close: readers hold it shared.
	life   sync.RWMutex
	closed bool

	rev       atomic.Int64 // latest durable revision (set before acks)
	compacted atomic.Int64
	keys      atomic.Int64

	commits       atomic.Uint64
	committedOps  atomic.Uint64
	compactions   atomic.Uint64
	lastCompacted atomic.Int64 // Unix nanoseconds

	q   queue
	cm  committer
	hub hub

	compactMu sync.Mutex
	stop      chan struct{} // closed by Close: ends background loops
	bg        sync.WaitGroup
	closeOnce sync.Once
	closeErr  error
}

var _ Store = (*DB)(nil)

// Open opens (creating when needed) the store in dir and recovers the
// latest revision from what is durable there.
//
// # Notes
//
// Badger runs with SyncWrites on: a write is acknowledged only once it is on
// disk. Only one process may open dir at a time (Badger locks it).
func Open(dir string, opts ...Option) (*DB, error) {
	cfg := defaultConfig()
	for _, o := range opts {
		o.apply(&cfg)
	}
	bopts := badger.DefaultOptions(dir).
		WithSyncWrites(true).
		WithDetectConflicts(false). // the committer serialises writes
		WithNumVersionsToKeep(1).   // history lives in our own key space
		WithLogger(badgerLogger{cfg.logger}).
		WithLoggingLevel(badger.WARNING).
		WithMetricsEnabled(false).
		WithMemTableSize(cfg.memTableSize).
		WithNumCompactors(2)
	bdb, err := badger.Open(bopts)
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", dir, err)
	}
	db := &DB{
		cfg:  cfg,
		log:  cfg.logger,
		bdb:  bdb,
		stop: make(chan struct{}),
	}
	if err := db.recover(); err != nil {
		return nil, errors.Join(fmt.Errorf("store: open %s: %w", dir, err), bdb.Close())
	}
	db.q.init()
	db.cm.init(db)
	db.hub.init(db)

	db.bg.Add(1)
	go db.cm.run()
	if cfg.progressInterval > 0 {
		db.bg.Add(1)
		go db.hub.progressLoop(cfg.progressInterval)
	}
	if cfg.compactionInterval > 0 {
		db.bg.Add(1)
		go db.compactLoop(cfg.compactionInterval, cfg.compactionRetain)
	}
	db.log.Debug("store opened", "dir", dir, "revision", db.rev.Load(), "compacted", db.compacted.Load(), "keys", db.keys.Load())
	return db, nil
}

// recover reads the durable revision, key count and compacted revision.
// Each group commit is one Badger transaction that also writes m/state, so
// m/state always names the last complete revision.
func (db *DB) recover() error {
	txn := db.bdb.NewTransaction(false)
	defer txn.Discard()
	rev, keys, err := readState(txn)
	if err != nil {
		return err
	}
	comp, err := readCompacted(txn)
	if err != nil {
		return err
	}
	db.rev.Store(rev)
	db.keys.Store(keys)
	db.compacted.Store(comp)
	db.hub.published.Store(rev)
	return nil
}

func readState(txn *badger.Txn) (rev, keys int64, err error) {
	item, err := txn.Get(keyState)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, 0, nil
	}
	if err != nil {
		return 0, 0, fmt.Errorf("read state: %w", err)
	}
	err = item.Value(func(v []byte) error {
		rev, keys, err = decodeState(v)
		return err
	})
	if err != nil {
		return 0, 0, fmt.Errorf("read state: %w", err)
	}
	return rev, keys, nil
}

func readCompacted(txn *badger.Txn) (int64, error) {
	item, err := txn.Get(keyCompacted)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("read compacted revision: %w", err)
	}
	var rev int64
	err = item.Value(func(v []byte) error {
		rev, err = decodeRev(v)
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("read compacted revision: %w", err)
	}
	return rev, nil
}

// Revision is the latest committed (durable) revision.
func (db *DB) Revision() int64 { return db.rev.Load() }

// CompactedRevision is the oldest revision a watch may start after and
// the oldest a List may read at.
func (db *DB) CompactedRevision() int64 { return db.compacted.Load() }

// Stats reports figures for metrics. LastCompacted is the wall-clock time
// of the last compaction in Unix nanoseconds (0: none since Open).
func (db *DB) Stats() Stats {
	s := Stats{
		Revision:          db.rev.Load(),
		CompactedRevision: db.compacted.Load(),
		Keys:              db.keys.Load(),
		Watchers:          db.hub.count(),
		Commits:           db.commits.Load(),
		CommittedOps:      db.committedOps.Load(),
		Compactions:       db.compactions.Load(),
		LastCompacted:     db.lastCompacted.Load(),
	}
	db.life.RLock()
	if !db.closed {
		s.LSMBytes, s.VLogBytes = db.bdb.Size()
	}
	db.life.RUnlock()
	return s
}

// Close fails queued writes with ErrClosed, ends every watch (Err returns
// ErrClosed), stops the compactor and closes Badger. Writes already being
// committed finish first. Close is idempotent.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		start := time.Now()
		db.q.close()
		close(db.stop)
		db.bg.Wait()
		db.hub.closeAll(ErrClosed)
		db.life.Lock()
		db.closed = true
		db.life.Unlock()
		if err := db.bdb.Close(); err != nil {
			db.closeErr = fmt.Errorf("store: close: %w", err)
		}
		db.log.Debug("store closed", "revision", db.rev.Load(), "took", time.Since(start))
	})
	return db.closeErr
}

// reading runs f with Badger guarded against Close.
func (db *DB) reading(f func() error) error {
	db.life.RLock()
	defer db.life.RUnlock()
	if db.closed {
		return ErrClosed
	}
	return f()
}
