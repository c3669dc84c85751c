package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"github.com/dgraph-io/badger/v4"
)

// Group commit.
//
// Writers queue a request (their ops and a result slot per op) and wait.
// One committer goroutine takes everything queued, checks each op's
// precondition against the current state plus the earlier ops of the same
// group, gives each successful op the next revision, writes the whole group
// as one Badger transaction (one WAL append, one fsync), and only then
// acknowledges the writers and publishes the events to watchers. Revisions
// are dense because failed ops take none, and durable groups form a prefix
// of the committed sequence because each group is one atomic transaction.

var errTooLarge = errors.New("write too large")

const maxGroupOps = 4096

const (
	reqQueued int32 = iota
	reqTaken
	reqCancelled
)

// request is one Batch (or Create/Update/Delete) waiting for the committer.
type request struct {
	ops     []Op
	results []Result
	state   atomic.Int32 // reqQueued, then reqTaken (committer) or reqCancelled (caller)
	next    int          // first op not yet committed; owned by the committer
	err     error        // nothing was attempted (store closed)
	done    chan struct{}

	oneOp  [1]Op // storage for single-op calls, so they do not allocate
	oneRes [1]Result
}

var requestPool = sync.Pool{New: func() any { return &request{done: make(chan struct{}, 1)} }}

func getRequest() *request {
	r := requestPool.Get().(*request)
	r.state.Store(reqQueued)
	r.next, r.err = 0, nil
	return r
}

func putRequest(r *request) {
	r.ops, r.results = nil, nil
	r.oneOp[0], r.oneRes[0] = Op{}, Result{}
	requestPool.Put(r)
}

// claim marks r as taken by the committer; false when its caller gave up.
func (r *request) claim() bool {
	return r.state.Load() == reqTaken || r.state.CompareAndSwap(reqQueued, reqTaken)
}

// queue hands requests from writers to the committer.
type queue struct {
	mu     sync.Mutex
	reqs   []*request
	closed bool
	wake   chan struct{}
}

func (q *queue) init() { q.wake = make(chan struct{}, 1) }

func (q *queue) push(r *request) error {
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return ErrClosed
	}
	q.reqs = append(q.reqs, r)
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
	return nil
}

// take swaps the queued requests for dst (emptied).
func (q *queue) take(dst []*request) (reqs []*request, closed bool) {
	q.mu.Lock()
	reqs, q.reqs = q.reqs, dst[:0]
	closed = q.closed
	q.mu.Unlock()
	return reqs, closed
}

func (q *queue) close() {
	q.mu.Lock()
	q.closed = true
	q.mu.Unlock()
	select {
	case q.wake <- struct{}{}:
	default:
	}
}

// Batch commits ops in order, each with its own revision, sharing durable
// commits with concurrent writers. See Store.Batch.
//
// # Notes
//
// Values are copied when the op is staged; the KV values in results and
// events share memory with each other (and with every watcher), so treat
// them as read-only. A failed Badger commit fails its ops and every later
// write (the store must be reopened): the state on disk is then unknown.
func (db *DB) Batch(ctx context.Context, ops []Op) ([]Result, error) {
	if len(ops) == 0 {
		return []Result{}, nil
	}
	r := getRequest()
	r.ops, r.results = ops, make([]Result, len(ops))
	res := r.results
	if err := db.do(ctx, r); err != nil {
		return nil, fmt.Errorf("store: batch: %w", err)
	}
	return res, nil
}

// Create writes a new key; ErrExists when it is there.
func (db *DB) Create(ctx context.Context, key string, value []byte) (KV, error) {
	return db.single(ctx, Op{Type: OpCreate, Key: key, Value: value})
}

// Update replaces key's value; ErrNotFound when it is not there, ErrConflict
// when expectRevision is non-zero and not the key's ModRevision.
func (db *DB) Update(ctx context.Context, key string, value []byte, expectRevision int64) (KV, error) {
	return db.single(ctx, Op{Type: OpUpdate, Key: key, Value: value, ExpectRevision: expectRevision})
}

// Delete removes key and returns its last value with the delete's revision;
// ErrNotFound or ErrConflict as for Update.
func (db *DB) Delete(ctx context.Context, key string, expectRevision int64) (KV, error) {
	return db.single(ctx, Op{Type: OpDelete, Key: key, ExpectRevision: expectRevision})
}

func (db *DB) single(ctx context.Context, op Op) (KV, error) {
	r := getRequest()
	r.oneOp[0] = op
	r.ops, r.results = r.oneOp[:], r.oneRes[:]
	if err := db.do(ctx, r); err != nil {
		return KV{}, fmt.Errorf("store: %s %q: %w", opName(op.Type), op.Key, err)
	}
	res := r.oneRes[0]
	putRequest(r)
	return res.KV, res.Err
}

// do queues r and waits for the committer. On success the caller owns r
// again (and recycles it when it is a single-op request). When the context
// ends while r is still queued, r is abandoned to the committer, which skips
// it: nothing was attempted.
func (db *DB) do(ctx context.Context, r *request) error {
	if err := ctx.Err(); err != nil {
		putRequest(r)
		return err
	}
	if err := db.q.push(r); err != nil {
		putRequest(r)
		return err
	}
	select {
	case <-r.done:
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqQueued, reqCancelled) {
			return context.Cause(ctx)
		}
		<-r.done
	}
	return r.err
}

// curState is a key as the committer sees it mid-group.
type curState struct {
	exists    bool
	createRev int64
	modRev    int64
	value     []byte
}

// span is the ops [from, to) of one request inside a group.
type span struct {
	r        *request
	from, to int
}

// staged is an op whose writes are in the group's transaction.
type staged struct {
	op  *Op
	res *Result
}

// committer is the single writer. Its fields are owned by its goroutine.
type committer struct {
	db       *DB
	rev      int64 // last committed revision
	keys     int64 // live keys after rev
	maxOps   int
	maxBytes int64
	// failed is set by a failed commit: Badger's state is then unknown, so
	// every later write fails until the store is reopened.
	failed error

	spare   []*request
	spans   []span
	overlay map[string]curState
	events  []Event        // reused: watchers copy events out
	okRes   []staged       // results to fail if the commit fails
	arena   []byte         // per group: events and results alias it
	prevs   []KV           // per group: PrevKV pointers alias it
	ents    []badger.Entry // per group: wtx keeps pointers into it
}

func (c *committer) init(db *DB) {
	c.db = db
	c.rev, c.keys = db.rev.Load(), db.keys.Load()
	c.maxOps = int(min(int64(maxGroupOps), db.bdb.MaxBatchCount()/4))
	c.maxBytes = db.bdb.MaxBatchSize() / 2
	c.overlay = make(map[string]curState, 256)
}

func (c *committer) run() {
	defer c.db.bg.Done()
	for range c.db.q.wake {
		for {
			// The queue now owns c.spare; reqs becomes the next spare.
			reqs, closed := c.db.q.take(c.spare)
			c.spare = nil
			if closed {
				c.failClosed(reqs)
				return
			}
			for ri := 0; ri < len(reqs); {
				ri = c.group(reqs, ri)
			}
			clear(reqs)
			c.spare = reqs
			if len(reqs) == 0 {
				break
			}
		}
	}
}

func (c *committer) failClosed(reqs []*request) {
	for _, r := range reqs {
		if !r.claim() {
			continue
		}
		if r.next == 0 {
			r.err = ErrClosed
		}
		for i := r.next; i < len(r.ops); i++ {
			r.results[i].Err = fmt.Errorf("store: %s %q: %w", opName(r.ops[i].Type), r.ops[i].Key, ErrClosed)
		}
		r.done <- struct{}{}
	}
}

func opSize(op *Op) int64 {
	return int64(4*len(op.Key) + 2*len(op.Value) + 96)
}

// group commits the next group of ops from reqs[ri:] and returns the index
// of the first request with ops left.
func (c *committer) group(reqs []*request, ri int) int {
	// Choose the ops of this group.
	spans := c.spans[:0]
	nops, size := 0, int64(0)
	for ri < len(reqs) {
		r := reqs[ri]
		if !r.claim() {
			ri++ // the caller gave up before we got to it
			continue
		}
		from := r.next
		for r.next < len(r.ops) {
			s := min(opSize(&r.ops[r.next]), c.maxBytes)
			if nops > 0 && (nops >= c.maxOps || size+s > c.maxBytes) {
				break
			}
			nops++
			size += s
			r.next++
		}
		if r.next > from {
			spans = append(spans, span{r, from, r.next})
		}
		if r.next < len(r.ops) {
			break // group full
		}
		ri++
	}
	c.spans = spans
	if nops == 0 {
		return ri
	}
	if c.failed != nil {
		for _, sp := range spans {
			for i := sp.from; i < sp.to; i++ {
				op := &sp.r.ops[i]
				sp.r.results[i] = Result{Err: fmt.Errorf("store: %s %q: %w", opName(op.Type), op.Key, c.failed)}
			}
			if sp.to == len(sp.r.ops) {
				sp.r.done <- struct{}{}
			}
		}
		return ri
	}

	db := c.db
	rtx := db.bdb.NewTransaction(false)
	defer rtx.Discard()
	wtx := db.bdb.NewTransaction(true)
	defer wtx.Discard()
	clear(c.overlay)
	c.events = c.events[:0]
	c.okRes = c.okRes[:0]
	c.arena = make([]byte, 0, size)
	c.ents = make([]badger.Entry, 0, 3*nops+1)
	c.prevs = nil

	rev, keys := c.rev, c.keys
	var stageErr error
	for _, sp := range spans {
		for i := sp.from; i < sp.to; i++ {
			var err error
			rev, keys, err = c.apply(rtx, wtx, &sp.r.ops[i], &sp.r.results[i], rev, keys, nops)
			if err != nil && stageErr == nil {
				stageErr = err
			}
		}
	}

	committed := false
	if rev > c.rev {
		err := stageErr
		if err == nil {
			c.ents = append(c.ents, badger.Entry{Key: keyState, Value: encodeState(rev, keys)})
			err = wtx.SetEntry(&c.ents[len(c.ents)-1])
		}
		if err == nil {
			err = wtx.Commit()
		}
		if err != nil {
			db.log.Error("store: group commit failed; refusing writes until reopened", "ops", len(c.okRes), "err", err)
			c.failed = fmt.Errorf("an earlier commit failed (reopen the store): %w", err)
			for _, s := range c.okRes {
				*s.res = Result{Err: fmt.Errorf("store: %s %q: commit: %w", opName(s.op.Type), s.op.Key, err)}
			}
		} else {
			committed = true
			c.rev, c.keys = rev, keys
			db.keys.Store(keys)
			db.rev.Store(rev)
			db.commits.Add(1)
			db.committedOps.Add(uint64(len(c.okRes)))
		}
	}
	for _, sp := range spans {
		if sp.to == len(sp.r.ops) {
			sp.r.done <- struct{}{} // sp.r belongs to its caller from here on
		}
	}
	if committed {
		db.hub.publish(c.events, c.rev)
	}
	return ri
}

// apply checks op against the state (Badger snapshot plus this group's
// earlier ops), stages its writes in wtx and records its result and event.
// A failed precondition sets res.Err and takes no revision. The returned
// error means wtx could not take the write (the whole group then fails).
func (c *committer) apply(rtx, wtx *badger.Txn, op *Op, res *Result, rev, keys int64, nops int) (int64, int64, error) {
	name := opName(op.Type)
	if err := validKey(op.Key); err != nil {
		*res = Result{Err: fmt.Errorf("store: %s %q: %w", name, op.Key, err)}
		return rev, keys, nil
	}
	if op.Type < OpCreate || op.Type > OpDelete {
		*res = Result{Err: fmt.Errorf("store: op %d on %q: unknown op type", op.Type, op.Key)}
		return rev, keys, nil
	}
	if opSize(op) > c.maxBytes {
		*res = Result{Err: fmt.Errorf("store: %s %q: %d bytes: %w", name, op.Key, len(op.Value), errTooLarge)}
		return rev, keys, nil
	}
	start := len(c.arena)
	c.arena = appendCurrentKey(c.arena, op.Key)
	ckey := c.arena[start:len(c.arena):len(c.arena)]
	cur, err := c.lookup(rtx, op.Key, ckey, op.Type != OpCreate)
	if err != nil {
		*res = Result{Err: fmt.Errorf("store: %s %q: read: %w", name, op.Key, err)}
		return rev, keys, nil
	}
	switch op.Type {
	case OpCreate:
		if cur.exists {
			*res = Result{Err: fmt.Errorf("store: create %q: %w", op.Key, ErrExists)}
			return rev, keys, nil
		}
	default:
		if !cur.exists {
			*res = Result{Err: fmt.Errorf("store: %s %q: %w", name, op.Key, ErrNotFound)}
			return rev, keys, nil
		}
		if op.ExpectRevision != 0 && op.ExpectRevision != cur.modRev {
			*res = Result{Err: fmt.Errorf("store: %s %q: expected revision %d, have %d: %w",
				name, op.Key, op.ExpectRevision, cur.modRev, ErrConflict)}
			return rev, keys, nil
		}
	}

	rev++
	var prev *KV
	if cur.exists {
		if c.prevs == nil {
			c.prevs = make([]KV, 0, nops)
		}
		c.prevs = append(c.prevs, KV{Key: op.Key, Value: cur.value, CreateRevision: cur.createRev, ModRevision: cur.modRev})
		prev = &c.prevs[len(c.prevs)-1]
	}

	// Stage the writes: current value, history entry, change log entry.
	var kv KV
	var ev Event
	var stageErr error
	set := func(k, v []byte) {
		c.ents = append(c.ents, badger.Entry{Key: k, Value: v})
		if err := wtx.SetEntry(&c.ents[len(c.ents)-1]); err != nil && stageErr == nil {
			stageErr = err
		}
	}
	start = len(c.arena)
	c.arena = appendHistoryKey(c.arena, op.Key, rev)
	hkey := c.arena[start:len(c.arena):len(c.arena)]
	switch op.Type {
	case OpCreate, OpUpdate:
		createRev := rev
		if op.Type == OpUpdate {
			createRev = cur.createRev
		}
		start = len(c.arena)
		c.arena = appendHistoryValue(c.arena, histPut, createRev, op.Value)
		hval := c.arena[start:len(c.arena):len(c.arena)]
		value := hval[len(hval)-len(op.Value):]
		start = len(c.arena)
		c.arena = appendCurrentValue(c.arena, createRev, rev, op.Value)
		set(ckey, c.arena[start:len(c.arena):len(c.arena)])
		set(hkey, hval)
		kv = KV{Key: op.Key, Value: value, CreateRevision: createRev, ModRevision: rev}
		ev = Event{Type: EventPut, KV: kv, PrevKV: prev, Revision: rev}
		if op.Type == OpCreate {
			keys++
		}
	case OpDelete:
		if err := wtx.Delete(ckey); err != nil && stageErr == nil {
			stageErr = err
		}
		start = len(c.arena)
		c.arena = appendHistoryValue(c.arena, histTombstone, cur.createRev, nil)
		set(hkey, c.arena[start:len(c.arena):len(c.arena)])
		kv = *prev
		kv.ModRevision = rev
		ev = Event{Type: EventDelete, KV: kv, PrevKV: prev, Revision: rev}
		keys--
	}
	start = len(c.arena)
	c.arena = appendLogKey(c.arena, rev)
	lkey := c.arena[start:len(c.arena):len(c.arena)]
	start = len(c.arena)
	prevMod := int64(0)
	if cur.exists {
		prevMod = cur.modRev
	}
	c.arena = appendLogValue(c.arena, op.Type, prevMod, op.Key)
	set(lkey, c.arena[start:len(c.arena):len(c.arena)])

	if op.Type == OpDelete {
		c.overlay[op.Key] = curState{}
	} else {
		c.overlay[op.Key] = curState{exists: true, createRev: kv.CreateRevision, modRev: rev, value: kv.Value}
	}
	*res = Result{KV: kv}
	c.okRes = append(c.okRes, staged{op, res})
	c.events = append(c.events, ev)
	return rev, keys, stageErr
}

// lookup returns key's state before the op being applied.
func (c *committer) lookup(rtx *badger.Txn, key string, ckey []byte, withValue bool) (curState, error) {
	if st, ok := c.overlay[key]; ok {
		return st, nil
	}
	item, err := rtx.Get(ckey)
	if errors.Is(err, badger.ErrKeyNotFound) {
		return curState{}, nil
	}
	if err != nil {
		return curState{}, err
	}
	st := curState{exists: true}
	err = item.Value(func(v []byte) error {
		cr, mr, val, err := decodeCurrent(v)
		if err != nil {
			return err
		}
		st.createRev, st.modRev = cr, mr
		if withValue {
			start := len(c.arena)
			c.arena = append(c.arena, val...)
			st.value = c.arena[start:len(c.arena):len(c.arena)]
		}
		return nil
	})
	return st, err
}

func opName(t OpType) string {
	switch t {
	case OpCreate:
		return "create"
	case OpUpdate:
		return "update"
	case OpDelete:
		return "delete"
	}
	return "write"
}
