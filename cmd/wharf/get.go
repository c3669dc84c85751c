package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/sdk/manifest"
)

type getOptions struct {
	namespace     string
	allNamespaces bool
	output        string
	watch         bool
	labelSelector string
	fieldSelector string
	noHeaders     bool
}

func newGetCommand(g *globals) *cobra.Command {
	var o getOptions
	cmd := &cobra.Command{
		Use:   "get KIND [NAME...]",
		Short: "Show objects of a kind as a table, YAML or JSON",
		Long: "Show objects of a kind. KIND is pods (po), nodes (no), namespaces (ns) or events (ev).\n" +
			"Without names, every object in the namespace (or, with -A, in all namespaces) is shown.",
		Example: "  wharf get pods\n  wharf get po web -o yaml\n  wharf get pods -A -l app=web -o wide\n  wharf get pods -w",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGet(cmd.Context(), g, o, args[0], args[1:])
		},
	}
	namespaceFlag(cmd, &o.namespace)
	f := cmd.Flags()
	f.BoolVarP(&o.allNamespaces, "all-namespaces", "A", false, "show objects of every namespace")
	f.StringVarP(&o.output, "output", "o", "", "output format: wide, yaml, json or name")
	f.BoolVarP(&o.watch, "watch", "w", false, "after showing the objects, show every change as it happens")
	f.StringVarP(&o.labelSelector, "selector", "l", "", "label selector, e.g. app=web,tier!=cache")
	f.StringVar(&o.fieldSelector, "field-selector", "", "field selector, e.g. spec.nodeName=node-1,status.phase=Running")
	f.BoolVar(&o.noHeaders, "no-headers", false, "leave out the table header")
	return cmd
}

func runGet(ctx context.Context, g *globals, o getOptions, kind string, names []string) error {
	switch o.output {
	case "", "wide", "yaml", "json", "name":
	default:
		return fmt.Errorf("unknown output format %q; use wide, yaml, json or name", o.output)
	}
	info, err := lookupKind(kind)
	if err != nil {
		return err
	}
	res := resourceFor(g.client(), info)
	if len(names) > 0 && o.allNamespaces {
		return errors.New("a name cannot be combined with --all-namespaces; name the namespace with -n")
	}
	ns := ""
	if info.Namespaced && !o.allNamespaces {
		ns = namespaceOr(o.namespace)
	}
	out := &objectWriter{
		w:      g.Out,
		format: o.output,
		table:  &table{},
		printer: printer{
			info:          info,
			wide:          o.output == "wide",
			withNamespace: info.Namespaced && o.allNamespaces,
		},
		noHeaders: o.noHeaders,
	}
	out.table.header = out.printer.header()

	var (
		objs    []client.Object
		rv      string
		failed  error
		asList  = len(names) == 0
		wantSet = map[string]bool{}
	)
	if len(names) > 0 {
		for _, name := range names {
			wantSet[name] = true
			obj, err := res.Get(ctx, ns, name)
			if err != nil {
				fmt.Fprintf(g.Err, "error: %s\n", g.message(err))
				failed = silentError{err}
				continue
			}
			objs = append(objs, obj)
		}
	} else {
		objs, rv, err = res.List(ctx, client.ListOptions{Namespace: ns, LabelSelector: o.labelSelector, FieldSelector: o.fieldSelector})
		if err != nil {
			return err
		}
		if info.Kind == "Event" {
			sortEvents(objs)
		}
	}
	switch {
	case len(objs) > 0:
		if err := out.writeAll(objs, asList); err != nil {
			return err
		}
	case asList && o.output == "json" && !o.watch:
		return encodeJSONList(g.Out, nil) // scripts get an empty List
	case asList:
		if ns != "" {
			fmt.Fprintf(g.Err, "No resources found in %s namespace.\n", ns)
		} else {
			fmt.Fprintln(g.Err, "No resources found")
		}
		if !o.watch {
			return nil
		}
	}
	if !o.watch {
		return failed
	}
	if failed != nil {
		return failed
	}
	return watchAndPrint(ctx, res, out, client.WatchOptions{
		Namespace:       ns,
		LabelSelector:   o.labelSelector,
		FieldSelector:   watchFieldSelector(o.fieldSelector, names),
		ResourceVersion: watchStart(rv, objs),
	}, wantSet)
}

// watchFieldSelector narrows a watch of one named object to it.
func watchFieldSelector(fs string, names []string) string {
	if len(names) != 1 {
		return fs
	}
	sel := "metadata.name=" + names[0]
	if fs != "" {
		sel = fs + "," + sel
	}
	return sel
}

// watchStart is where a watch after the printed objects starts: the list's
// revision, or for objects got by name, the oldest of theirs (so no change
// after any of them is missed).
func watchStart(listRV string, objs []client.Object) string {
	if listRV != "" {
		return listRV
	}
	var oldest int64
	for _, o := range objs {
		rv, err := strconv.ParseInt(o.GetMetadata().GetResourceVersion(), 10, 64)
		if err == nil && (oldest == 0 || rv < oldest) {
			oldest = rv
		}
	}
	if oldest == 0 {
		return ""
	}
	return strconv.FormatInt(oldest, 10)
}

// watchAndPrint prints every change after opts.ResourceVersion until ctx
// ends. A watch the server cuts off is resumed where it stopped; one whose
// history was compacted starts over with the current state.
func watchAndPrint(ctx context.Context, res resource, out *objectWriter, opts client.WatchOptions, names map[string]bool) error {
	opts.AllowBookmarks = true
	failures := 0
	for {
		w, err := res.Watch(ctx, opts)
		if err == nil {
			err = func() error {
				defer w.Stop()
				for {
					ev, err := w.Next()
					if err != nil {
						return err
					}
					failures = 0
					if ev.ResourceVersion != "" {
						opts.ResourceVersion = ev.ResourceVersion
					}
					if ev.Type == client.Bookmark {
						continue
					}
					if len(names) > 0 && !names[ev.Object.GetMetadata().GetName()] {
						continue
					}
					if err := out.writeOne(ev.Object); err != nil {
						return err
					}
				}
			}()
		}
		if ctx.Err() != nil {
			return nil
		}
		switch {
		case client.IsCompacted(err):
			opts.ResourceVersion = "" // the current state, as ADDED events
		case client.IsWatchCutOff(err):
		default:
			return err
		}
		failures++
		if failures > 5 {
			return err
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Duration(failures) * 200 * time.Millisecond):
		}
	}
}

// objectWriter prints objects in the chosen format.
type objectWriter struct {
	w         io.Writer
	format    string
	table     *table
	printer   printer
	noHeaders bool
	printed   bool // the table header is out
}

// writeAll prints the result of a get; asList says it came from a list
// (JSON then prints a List even of one object).
func (o *objectWriter) writeAll(objs []client.Object, asList bool) error {
	o.printer.now = time.Now()
	switch o.format {
	case "yaml":
		return manifest.Encode(o.w, manifest.FormatYAML, messages(objs)...)
	case "json":
		if !asList && len(objs) == 1 {
			return manifest.Encode(o.w, manifest.FormatJSON, objs[0])
		}
		return encodeJSONList(o.w, objs)
	case "name":
		for _, obj := range objs {
			fmt.Fprintf(o.w, "%s/%s\n", kindName(o.printer.info), obj.GetMetadata().GetName())
		}
		return nil
	}
	rows := make([][]string, 0, len(objs))
	for _, obj := range objs {
		rows = append(rows, o.printer.row(obj))
	}
	o.table.print(o.w, rows, o.noHeaders)
	o.printed = true
	return nil
}

// writeOne prints one changed object during a watch.
func (o *objectWriter) writeOne(obj client.Object) error {
	o.printer.now = time.Now()
	switch o.format {
	case "yaml":
		if _, err := io.WriteString(o.w, "---\n"); err != nil {
			return err
		}
		return manifest.Encode(o.w, manifest.FormatYAML, obj)
	case "json":
		return manifest.Encode(o.w, manifest.FormatJSON, obj)
	case "name":
		_, err := fmt.Fprintf(o.w, "%s/%s\n", kindName(o.printer.info), obj.GetMetadata().GetName())
		return err
	}
	if !o.printed && !o.noHeaders {
		o.table.row(o.w, o.table.header)
	}
	o.printed = true
	o.table.row(o.w, o.printer.row(obj))
	return nil
}

func messages(objs []client.Object) []proto.Message {
	out := make([]proto.Message, len(objs))
	for i, o := range objs {
		out[i] = o
	}
	return out
}

// encodeJSONList prints objects as a kubectl-style List.
func encodeJSONList(w io.Writer, objs []client.Object) error {
	items := make([]json.RawMessage, 0, len(objs))
	for _, obj := range objs {
		var buf bytes.Buffer
		if err := manifest.Encode(&buf, manifest.FormatJSON, obj); err != nil {
			return err
		}
		items = append(items, json.RawMessage(bytes.TrimSpace(buf.Bytes())))
	}
	b, err := json.MarshalIndent(struct {
		APIVersion string            `json:"apiVersion"`
		Kind       string            `json:"kind"`
		Items      []json.RawMessage `json:"items"`
	}{"v1", "List", items}, "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// sortEvents orders events by when they last happened, oldest first.
func sortEvents(objs []client.Object) {
	slices.SortStableFunc(objs, func(a, b client.Object) int {
		return eventTime(a.(*wharfv1.Event)).AsTime().Compare(eventTime(b.(*wharfv1.Event)).AsTime())
	})
}
