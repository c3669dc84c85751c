// Package store is Wharf's source of truth: a revisioned key-value store on
// Badger with a change log that watchers follow.
//
// Only the API server (daemon/apiserver) imports this package. Every other
// component reads and writes cluster state through the API.
//
// # Revisions
//
// Every committed write gets one cluster revision. Revisions start at 1, only
// go up (also across restarts and crashes) and are dense: revision N+1 is the
// write committed right after revision N. A KV's ModRevision is the revision
// of its last change; the API reports it as the object's resourceVersion.
//
// # Durability
//
// A write returns only after it is on disk (Badger with SyncWrites). Writers
// that arrive together share one commit and one fsync (group commit), so
// durability does not cost throughput under concurrency.
//
// # Watch
//
// A watch from revision R delivers every change with a revision above R under
// its prefix, in revision order, exactly once, with no gaps, first from the
// kept history and then live. When R is below the compacted revision the
// watch fails with ErrCompacted. A watcher that does not keep up is closed
// with ErrWatcherTooSlow; it resumes by watching again from the last revision
// it saw. A slow watcher never blocks writers or other watchers.
package store

import (
	"context"
	"errors"
)

// Sentinel errors. Callers test them with errors.Is; the API maps them to
// Connect codes in one place.
var (
	// ErrNotFound: the key does not exist.
	ErrNotFound = errors.New("not found")
	// ErrExists: Create found the key already there.
	ErrExists = errors.New("already exists")
	// ErrConflict: the key's ModRevision is not the one the write expected.
	ErrConflict = errors.New("revision conflict")
	// ErrCompacted: the requested revision is older than the kept history.
	ErrCompacted = errors.New("revision compacted")
	// ErrFutureRevision: the requested revision has not been written yet.
	ErrFutureRevision = errors.New("revision not yet written")
	// ErrWatcherTooSlow: the watcher fell too far behind and was closed;
	// watch again from the last revision received.
	ErrWatcherTooSlow = errors.New("watcher fell behind")
	// ErrClosed: the store is closed.
	ErrClosed = errors.New("store closed")
)

// KV is one key's value at one revision.
type KV struct {
	Key   string
	Value []byte
	// CreateRevision is the revision that created the key.
	CreateRevision int64
	// ModRevision is the revision of the key's last change.
	ModRevision int64
}

// OpType says what a write does.
type OpType uint8

const (
	// OpCreate writes a new key; ErrExists when it is there.
	OpCreate OpType = iota + 1
	// OpUpdate replaces an existing key's value; ErrNotFound when it is not there.
	OpUpdate
	// OpDelete removes an existing key; ErrNotFound when it is not there.
	OpDelete
)

// Op is one write of a batch.
type Op struct {
	Type  OpType
	Key   string
	Value []byte // unused for OpDelete
	// ExpectRevision, when non-zero on OpUpdate or OpDelete, is a
	// precondition: the key's ModRevision must equal it, else ErrConflict.
	ExpectRevision int64
}

// Result is the outcome of one Op.
type Result struct {
	// KV is the key after the write: for a delete, the value it had, with
	// ModRevision set to the delete's revision.
	KV KV
	// Err is nil, or one of ErrExists, ErrNotFound, ErrConflict wrapped
	// with the key, or a store failure.
	Err error
}

// EventType says what kind of change an Event is.
type EventType uint8

const (
	// EventPut is a create or an update (PrevKV is nil for a create).
	EventPut EventType = iota + 1
	// EventDelete removes a key; KV holds the last value.
	EventDelete
	// EventProgress carries no change: all changes up to Revision have been
	// delivered. Sent when a watch has been idle for a while.
	EventProgress
)

// Event is one change seen by a watcher.
type Event struct {
	Type EventType
	// KV is the key after the change. For EventDelete it holds the deleted
	// value, with ModRevision the delete's revision.
	KV KV
	// PrevKV is the key before the change; nil for a create and progress.
	PrevKV *KV
	// Revision of the change (for EventProgress, the revision reached).
	Revision int64
}

// ListOptions narrows a List.
type ListOptions struct {
	// StartAfter lists keys strictly after this one (for pagination).
	StartAfter string
	// Limit caps the number of KVs; 0 means no limit.
	Limit int
	// Revision reads the state as of this revision (0 = latest). Older
	// than the compacted revision: ErrCompacted.
	Revision int64
}

// ListResult is a page of a List.
type ListResult struct {
	KVs []KV
	// Revision is the revision the list was read at: watch from it to see
	// every later change.
	Revision int64
	// More is true when keys remain after the last one returned.
	More bool
}

// Stats are figures for metrics.
type Stats struct {
	Revision          int64
	CompactedRevision int64
	Keys              int64
	// LSMBytes and VLogBytes are Badger's on-disk sizes.
	LSMBytes  int64
	VLogBytes int64
	Watchers  int
	// Commits and CommittedOps count group commits and the writes in them.
	Commits       uint64
	CommittedOps  uint64
	Compactions   uint64
	LastCompacted int64
}

// Watcher is one watch. Events arrive on Events in revision order; the
// channel is closed when the watch ends, after which Err says why (nil after
// Stop or context cancellation).
type Watcher interface {
	Events() <-chan Event
	Err() error
	Stop()
}

// Store is the interface the API server uses. Implementations are safe for
// concurrent use.
type Store interface {
	// Get returns the current value of key, or ErrNotFound.
	Get(ctx context.Context, key string) (KV, error)
	// List returns keys with the prefix in key order.
	List(ctx context.Context, prefix string, opts ListOptions) (ListResult, error)
	// Batch commits ops in order, each with its own revision, in as few
	// durable commits as the store can; each op succeeds or fails on its own.
	// The returned slice has one Result per op. The error is non-nil only
	// when nothing could be attempted (closed store, cancelled context).
	Batch(ctx context.Context, ops []Op) ([]Result, error)
	// Create, Update and Delete are one-op Batches.
	Create(ctx context.Context, key string, value []byte) (KV, error)
	Update(ctx context.Context, key string, value []byte, expectRevision int64) (KV, error)
	Delete(ctx context.Context, key string, expectRevision int64) (KV, error)
	// Watch delivers changes under prefix with revisions above afterRevision.
	Watch(ctx context.Context, prefix string, afterRevision int64) (Watcher, error)
	// Revision is the latest committed revision.
	Revision() int64
	// CompactedRevision is the oldest revision a watch may start after.
	CompactedRevision() int64
	// Compact drops history at and below rev (rev <= Revision()).
	Compact(ctx context.Context, rev int64) error
	Stats() Stats
	Close() error
}
