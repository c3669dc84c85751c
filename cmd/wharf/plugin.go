package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"connectrpc.com/connect"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/api/wharf/v1/wharfv1connect"
	"github.com/wharfhq/wharf/daemon/apiserver"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	schedplugins "github.com/wharfhq/wharf/daemon/scheduler/plugins"
	"github.com/wharfhq/wharf/plugins"
	"github.com/wharfhq/wharf/sdk/client"
)

func newPluginCommand(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "plugin",
		Short: "Install, upgrade, list, describe and remove WebAssembly plugins",
		Long: "Plugins extend admission (mutate, validate), scheduling (filter, score) and controllers.\n" +
			"A plugin is a WebAssembly module (see docs/plugins.md) run by the server; installing one\n" +
			"uploads the module and creates or updates a Plugin object, at run time, without a restart.",
	}
	cmd.AddCommand(newPluginInstallCommand(g), newPluginListCommand(g), newPluginDescribeCommand(g), newPluginRemoveCommand(g))
	return cmd
}

type pluginInstallOptions struct {
	name          string
	config        string
	failurePolicy string
	timeout       string
	memoryMiB     int32
	scoreWeight   int32
	points        []string
	kinds         []string
	operations    []string
	namespaces    []string
	dryRun        bool
	dryRunLimit   int
}

func newPluginInstallCommand(g *globals) *cobra.Command {
	var o pluginInstallOptions
	cmd := &cobra.Command{
		Use:   "install FILE.wasm --name NAME",
		Short: "Upload a module and install it, or upgrade the plugin of that name",
		Long: "Upload FILE.wasm and create the Plugin NAME, or point the existing one at the new module\n" +
			"(an upgrade: the new version loads and checks its config first, then replaces the old one).\n" +
			"An upgrade keeps the Plugin's settings (config, failure policy, timeout, rules, ...) except\n" +
			"those given on the command line; --config '' and the like reset one to its default.\n" +
			"With --dry-run nothing is installed: the plugin runs here against the live state and the\n" +
			"command prints what it would change (which objects a validator would refuse or a mutator\n" +
			"would change; where a scheduling plugin would place pending and recently placed pods).",
		Example: "  wharf plugin install require-limits.wasm --name require-limits --kinds Pod\n" +
			"  wharf plugin install gpu-score.wasm --name gpu-score --config '{\"modelWeight\": 70}' --dry-run\n" +
			"  wharf plugin install defaults.wasm --name defaults --failure-policy Ignore --timeout 50ms",
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return runPluginInstall(cmd, g, o, args[0]) },
	}
	f := cmd.Flags()
	f.StringVar(&o.name, "name", "", "the Plugin's name (required)")
	f.StringVar(&o.config, "config", "", "the plugin's config as JSON, e.g. '{\"ttlSeconds\": 300}'")
	f.StringVar(&o.failurePolicy, "failure-policy", "", "Fail (default) or Ignore: what a failing, hanging or crashing plugin means")
	f.StringVar(&o.timeout, "timeout", "", "deadline per call, e.g. 100ms (default 100ms; 1s for controllers)")
	f.Int32Var(&o.memoryMiB, "memory-limit", 0, "memory per instance in MiB (default 64)")
	f.Int32Var(&o.scoreWeight, "score-weight", 0, "weight of the plugin's scores, 1-100 (default 1)")
	f.StringSliceVar(&o.points, "extension-points", nil, "enable only these of the module's extension points")
	f.StringSliceVar(&o.kinds, "kinds", nil, "admission: only requests for these kinds (e.g. Pod)")
	f.StringSliceVar(&o.operations, "operations", nil, "admission: only these operations (CREATE, UPDATE, DELETE)")
	f.StringSliceVar(&o.namespaces, "namespaces", nil, "admission: only requests in these namespaces")
	f.BoolVar(&o.dryRun, "dry-run", false, "run the plugin against the live state without installing it, and print what would change")
	f.IntVar(&o.dryRunLimit, "dry-run-limit", 50, "with --dry-run, the most objects or pods to report")
	return cmd
}

func (o pluginInstallOptions) spec() (*wharfv1.PluginSpec, error) {
	s := &wharfv1.PluginSpec{
		FailurePolicy:   o.failurePolicy,
		Timeout:         o.timeout,
		MemoryLimitMib:  o.memoryMiB,
		ScoreWeight:     o.scoreWeight,
		ExtensionPoints: o.points,
	}
	if o.config != "" {
		var m map[string]any
		if err := json.Unmarshal([]byte(o.config), &m); err != nil {
			return nil, fmt.Errorf("--config is not a JSON object: %v", err)
		}
		st, err := structpb.NewStruct(m)
		if err != nil {
			return nil, fmt.Errorf("--config: %v", err)
		}
		s.Config = st
	}
	if len(o.kinds) > 0 || len(o.operations) > 0 || len(o.namespaces) > 0 {
		s.AdmissionRules = []*wharfv1.AdmissionRule{{Kinds: o.kinds, Operations: o.upperOperations(), Namespaces: o.namespaces}}
	}
	return s, nil
}

func (o pluginInstallOptions) upperOperations() []string {
	ops := make([]string, len(o.operations))
	for i, op := range o.operations {
		ops[i] = strings.ToUpper(op)
	}
	return ops
}

// installSpec is the spec an install writes: for a new Plugin (old nil),
// the flags' settings; for an installed one, its settings with those the
// command line names (set reports which) replaced, so that an upgrade
// keeps the config, policy and rules it does not mention.
func (o pluginInstallOptions) installSpec(old *wharfv1.PluginSpec, set func(flag string) bool) (*wharfv1.PluginSpec, error) {
	s, err := o.spec()
	if err != nil || old == nil {
		return s, err
	}
	out := proto.Clone(old).(*wharfv1.PluginSpec)
	if set("config") {
		out.Config = s.Config
	}
	if set("failure-policy") {
		out.FailurePolicy = s.FailurePolicy
	}
	if set("timeout") {
		out.Timeout = s.Timeout
	}
	if set("memory-limit") {
		out.MemoryLimitMib = s.MemoryLimitMib
	}
	if set("score-weight") {
		out.ScoreWeight = s.ScoreWeight
	}
	if set("extension-points") {
		out.ExtensionPoints = s.ExtensionPoints
	}
	if set("kinds") || set("operations") || set("namespaces") {
		// The flags edit the one rule they make; rules written through the
		// API some other way are replaced.
		r := &wharfv1.AdmissionRule{}
		if len(old.GetAdmissionRules()) == 1 {
			r = proto.Clone(old.GetAdmissionRules()[0]).(*wharfv1.AdmissionRule)
		}
		if set("kinds") {
			r.Kinds = o.kinds
		}
		if set("operations") {
			r.Operations = o.upperOperations()
		}
		if set("namespaces") {
			r.Namespaces = o.namespaces
		}
		out.AdmissionRules = nil
		if len(r.GetKinds())+len(r.GetOperations())+len(r.GetNamespaces()) > 0 {
			out.AdmissionRules = []*wharfv1.AdmissionRule{r}
		}
	}
	return out, nil
}

// pluginGet returns the Plugin name, nil when there is none.
func pluginGet(ctx context.Context, g *globals, name string) (*wharfv1.Plugin, error) {
	p, err := g.client().Plugins().Get(ctx, "", name)
	if client.IsNotFound(err) {
		return nil, nil
	}
	return p, err
}

func (g *globals) moduleClient() wharfv1connect.PluginModuleServiceClient {
	return wharfv1connect.NewPluginModuleServiceClient(client.DefaultHTTPClient(), g.client().BaseURL())
}

func runPluginInstall(cmd *cobra.Command, g *globals, o pluginInstallOptions, file string) error {
	ctx := cmd.Context()
	if o.name == "" {
		return usageError(cmd, "--name is required: the Plugin object's name, e.g. --name require-limits")
	}
	module, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	if _, err := o.spec(); err != nil {
		return usageError(cmd, "%v", err)
	}
	set := cmd.Flags().Changed
	if o.dryRun {
		old, err := pluginGet(ctx, g, o.name)
		if err != nil {
			return err
		}
		spec, _ := o.installSpec(old.GetSpec(), set)
		return runPluginDryRun(ctx, g, o, module, spec)
	}
	up, err := g.moduleClient().Upload(ctx, connect.NewRequest(&wharfv1.UploadPluginModuleRequest{Module: module}))
	if err != nil {
		return err
	}
	info := up.Msg.GetInfo()
	obj, verb, err := pluginWrite(ctx, g, o, set, up.Msg.GetModule())
	if err != nil {
		return err
	}
	fmt.Fprintf(g.Out, "plugin/%s %s: %s %s (%s) at %s\n", o.name, verb, info.GetName(), info.GetVersion(), pluginShort(up.Msg.GetModule()), strings.Join(info.GetExtensionPoints(), ", "))
	// Wait a little for the server to load it, so that errors show here.
	p, err := pluginWaitLoaded(ctx, g, o.name, obj.GetMetadata().GetGeneration())
	if err != nil {
		return err
	}
	switch p.GetStatus().GetPhase() {
	case "Ready":
		fmt.Fprintf(g.Out, "plugin/%s ready: %s\n", o.name, p.GetStatus().GetMessage())
	case "Failed":
		return fmt.Errorf("plugin %s failed to load: %s", o.name, p.GetStatus().GetMessage())
	default:
		fmt.Fprintf(g.Out, "plugin/%s %s: %s\n", o.name, strings.ToLower(p.GetStatus().GetPhase()), p.GetStatus().GetMessage())
	}
	return nil
}

// pluginWrite creates the Plugin, or updates the installed one (keeping
// what the command line does not name), to serve module. verb says which
// happened: installed, configured or unchanged.
func pluginWrite(ctx context.Context, g *globals, o pluginInstallOptions, set func(string) bool, module string) (*wharfv1.Plugin, string, error) {
	plugins := g.client().Plugins()
	for range 5 {
		old, err := pluginGet(ctx, g, o.name)
		if err != nil {
			return nil, "", err
		}
		spec, err := o.installSpec(old.GetSpec(), set)
		if err != nil {
			return nil, "", err
		}
		spec.Module = module
		if old == nil {
			p, err := plugins.Create(ctx, &wharfv1.Plugin{Metadata: &wharfv1.ObjectMeta{Name: o.name}, Spec: spec})
			if client.IsAlreadyExists(err) {
				continue // installed by someone else meanwhile
			}
			return p, "installed", err
		}
		upd := proto.Clone(old).(*wharfv1.Plugin)
		upd.Spec = spec
		p, err := plugins.Update(ctx, upd)
		if client.IsConflict(err) {
			continue // changed meanwhile: merge onto the new settings
		}
		if err != nil {
			return nil, "", err
		}
		if p.GetMetadata().GetGeneration() == old.GetMetadata().GetGeneration() {
			return p, "unchanged", nil
		}
		return p, "configured", nil
	}
	return nil, "", fmt.Errorf("plugin %s is being changed by others at the same time; try again", o.name)
}

func pluginWaitLoaded(ctx context.Context, g *globals, name string, gen int64) (*wharfv1.Plugin, error) {
	deadline := time.Now().Add(30 * time.Second)
	for {
		p, err := g.client().Plugins().Get(ctx, "", name)
		if err != nil {
			return nil, err
		}
		st := p.GetStatus()
		if st.GetObservedGeneration() >= gen && (st.GetPhase() == "Ready" || st.GetPhase() == "Failed") || time.Now().After(deadline) {
			return p, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func pluginShort(digest string) string {
	if len(digest) > 19 {
		return digest[:19]
	}
	return digest
}

func newPluginListCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "list",
		Aliases: []string{"ls"},
		Short:   "List installed plugins",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			l, err := g.client().Plugins().List(cmd.Context(), client.ListOptions{})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(g.Out, 0, 8, 2, ' ', 0)
			fmt.Fprintln(tw, "NAME\tPLUGIN\tVERSION\tPOINTS\tPOLICY\tSTATUS\tAGE")
			for _, p := range l.Items {
				st := p.GetStatus()
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", p.GetMetadata().GetName(), pluginDash(st.GetPluginName()), pluginDash(st.GetPluginVersion()),
					pluginDash(strings.Join(st.GetExtensionPoints(), ",")), p.GetSpec().GetFailurePolicy(), st.GetPhase(), pluginAge(p.GetMetadata().GetCreationTimestamp().AsTime()))
			}
			return tw.Flush()
		},
	}
}

func pluginDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func pluginAge(t time.Time) string {
	d := time.Since(t)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

func newPluginDescribeCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "describe NAME",
		Short: "Show a plugin: its module, settings, status and recent events",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			p, err := g.client().Plugins().Get(ctx, "", args[0])
			if err != nil {
				return err
			}
			s, st := p.GetSpec(), p.GetStatus()
			tw := tabwriter.NewWriter(g.Out, 0, 8, 2, ' ', 0)
			row := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
			row("Name", p.GetMetadata().GetName())
			row("Module", s.GetModule())
			if m, err := g.moduleClient().Get(ctx, connect.NewRequest(&wharfv1.GetPluginModuleRequest{Module: s.GetModule()})); err == nil {
				info := m.Msg.GetInfo()
				row("Plugin", fmt.Sprintf("%s %s (ABI v%d, %d bytes)", info.GetName(), info.GetVersion(), info.GetAbiVersion(), m.Msg.GetSize()))
				if info.GetDescription() != "" {
					row("Description", info.GetDescription())
				}
				row("Capabilities", pluginDash(strings.Join(info.GetCapabilities(), ", ")))
				if info.GetConfigSchema() != "" {
					row("Config schema", info.GetConfigSchema())
				}
			}
			row("Extension points", pluginDash(strings.Join(st.GetExtensionPoints(), ", ")))
			row("Failure policy", s.GetFailurePolicy())
			row("Timeout", pluginOr(s.GetTimeout(), "default"))
			if s.GetMemoryLimitMib() > 0 {
				row("Memory limit", fmt.Sprintf("%d MiB", s.GetMemoryLimitMib()))
			}
			if s.GetScoreWeight() > 0 {
				row("Score weight", fmt.Sprint(s.GetScoreWeight()))
			}
			if s.GetConfig() != nil {
				b, _ := json.Marshal(s.GetConfig().AsMap())
				row("Config", string(b))
			}
			for i, r := range s.GetAdmissionRules() {
				row(fmt.Sprintf("Admission rule %d", i), fmt.Sprintf("kinds=%s operations=%s namespaces=%s",
					pluginDash(strings.Join(r.GetKinds(), ",")), pluginDash(strings.Join(r.GetOperations(), ",")), pluginDash(strings.Join(r.GetNamespaces(), ","))))
			}
			for _, w := range s.GetWatches() {
				row("Watches", fmt.Sprintf("%s namespace=%s selector=%s", w.GetKind(), pluginDash(w.GetNamespace()), pluginDash(w.GetLabelSelector())))
			}
			row("Status", st.GetPhase())
			row("Message", pluginDash(st.GetMessage()))
			if st.GetModule() != "" && st.GetModule() != s.GetModule() {
				row("Serving module", st.GetModule())
			}
			if err := tw.Flush(); err != nil {
				return err
			}
			evs, err := g.client().Events().List(ctx, client.ListOptions{Namespace: "default", FieldSelector: "involvedObject.kind=Plugin,involvedObject.name=" + args[0]})
			if err != nil {
				return nil
			}
			sort.Slice(evs.Items, func(i, j int) bool {
				return evs.Items[i].GetLastTimestamp().AsTime().Before(evs.Items[j].GetLastTimestamp().AsTime())
			})
			if n := len(evs.Items); n > 10 {
				evs.Items = evs.Items[n-10:]
			}
			if len(evs.Items) > 0 {
				fmt.Fprintln(g.Out, "Events:")
				tw = tabwriter.NewWriter(g.Out, 0, 8, 2, ' ', 0)
				fmt.Fprintln(tw, "  TYPE\tREASON\tAGE\tMESSAGE")
				for _, ev := range evs.Items {
					fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\n", ev.GetType(), ev.GetReason(), pluginAge(ev.GetLastTimestamp().AsTime()), ev.GetMessage())
				}
				return tw.Flush()
			}
			return nil
		},
	}
}

func pluginOr(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

func newPluginRemoveCommand(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:     "remove NAME...",
		Aliases: []string{"rm", "uninstall"},
		Short:   "Remove plugins (calls in flight finish first)",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, name := range args {
				if _, err := g.client().Plugins().Delete(cmd.Context(), "", name, client.DeleteOptions{}); err != nil {
					return err
				}
				fmt.Fprintf(g.Out, "plugin/%s removed\n", name)
			}
			return nil
		},
	}
}

// runPluginDryRun loads the plugin in this process and runs it against the
// live state read through the API; nothing is written.
func runPluginDryRun(ctx context.Context, g *globals, o pluginInstallOptions, module []byte, spec *wharfv1.PluginSpec) error {
	dir, err := os.MkdirTemp("", "wharf-plugin-dry-run-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	h, err := plugins.New(plugins.Options{DataDir: dir, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	trial, err := h.Trial(ctx, o.name, module, spec)
	if err != nil {
		return fmt.Errorf("the plugin would fail to load: %w", err)
	}
	defer trial.Close(context.WithoutCancel(ctx))
	md := trial.Metadata()
	fmt.Fprintf(g.Out, "dry run: %s %s at %s; nothing is installed\n", md.GetName(), md.GetVersion(), strings.Join(trial.Points(), ", "))
	for _, p := range trial.Points() {
		switch p {
		case pluginv1.PointAdmissionValidate, pluginv1.PointAdmissionMutate:
			if err := dryRunAdmission(ctx, g, o, trial, p == pluginv1.PointAdmissionMutate); err != nil {
				return err
			}
		case pluginv1.PointSchedulerFilter, pluginv1.PointSchedulerScore:
			if err := dryRunScheduling(ctx, g, o, trial); err != nil {
				return err
			}
			return nil // filter and score are reported together
		case pluginv1.PointControllerReconcile:
			fmt.Fprintln(g.Out, "controller.reconcile: a dry run does not reconcile; install the plugin to run it")
		}
	}
	return nil
}

// dryRunAdmission re-admits every existing object the plugin's rules
// select, as if it were created now.
func dryRunAdmission(ctx context.Context, g *globals, o pluginInstallOptions, trial *plugins.Trial, mutate bool) error {
	verb, point := "reject", pluginv1.PointAdmissionValidate
	if mutate {
		verb, point = "change", pluginv1.PointAdmissionMutate
	}
	var objs []proto.Message
	var kinds []string
	for _, k := range wharfv1.Kinds {
		if k.Kind == "Plugin" || k.Kind == "Event" {
			continue
		}
		if !trial.Matches(&apiserver.AdmissionRequest{Kind: k.Kind, Operation: apiserver.OpCreate, Namespace: "default"}) &&
			!trial.Matches(&apiserver.AdmissionRequest{Kind: k.Kind, Operation: apiserver.OpCreate}) {
			continue
		}
		kinds = append(kinds, k.Plural)
		list, err := pluginListAny(ctx, g, k.Kind)
		if err != nil {
			return err
		}
		objs = append(objs, list...)
	}
	hits, checked := 0, 0
	for _, obj := range objs {
		m := obj.(client.Object).GetMetadata()
		kind := pluginKindOf(obj)
		req := &apiserver.AdmissionRequest{Operation: apiserver.OpCreate, Kind: kind, Namespace: m.GetNamespace(), Name: m.GetName(), Object: proto.Clone(obj), User: apiserver.UserInfo{Name: "dry-run"}}
		if !trial.Matches(req) {
			continue
		}
		checked++
		allowed, reason, changed, err := trial.Admit(ctx, req, mutate)
		name := strings.ToLower(kind) + "/" + m.GetName()
		if m.GetNamespace() != "" {
			name = m.GetNamespace() + "/" + name
		}
		switch {
		case err != nil:
			fmt.Fprintf(g.Out, "  %s: the plugin FAILED: %v (failurePolicy %s)\n", name, err, pluginOr(o.failurePolicy, "Fail"))
		case !allowed:
			fmt.Fprintf(g.Out, "  %s: would be refused: %s\n", name, reason)
		case changed:
			fmt.Fprintf(g.Out, "  %s: would be changed\n", name)
		default:
			continue
		}
		if hits++; hits >= o.dryRunLimit {
			fmt.Fprintf(g.Out, "  ... (stopped at --dry-run-limit %d)\n", o.dryRunLimit)
			break
		}
	}
	fmt.Fprintf(g.Out, "%s: checked %d existing %s; it would %s %d\n", point, checked, pluginDash(strings.Join(kinds, ", ")), verb, hits)
	return nil
}

func pluginKindOf(m proto.Message) string {
	for _, k := range wharfv1.Kinds {
		if k.New().ProtoReflect().Descriptor().FullName() == m.ProtoReflect().Descriptor().FullName() {
			return k.Kind
		}
	}
	return ""
}

func pluginListAny(ctx context.Context, g *globals, kind string) ([]proto.Message, error) {
	c := g.client()
	var out []proto.Message
	add := func(items any, err error) error {
		if err != nil {
			return err
		}
		switch l := items.(type) {
		case []*wharfv1.Pod:
			for _, x := range l {
				out = append(out, x)
			}
		case []*wharfv1.Node:
			for _, x := range l {
				out = append(out, x)
			}
		case []*wharfv1.Namespace:
			for _, x := range l {
				out = append(out, x)
			}
		}
		return nil
	}
	switch kind {
	case "Pod":
		l, err := c.Pods().List(ctx, client.ListOptions{})
		return out, add(pluginItems(l), err)
	case "Node":
		l, err := c.Nodes().List(ctx, client.ListOptions{})
		return out, add(pluginItems(l), err)
	case "Namespace":
		l, err := c.Namespaces().List(ctx, client.ListOptions{})
		return out, add(pluginItems(l), err)
	}
	return nil, nil
}

func pluginItems[T any](l *client.List[T]) []T {
	if l == nil {
		return nil
	}
	return l.Items
}

// dryRunScheduling schedules pending pods, and re-schedules recently
// placed ones, with the default profile plus the plugin, and prints where
// each would go.
func dryRunScheduling(ctx context.Context, g *globals, o pluginInstallOptions, trial *plugins.Trial) error {
	c := g.client()
	nodes, err := c.Nodes().List(ctx, client.ListOptions{})
	if err != nil {
		return err
	}
	pods, err := c.Pods().List(ctx, client.ListOptions{})
	if err != nil {
		return err
	}
	reg := schedplugins.NewRegistry()
	sp := trial.SchedulerPlugin()
	if err := reg.Register(o.name, func(framework.Args) (framework.Plugin, error) { return sp, nil }); err != nil {
		return err
	}
	prof := framework.DefaultProfile()
	for _, p := range trial.Points() {
		switch p {
		case pluginv1.PointSchedulerFilter:
			prof.Filter = append(prof.Filter, o.name)
		case pluginv1.PointSchedulerScore:
			// The server weighs all scoring plugins together as one scorer
			// (their mean by scoreWeight); alone, the plugin is that scorer.
			prof.Score = append(prof.Score, framework.WeightedPlugin{Name: o.name, Weight: pluginsScoreWeight})
		}
	}
	withPlugin, err := framework.New(prof, reg)
	if err != nil {
		return err
	}
	without, err := framework.New(framework.DefaultProfile(), schedplugins.NewRegistry())
	if err != nil {
		return err
	}
	var pending, placed []*wharfv1.Pod
	for _, p := range pods.Items {
		ph := p.GetStatus().GetPhase()
		if ph == "Succeeded" || ph == "Failed" || p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		if p.GetSpec().GetNodeName() == "" {
			pending = append(pending, p)
		} else if time.Since(p.GetMetadata().GetCreationTimestamp().AsTime()) < time.Hour {
			placed = append(placed, p)
		}
	}
	sort.Slice(placed, func(i, j int) bool {
		return placed[i].GetMetadata().GetCreationTimestamp().AsTime().After(placed[j].GetMetadata().GetCreationTimestamp().AsTime())
	})
	fmt.Fprintf(g.Out, "scheduling: %d nodes, %d pending pods, %d placed in the last hour\n", len(nodes.Items), len(pending), len(placed))
	tw := tabwriter.NewWriter(g.Out, 0, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  POD\tNOW\tWITHOUT PLUGIN\tWITH PLUGIN")
	n := 0
	for _, group := range [][]*wharfv1.Pod{pending, placed} {
		for _, p := range group {
			if n >= o.dryRunLimit {
				break
			}
			n++
			// Each pod is placed on the cluster as it is, without itself.
			var others []*wharfv1.Pod
			for _, q := range pods.Items {
				if q.GetMetadata().GetUid() != p.GetMetadata().GetUid() {
					others = append(others, q)
				}
			}
			snap, _ := framework.NewSnapshot(nodes.Items, others)
			unbound := p
			if p.GetSpec().GetNodeName() != "" {
				// Where would it go now: its binding is not a constraint.
				unbound = proto.Clone(p).(*wharfv1.Pod)
				unbound.Spec.NodeName = ""
			}
			pi, err := framework.NewPodInfo(unbound)
			if err != nil {
				fmt.Fprintf(tw, "  %s/%s\t%s\t%v\t\n", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), pluginDash(p.GetSpec().GetNodeName()), err)
				continue
			}
			fmt.Fprintf(tw, "  %s/%s\t%s\t%s\t%s\n", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(),
				pluginDash(p.GetSpec().GetNodeName()), pluginPlacement(ctx, without, pi, snap), pluginPlacement(ctx, withPlugin, pi, snap))
		}
	}
	return tw.Flush()
}

func pluginPlacement(ctx context.Context, fw *framework.Framework, pi *framework.PodInfo, snap *framework.Snapshot) string {
	res, err := fw.Schedule(ctx, nil, pi, snap)
	var fe *framework.FitError
	switch {
	case errors.As(err, &fe):
		return "unschedulable: " + fe.Error()
	case err != nil:
		return "error: " + err.Error()
	case res.Node == nil:
		return "-"
	}
	return res.Node.Name
}
