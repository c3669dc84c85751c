package apiserver

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"time"

	"google.golang.org/protobuf/reflect/protoreflect"

	"github.com/wharfhq/wharf/daemon/store"
)

// Watch event types, as in Kubernetes.
const (
	eventAdded    = "ADDED"
	eventModified = "MODIFIED"
	eventDeleted  = "DELETED"
	eventBookmark = "BOOKMARK"
)

// watchOptions are the Watch request's.
type watchOptions struct {
	Namespace       string
	LabelSelector   string
	FieldSelector   string
	ResourceVersion string
	AllowBookmarks  bool
}

// watchEvent is one event sent to a client.
type watchEvent[T object] struct {
	Type            string
	Object          T
	ResourceVersion string
	// Raw is Object as the store holds it (without its resourceVersion),
	// when the event came from the store: a binary client gets these
	// bytes rather than Object marshalled again (see setStored).
	Raw []byte
}

// hubEvent is a store event decoded once and shared by every watcher it
// goes to. Watchers must not modify obj or prev.
type hubEvent[T object] struct {
	rev      int64
	rv       string // rev, formatted
	typ      store.EventType
	ns       string
	obj      T
	raw      []byte // obj as stored (the event's value)
	index    string // the indexed field's value after the change
	prevIdx  string // and before it
	prevKV   *store.KV
	prevOnce sync.Once
	prev     T
	prevOK   bool
	r        *resource[T]
}

// previous decodes the object before the change, once, on first use.
func (e *hubEvent[T]) previous() (T, bool) {
	e.prevOnce.Do(func() {
		if e.prevKV == nil {
			return
		}
		p, err := e.r.decode(*e.prevKV)
		e.prev, e.prevOK = p, err == nil
	})
	return e.prev, e.prevOK
}

// watcher is one client's watch on the hub.
type watcher[T object] struct {
	ns        string
	f         filter
	index     string // value of the hub's indexed field this watcher pins, if any
	indexed   bool
	bookmarks bool
	after     int64 // deliver only events above this revision
	q         eventQueue[T]
	done      chan struct{}
	once      sync.Once
	err       error
}

// eventQueue is a watcher's pending events: the hub appends under its
// lock, the watch's goroutine takes everything pending at once. It holds
// only what is pending, so an idle watch costs no buffer (a fixed channel
// of the cut-off size cost 80 KiB per watch, all of it scanned by every
// GC), and one wake-up sends a burst.
type eventQueue[T object] struct {
	mu    sync.Mutex
	items []watchEvent[T]
	limit int           // more pending than this: the watcher is too slow
	ready chan struct{} // a token while items may be non-empty
}

func newEventQueue[T object](limit int) eventQueue[T] {
	return eventQueue[T]{limit: max(limit, 1), ready: make(chan struct{}, 1)}
}

// put appends ev; false when limit events are pending already.
func (q *eventQueue[T]) put(ev watchEvent[T]) bool {
	q.mu.Lock()
	if len(q.items) >= q.limit {
		q.mu.Unlock()
		return false
	}
	q.items = append(q.items, ev)
	q.mu.Unlock()
	select {
	case q.ready <- struct{}{}:
	default:
	}
	return true
}

// take returns the pending events and leaves spare (emptied) in their
// place. The caller clears what it got before handing it back as spare.
func (q *eventQueue[T]) take(spare []watchEvent[T]) []watchEvent[T] {
	if cap(spare) > 256 {
		spare = nil // let a burst's buffer go
	}
	q.mu.Lock()
	out := q.items
	q.items = spare[:0]
	q.mu.Unlock()
	return out
}

func (w *watcher[T]) fail(err error) {
	w.once.Do(func() {
		w.err = err
		close(w.done)
	})
}

// convert turns a hub event into what this watcher sees, if anything: with
// a selector, an object that starts matching is ADDED and one that stops
// matching is DELETED, as in Kubernetes.
func (w *watcher[T]) convert(e *hubEvent[T]) (watchEvent[T], bool) {
	var none watchEvent[T]
	if e.rev <= w.after {
		return none, false
	}
	rv := e.rv
	if e.typ == store.EventProgress {
		if !w.bookmarks {
			return none, false
		}
		return watchEvent[T]{Type: eventBookmark, Object: e.obj, ResourceVersion: rv}, true
	}
	if w.ns != "" && e.ns != w.ns {
		return none, false
	}
	cur := w.f.matches(e.obj)
	if e.typ == store.EventDelete {
		if !cur {
			return none, false
		}
		return watchEvent[T]{Type: eventDeleted, Object: e.obj, ResourceVersion: rv, Raw: e.raw}, true
	}
	old := false
	if e.prevKV != nil {
		if w.f.empty() {
			old = true
		} else if p, ok := e.previous(); ok {
			old = w.f.matches(p)
		}
	}
	switch {
	case cur && old:
		return watchEvent[T]{Type: eventModified, Object: e.obj, ResourceVersion: rv, Raw: e.raw}, true
	case cur:
		return watchEvent[T]{Type: eventAdded, Object: e.obj, ResourceVersion: rv, Raw: e.raw}, true
	case old:
		return watchEvent[T]{Type: eventDeleted, Object: e.obj, ResourceVersion: rv, Raw: e.raw}, true
	}
	return none, false
}

// hub follows one kind's changes with a single store watch, decodes each
// event once, keeps the latest ones in a ring for watchers that resume a
// little behind, and fans events out to watchers. Watchers are indexed by
// namespace and, for kinds with an index field (a pod's spec.nodeName), by
// that field's value, so a node agent's watch costs nothing per foreign
// event.
type hub[T object] struct {
	r         *resource[T]
	indexName string
	indexPath []protoreflect.FieldDescriptor

	mu       sync.Mutex
	rev      int64 // last revision dispatched
	since    int64 // the ring holds every event of the kind above this revision
	ring     []*hubEvent[T]
	ringHead int // index of the oldest event
	ringLen  int
	lastIdx  map[string]string // store key -> indexed value, for routing updates
	all      map[*watcher[T]]struct{}
	byNS     map[string]map[*watcher[T]]struct{}
	byIndex  map[string]map[*watcher[T]]struct{}
	count    int

	// observe, when set, sees every change as it is dispatched (under the
	// hub's lock; it must be quick). The server keeps its namespace cache
	// with it.
	observe func(*hubEvent[T])
}

func newHub[T object](r *resource[T]) *hub[T] {
	h := &hub[T]{
		r:       r,
		ring:    make([]*hubEvent[T], r.s.cfg.watchCacheSize),
		lastIdx: map[string]string{},
		all:     map[*watcher[T]]struct{}{},
		byNS:    map[string]map[*watcher[T]]struct{}{},
		byIndex: map[string]map[*watcher[T]]struct{}{},
	}
	if r.strat.watchIndex != "" {
		path, err := resolveFieldPath(r.md, r.strat.watchIndex)
		if err != nil {
			panic("apiserver: watch index of " + r.info.Kind + ": " + err.Error())
		}
		h.indexName, h.indexPath = r.strat.watchIndex, path
	}
	return h
}

// begin makes rev the hub's start: it has dispatched everything up to
// rev, and its ring holds nothing older.
func (h *hub[T]) begin(rev int64) {
	h.mu.Lock()
	h.rev, h.since = rev, rev
	h.mu.Unlock()
}

// run follows the store from where begin put the hub until ctx ends,
// resuming after a cut-off.
func (h *hub[T]) run(ctx context.Context) {
	log := h.r.s.log.With("kind", h.r.info.Kind)
	for ctx.Err() == nil {
		h.mu.Lock()
		from := h.rev
		h.mu.Unlock()
		w, err := h.r.s.store.Watch(ctx, h.r.ref.prefix(), from)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			if errors.Is(err, store.ErrCompacted) {
				// Fell behind the kept history: every watcher must re-list.
				log.Warn("watch cache fell behind compaction; restarting watchers", "from", from)
				h.reset(h.r.s.store.Revision(), store.ErrCompacted)
				continue
			}
			log.Error("watch cache cannot follow the store; retrying", "err", err)
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		for ev := range w.Events() {
			h.dispatch(h.newEvent(ev))
		}
		if err := w.Err(); err != nil && ctx.Err() == nil {
			log.Warn("watch cache resumes after the store closed its watch", "err", err)
		}
	}
}

func (h *hub[T]) newEvent(ev store.Event) *hubEvent[T] {
	e := &hubEvent[T]{rev: ev.Revision, rv: strconv.FormatInt(ev.Revision, 10), typ: ev.Type, prevKV: ev.PrevKV, r: h.r}
	if ev.Type == store.EventProgress {
		e.obj = h.r.newObject()
		h.r.meta(e.obj).ResourceVersion = e.rv
		return e
	}
	obj, err := h.r.decode(ev.KV)
	if err != nil {
		h.r.s.log.Error("watch cache cannot decode an object; skipping it", "key", ev.KV.Key, "err", err)
		obj = h.r.newObject()
	}
	if err == nil {
		e.raw = ev.KV.Value
	}
	e.obj = obj
	e.ns = obj.GetMetadata().GetNamespace()
	if h.indexPath != nil {
		e.index = fieldString(obj.ProtoReflect(), h.indexPath)
	}
	return e
}

// dispatch records e in the ring and hands it to every watcher it concerns.
// A watcher whose buffer is full is cut off: it never blocks the hub.
func (h *hub[T]) dispatch(e *hubEvent[T]) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if e.rev <= h.rev && e.typ != store.EventProgress {
		return // already seen (resumed store watch)
	}
	h.rev = max(h.rev, e.rev)
	if e.typ == store.EventProgress {
		for w := range h.all {
			h.deliver(w, e)
		}
		for _, set := range h.byNS {
			for w := range set {
				h.deliver(w, e)
			}
		}
		for _, set := range h.byIndex {
			for w := range set {
				h.deliver(w, e)
			}
		}
		return
	}
	if h.indexPath != nil {
		key := e.r.ref.key(e.ns, e.obj.GetMetadata().GetName())
		e.prevIdx = h.lastIdx[key]
		if e.typ == store.EventDelete || e.index == "" {
			delete(h.lastIdx, key)
		} else {
			h.lastIdx[key] = e.index
		}
	}
	h.push(e)
	if h.observe != nil {
		h.observe(e)
	}
	for w := range h.all {
		h.deliver(w, e)
	}
	for w := range h.byNS[e.ns] {
		h.deliver(w, e)
	}
	if h.indexPath != nil {
		for w := range h.byIndex[e.index] {
			h.deliver(w, e)
		}
		if e.prevIdx != e.index {
			for w := range h.byIndex[e.prevIdx] {
				h.deliver(w, e)
			}
		}
	}
}

func (h *hub[T]) deliver(w *watcher[T], e *hubEvent[T]) {
	out, ok := w.convert(e)
	if !ok {
		return
	}
	if !w.q.put(out) {
		w.fail(store.ErrWatcherTooSlow)
		h.removeLocked(w)
	}
}

func (h *hub[T]) push(e *hubEvent[T]) {
	n := len(h.ring)
	if n == 0 {
		h.since = e.rev // no ring: only later events can be served from memory
		return
	}
	if h.ringLen < n {
		h.ring[(h.ringHead+h.ringLen)%n] = e
		h.ringLen++
		return
	}
	h.since = h.ring[h.ringHead].rev
	h.ring[h.ringHead] = e
	h.ringHead = (h.ringHead + 1) % n
}

// subscribe registers w for events after from. It returns the backlog of
// kept events w must see first, or ok=false when from is older than the
// ring (the caller then serves w from the store's history).
func (h *hub[T]) subscribe(w *watcher[T], from int64) (backlog []watchEvent[T], ok bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if from < h.rev {
		if from < h.since {
			return nil, false
		}
		n := len(h.ring)
		for i := 0; i < h.ringLen; i++ {
			if out, ok := w.convert(h.ring[(h.ringHead+i)%n]); ok {
				backlog = append(backlog, out)
			}
		}
		w.after = h.rev
	}
	h.addLocked(w)
	return backlog, true
}

func (h *hub[T]) addLocked(w *watcher[T]) {
	h.count++
	h.r.s.metrics.watchers.WithLabelValues(h.r.info.Kind).Inc()
	switch {
	case w.indexed:
		set := h.byIndex[w.index]
		if set == nil {
			set = map[*watcher[T]]struct{}{}
			h.byIndex[w.index] = set
		}
		set[w] = struct{}{}
	case w.ns != "":
		set := h.byNS[w.ns]
		if set == nil {
			set = map[*watcher[T]]struct{}{}
			h.byNS[w.ns] = set
		}
		set[w] = struct{}{}
	default:
		h.all[w] = struct{}{}
	}
}

func (h *hub[T]) remove(w *watcher[T]) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.removeLocked(w)
}

func (h *hub[T]) removeLocked(w *watcher[T]) {
	var set map[*watcher[T]]struct{}
	switch {
	case w.indexed:
		set = h.byIndex[w.index]
	case w.ns != "":
		set = h.byNS[w.ns]
	default:
		set = h.all
	}
	if _, ok := set[w]; !ok {
		return
	}
	delete(set, w)
	if len(set) == 0 {
		if w.indexed {
			delete(h.byIndex, w.index)
		} else if w.ns != "" {
			delete(h.byNS, w.ns)
		}
	}
	h.count--
	h.r.s.metrics.watchers.WithLabelValues(h.r.info.Kind).Dec()
}

// reset ends every watcher with err and restarts the ring at rev.
func (h *hub[T]) reset(rev int64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, set := range append([]map[*watcher[T]]struct{}{h.all}, values(h.byNS, h.byIndex)...) {
		for w := range set {
			w.fail(err)
		}
	}
	h.all = map[*watcher[T]]struct{}{}
	h.byNS = map[string]map[*watcher[T]]struct{}{}
	h.byIndex = map[string]map[*watcher[T]]struct{}{}
	h.r.s.metrics.watchers.WithLabelValues(h.r.info.Kind).Sub(float64(h.count))
	h.count = 0
	h.ringLen, h.ringHead = 0, 0
	h.rev, h.since = rev, rev
}

func values[K comparable, V any](maps ...map[K]V) []V {
	var out []V
	for _, m := range maps {
		for _, v := range m {
			out = append(out, v)
		}
	}
	return out
}

// watch serves one client watch until ctx ends, the client falls behind,
// or send fails. Once the watch is established (or the initial state sent)
// it calls send with an empty event, so the adapter can flush the response
// headers: clients wait for them before their Watch call returns.
func (r *resource[T]) watch(ctx context.Context, opts watchOptions, send func(watchEvent[T]) error) error {
	ns := ""
	if r.ref.namespaced {
		ns = opts.Namespace
	}
	if err := r.s.authorize(ctx, "watch", r.info.Kind, ns, ""); err != nil {
		return err
	}
	f, err := r.parseFilter(opts.LabelSelector, opts.FieldSelector)
	if err != nil {
		return err
	}
	w := &watcher[T]{
		ns:        ns,
		f:         f,
		bookmarks: opts.AllowBookmarks,
		q:         newEventQueue[T](r.s.cfg.watchBuffer),
		done:      make(chan struct{}),
	}
	if r.hub.indexName != "" {
		w.index, w.indexed = f.fields.equalsValue(r.hub.indexName)
	}
	var from int64
	switch opts.ResourceVersion {
	case "", "0":
		// Start with the current state as ADDED events, as Kubernetes does.
		l, err := r.list(ctx, listOptions{Namespace: ns, LabelSelector: opts.LabelSelector, FieldSelector: opts.FieldSelector})
		if err != nil {
			return err
		}
		for _, obj := range l.items {
			if err := send(watchEvent[T]{Type: eventAdded, Object: obj, ResourceVersion: obj.GetMetadata().GetResourceVersion()}); err != nil {
				return err
			}
		}
		from, _ = strconv.ParseInt(l.resourceVersion, 10, 64)
	default:
		from, err = strconv.ParseInt(opts.ResourceVersion, 10, 64)
		if err != nil || from < 0 {
			return errBadRequest("resourceVersion %q is not a revision; pass the resourceVersion of a list or of an object", opts.ResourceVersion)
		}
	}
	w.after = from
	backlog, ok := r.hub.subscribe(w, from)
	if !ok {
		return r.watchFromStore(ctx, w, from, send)
	}
	defer r.hub.remove(w)
	if err := send(watchEvent[T]{}); err != nil {
		return err
	}
	r.s.log.DebugContext(ctx, "watch started", "kind", r.info.Kind, "namespace", ns, "from", from)
	for _, ev := range backlog {
		if err := send(ev); err != nil {
			return err
		}
	}
	var batch []watchEvent[T]
	sendAll := func() error {
		batch = w.q.take(batch)
		defer clear(batch) // let the objects go
		for _, ev := range batch {
			if err := send(ev); err != nil {
				return err
			}
		}
		return nil
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-r.s.closing:
			return store.ErrClosed
		case <-w.q.ready:
			if err := sendAll(); err != nil {
				return err
			}
		case <-w.done:
			// Send what was queued before the cut-off, then report it.
			if err := sendAll(); err != nil {
				return err
			}
			return w.err
		}
	}
}

// watchFromStore serves a watch that starts before the hub's ring from the
// store's kept history, decoding events for this watcher alone.
func (r *resource[T]) watchFromStore(ctx context.Context, w *watcher[T], from int64, send func(watchEvent[T]) error) error {
	sw, err := r.s.store.Watch(ctx, r.ref.nsPrefix(w.ns), from)
	if err != nil {
		return err
	}
	defer sw.Stop()
	if err := send(watchEvent[T]{}); err != nil {
		return err
	}
	r.s.metrics.watchers.WithLabelValues(r.info.Kind).Inc()
	defer r.s.metrics.watchers.WithLabelValues(r.info.Kind).Dec()
	for {
		select {
		case <-r.s.closing:
			return store.ErrClosed
		case ev, ok := <-sw.Events():
			if !ok {
				if ctx.Err() != nil {
					return nil
				}
				return sw.Err()
			}
			if out, ok := w.convert(r.hub.newEvent(ev)); ok {
				if err := send(out); err != nil {
					return err
				}
			}
		}
	}
}
