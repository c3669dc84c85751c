package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
)

func newCordonCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "cordon NODE...",
		Short:   "Mark nodes unschedulable: no new pod goes there, the pods there stay",
		Example: "  wharf cordon node-1",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return setUnschedulable(cmd.Context(), g, args, true)
		},
	}
}

func newUncordonCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "uncordon NODE...",
		Short:   "Mark nodes schedulable again",
		Example: "  wharf uncordon node-1",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return setUnschedulable(cmd.Context(), g, args, false)
		},
	}
}

// setUnschedulable sets spec.unschedulable of each node, retrying when a
// node changed meanwhile (its agent's writes go to status, but labels and
// taints may change).
func setUnschedulable(ctx context.Context, g *globals, names []string, on bool) error {
	verb := map[bool]string{true: "cordoned", false: "uncordoned"}[on]
	info, _ := lookupKind("node")
	nodes := resourceFor(g.client(), info)
	var errs []error
	for _, name := range names {
		changed, err := updateObject(ctx, nodes, "", name, func(obj client.Object) (bool, error) {
			n := obj.(*wharfv1.Node)
			if n.GetSpec().GetUnschedulable() == on {
				return false, nil
			}
			if n.Spec == nil {
				n.Spec = &wharfv1.NodeSpec{}
			}
			n.Spec.Unschedulable = on
			return true, nil
		})
		switch {
		case err != nil:
			errs = append(errs, err)
		case changed:
			fmt.Fprintf(g.Out, "node/%s %s\n", name, verb)
		default:
			fmt.Fprintf(g.Out, "node/%s already %s\n", name, verb)
		}
	}
	return errors.Join(errs...)
}

type drainOptions struct {
	force       bool
	gracePeriod int64
	timeout     time.Duration
}

func newDrainCommand(g *globals) *cobra.Command {
	var o drainOptions
	cmd := &cobra.Command{
		Use:   "drain NODE",
		Short: "Cordon a node and delete its pods, waiting until they are gone",
		Long: "Drain a node before maintenance: mark it unschedulable (as cordon does), delete every pod on it\n" +
			"(gracefully: its node stops the containers) and wait until they are gone. Wharf's pods have no\n" +
			"controller to recreate them elsewhere, so a running pod deleted is gone for good: drain refuses,\n" +
			"changing nothing, unless --force says to delete them anyway. Finished pods are deleted either way.\n" +
			"Bring the node back with uncordon.",
		Example: "  wharf drain node-1 --force\n  wharf drain node-1 --force --grace-period 5 --timeout 2m",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDrain(cmd.Context(), g, o, args[0])
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.force, "force", false, "delete the running pods too, though nothing recreates them")
	f.Int64Var(&o.gracePeriod, "grace-period", -1, "seconds each pod's containers get to stop; -1 uses the pod's terminationGracePeriodSeconds")
	f.DurationVar(&o.timeout, "timeout", 0, "how long to wait for the pods to be gone (0: as long as it takes)")
	return cmd
}

func runDrain(ctx context.Context, g *globals, o drainOptions, name string) error {
	c := g.client()
	if _, err := c.Nodes().Get(ctx, "", name); err != nil {
		return fmt.Errorf("node %q: %w", name, err)
	}
	pods, err := podsOn(ctx, c, name)
	if err != nil {
		return err
	}
	var running []string
	for _, p := range pods {
		if !finished(p) && p.GetMetadata().GetDeletionTimestamp() == nil {
			running = append(running, podName(p))
		}
	}
	if len(running) > 0 && !o.force {
		return fmt.Errorf("node %s runs %d pod(s) that nothing would recreate: %s; "+
			"run again with --force to delete them (nothing was changed)", name, len(running), strings.Join(running, ", "))
	}
	if err := setUnschedulable(ctx, g, []string{name}, true); err != nil {
		return err
	}
	opts := client.DeleteOptions{}
	if o.gracePeriod >= 0 {
		opts.GracePeriodSeconds = &o.gracePeriod
	}
	for _, p := range pods {
		m := p.GetMetadata()
		if m.GetDeletionTimestamp() != nil {
			continue
		}
		_, err := c.Pods().Delete(ctx, m.GetNamespace(), m.GetName(), opts)
		switch {
		case client.IsNotFound(err):
		case err != nil:
			return fmt.Errorf("delete pod %s: %w", podName(p), err)
		default:
			fmt.Fprintf(g.Out, "pod/%s deleted\n", podName(p))
		}
	}
	start := time.Now()
	if o.timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.timeout)
		defer cancel()
	}
	for {
		left, err := podsOn(ctx, c, name)
		if err == nil && len(left) == 0 {
			fmt.Fprintf(g.Out, "node/%s drained\n", name)
			return nil
		}
		if err != nil && ctx.Err() == nil {
			return err
		}
		select {
		case <-ctx.Done():
			var names []string
			for _, p := range left {
				names = append(names, podName(p))
			}
			return fmt.Errorf("node %s: pods still terminating after %s: %s; their node stops them "+
				"(is its agent running? `wharf get node %s`); `wharf delete pod NAME --force` removes one at once",
				name, time.Since(start).Round(time.Second), strings.Join(names, ", "), name)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

// podsOn lists the pods bound to node, in every namespace.
func podsOn(ctx context.Context, c *client.Client, node string) ([]*wharfv1.Pod, error) {
	l, err := c.Pods().List(ctx, client.ListOptions{FieldSelector: "spec.nodeName=" + node})
	if err != nil {
		return nil, fmt.Errorf("list the pods on node %s: %w", node, err)
	}
	pods := l.Items
	slices.SortFunc(pods, func(a, b *wharfv1.Pod) int { return strings.Compare(podName(a), podName(b)) })
	return pods, nil
}

func finished(p *wharfv1.Pod) bool {
	ph := p.GetStatus().GetPhase()
	return ph == "Succeeded" || ph == "Failed"
}

func podName(p *wharfv1.Pod) string {
	return client.Key(p.GetMetadata().GetNamespace(), p.GetMetadata().GetName())
}
