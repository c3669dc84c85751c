package apiserver

import (
	"context"
	"errors"
	"sync"
	"time"

	"connectrpc.com/connect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/store"
)

// DefaultNamespace exists from the first start on.
const DefaultNamespace = "default"

// namespaceCache remembers which namespaces exist and are active, from the
// namespace watch, so a create need not read the store for it. It may lag
// the store by a moment: a miss or a terminating entry falls back to a
// store read, and an object created in a namespace whose deletion the cache
// has not seen yet is removed by the reaper, which loops until it is empty.
type namespaceCache struct {
	mu     sync.RWMutex
	active map[string]bool
}

func (c *namespaceCache) isActive(ns string) bool {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.active[ns]
}

func (c *namespaceCache) observe(e *hubEvent[*wharfv1.Namespace]) {
	name := e.obj.GetMetadata().GetName()
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.typ == store.EventDelete || e.obj.GetMetadata().GetDeletionTimestamp() != nil {
		delete(c.active, name)
		return
	}
	c.active[name] = true
}

// primeNamespaceCache fills the cache with the namespaces as of rev; the
// namespace hub, started from rev, keeps it current from there.
func (s *Server) primeNamespaceCache(ctx context.Context, rev int64) error {
	page, err := s.store.List(ctx, s.namespaces.ref.prefix(), store.ListOptions{Revision: rev})
	if err != nil {
		return err
	}
	for _, kv := range page.KVs {
		ns, err := s.namespaces.decode(kv)
		if err != nil {
			return err
		}
		if ns.GetMetadata().GetDeletionTimestamp() == nil {
			s.nsCache.active[ns.GetMetadata().GetName()] = true
		}
	}
	return nil
}

// checkNamespaceWritable refuses to create objects in a namespace that does
// not exist or is being deleted.
func (s *Server) checkNamespaceWritable(ctx context.Context, k kindRef, ns string) error {
	if !k.namespaced || s.nsCache.isActive(ns) {
		return nil
	}
	kv, err := s.store.Get(ctx, s.namespaces.ref.key("", ns))
	if errors.Is(err, store.ErrNotFound) {
		return newAPIError(connect.CodeNotFound, "namespace %q not found; create it first (apply a Namespace manifest) or use an existing namespace", ns)
	}
	if err != nil {
		return err
	}
	obj, err := s.namespaces.decode(kv)
	if err != nil {
		return err
	}
	if obj.GetMetadata().GetDeletionTimestamp() != nil {
		return newAPIError(connect.CodeFailedPrecondition, "namespace %q is being deleted; objects cannot be created in it until it is gone", ns)
	}
	return nil
}

// ensureDefaultNamespace creates the default namespace on first start.
func (s *Server) ensureDefaultNamespace(ctx context.Context) error {
	_, err := s.namespaces.create(WithUser(ctx, systemUser), &wharfv1.Namespace{Metadata: &wharfv1.ObjectMeta{Name: DefaultNamespace}})
	if err != nil && !isAlreadyExists(err) {
		return err
	}
	return nil
}

// systemUser is the identity of the server's own writes.
var systemUser = UserInfo{Name: "system:apiserver", Groups: []string{"system:masters"}}

// afterDelete is told when a graceful delete began; namespaces then get
// emptied.
func (s *Server) afterDelete(kind, _, _ string) {
	if kind == "Namespace" {
		select {
		case s.reap <- struct{}{}:
		default:
		}
	}
}

// reapNamespaces empties terminating namespaces and removes them once
// empty. It runs on every namespace delete and every few seconds, so a
// restart mid-way finishes the job.
func (s *Server) reapNamespaces(ctx context.Context) {
	tick := time.NewTicker(s.cfg.reapInterval)
	defer tick.Stop()
	for {
		if err := s.reapOnce(WithUser(ctx, systemUser)); err != nil && ctx.Err() == nil {
			s.log.Warn("namespace cleanup failed; will retry", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		case <-s.reap:
		}
	}
}

func (s *Server) reapOnce(ctx context.Context) error {
	l, err := s.namespaces.list(ctx, listOptions{})
	if err != nil {
		return err
	}
	for _, ns := range l.items {
		if ns.GetMetadata().GetDeletionTimestamp() == nil {
			continue
		}
		name := ns.GetMetadata().GetName()
		remaining := 0
		for _, r := range s.resources {
			if !r.namespaced() {
				continue
			}
			n, err := r.deleteAllIn(ctx, name)
			if err != nil {
				return err
			}
			remaining += n
		}
		if remaining > 0 {
			continue
		}
		// Empty: finish it (finalizers in spec would hold it here).
		if len(ns.GetSpec().GetFinalizers()) > 0 || len(ns.GetMetadata().GetFinalizers()) > 0 {
			continue
		}
		_, err = s.namespaces.delete(ctx, deleteOptions{Name: name, ResourceVersion: ns.GetMetadata().GetResourceVersion(), finalize: true})
		if err != nil && !isNotFound(err) {
			var ae *apiError
			if errors.As(err, &ae) && ae.code == connect.CodeAborted {
				continue // changed meanwhile: next round
			}
			return err
		}
		s.log.Info("namespace deleted", "namespace", name)
	}
	return nil
}

// deleteAllIn deletes every object of the kind in namespace ns and returns
// how many are still there (graceful deletes in progress).
func (r *resource[T]) deleteAllIn(ctx context.Context, ns string) (int, error) {
	l, err := r.list(ctx, listOptions{Namespace: ns})
	if err != nil {
		return 0, err
	}
	remaining := 0
	for _, obj := range l.items {
		m := obj.GetMetadata()
		out, err := r.delete(ctx, deleteOptions{Namespace: ns, Name: m.GetName()})
		if err != nil && !isNotFound(err) {
			return 0, err
		}
		if err == nil && out.GetMetadata().GetDeletionTimestamp() != nil {
			if _, e := r.get(ctx, ns, m.GetName()); e == nil {
				remaining++
			}
		}
	}
	return remaining, nil
}
