package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
)

type labelOptions struct {
	namespace string
	overwrite bool
}

func newLabelCommand(g *globals) *cobra.Command {
	var o labelOptions
	cmd := &cobra.Command{
		Use:   "label KIND NAME KEY=VALUE... KEY-...",
		Short: "Add, change or remove labels of an object",
		Long: "Set labels (KEY=VALUE) and remove them (KEY-) on one object. Changing the value of a label\n" +
			"the object has needs --overwrite.",
		Example: "  wharf label node gpu-1 pool=training\n  wharf label pod web tier=front --overwrite\n  wharf label node gpu-1 pool-",
		Args:    cobra.MinimumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runLabel(cmd, g, o, args)
		},
	}
	namespaceFlag(cmd, &o.namespace)
	cmd.Flags().BoolVar(&o.overwrite, "overwrite", false, "change the value of labels the object has")
	return cmd
}

func runLabel(cmd *cobra.Command, g *globals, o labelOptions, args []string) error {
	info, err := lookupKind(args[0])
	if err != nil {
		return err
	}
	set, remove := map[string]string{}, []string{}
	for _, a := range args[2:] {
		switch k, v, ok := strings.Cut(a, "="); {
		case ok && k != "":
			set[k] = v
		case !ok && strings.HasSuffix(a, "-") && len(a) > 1:
			remove = append(remove, strings.TrimSuffix(a, "-"))
		default:
			return usageError(cmd, "%q is neither KEY=VALUE (set) nor KEY- (remove)", a)
		}
	}
	ns := ""
	if info.Namespaced {
		ns = namespaceOr(o.namespace)
	}
	r := resourceFor(g.client(), info)
	name := args[1]
	changed, err := updateObject(cmd.Context(), r, ns, name, func(obj client.Object) (bool, error) {
		m := obj.GetMetadata()
		labels := maps.Clone(m.GetLabels())
		if labels == nil {
			labels = map[string]string{}
		}
		for _, k := range slices.Sorted(maps.Keys(set)) {
			if old, ok := labels[k]; ok && old != set[k] && !o.overwrite {
				return false, fmt.Errorf("%s/%s has label %s=%s already; pass --overwrite to change it to %q", kindName(info), name, k, old, set[k])
			}
			labels[k] = set[k]
		}
		for _, k := range remove {
			delete(labels, k)
		}
		if maps.Equal(labels, m.GetLabels()) {
			return false, nil
		}
		m.Labels = labels
		return true, nil
	})
	if err != nil {
		return err
	}
	if changed {
		fmt.Fprintf(g.Out, "%s/%s labeled\n", kindName(info), name)
	} else {
		fmt.Fprintf(g.Out, "%s/%s not labeled (no change)\n", kindName(info), name)
	}
	return nil
}

func newTaintCommand(g *globals) *cobra.Command {
	var overwrite bool
	cmd := &cobra.Command{
		Use:   "taint node NAME KEY[=VALUE]:EFFECT... KEY[:EFFECT]-...",
		Short: "Add or remove taints of a node",
		Long: "Add taints (KEY[=VALUE]:EFFECT, EFFECT one of NoSchedule, PreferNoSchedule, NoExecute) to a node,\n" +
			"or remove them (KEY:EFFECT- removes the taint with that key and effect, KEY- every taint with the\n" +
			"key). A pod that does not tolerate a NoSchedule taint is not placed on the node; one that does not\n" +
			"tolerate a NoExecute taint is also evicted from it. Changing the value of a taint the node has\n" +
			"needs --overwrite.",
		Example: "  wharf taint node gpu-1 nvidia.com/gpu=present:NoSchedule\n" +
			"  wharf taint node gpu-1 maintenance:NoExecute\n  wharf taint node gpu-1 maintenance-",
		Args: cobra.MinimumNArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			if info, err := lookupKind(args[0]); err != nil || info.Kind != "Node" {
				return usageError(cmd, "only nodes have taints: wharf taint node NAME ...")
			}
			return runTaint(cmd, g, args[1], args[2:], overwrite)
		},
	}
	cmd.Flags().BoolVar(&overwrite, "overwrite", false, "change the value of taints the node has")
	return cmd
}

var taintEffects = []string{"NoSchedule", "PreferNoSchedule", "NoExecute"}

func runTaint(cmd *cobra.Command, g *globals, name string, specs []string, overwrite bool) error {
	var add []*wharfv1.Taint
	type removal struct{ key, effect string }
	var remove []removal
	for _, s := range specs {
		if spec, ok := strings.CutSuffix(s, "-"); ok {
			key, effect, _ := strings.Cut(spec, ":")
			if key == "" || (effect != "" && !slices.Contains(taintEffects, effect)) {
				return usageError(cmd, "%q: to remove a taint write KEY- or KEY:EFFECT- (EFFECT one of %s)", s, strings.Join(taintEffects, ", "))
			}
			remove = append(remove, removal{key, effect})
			continue
		}
		kv, effect, ok := strings.Cut(s, ":")
		key, value, _ := strings.Cut(kv, "=")
		if !ok || key == "" || !slices.Contains(taintEffects, effect) {
			return usageError(cmd, "%q is not a taint: write KEY[=VALUE]:EFFECT, EFFECT one of %s", s, strings.Join(taintEffects, ", "))
		}
		add = append(add, &wharfv1.Taint{Key: key, Value: value, Effect: effect})
	}
	info, _ := lookupKind("node")
	r := resourceFor(g.client(), info)
	changed, err := updateObject(cmd.Context(), r, "", name, func(obj client.Object) (bool, error) {
		n := obj.(*wharfv1.Node)
		if n.Spec == nil {
			n.Spec = &wharfv1.NodeSpec{}
		}
		taints := slices.Clone(n.Spec.Taints)
		for _, rm := range remove {
			before := len(taints)
			taints = slices.DeleteFunc(taints, func(t *wharfv1.Taint) bool {
				return t.GetKey() == rm.key && (rm.effect == "" || t.GetEffect() == rm.effect)
			})
			if len(taints) == before {
				return false, fmt.Errorf("node %s has no taint %s%s to remove", name, rm.key, map[bool]string{true: "", false: ":" + rm.effect}[rm.effect == ""])
			}
		}
		for _, t := range add {
			i := slices.IndexFunc(taints, func(o *wharfv1.Taint) bool { return o.GetKey() == t.Key && o.GetEffect() == t.Effect })
			switch {
			case i < 0: // the server stamps a NoExecute taint's timeAdded
				taints = append(taints, t)
			case taints[i].GetValue() == t.Value:
			case !overwrite:
				return false, fmt.Errorf("node %s has taint %s=%s:%s already; pass --overwrite to change its value to %q", name, t.Key, taints[i].GetValue(), t.Effect, t.Value)
			default:
				t.TimeAdded = taints[i].GetTimeAdded()
				taints[i] = t
			}
		}
		if slices.EqualFunc(taints, n.Spec.Taints, func(a, b *wharfv1.Taint) bool { return a == b }) {
			return false, nil
		}
		n.Spec.Taints = taints
		return true, nil
	})
	switch {
	case err != nil:
		return err
	case !changed:
		fmt.Fprintf(g.Out, "node/%s not tainted (no change)\n", name)
	case len(add) > 0:
		fmt.Fprintf(g.Out, "node/%s tainted\n", name)
	default:
		fmt.Fprintf(g.Out, "node/%s untainted\n", name)
	}
	return nil
}
