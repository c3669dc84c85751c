package client

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// Object is what every kind's message has: metadata. *wharfv1.Pod,
// *wharfv1.Node and the other kinds satisfy it.
type Object interface {
	proto.Message
	GetMetadata() *wharfv1.ObjectMeta
}

// InformerOptions say what an Informer follows.
type InformerOptions struct {
	// Namespace limits the informer to one namespace; empty follows all.
	Namespace string
	// LabelSelector and FieldSelector narrow the objects followed, with
	// the server's syntax ("app=web,tier!=cache", "spec.nodeName=node-1").
	LabelSelector string
	FieldSelector string
	// ResyncPeriod, when positive, hands every cached object to the
	// handlers' UpdateFunc (with old == new) this often, so controllers
	// re-check state they may have missed acting on.
	ResyncPeriod time.Duration
	// PageSize is how many objects one List call asks for (default 500).
	PageSize int64
	// Logger receives warnings about failed lists and watches (default:
	// discard).
	Logger *slog.Logger
}

// EventHandler is told about changes to the informer's cache. Any of its
// funcs may be nil.
//
// # Notes
//
//   - Calls for one informer come from one goroutine, in the order the
//     changes were applied to the cache; a slow handler delays the others
//     but never the watch (notifications are queued without bound).
//   - Objects are shared with the cache and with other handlers: treat
//     them as read-only, and proto.Clone one before changing it.
//   - DeleteFunc gets the last state of the object the informer saw. After
//     a re-list (the watch history was compacted) that may be older than
//     the object's state when it was deleted.
type EventHandler[T Object] struct {
	AddFunc    func(obj T)
	UpdateFunc func(oldObj, newObj T)
	DeleteFunc func(obj T)
}

// IndexFunc returns the index values of an object, e.g. a pod's
// spec.nodeName. It must be fast, must not block and must depend only on
// the object. An object with no values is not in the index.
type IndexFunc[T Object] func(obj T) []string

// NamespaceIndex is the index every informer keeps: objects by
// metadata.namespace ("" for cluster-scoped kinds).
const NamespaceIndex = "namespace"

// ErrInformerStarted is returned by a second call to Informer.Run.
var ErrInformerStarted = errors.New("client: informer already started; Run may be called once")

// Informer keeps a local cache of one kind current: it lists, then watches
// from the list's resourceVersion, and hands every change to its event
// handlers. Readers (Get, List, ByIndex) never touch the network.
//
// # Notes
//
//   - Objects handed out (by Get, List, ByIndex and to handlers) are the
//     cached ones, shared by every reader: treat them as read-only, and
//     proto.Clone one before changing it. This keeps reads free of copies
//     for caches of tens of thousands of objects.
//   - Run keeps the cache current until its context ends: a watch that the
//     server cuts off (too slow, shutdown, network error) is resumed from
//     the last resourceVersion seen (bookmarks advance it); a watch whose
//     start was compacted away leads to a new list, and the differences to
//     the cache are handed to the handlers as adds, updates and deletes.
//     Repeated failures back off from 100ms up to 30s.
//   - An error that retrying cannot cure (an invalid selector, a kind the
//     server does not serve) ends Run with that error.
//   - All methods are safe for concurrent use.
type Informer[T Object] struct {
	res  Resource[T]
	opts InformerOptions
	log  *slog.Logger

	mu       sync.RWMutex
	items    map[string]T
	indexers map[string]IndexFunc[T]
	indices  map[string]map[string]map[string]T // index -> value -> key -> object
	handlers []*EventHandler[T]                 // copy-on-write
	rv       string                             // the last resourceVersion seen

	qmu   sync.Mutex
	queue []notification[T]
	qsig  chan struct{}

	started    atomic.Bool
	synced     chan struct{}
	syncedFlag atomic.Bool
	done       chan struct{}
	runErr     error
}

type notifyKind uint8

const (
	notifyAdd notifyKind = iota + 1
	notifyUpdate
	notifyDelete
	notifySynced
)

// notification is one queued handler call. It goes to the handlers
// registered when it was queued, so a handler added late never sees a
// change twice.
type notification[T Object] struct {
	kind     notifyKind
	old, obj T
	to       []*EventHandler[T]
}

// NewInformer returns an informer over res, e.g.
//
//	pods := client.NewInformer(c.Pods(), client.InformerOptions{})
//
// Add handlers and indexes, then call Run (usually in a goroutine) and
// WaitForSync.
func NewInformer[T Object](res Resource[T], opts InformerOptions) *Informer[T] {
	if opts.PageSize <= 0 {
		opts.PageSize = 500
	}
	log := opts.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	inf := &Informer[T]{
		res:      res,
		opts:     opts,
		log:      log,
		items:    map[string]T{},
		indexers: map[string]IndexFunc[T]{},
		indices:  map[string]map[string]map[string]T{},
		qsig:     make(chan struct{}, 1),
		synced:   make(chan struct{}),
		done:     make(chan struct{}),
	}
	inf.indexers[NamespaceIndex] = func(obj T) []string { return []string{obj.GetMetadata().GetNamespace()} }
	inf.indices[NamespaceIndex] = map[string]map[string]T{}
	return inf
}

// Key is the cache key of an object: "namespace/name", or "name" for
// cluster-scoped kinds.
func Key(namespace, name string) string {
	if namespace == "" {
		return name
	}
	return namespace + "/" + name
}

func keyOf(obj Object) string {
	m := obj.GetMetadata()
	return Key(m.GetNamespace(), m.GetName())
}

// AddEventHandler registers h. A handler added after the informer has
// objects first gets an AddFunc call for each of them, then every later
// change.
func (inf *Informer[T]) AddEventHandler(h EventHandler[T]) {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	hp := &h
	if len(inf.items) > 0 {
		to := []*EventHandler[T]{hp}
		inf.qmu.Lock()
		for _, obj := range inf.items {
			inf.queue = append(inf.queue, notification[T]{kind: notifyAdd, obj: obj, to: to})
		}
		inf.qmu.Unlock()
		inf.signal()
	}
	inf.handlers = append(slices.Clip(inf.handlers), hp)
}

// AddIndex adds an index named name over fn; ByIndex(name, value) then
// returns the objects fn maps to value. It may be called at any time; the
// index is built from the current cache. Adding a name twice is an error.
func (inf *Informer[T]) AddIndex(name string, fn IndexFunc[T]) error {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	if _, ok := inf.indexers[name]; ok {
		return fmt.Errorf("client: informer index %q already exists", name)
	}
	inf.indexers[name] = fn
	idx := map[string]map[string]T{}
	inf.indices[name] = idx
	for key, obj := range inf.items {
		addToIndex(idx, fn(obj), key, obj)
	}
	return nil
}

// Get returns the cached object, and whether there is one. For
// cluster-scoped kinds namespace is "". The object is read-only.
func (inf *Informer[T]) Get(namespace, name string) (T, bool) {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	obj, ok := inf.items[Key(namespace, name)]
	return obj, ok
}

// List returns every cached object, in no particular order. The objects
// are read-only.
func (inf *Informer[T]) List() []T {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	out := make([]T, 0, len(inf.items))
	for _, obj := range inf.items {
		out = append(out, obj)
	}
	return out
}

// ListByLabels returns the cached objects whose labels sel matches, in no
// particular order. The objects are read-only.
func (inf *Informer[T]) ListByLabels(sel LabelSelector) []T {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	var out []T
	for _, obj := range inf.items {
		if sel.Matches(obj.GetMetadata().GetLabels()) {
			out = append(out, obj)
		}
	}
	return out
}

// ByIndex returns the cached objects the index named name maps to value,
// in no particular order; nil for an unknown index. The objects are
// read-only.
func (inf *Informer[T]) ByIndex(name, value string) []T {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	set := inf.indices[name][value]
	if len(set) == 0 {
		return nil
	}
	out := make([]T, 0, len(set))
	for _, obj := range set {
		out = append(out, obj)
	}
	return out
}

// IndexValues returns the values the index named name holds objects
// under, in no particular order.
func (inf *Informer[T]) IndexValues(name string) []string {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	idx := inf.indices[name]
	out := make([]string, 0, len(idx))
	for v := range idx {
		out = append(out, v)
	}
	return out
}

// Len is the number of cached objects.
func (inf *Informer[T]) Len() int {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	return len(inf.items)
}

// ResourceVersion is the last resourceVersion the informer has seen (from
// a list, an event or a bookmark); its cache reflects every change up to it.
func (inf *Informer[T]) ResourceVersion() string {
	inf.mu.RLock()
	defer inf.mu.RUnlock()
	return inf.rv
}

// HasSynced reports whether the first list is in the cache and every
// handler has been called for each object of it.
func (inf *Informer[T]) HasSynced() bool { return inf.syncedFlag.Load() }

// WaitForSync blocks until HasSynced, ctx ends (ctx.Err()) or Run ends
// before syncing (its error).
func (inf *Informer[T]) WaitForSync(ctx context.Context) error {
	select {
	case <-inf.synced:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	case <-inf.done:
		if inf.HasSynced() {
			return nil
		}
		if inf.runErr != nil {
			return inf.runErr
		}
		return errors.New("client: informer stopped before it synced")
	}
}

// Run lists, watches and dispatches to the handlers until ctx ends, then
// returns nil; or returns an error retrying cannot cure (see the type's
// notes). It may be called once.
func (inf *Informer[T]) Run(ctx context.Context) error {
	if !inf.started.CompareAndSwap(false, true) {
		return ErrInformerStarted
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { inf.dispatch(ctx) })
	if inf.opts.ResyncPeriod > 0 {
		wg.Go(func() { inf.resyncLoop(ctx) })
	}
	err := inf.loop(ctx)
	cancel()
	wg.Wait()
	inf.runErr = err
	close(inf.done)
	return err
}

const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 30 * time.Second
)

// loop is list-then-watch, forever.
func (inf *Informer[T]) loop(ctx context.Context) error {
	delay := time.Duration(0)
	wait := func() bool {
		if delay == 0 {
			delay = minBackoff
		} else {
			delay = min(2*delay, maxBackoff)
		}
		d := delay/2 + rand.N(delay/2+1) // jitter: [delay/2, delay]
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return false
		case <-t.C:
			return true
		}
	}
	needList := true
	for {
		if needList {
			if err := inf.relist(ctx); err != nil {
				if ctx.Err() != nil {
					return nil
				}
				if permanent(err) {
					return fmt.Errorf("client: list %s: %w", inf.describe(), err)
				}
				inf.log.Warn("informer list failed; retrying", "what", inf.describe(), "err", err)
				if !wait() {
					return nil
				}
				continue
			}
			needList = false
			delay = 0
		}
		progressed, err := inf.watchOnce(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if progressed {
			delay = 0
		}
		switch {
		case IsCompacted(err):
			inf.log.Info("informer watch history compacted; listing again", "what", inf.describe(), "from", inf.ResourceVersion())
			needList = true
		case permanent(err):
			return fmt.Errorf("client: watch %s: %w", inf.describe(), err)
		case IsWatchCutOff(err):
			inf.log.Debug("informer watch cut off; resuming", "what", inf.describe(), "from", inf.ResourceVersion(), "err", err)
		default:
			inf.log.Warn("informer watch failed; resuming", "what", inf.describe(), "from", inf.ResourceVersion(), "err", err)
		}
		if progressed && IsWatchCutOff(err) {
			continue // a healthy watch that ended: resume at once
		}
		if !wait() {
			return nil
		}
	}
}

func (inf *Informer[T]) describe() string {
	var zero T
	s := string(zero.ProtoReflect().Descriptor().Name())
	if inf.opts.Namespace != "" {
		s += " in namespace " + inf.opts.Namespace
	}
	if inf.opts.LabelSelector != "" {
		s += " with labels " + inf.opts.LabelSelector
	}
	if inf.opts.FieldSelector != "" {
		s += " with fields " + inf.opts.FieldSelector
	}
	return s
}

// permanent reports errors that retrying the same request cannot cure.
func permanent(err error) bool {
	switch connect.CodeOf(err) {
	case connect.CodeInvalidArgument, connect.CodeUnimplemented:
		return true
	}
	return false
}

// relist reads the full state and reconciles the cache with it.
func (inf *Informer[T]) relist(ctx context.Context) error {
	var (
		items []T
		rv    string
		cont  string
	)
	for {
		l, err := inf.res.List(ctx, ListOptions{
			Namespace:     inf.opts.Namespace,
			LabelSelector: inf.opts.LabelSelector,
			FieldSelector: inf.opts.FieldSelector,
			Limit:         inf.opts.PageSize,
			Continue:      cont,
		})
		if err != nil {
			return err
		}
		if rv == "" {
			rv = l.ResourceVersion
		}
		items = append(items, l.Items...)
		if l.Continue == "" {
			break
		}
		cont = l.Continue
	}
	inf.replace(items, rv)
	return nil
}

// replace makes the cache hold exactly items, queueing a notification for
// each difference, and marks the informer synced after the first one.
func (inf *Informer[T]) replace(items []T, rv string) {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	seen := make(map[string]struct{}, len(items))
	var batch []notification[T]
	for _, obj := range items {
		key := keyOf(obj)
		seen[key] = struct{}{}
		old, ok := inf.items[key]
		if ok && old.GetMetadata().GetResourceVersion() == obj.GetMetadata().GetResourceVersion() {
			continue
		}
		inf.store(key, old, ok, obj)
		if ok {
			batch = append(batch, notification[T]{kind: notifyUpdate, old: old, obj: obj})
		} else {
			batch = append(batch, notification[T]{kind: notifyAdd, obj: obj})
		}
	}
	var gone []string
	for key := range inf.items {
		if _, ok := seen[key]; !ok {
			gone = append(gone, key)
		}
	}
	slices.Sort(gone)
	for _, key := range gone {
		old := inf.items[key]
		inf.remove(key, old)
		batch = append(batch, notification[T]{kind: notifyDelete, obj: old})
	}
	inf.rv = rv
	if !inf.syncedFlag.Load() {
		batch = append(batch, notification[T]{kind: notifySynced})
	}
	inf.enqueueLocked(batch...)
}

// watchOnce watches from the last resourceVersion until the watch ends.
// progressed says whether it delivered anything.
func (inf *Informer[T]) watchOnce(ctx context.Context) (progressed bool, err error) {
	w, err := inf.res.Watch(ctx, WatchOptions{
		Namespace:       inf.opts.Namespace,
		LabelSelector:   inf.opts.LabelSelector,
		FieldSelector:   inf.opts.FieldSelector,
		ResourceVersion: inf.ResourceVersion(),
		AllowBookmarks:  true,
	})
	if err != nil {
		return false, err
	}
	defer w.Stop()
	for {
		ev, err := w.Next()
		if err != nil {
			return progressed, err
		}
		progressed = true
		inf.apply(ev)
	}
}

// apply applies one watch event to the cache.
func (inf *Informer[T]) apply(ev Event[T]) {
	inf.mu.Lock()
	defer inf.mu.Unlock()
	rv := ev.ResourceVersion
	if rv == "" && ev.Type != Bookmark {
		rv = ev.Object.GetMetadata().GetResourceVersion()
	}
	switch ev.Type {
	case Added, Modified:
		key := keyOf(ev.Object)
		old, ok := inf.items[key]
		inf.store(key, old, ok, ev.Object)
		if ok {
			inf.enqueueLocked(notification[T]{kind: notifyUpdate, old: old, obj: ev.Object})
		} else {
			inf.enqueueLocked(notification[T]{kind: notifyAdd, obj: ev.Object})
		}
	case Deleted:
		key := keyOf(ev.Object)
		if old, ok := inf.items[key]; ok {
			inf.remove(key, old)
			inf.enqueueLocked(notification[T]{kind: notifyDelete, obj: ev.Object})
		}
	case Bookmark:
	default:
		inf.log.Warn("informer ignores a watch event of unknown type", "what", inf.describe(), "type", string(ev.Type))
	}
	if rv != "" {
		inf.rv = rv
	}
}

// store puts obj under key, replacing old (when hadOld), in the cache and
// every index. inf.mu is held.
func (inf *Informer[T]) store(key string, old T, hadOld bool, obj T) {
	for name, fn := range inf.indexers {
		idx := inf.indices[name]
		var oldVals []string
		if hadOld {
			oldVals = fn(old)
		}
		newVals := fn(obj)
		for _, v := range oldVals {
			if !slices.Contains(newVals, v) {
				removeFromIndex(idx, v, key)
			}
		}
		addToIndex(idx, newVals, key, obj)
	}
	inf.items[key] = obj
}

// remove drops key (holding old) from the cache and every index.
func (inf *Informer[T]) remove(key string, old T) {
	for name, fn := range inf.indexers {
		idx := inf.indices[name]
		for _, v := range fn(old) {
			removeFromIndex(idx, v, key)
		}
	}
	delete(inf.items, key)
}

func addToIndex[T Object](idx map[string]map[string]T, vals []string, key string, obj T) {
	for _, v := range vals {
		set := idx[v]
		if set == nil {
			set = map[string]T{}
			idx[v] = set
		}
		set[key] = obj
	}
}

func removeFromIndex[T Object](idx map[string]map[string]T, v, key string) {
	set := idx[v]
	delete(set, key)
	if len(set) == 0 {
		delete(idx, v)
	}
}

// enqueueLocked queues notifications for the handlers registered now.
// inf.mu is held, so the queue's order is the cache's.
func (inf *Informer[T]) enqueueLocked(ns ...notification[T]) {
	if len(ns) == 0 {
		return
	}
	inf.qmu.Lock()
	for _, n := range ns {
		if n.to == nil {
			n.to = inf.handlers
		}
		inf.queue = append(inf.queue, n)
	}
	inf.qmu.Unlock()
	inf.signal()
}

func (inf *Informer[T]) signal() {
	select {
	case inf.qsig <- struct{}{}:
	default:
	}
}

// dispatch calls the handlers, in queue order, until ctx ends.
func (inf *Informer[T]) dispatch(ctx context.Context) {
	var batch []notification[T]
	for {
		select {
		case <-ctx.Done():
			return
		case <-inf.qsig:
		}
		inf.qmu.Lock()
		batch, inf.queue = inf.queue, batch[:0]
		inf.qmu.Unlock()
		for i := range batch {
			if ctx.Err() != nil {
				return
			}
			n := &batch[i]
			switch n.kind {
			case notifySynced:
				if inf.syncedFlag.CompareAndSwap(false, true) {
					close(inf.synced)
				}
			case notifyAdd:
				for _, h := range n.to {
					if h.AddFunc != nil {
						h.AddFunc(n.obj)
					}
				}
			case notifyUpdate:
				for _, h := range n.to {
					if h.UpdateFunc != nil {
						h.UpdateFunc(n.old, n.obj)
					}
				}
			case notifyDelete:
				for _, h := range n.to {
					if h.DeleteFunc != nil {
						h.DeleteFunc(n.obj)
					}
				}
			}
			*n = notification[T]{} // let the objects go
		}
	}
}

// resyncLoop queues an update for every cached object each ResyncPeriod.
func (inf *Informer[T]) resyncLoop(ctx context.Context) {
	t := time.NewTicker(inf.opts.ResyncPeriod)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if !inf.HasSynced() {
			continue
		}
		inf.mu.Lock()
		batch := make([]notification[T], 0, len(inf.items))
		for _, obj := range inf.items {
			batch = append(batch, notification[T]{kind: notifyUpdate, old: obj, obj: obj})
		}
		inf.enqueueLocked(batch...)
		inf.mu.Unlock()
	}
}
