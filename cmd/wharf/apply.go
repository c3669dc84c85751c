package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/sdk/manifest"
)

func newApplyCommand(g *globals) *cobra.Command {
	var (
		files []string
		ns    string
	)
	cmd := &cobra.Command{
		Use:   "apply -f FILE|DIR|-",
		Short: "Create objects from manifests, or bring existing ones in line with them",
		Long: "Apply reads YAML or JSON manifests (several documents per file are fine; a directory\n" +
			"gives its *.yaml, *.yml and *.json files in name order; - is standard input) and creates\n" +
			"each object, or replaces the spec, labels and annotations of one that exists.\n" +
			"Every manifest is checked first: if any document is bad, nothing is applied.",
		Example: "  wharf apply -f pod.yaml\n  wharf apply -f manifests/ -n staging\n  cat pod.json | wharf apply -f -",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(files) == 0 {
				return usageError(cmd, "name the manifests to apply with -f FILE, -f DIR or -f -")
			}
			return runApply(cmd.Context(), g, files, ns)
		},
	}
	cmd.Flags().StringArrayVarP(&files, "filename", "f", nil, "a manifest file, a directory of them, or - for standard input (repeatable)")
	namespaceFlag(cmd, &ns)
	return cmd
}

func runApply(ctx context.Context, g *globals, files []string, ns string) error {
	objs, err := readManifests(g, files, ns)
	if err != nil {
		return err
	}
	c := g.client()
	var failed error
	for _, o := range objs {
		res := resourceFor(c, o.Kind)
		obj := o.Message.(client.Object)
		r, err := res.Apply(ctx, obj)
		if err != nil {
			if unreachable(err) {
				return err // every other object would fail the same way
			}
			fmt.Fprintf(g.Err, "error: %s: %s\n", objectRef(o), g.message(err))
			failed = silentError{err}
			continue
		}
		verb := "unchanged"
		switch {
		case r.Created:
			verb = "created"
		case r.Changed:
			verb = "configured"
		}
		fmt.Fprintf(g.Out, "%s/%s %s\n", kindName(o.Kind), r.Object.GetMetadata().GetName(), verb)
	}
	return failed
}

// objectRef names a decoded object for messages: pod/web (pod.yaml).
func objectRef(o manifest.Object) string {
	return fmt.Sprintf("%s/%s (%s)", kindName(o.Kind), o.Metadata().GetName(), o.Source)
}

// readManifests decodes every object of every file before anything is
// done with any of them. Problems are printed, one per line; the error
// then only says that nothing was done. Namespaced objects without a
// namespace get ns (or "default"); one in another namespace than an
// explicit -n is refused, as kubectl does.
func readManifests(g *globals, files []string, ns string) ([]manifest.Object, error) {
	var (
		objs []manifest.Object
		errs []error
	)
	for _, f := range files {
		srcs, err := manifestSources(f)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, src := range srcs {
			got, err := decodeSource(g, src)
			objs = append(objs, got...)
			if err != nil {
				errs = append(errs, err)
			}
		}
	}
	for _, o := range objs {
		if !o.Kind.Namespaced {
			continue
		}
		m := o.Metadata()
		switch {
		case m == nil:
			errs = append(errs, fmt.Errorf("%s: document %d: %s has no metadata", o.Source, o.Index+1, o.Kind.Kind))
		case m.GetNamespace() == "":
			m.Namespace = namespaceOr(ns)
		case ns != "" && m.GetNamespace() != ns:
			errs = append(errs, fmt.Errorf("%s: the namespace of %s/%s is %q, not %q as --namespace says; pass --namespace=%s or leave it out",
				o.Source, kindName(o.Kind), m.GetName(), m.GetNamespace(), ns, m.GetNamespace()))
		}
	}
	if len(errs) > 0 {
		n := 0
		for _, err := range errs {
			for _, e := range flatten(err) {
				fmt.Fprintf(g.Err, "error: %s\n", e)
				n++
			}
		}
		what := "this problem"
		if n > 1 {
			what = fmt.Sprintf("these %d problems", n)
		}
		fmt.Fprintf(g.Err, "error: nothing was done; fix %s and try again\n", what)
		return nil, silentError{errors.Join(errs...)}
	}
	if len(objs) == 0 {
		return nil, fmt.Errorf("no objects in %s", strings.Join(files, ", "))
	}
	return objs, nil
}

// flatten splits errors.Join'ed errors.
func flatten(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		var out []error
		for _, e := range j.Unwrap() {
			out = append(out, flatten(e)...)
		}
		return out
	}
	return []error{err}
}

// manifestSources expands one -f argument: "-", a file, or a directory's
// *.yaml, *.yml and *.json files in name order.
func manifestSources(arg string) ([]string, error) {
	if arg == "-" {
		return []string{"-"}, nil
	}
	fi, err := os.Stat(arg)
	if err != nil {
		return nil, fmt.Errorf("cannot read %s: %w", arg, errors.Unwrap(err))
	}
	if !fi.IsDir() {
		return []string{arg}, nil
	}
	entries, err := os.ReadDir(arg)
	if err != nil {
		return nil, fmt.Errorf("cannot read directory %s: %w", arg, err)
	}
	var out []string
	for _, e := range entries { // ReadDir sorts by name
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".yaml", ".yml", ".json":
			if !e.IsDir() {
				out = append(out, filepath.Join(arg, e.Name()))
			}
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no manifests (*.yaml, *.yml, *.json) in directory %s", arg)
	}
	return out, nil
}

func decodeSource(g *globals, src string) ([]manifest.Object, error) {
	var r io.Reader
	name := src
	if src == "-" {
		r, name = g.In, "<stdin>"
	} else {
		f, err := os.Open(src)
		if err != nil {
			return nil, fmt.Errorf("cannot read %s: %w", src, errors.Unwrap(err))
		}
		defer f.Close()
		r = f
	}
	return manifest.Decode(r, name)
}
