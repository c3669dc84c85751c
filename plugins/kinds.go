package plugins

import (
	"context"
	"fmt"
	"time"

	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
)

// kindOps is what a controller plugin needs of a kind, whatever its Go
// type: watch it, and create, update or delete objects of it.
type kindOps struct {
	watch        func(ctx context.Context, c *client.Client, w *wharfv1.ControllerWatch, enqueue func(ns, name string)) func(ns, name string) (proto.Message, bool)
	create       func(ctx context.Context, c *client.Client, obj proto.Message) error
	update       func(ctx context.Context, c *client.Client, obj proto.Message) error
	updateStatus func(ctx context.Context, c *client.Client, obj proto.Message) error
	delete       func(ctx context.Context, c *client.Client, ns, name string, opts client.DeleteOptions) error
}

// kindTable lists the kinds controller plugins may watch and change. A new
// kind needs a line here (the typed client has no dynamic form).
var kindTable = map[string]kindOps{
	"Namespace": opsFor((*client.Client).Namespaces),
	"Node":      opsFor((*client.Client).Nodes),
	"Pod":       opsFor((*client.Client).Pods),
	"Event":     opsFor((*client.Client).Events),
	"Plugin":    opsFor((*client.Client).Plugins),
}

// defaultResync is how often a controller reconciles every watched object
// when its watch names no period.
const defaultResync = 60 * time.Second

func opsFor[T client.Object](res func(*client.Client) client.Resource[T]) kindOps {
	cast := func(obj proto.Message) (T, error) {
		t, ok := obj.(T)
		if !ok {
			var zero T
			return zero, fmt.Errorf("object is a %s, not the kind the action names", obj.ProtoReflect().Descriptor().FullName())
		}
		return t, nil
	}
	return kindOps{
		watch: func(ctx context.Context, c *client.Client, w *wharfv1.ControllerWatch, enqueue func(ns, name string)) func(ns, name string) (proto.Message, bool) {
			resync := defaultResync
			if s := w.GetResyncSeconds(); s > 0 {
				resync = time.Duration(s) * time.Second
			}
			inf := client.NewInformer(res(c), client.InformerOptions{Namespace: w.GetNamespace(), LabelSelector: w.GetLabelSelector(), ResyncPeriod: resync})
			key := func(obj T) { enqueue(obj.GetMetadata().GetNamespace(), obj.GetMetadata().GetName()) }
			inf.AddEventHandler(client.EventHandler[T]{
				AddFunc:    key,
				UpdateFunc: func(_, obj T) { key(obj) },
				DeleteFunc: key,
			})
			go func() { _ = inf.Run(ctx) }()
			return func(ns, name string) (proto.Message, bool) {
				obj, ok := inf.Get(ns, name)
				if !ok {
					return nil, false
				}
				return obj, true
			}
		},
		create: func(ctx context.Context, c *client.Client, obj proto.Message) error {
			t, err := cast(obj)
			if err == nil {
				_, err = res(c).Create(ctx, t)
			}
			return err
		},
		update: func(ctx context.Context, c *client.Client, obj proto.Message) error {
			t, err := cast(obj)
			if err == nil {
				_, err = res(c).Update(ctx, t)
			}
			return err
		},
		updateStatus: func(ctx context.Context, c *client.Client, obj proto.Message) error {
			t, err := cast(obj)
			if err == nil {
				_, err = res(c).UpdateStatus(ctx, t)
			}
			return err
		},
		delete: func(ctx context.Context, c *client.Client, ns, name string, opts client.DeleteOptions) error {
			_, err := res(c).Delete(ctx, ns, name, opts)
			return err
		},
	}
}
