package main

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
	"github.com/wharfhq/wharf/sdk/manifest"
)

func newDescribeCommand(g *globals) *cobra.Command {
	var ns string
	cmd := &cobra.Command{
		Use:     "describe KIND NAME...",
		Short:   "Show an object in detail, with its recent events",
		Example: "  wharf describe pod web\n  wharf describe node node-1",
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDescribe(cmd.Context(), g, ns, args[0], args[1:])
		},
	}
	namespaceFlag(cmd, &ns)
	return cmd
}

func runDescribe(ctx context.Context, g *globals, ns, kind string, names []string) error {
	info, err := lookupKind(kind)
	if err != nil {
		return err
	}
	c := g.client()
	res := resourceFor(c, info)
	if info.Namespaced {
		ns = namespaceOr(ns)
	} else {
		ns = ""
	}
	var failed error
	for i, name := range names {
		obj, err := res.Get(ctx, ns, name)
		if err != nil {
			fmt.Fprintf(g.Err, "error: %s\n", g.message(err))
			failed = silentError{err}
			continue
		}
		if i > 0 {
			fmt.Fprintln(g.Out)
			fmt.Fprintln(g.Out)
		}
		d := &describer{now: time.Now()}
		if err := d.describe(ctx, c, info, obj); err != nil {
			return err
		}
		if _, err := g.Out.Write(d.bytes()); err != nil {
			return err
		}
	}
	return failed
}

// describer writes kubectl-style sections: "Key:\tvalue" lines, nested
// by two spaces per level, aligned in columns.
type describer struct {
	buf bytes.Buffer
	tw  *tabwriter.Writer
	now time.Time
}

func (d *describer) w(level int, format string, args ...any) {
	if d.tw == nil {
		d.tw = tabwriter.NewWriter(&d.buf, 0, 8, 2, ' ', 0)
	}
	fmt.Fprintf(d.tw, strings.Repeat("  ", level)+format, args...)
}

func (d *describer) bytes() []byte {
	if d.tw != nil {
		_ = d.tw.Flush()
	}
	return d.buf.Bytes()
}

// multiline writes a key with values one per line, or <none>.
func (d *describer) multiline(level int, key string, values []string) {
	if len(values) == 0 {
		d.w(level, "%s:\t<none>\n", key)
		return
	}
	d.w(level, "%s:\t%s\n", key, values[0])
	for _, v := range values[1:] {
		d.w(level, "\t%s\n", v)
	}
}

func sortedPairs(m map[string]string, sep string) []string {
	var out []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		out = append(out, k+sep+m[k])
	}
	return out
}

func timeString(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "<unset>"
	}
	return ts.AsTime().Local().Format(time.RFC1123Z)
}

func (d *describer) describe(ctx context.Context, c *client.Client, info wharfv1.KindInfo, obj client.Object) error {
	switch o := obj.(type) {
	case *wharfv1.Pod:
		d.pod(o)
	case *wharfv1.Node:
		pods, _, err := typed[*wharfv1.Pod]{r: c.Pods()}.List(ctx, client.ListOptions{FieldSelector: "spec.nodeName=" + o.GetMetadata().GetName()})
		if err != nil {
			return err
		}
		d.node(o, pods)
	case *wharfv1.Namespace:
		d.namespace(o)
	case *wharfv1.Event:
		d.event(o)
		return nil // events have no events
	default:
		if err := d.generic(info, obj); err != nil {
			return err
		}
	}
	events, err := objectEvents(ctx, c, info, obj)
	if err != nil {
		return err
	}
	d.events(events)
	return nil
}

// objectEvents lists the events about obj, oldest first.
func objectEvents(ctx context.Context, c *client.Client, info wharfv1.KindInfo, obj client.Object) ([]*wharfv1.Event, error) {
	m := obj.GetMetadata()
	fs := "involvedObject.kind=" + info.Kind + ",involvedObject.name=" + m.GetName()
	if info.Namespaced {
		fs += ",involvedObject.namespace=" + m.GetNamespace()
	}
	l, _, err := typed[*wharfv1.Event]{r: c.Events()}.List(ctx, client.ListOptions{Namespace: m.GetNamespace(), FieldSelector: fs})
	if err != nil {
		return nil, err
	}
	var out []*wharfv1.Event
	for _, o := range l {
		e := o.(*wharfv1.Event)
		// Events about an older object of the same name are not about this one.
		if uid := e.GetInvolvedObject().GetUid(); uid != "" && m.GetUid() != "" && uid != m.GetUid() {
			continue
		}
		out = append(out, e)
	}
	slices.SortStableFunc(out, func(a, b *wharfv1.Event) int {
		return eventTime(a).AsTime().Compare(eventTime(b).AsTime())
	})
	return out, nil
}

func (d *describer) meta(m *wharfv1.ObjectMeta, namespaced bool) {
	d.w(0, "Name:\t%s\n", m.GetName())
	if namespaced {
		d.w(0, "Namespace:\t%s\n", m.GetNamespace())
	}
}

func (d *describer) labelsAndAnnotations(m *wharfv1.ObjectMeta) {
	d.multiline(0, "Labels", sortedPairs(m.GetLabels(), "="))
	d.multiline(0, "Annotations", sortedPairs(m.GetAnnotations(), ": "))
}

func (d *describer) pod(p *wharfv1.Pod) {
	m, spec, st := p.GetMetadata(), p.GetSpec(), p.GetStatus()
	d.meta(m, true)
	if spec.Priority != nil || spec.GetPriorityClassName() != "" {
		d.w(0, "Priority:\t%d\n", spec.GetPriority())
		if spec.GetPriorityClassName() != "" {
			d.w(0, "Priority Class Name:\t%s\n", spec.GetPriorityClassName())
		}
	}
	if spec.GetServiceAccountName() != "" {
		d.w(0, "Service Account:\t%s\n", spec.GetServiceAccountName())
	}
	node := orNone(spec.GetNodeName())
	if spec.GetNodeName() != "" && st.GetHostIp() != "" {
		node += "/" + st.GetHostIp()
	}
	d.w(0, "Node:\t%s\n", node)
	if st.GetStartTime() != nil {
		d.w(0, "Start Time:\t%s\n", timeString(st.GetStartTime()))
	}
	d.labelsAndAnnotations(m)
	if ts := m.GetDeletionTimestamp(); ts != nil {
		d.w(0, "Status:\tTerminating (lasts %s)\n", humanDuration(ts.AsTime().Sub(d.now)))
		d.w(0, "Termination Grace Period:\t%ds\n", m.GetDeletionGracePeriodSeconds())
	} else {
		d.w(0, "Status:\t%s\n", orUnknown(st.GetPhase()))
	}
	if st.GetReason() != "" {
		d.w(0, "Reason:\t%s\n", st.GetReason())
	}
	if st.GetMessage() != "" {
		d.w(0, "Message:\t%s\n", st.GetMessage())
	}
	d.w(0, "IP:\t%s\n", st.GetPodIp())
	var ips []string
	for _, ip := range st.GetPodIps() {
		ips = append(ips, ip.GetIp())
	}
	d.multiline(0, "IPs", ips)
	if len(spec.GetInitContainers()) > 0 {
		d.containers("Init Containers", spec.GetInitContainers(), st.GetInitContainerStatuses())
	}
	d.containers("Containers", spec.GetContainers(), st.GetContainerStatuses())
	if conds := st.GetConditions(); len(conds) > 0 {
		d.w(0, "Conditions:\n")
		d.w(1, "Type\tStatus\n")
		for _, c := range conds {
			d.w(1, "%s\t%s\n", c.GetType(), c.GetStatus())
		}
	}
	d.volumes(spec.GetVolumes())
	d.w(0, "QoS Class:\t%s\n", orNone(st.GetQosClass()))
	d.multiline(0, "Node-Selectors", sortedPairs(spec.GetNodeSelector(), "="))
	var tols []string
	for _, t := range spec.GetTolerations() {
		tols = append(tols, tolerationString(t))
	}
	d.multiline(0, "Tolerations", tols)
}

func tolerationString(t *wharfv1.Toleration) string {
	s := t.GetKey()
	if t.GetOperator() == "Exists" {
		if s != "" {
			s += " "
		}
		s += "op=Exists"
	} else if t.GetValue() != "" {
		s += "=" + t.GetValue()
	}
	if t.GetEffect() != "" {
		s += ":" + t.GetEffect()
	}
	if t.TolerationSeconds != nil {
		s += fmt.Sprintf(" for %ds", t.GetTolerationSeconds())
	}
	return s
}

func (d *describer) containers(title string, cs []*wharfv1.Container, statuses []*wharfv1.ContainerStatus) {
	d.w(0, "%s:\n", title)
	byName := map[string]*wharfv1.ContainerStatus{}
	for _, s := range statuses {
		byName[s.GetName()] = s
	}
	for _, c := range cs {
		s := byName[c.GetName()]
		d.w(1, "%s:\n", c.GetName())
		if s.GetContainerId() != "" {
			d.w(2, "Container ID:\t%s\n", s.GetContainerId())
		}
		d.w(2, "Image:\t%s\n", c.GetImage())
		if s.GetImageId() != "" {
			d.w(2, "Image ID:\t%s\n", s.GetImageId())
		}
		var ports, hostPorts []string
		for _, p := range c.GetPorts() {
			proto := p.GetProtocol()
			if proto == "" {
				proto = "TCP"
			}
			port := fmt.Sprintf("%d/%s", p.GetContainerPort(), proto)
			if p.GetName() != "" {
				port += " (" + p.GetName() + ")"
			}
			ports = append(ports, port)
			hostPorts = append(hostPorts, fmt.Sprintf("%d/%s", p.GetHostPort(), proto))
		}
		d.w(2, "Port%s:\t%s\n", plural(len(ports)), orNone(strings.Join(ports, ", ")))
		d.w(2, "Host Port%s:\t%s\n", plural(len(hostPorts)), orNone(strings.Join(hostPorts, ", ")))
		if len(c.GetCommand()) > 0 {
			d.w(2, "Command:\n")
			for _, a := range c.GetCommand() {
				d.w(3, "%s\n", a)
			}
		}
		if len(c.GetArgs()) > 0 {
			d.w(2, "Args:\n")
			for _, a := range c.GetArgs() {
				d.w(3, "%s\n", a)
			}
		}
		if s != nil {
			d.containerState("State", s.GetState())
			if ls := s.GetLastState(); ls.GetWaiting() != nil || ls.GetRunning() != nil || ls.GetTerminated() != nil {
				d.containerState("Last State", ls)
			}
			d.w(2, "Ready:\t%s\n", boolString(s.GetReady()))
			d.w(2, "Restart Count:\t%d\n", s.GetRestartCount())
			if devs := s.GetAllocatedDevices(); len(devs) > 0 {
				d.w(2, "GPUs:\t%s\n", strings.Join(devs, ", "))
			}
		}
		if l := c.GetResources().GetLimits(); len(l) > 0 {
			d.w(2, "Limits:\n")
			for _, kv := range sortedPairs(l, ":\t") {
				d.w(3, "%s\n", kv)
			}
		}
		if r := c.GetResources().GetRequests(); len(r) > 0 {
			d.w(2, "Requests:\n")
			for _, kv := range sortedPairs(r, ":\t") {
				d.w(3, "%s\n", kv)
			}
		}
		for _, pr := range []struct {
			name  string
			probe *wharfv1.Probe
		}{{"Liveness", c.GetLivenessProbe()}, {"Readiness", c.GetReadinessProbe()}, {"Startup", c.GetStartupProbe()}} {
			if pr.probe != nil {
				d.w(2, "%s:\t%s\n", pr.name, probeString(pr.probe))
			}
		}
		if len(c.GetEnv()) == 0 {
			d.w(2, "Environment:\t<none>\n")
		} else {
			d.w(2, "Environment:\n")
			for _, e := range c.GetEnv() {
				v := e.GetValue()
				if f := e.GetValueFrom().GetFieldRef(); f != nil {
					v = fmt.Sprintf("(%s)", f.GetFieldPath())
				} else if r := e.GetValueFrom().GetResourceFieldRef(); r != nil {
					v = fmt.Sprintf("%s (%s)", r.GetResource(), r.GetContainerName())
				}
				d.w(3, "%s:\t%s\n", e.GetName(), v)
			}
		}
		if len(c.GetVolumeMounts()) == 0 {
			d.w(2, "Mounts:\t<none>\n")
		} else {
			d.w(2, "Mounts:\n")
			for _, vm := range c.GetVolumeMounts() {
				mode := "rw"
				if vm.GetReadOnly() {
					mode = "ro"
				}
				sub := ""
				if vm.GetSubPath() != "" {
					sub = ", path = \"" + vm.GetSubPath() + "\""
				}
				d.w(3, "%s from %s (%s%s)\n", vm.GetMountPath(), vm.GetName(), mode, sub)
			}
		}
	}
}

func plural(n int) string {
	if n > 1 {
		return "s"
	}
	return ""
}

func boolString(b bool) string {
	if b {
		return "True"
	}
	return "False"
}

func (d *describer) containerState(title string, s *wharfv1.ContainerState) {
	switch {
	case s.GetRunning() != nil:
		d.w(2, "%s:\tRunning\n", title)
		d.w(3, "Started:\t%s\n", timeString(s.GetRunning().GetStartedAt()))
	case s.GetWaiting() != nil:
		d.w(2, "%s:\tWaiting\n", title)
		if r := s.GetWaiting().GetReason(); r != "" {
			d.w(3, "Reason:\t%s\n", r)
		}
		if m := s.GetWaiting().GetMessage(); m != "" {
			d.w(3, "Message:\t%s\n", m)
		}
	case s.GetTerminated() != nil:
		t := s.GetTerminated()
		d.w(2, "%s:\tTerminated\n", title)
		if t.GetReason() != "" {
			d.w(3, "Reason:\t%s\n", t.GetReason())
		}
		if t.GetMessage() != "" {
			d.w(3, "Message:\t%s\n", t.GetMessage())
		}
		d.w(3, "Exit Code:\t%d\n", t.GetExitCode())
		if t.GetSignal() != 0 {
			d.w(3, "Signal:\t%d\n", t.GetSignal())
		}
		d.w(3, "Started:\t%s\n", timeString(t.GetStartedAt()))
		d.w(3, "Finished:\t%s\n", timeString(t.GetFinishedAt()))
	default:
		d.w(2, "%s:\tWaiting\n", title)
	}
}

// probeString prints a probe as kubectl does:
// http-get http://:8080/healthz delay=0s timeout=1s period=10s #success=1 #failure=3
func probeString(p *wharfv1.Probe) string {
	var h string
	switch {
	case p.GetHttpGet() != nil:
		g := p.GetHttpGet()
		h = fmt.Sprintf("http-get %s://%s:%s%s", strings.ToLower(cmpOr(g.GetScheme(), "HTTP")), g.GetHost(), g.GetPort(), g.GetPath())
	case p.GetTcpSocket() != nil:
		h = fmt.Sprintf("tcp-socket %s:%s", p.GetTcpSocket().GetHost(), p.GetTcpSocket().GetPort())
	case p.GetGrpc() != nil:
		h = fmt.Sprintf("grpc <pod>:%d %s", p.GetGrpc().GetPort(), p.GetGrpc().GetService())
	case p.GetExec() != nil:
		h = fmt.Sprintf("exec %v", p.GetExec().GetCommand())
	default:
		h = "unknown"
	}
	return fmt.Sprintf("%s delay=%ds timeout=%ds period=%ds #success=%d #failure=%d", h,
		p.GetInitialDelaySeconds(), p.GetTimeoutSeconds(), p.GetPeriodSeconds(), p.GetSuccessThreshold(), p.GetFailureThreshold())
}

func cmpOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (d *describer) volumes(vs []*wharfv1.Volume) {
	if len(vs) == 0 {
		d.w(0, "Volumes:\t<none>\n")
		return
	}
	d.w(0, "Volumes:\n")
	for _, v := range vs {
		d.w(1, "%s:\n", v.GetName())
		switch {
		case v.GetEmptyDir() != nil:
			d.w(2, "Type:\tEmptyDir (a temporary directory that shares a pod's lifetime)\n")
			d.w(2, "Medium:\t%s\n", v.GetEmptyDir().GetMedium())
			d.w(2, "SizeLimit:\t%s\n", cmpOr(v.GetEmptyDir().GetSizeLimit(), "<unset>"))
		case v.GetHostPath() != nil:
			d.w(2, "Type:\tHostPath (bare host directory volume)\n")
			d.w(2, "Path:\t%s\n", v.GetHostPath().GetPath())
			d.w(2, "HostPathType:\t%s\n", v.GetHostPath().GetType())
		}
	}
}

func (d *describer) node(n *wharfv1.Node, pods []client.Object) {
	m, spec, st := n.GetMetadata(), n.GetSpec(), n.GetStatus()
	d.meta(m, false)
	d.w(0, "Roles:\t%s\n", nodeRoles(n))
	d.labelsAndAnnotations(m)
	d.w(0, "CreationTimestamp:\t%s\n", timeString(m.GetCreationTimestamp()))
	var taints []string
	for _, t := range spec.GetTaints() {
		s := t.GetKey()
		if t.GetValue() != "" {
			s += "=" + t.GetValue()
		}
		taints = append(taints, s+":"+t.GetEffect())
	}
	d.multiline(0, "Taints", taints)
	d.w(0, "Unschedulable:\t%t\n", spec.GetUnschedulable())
	if len(st.GetConditions()) == 0 {
		d.w(0, "Conditions:\t<none>\n")
	} else {
		d.w(0, "Conditions:\n")
		d.w(1, "Type\tStatus\tLastHeartbeatTime\tLastTransitionTime\tReason\tMessage\n")
		d.w(1, "----\t------\t-----------------\t------------------\t------\t-------\n")
		for _, c := range st.GetConditions() {
			d.w(1, "%s\t%s\t%s\t%s\t%s\t%s\n", c.GetType(), c.GetStatus(), timeString(c.GetLastHeartbeatTime()),
				timeString(c.GetLastTransitionTime()), c.GetReason(), c.GetMessage())
		}
	}
	if len(st.GetAddresses()) == 0 {
		d.w(0, "Addresses:\t<none>\n")
	} else {
		d.w(0, "Addresses:\n")
		for _, a := range st.GetAddresses() {
			d.w(1, "%s:\t%s\n", a.GetType(), a.GetAddress())
		}
	}
	for _, q := range []struct {
		title string
		m     map[string]string
	}{{"Capacity", st.GetCapacity()}, {"Allocatable", st.GetAllocatable()}} {
		if len(q.m) == 0 {
			continue
		}
		d.w(0, "%s:\n", q.title)
		for _, kv := range sortedPairs(q.m, ":\t") {
			d.w(1, "%s\n", kv)
		}
	}
	if info := st.GetNodeInfo(); info != nil {
		d.w(0, "System Info:\n")
		d.w(1, "Machine ID:\t%s\n", info.GetMachineId())
		d.w(1, "System UUID:\t%s\n", info.GetSystemUuid())
		d.w(1, "Boot ID:\t%s\n", info.GetBootId())
		d.w(1, "Kernel Version:\t%s\n", info.GetKernelVersion())
		d.w(1, "OS Image:\t%s\n", info.GetOsImage())
		d.w(1, "Operating System:\t%s\n", info.GetOperatingSystem())
		d.w(1, "Architecture:\t%s\n", info.GetArchitecture())
		d.w(1, "Container Runtime Version:\t%s\n", info.GetContainerRuntimeVersion())
		d.w(1, "Wharf Node Version:\t%s\n", info.GetKubeletVersion())
	}
	if gpus := st.GetGpus(); len(gpus) > 0 {
		d.w(0, "GPUs:\n")
		d.w(1, "Index\tModel\tMemory\tUUID\tNUMA\n")
		for _, gp := range gpus {
			d.w(1, "%d\t%s\t%dMiB\t%s\t%d\n", gp.GetIndex(), gp.GetModel(), gp.GetMemoryMib(), gp.GetUuid(), gp.GetNumaNode())
		}
	}
	if spec.GetPodCidr() != "" {
		d.w(0, "PodCIDR:\t%s\n", spec.GetPodCidr())
	}
	var running []*wharfv1.Pod
	for _, o := range pods {
		p := o.(*wharfv1.Pod)
		if ph := p.GetStatus().GetPhase(); ph != "Succeeded" && ph != "Failed" {
			running = append(running, p)
		}
	}
	d.w(0, "Non-terminated Pods:\t(%d in total)\n", len(running))
	if len(running) > 0 {
		d.w(1, "Namespace\tName\tCPU Requests\tMemory Requests\tGPUs\tAge\n")
		d.w(1, "---------\t----\t------------\t---------------\t----\t---\n")
		for _, p := range running {
			req := podRequests(p)
			d.w(1, "%s\t%s\t%s\t%s\t%s\t%s\n", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(),
				cmpOr(req["cpu"], "0"), cmpOr(req["memory"], "0"), cmpOr(req["nvidia.com/gpu"], "0"),
				humanDuration(d.now.Sub(p.GetMetadata().GetCreationTimestamp().AsTime())))
		}
	}
}

// podRequests joins the containers' requests as text: "250m+500m" when
// several containers request the same resource (summing needs quantity
// parsing the CLI leaves to the scheduler's figures).
func podRequests(p *wharfv1.Pod) map[string]string {
	out := map[string]string{}
	for _, c := range p.GetSpec().GetContainers() {
		for k, v := range c.GetResources().GetRequests() {
			if out[k] != "" {
				out[k] += "+" + v
			} else {
				out[k] = v
			}
		}
	}
	return out
}

func (d *describer) namespace(n *wharfv1.Namespace) {
	d.meta(n.GetMetadata(), false)
	d.labelsAndAnnotations(n.GetMetadata())
	d.w(0, "Status:\t%s\n", cmpOr(n.GetStatus().GetPhase(), "Active"))
}

func (d *describer) event(e *wharfv1.Event) {
	m := e.GetMetadata()
	d.meta(m, true)
	d.labelsAndAnnotations(m)
	ref := e.GetInvolvedObject()
	d.w(0, "Involved Object:\n")
	d.w(1, "Kind:\t%s\n", ref.GetKind())
	d.w(1, "Name:\t%s\n", ref.GetName())
	if ref.GetNamespace() != "" {
		d.w(1, "Namespace:\t%s\n", ref.GetNamespace())
	}
	if ref.GetFieldPath() != "" {
		d.w(1, "Field Path:\t%s\n", ref.GetFieldPath())
	}
	d.w(0, "Type:\t%s\n", e.GetType())
	d.w(0, "Reason:\t%s\n", e.GetReason())
	d.w(0, "Message:\t%s\n", e.GetMessage())
	d.w(0, "Source:\t%s\n", eventSource(e))
	d.w(0, "Count:\t%d\n", max(e.GetCount(), 1))
	d.w(0, "First Timestamp:\t%s\n", timeString(e.GetFirstTimestamp()))
	d.w(0, "Last Timestamp:\t%s\n", timeString(eventTime(e)))
}

func eventSource(e *wharfv1.Event) string {
	s := e.GetSource().GetComponent()
	if s == "" {
		s = e.GetReportingComponent()
	}
	if h := e.GetSource().GetHost(); h != "" {
		s += ", " + h
	}
	return s
}

// generic describes a kind without its own describer: metadata, then the
// rest of the object as YAML.
func (d *describer) generic(info wharfv1.KindInfo, obj client.Object) error {
	m := obj.GetMetadata()
	d.meta(m, info.Namespaced)
	d.labelsAndAnnotations(m)
	d.w(0, "CreationTimestamp:\t%s\n", timeString(m.GetCreationTimestamp()))
	rest := proto.Clone(obj).(client.Object)
	rest.ProtoReflect().Clear(rest.ProtoReflect().Descriptor().Fields().ByName("metadata"))
	var buf bytes.Buffer
	if err := manifest.Encode(&buf, manifest.FormatYAML, rest); err != nil {
		return err
	}
	for line := range strings.Lines(buf.String()) {
		if strings.HasPrefix(line, "apiVersion:") || strings.HasPrefix(line, "kind:") {
			continue
		}
		d.w(0, "%s", strings.ReplaceAll(line, "\t", " "))
	}
	return nil
}

// events writes the Events section.
func (d *describer) events(events []*wharfv1.Event) {
	if len(events) == 0 {
		d.w(0, "Events:\t<none>\n")
		return
	}
	d.w(0, "Events:\n")
	d.w(1, "Type\tReason\tAge\tFrom\tMessage\n")
	d.w(1, "----\t------\t----\t----\t-------\n")
	for _, e := range events {
		d.w(1, "%s\t%s\t%s\t%s\t%s\n", e.GetType(), e.GetReason(), eventAge(d.now, e), eventSource(e), strings.TrimSpace(e.GetMessage()))
	}
}
