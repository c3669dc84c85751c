package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
)

type deleteOptions struct {
	files          []string
	namespace      string
	gracePeriod    int64
	force          bool
	labelSelector  string
	all            bool
	ignoreNotFound bool
}

func newDeleteCommand(g *globals) *cobra.Command {
	var o deleteOptions
	cmd := &cobra.Command{
		Use:   "delete (KIND NAME... | KIND -l SELECTOR | KIND --all | -f FILE|DIR|-)",
		Short: "Delete objects by name, by label selector, or as named in manifests",
		Long: "Delete objects. A pod that runs on a node is deleted gracefully: it shows as Terminating\n" +
			"until its node has stopped its containers (within its grace period).",
		Example: "  wharf delete pod web\n  wharf delete pods -l app=web\n  wharf delete -f pod.yaml\n  wharf delete pod web --force",
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDelete(cmd, g, o, args)
		},
	}
	f := cmd.Flags()
	f.StringArrayVarP(&o.files, "filename", "f", nil, "delete the objects these manifests name (repeatable)")
	namespaceFlag(cmd, &o.namespace)
	f.Int64Var(&o.gracePeriod, "grace-period", -1, "seconds a pod's containers get to stop; -1 uses the pod's terminationGracePeriodSeconds")
	f.BoolVar(&o.force, "force", false, "delete at once, without waiting for the node to stop the containers (--grace-period=0)")
	f.StringVarP(&o.labelSelector, "selector", "l", "", "delete the objects of KIND that match this label selector")
	f.BoolVar(&o.all, "all", false, "delete every object of KIND in the namespace")
	f.BoolVar(&o.ignoreNotFound, "ignore-not-found", false, "treat an object that does not exist as deleted")
	return cmd
}

func runDelete(cmd *cobra.Command, g *globals, o deleteOptions, args []string) error {
	ctx := cmd.Context()
	var opts client.DeleteOptions
	switch {
	case o.force:
		opts.GracePeriodSeconds = new(int64)
		if o.gracePeriod > 0 {
			return usageError(cmd, "--force deletes at once; leave out --grace-period")
		}
	case o.gracePeriod >= 0:
		opts.GracePeriodSeconds = &o.gracePeriod
	}
	if opts.GracePeriodSeconds != nil && *opts.GracePeriodSeconds == 0 {
		fmt.Fprintln(g.Err, "warning: Immediate deletion does not wait for confirmation that the running containers have stopped. They may keep running on the node.")
	}
	c := g.client()
	var targets []deleteTarget
	switch {
	case len(o.files) > 0:
		if len(args) > 0 || o.labelSelector != "" || o.all {
			return usageError(cmd, "-f names the objects to delete; leave out KIND, NAME, -l and --all")
		}
		objs, err := readManifests(g, o.files, o.namespace)
		if err != nil {
			return err
		}
		for _, obj := range objs {
			m := obj.Metadata()
			targets = append(targets, deleteTarget{obj.Kind, m.GetNamespace(), m.GetName()})
		}
	case len(args) == 0:
		return usageError(cmd, "name what to delete: KIND NAME..., KIND -l SELECTOR, KIND --all or -f FILE")
	default:
		info, err := lookupKind(args[0])
		if err != nil {
			return err
		}
		ns := ""
		if info.Namespaced {
			ns = namespaceOr(o.namespace)
		}
		names := args[1:]
		switch {
		case len(names) > 0 && (o.labelSelector != "" || o.all):
			return usageError(cmd, "give names, or -l, or --all; not several")
		case len(names) == 0 && o.labelSelector == "" && !o.all:
			return usageError(cmd, "name the %s to delete, or select them with -l or --all", info.Resource)
		case len(names) == 0:
			res := resourceFor(c, info)
			objs, _, err := res.List(ctx, client.ListOptions{Namespace: ns, LabelSelector: o.labelSelector})
			if err != nil {
				return err
			}
			if len(objs) == 0 {
				if ns != "" {
					fmt.Fprintf(g.Err, "No resources found in %s namespace.\n", ns)
				} else {
					fmt.Fprintln(g.Err, "No resources found")
				}
				return nil
			}
			for _, obj := range objs {
				targets = append(targets, deleteTarget{info, obj.GetMetadata().GetNamespace(), obj.GetMetadata().GetName()})
			}
		default:
			for _, name := range names {
				targets = append(targets, deleteTarget{info, ns, name})
			}
		}
	}
	return deleteAll(ctx, g, c, targets, opts, o.ignoreNotFound)
}

type deleteTarget struct {
	info      wharfv1.KindInfo
	namespace string
	name      string
}

func deleteAll(ctx context.Context, g *globals, c *client.Client, targets []deleteTarget, opts client.DeleteOptions, ignoreNotFound bool) error {
	var failed error
	for _, t := range targets {
		res := resourceFor(c, t.info)
		if _, err := res.Delete(ctx, t.namespace, t.name, opts); err != nil {
			if client.IsNotFound(err) && ignoreNotFound {
				continue
			}
			if unreachable(err) {
				return err
			}
			fmt.Fprintf(g.Err, "error: %s\n", g.message(err))
			failed = silentError{err}
			continue
		}
		fmt.Fprintf(g.Out, "%s %q deleted\n", kindName(t.info), t.name)
	}
	return failed
}
