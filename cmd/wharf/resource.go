package main

import (
	"context"
	"fmt"
	"sort"
	"strings"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
)

// resource is the typed client of one kind with its type erased, so the
// commands work on any kind the user names.
type resource interface {
	Info() wharfv1.KindInfo
	Get(ctx context.Context, ns, name string) (client.Object, error)
	// List reads every page.
	List(ctx context.Context, opts client.ListOptions) ([]client.Object, string, error)
	Delete(ctx context.Context, ns, name string, opts client.DeleteOptions) (client.Object, error)
	Watch(ctx context.Context, opts client.WatchOptions) (client.Watcher[client.Object], error)
	Apply(ctx context.Context, obj client.Object) (*client.ApplyResult[client.Object], error)
	// Update writes obj with its resourceVersion as the precondition.
	Update(ctx context.Context, obj client.Object) (client.Object, error)
}

// lookupKind finds a kind by any of its names (pod, pods, po, Pod).
func lookupKind(name string) (wharfv1.KindInfo, error) {
	if info, ok := wharfv1.LookupKind(name); ok {
		return info, nil
	}
	// Plural short forms: "nss" is not a thing, but "Pods" and "podS" are.
	if info, ok := wharfv1.LookupKind(strings.TrimSuffix(strings.ToLower(name), "s")); ok {
		return info, nil
	}
	var known []string
	for _, k := range wharfv1.Kinds {
		s := k.Resource
		if len(k.ShortNames) > 0 {
			s += " (" + strings.Join(k.ShortNames, ", ") + ")"
		}
		known = append(known, s)
	}
	sort.Strings(known)
	return wharfv1.KindInfo{}, fmt.Errorf("unknown kind %q; known kinds: %s", name, strings.Join(known, ", "))
}

// kindName is the lowercase singular a kind has in "pod/web".
func kindName(info wharfv1.KindInfo) string { return strings.ToLower(info.Kind) }

type typed[T client.Object] struct {
	info wharfv1.KindInfo
	r    client.Resource[T]
}

func (t typed[T]) Info() wharfv1.KindInfo { return t.info }

func (t typed[T]) Get(ctx context.Context, ns, name string) (client.Object, error) {
	obj, err := t.r.Get(ctx, ns, name)
	if err != nil {
		return nil, err
	}
	return obj, nil
}

func (t typed[T]) List(ctx context.Context, opts client.ListOptions) ([]client.Object, string, error) {
	if opts.Limit == 0 {
		opts.Limit = 500
	}
	var out []client.Object
	rv := ""
	for {
		l, err := t.r.List(ctx, opts)
		if err != nil {
			return nil, "", err
		}
		if rv == "" {
			rv = l.ResourceVersion
		}
		for _, obj := range l.Items {
			out = append(out, obj)
		}
		if l.Continue == "" {
			return out, rv, nil
		}
		opts.Continue = l.Continue
	}
}

func (t typed[T]) Delete(ctx context.Context, ns, name string, opts client.DeleteOptions) (client.Object, error) {
	obj, err := t.r.Delete(ctx, ns, name, opts)
	if err != nil {
		return nil, err
	}
	return obj, nil
}

func (t typed[T]) Watch(ctx context.Context, opts client.WatchOptions) (client.Watcher[client.Object], error) {
	w, err := t.r.Watch(ctx, opts)
	if err != nil {
		return nil, err
	}
	return erasedWatcher[T]{w}, nil
}

func (t typed[T]) Apply(ctx context.Context, obj client.Object) (*client.ApplyResult[client.Object], error) {
	o, ok := obj.(T)
	if !ok {
		return nil, fmt.Errorf("cannot apply a %T as a %s", obj, t.info.Kind)
	}
	res, err := t.r.Apply(ctx, o)
	if err != nil {
		return nil, err
	}
	return &client.ApplyResult[client.Object]{Object: res.Object, Created: res.Created, Changed: res.Changed}, nil
}

func (t typed[T]) Update(ctx context.Context, obj client.Object) (client.Object, error) {
	o, ok := obj.(T)
	if !ok {
		return nil, fmt.Errorf("cannot update a %T as a %s", obj, t.info.Kind)
	}
	out, err := t.r.Update(ctx, o)
	if err != nil {
		return nil, err
	}
	return out, nil
}

// updateObject applies change to the object and writes it when change
// says it changed something, again on a conflict.
func updateObject(ctx context.Context, r resource, ns, name string, change func(client.Object) (bool, error)) (bool, error) {
	for {
		obj, err := r.Get(ctx, ns, name)
		if err != nil {
			return false, err
		}
		if changed, err := change(obj); err != nil || !changed {
			return false, err
		}
		_, err = r.Update(ctx, obj)
		if client.IsConflict(err) {
			continue
		}
		return err == nil, err
	}
}

type erasedWatcher[T client.Object] struct{ w client.Watcher[T] }

func (e erasedWatcher[T]) Next() (client.Event[client.Object], error) {
	ev, err := e.w.Next()
	if err != nil {
		return client.Event[client.Object]{}, err
	}
	return client.Event[client.Object]{Type: ev.Type, Object: ev.Object, ResourceVersion: ev.ResourceVersion}, nil
}

func (e erasedWatcher[T]) Stop() { e.w.Stop() }
