package plugins

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/sdk/plugin/abi"
)

// controller runs one controller plugin: it watches the kinds the plugin
// declares (level-triggered: each change or resync enqueues the object's
// key) and hands each object to the plugin's reconcile, then applies the
// actions it returns through the API, as the plugin (header
// Wharf-Plugin). Failures and conflicts are retried with back-off.
type controller struct {
	h      *Host
	p      *plugin
	key    string
	cancel context.CancelFunc
	done   chan struct{}

	mu    sync.Mutex
	due   map[item]time.Time
	fails map[item]int
	wake  chan struct{}
	get   map[string]func(ns, name string) (proto.Message, bool) // by kind
}

type item struct{ kind, ns, name string }

// Back-off of a failing object: 1s doubling to 2 minutes.
const (
	retryBase = time.Second
	retryMax  = 2 * time.Minute
)

func watchesKey(ws []*wharfv1.ControllerWatch) string {
	var b strings.Builder
	for _, w := range ws {
		fmt.Fprintf(&b, "%s|%s|%s|%d;", w.GetKind(), w.GetNamespace(), w.GetLabelSelector(), w.GetResyncSeconds())
	}
	return b.String()
}

func (h *Host) restartController(ctx context.Context, p *plugin, _, v *version) {
	if !v.points[pluginv1.PointControllerReconcile] {
		h.stopController(p)
		return
	}
	key := watchesKey(v.watches)
	if p.ctrl != nil && p.ctrl.key == key {
		return // keeps running; every reconcile uses the current version
	}
	h.stopController(p)
	c := h.client.Load()
	if c == nil {
		return
	}
	cctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	ctrl := &controller{
		h: h, p: p, key: key, cancel: cancel, done: make(chan struct{}),
		due: map[item]time.Time{}, fails: map[item]int{}, wake: make(chan struct{}, 1),
		get: map[string]func(ns, name string) (proto.Message, bool){},
	}
	pc := client.New(c.BaseURL(), client.WithConnectOptions(connect.WithInterceptors(pluginIdentity(p.name))))
	for _, w := range v.watches {
		info, ok := wharfv1.LookupKind(w.GetKind())
		ops, known := kindTable[info.Kind]
		if !ok || !known {
			h.log.Warn("controller plugin watches a kind the host cannot watch", "plugin", p.name, "kind", w.GetKind())
			continue
		}
		kind := info.Kind
		ctrl.get[kind] = ops.watch(cctx, pc, w, func(ns, name string) { ctrl.enqueue(item{kind, ns, name}, time.Now()) })
	}
	p.ctrl = ctrl
	go ctrl.run(cctx, pc)
}

func (h *Host) stopController(p *plugin) {
	if p.ctrl == nil {
		return
	}
	p.ctrl.cancel()
	<-p.ctrl.done
	p.ctrl = nil
}

// pluginIdentity marks a controller's requests with the plugin's name.
func pluginIdentity(name string) connect.Interceptor {
	return connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Wharf-Plugin", name)
			return next(ctx, req)
		}
	})
}

func (c *controller) enqueue(it item, at time.Time) {
	c.mu.Lock()
	if t, ok := c.due[it]; !ok || at.Before(t) {
		c.due[it] = at
	}
	c.mu.Unlock()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// next returns an item that is due, or how long until one is.
func (c *controller) next() (item, bool, time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := time.Now()
	wait := time.Hour
	for it, t := range c.due {
		if !t.After(now) {
			delete(c.due, it)
			return it, true, 0
		}
		wait = min(wait, t.Sub(now))
	}
	return item{}, false, wait
}

func (c *controller) run(ctx context.Context, pc *client.Client) {
	defer close(c.done)
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		it, ok, wait := c.next()
		if ok {
			c.reconcile(ctx, pc, it)
			continue
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		case <-timer.C:
		}
	}
}

func (c *controller) reconcile(ctx context.Context, pc *client.Client, it item) {
	req := &pluginv1.ReconcileRequest{Kind: it.kind, Namespace: it.ns, Name: it.name, Now: timestamppb.Now()}
	if get := c.get[it.kind]; get != nil {
		if obj, ok := get(it.ns, it.name); ok {
			b, err := proto.Marshal(obj)
			if err != nil {
				c.h.log.Warn("controller: encode object", "plugin", c.p.name, "err", err)
				return
			}
			req.Object = b
		}
	}
	reqBytes, _ := proto.Marshal(req)
	resp := &pluginv1.ReconcileResponse{}
	start := time.Now()
	v, err := c.p.call(func(v *version) error {
		resp.Reset()
		return v.mod.Call(ctx, abi.ExportReconcile, reqBytes, resp)
	})
	if errors.Is(err, errGone) || ctx.Err() != nil {
		return
	}
	c.h.metrics.observe(c.p.name, pluginv1.PointControllerReconcile, start, err)
	if err != nil {
		c.h.failed(c.p.name, pluginv1.PointControllerReconcile, v.ignore, err)
		c.retry(it)
		return
	}
	for i, a := range resp.GetActions() {
		if err := c.apply(ctx, pc, a); err != nil {
			if client.IsConflict(err) || connect.CodeOf(err) == connect.CodeUnavailable {
				c.retry(it) // the object changed: reconcile it again from its new state
				return
			}
			if a.GetType() == pluginv1.ActionType_ACTION_TYPE_DELETE && client.IsNotFound(err) {
				continue
			}
			c.h.failed(c.p.name, pluginv1.PointControllerReconcile, v.ignore, fmt.Errorf("action %d (%s %s %s/%s): %w",
				i, strings.TrimPrefix(a.GetType().String(), "ACTION_TYPE_"), a.GetKind(), a.GetNamespace(), a.GetName(), err))
			c.retry(it)
			return
		}
	}
	c.mu.Lock()
	delete(c.fails, it)
	c.mu.Unlock()
	if ms := resp.GetRequeueAfterMs(); ms > 0 {
		c.enqueue(it, time.Now().Add(time.Duration(ms)*time.Millisecond))
	}
}

func (c *controller) retry(it item) {
	c.mu.Lock()
	n := c.fails[it]
	c.fails[it] = n + 1
	c.mu.Unlock()
	d := min(retryBase<<min(n, 10), retryMax)
	c.enqueue(it, time.Now().Add(d))
}

// apply carries out one action through the API.
func (c *controller) apply(ctx context.Context, pc *client.Client, a *pluginv1.Action) error {
	info, ok := wharfv1.LookupKind(a.GetKind())
	ops, known := kindTable[info.Kind]
	if !ok || !known {
		return fmt.Errorf("kind %q is not one the host can change", a.GetKind())
	}
	var obj proto.Message
	if a.GetType() != pluginv1.ActionType_ACTION_TYPE_DELETE {
		obj = info.New()
		if err := proto.Unmarshal(a.GetObject(), obj); err != nil {
			return fmt.Errorf("the action's object is not a %s: %w", info.Kind, err)
		}
	}
	actx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	switch a.GetType() {
	case pluginv1.ActionType_ACTION_TYPE_CREATE:
		return ops.create(actx, pc, obj)
	case pluginv1.ActionType_ACTION_TYPE_UPDATE:
		return ops.update(actx, pc, obj)
	case pluginv1.ActionType_ACTION_TYPE_UPDATE_STATUS:
		return ops.updateStatus(actx, pc, obj)
	case pluginv1.ActionType_ACTION_TYPE_DELETE:
		return ops.delete(actx, pc, a.GetNamespace(), a.GetName(), client.DeleteOptions{ResourceVersion: a.GetResourceVersion(), GracePeriodSeconds: a.GracePeriodSeconds})
	}
	return fmt.Errorf("unknown action type %d", a.GetType())
}
