package main

import (
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
)

// table prints rows in aligned columns the way kubectl does: columns at
// least 6 wide, 3 spaces apart. Rows printed later (get --watch) keep the
// widths of what was printed before, growing where a cell needs it.
type table struct {
	header []string
	widths []int
}

const (
	colPadding  = 3
	colMinWidth = 6
)

// fit widens the columns to hold row.
func (t *table) fit(row []string) {
	for len(t.widths) < len(row) {
		t.widths = append(t.widths, 0)
	}
	for i, cell := range row {
		t.widths[i] = max(t.widths[i], len(cell)+colPadding, colMinWidth)
	}
}

// print writes the header (unless noHeader) and rows.
func (t *table) print(w io.Writer, rows [][]string, noHeader bool) {
	if !noHeader {
		t.fit(t.header)
	}
	for _, r := range rows {
		t.fit(r)
	}
	if !noHeader {
		t.row(w, t.header)
	}
	for _, r := range rows {
		t.row(w, r)
	}
}

// row writes one row with the current widths (widening them if needed).
func (t *table) row(w io.Writer, row []string) {
	t.fit(row)
	var b strings.Builder
	for i, cell := range row {
		b.WriteString(cell)
		if i < len(row)-1 {
			b.WriteString(strings.Repeat(" ", t.widths[i]-len(cell)))
		}
	}
	b.WriteByte('\n')
	_, _ = io.WriteString(w, b.String())
}

// printer makes table rows for one kind.
type printer struct {
	info          wharfv1.KindInfo
	wide          bool
	withNamespace bool
	now           time.Time
}

func (p printer) header() []string {
	var h []string
	if p.withNamespace {
		h = append(h, "NAMESPACE")
	}
	switch p.info.Kind {
	case "Pod":
		h = append(h, "NAME", "READY", "STATUS", "RESTARTS", "AGE")
		if p.wide {
			h = append(h, "IP", "NODE")
		}
	case "Node":
		h = append(h, "NAME", "STATUS", "ROLES", "AGE", "VERSION")
		if p.wide {
			h = append(h, "INTERNAL-IP", "OS-IMAGE", "KERNEL-VERSION", "CONTAINER-RUNTIME", "GPUS")
		}
	case "Namespace":
		h = append(h, "NAME", "STATUS", "AGE")
	case "Event":
		h = append(h, "LAST SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE")
	default:
		h = append(h, "NAME", "AGE")
	}
	return h
}

func (p printer) row(obj client.Object) []string {
	var r []string
	m := obj.GetMetadata()
	if p.withNamespace {
		r = append(r, m.GetNamespace())
	}
	switch o := obj.(type) {
	case *wharfv1.Pod:
		ready, total, restarts, lastRestart := podContainerCounts(o)
		rs := strconv.Itoa(int(restarts))
		if restarts > 0 && lastRestart != nil {
			rs += " (" + humanDuration(p.now.Sub(lastRestart.AsTime())) + " ago)"
		}
		r = append(r, m.GetName(), fmt.Sprintf("%d/%d", ready, total), podStatus(o), rs, p.age(m.GetCreationTimestamp()))
		if p.wide {
			r = append(r, orNone(o.GetStatus().GetPodIp()), orNone(o.GetSpec().GetNodeName()))
		}
	case *wharfv1.Node:
		r = append(r, m.GetName(), nodeStatus(o), nodeRoles(o), p.age(m.GetCreationTimestamp()), orNone(o.GetStatus().GetNodeInfo().GetKubeletVersion()))
		if p.wide {
			info := o.GetStatus().GetNodeInfo()
			r = append(r, orNone(nodeAddress(o, "InternalIP")), orUnknown(info.GetOsImage()), orUnknown(info.GetKernelVersion()),
				orUnknown(info.GetContainerRuntimeVersion()), nodeGPUs(o))
		}
	case *wharfv1.Namespace:
		phase := o.GetStatus().GetPhase()
		if phase == "" {
			phase = "Active"
		}
		r = append(r, m.GetName(), phase, p.age(m.GetCreationTimestamp()))
	case *wharfv1.Event:
		r = append(r, eventAge(p.now, o), o.GetType(), o.GetReason(), involvedObject(o.GetInvolvedObject()), o.GetMessage())
	default:
		r = append(r, m.GetName(), p.age(m.GetCreationTimestamp()))
	}
	return r
}

func (p printer) age(ts *timestamppb.Timestamp) string {
	if ts == nil {
		return "<unknown>"
	}
	return humanDuration(p.now.Sub(ts.AsTime()))
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func orUnknown(s string) string {
	if s == "" {
		return "<unknown>"
	}
	return s
}

// humanDuration prints d as kubectl does: 45s, 2m30s, 5m, 3h20m, 2d4h, 300d.
func humanDuration(d time.Duration) string {
	if s := int(d.Round(time.Second) / time.Second); s < -1 {
		return "<invalid>"
	} else if s < 0 {
		return "0s"
	} else if s < 60*2 {
		return fmt.Sprintf("%ds", s)
	}
	minutes := int(d / time.Minute)
	if minutes < 10 {
		s := int(d/time.Second) % 60
		if s == 0 {
			return fmt.Sprintf("%dm", minutes)
		}
		return fmt.Sprintf("%dm%ds", minutes, s)
	} else if minutes < 60*3 {
		return fmt.Sprintf("%dm", minutes)
	}
	hours := int(d / time.Hour)
	if hours < 8 {
		m := int(d/time.Minute) % 60
		if m == 0 {
			return fmt.Sprintf("%dh", hours)
		}
		return fmt.Sprintf("%dh%dm", hours, m)
	} else if hours < 48 {
		return fmt.Sprintf("%dh", hours)
	} else if hours < 24*8 {
		h := hours % 24
		if h == 0 {
			return fmt.Sprintf("%dd", hours/24)
		}
		return fmt.Sprintf("%dd%dh", hours/24, h)
	} else if hours < 24*365*2 {
		return fmt.Sprintf("%dd", hours/24)
	} else if hours < 24*365*8 {
		dy := int(hours/24) % 365
		if dy == 0 {
			return fmt.Sprintf("%dy", hours/24/365)
		}
		return fmt.Sprintf("%dy%dd", hours/24/365, dy)
	}
	return fmt.Sprintf("%dy", hours/24/365)
}

// podContainerCounts returns ready and total containers, the sum of
// restarts and when the last restart's container had finished.
func podContainerCounts(p *wharfv1.Pod) (ready, total int, restarts int32, last *timestamppb.Timestamp) {
	total = len(p.GetSpec().GetContainers())
	for _, cs := range p.GetStatus().GetContainerStatuses() {
		if cs.GetReady() {
			ready++
		}
		restarts += cs.GetRestartCount()
		if t := cs.GetLastState().GetTerminated().GetFinishedAt(); t != nil && (last == nil || t.AsTime().After(last.AsTime())) {
			last = t
		}
	}
	return ready, total, restarts, last
}

// podStatus is the STATUS column, computed as kubectl does: Terminating
// when a delete is under way, an init container's or a container's
// waiting or terminated reason when there is one, else the phase.
func podStatus(p *wharfv1.Pod) string {
	st := p.GetStatus()
	reason := st.GetPhase()
	if st.GetReason() != "" {
		reason = st.GetReason()
	}
	initializing := false
	for i, c := range st.GetInitContainerStatuses() {
		term, wait := c.GetState().GetTerminated(), c.GetState().GetWaiting()
		switch {
		case term != nil && term.GetExitCode() == 0:
			continue
		case term != nil:
			switch {
			case term.GetReason() != "":
				reason = "Init:" + term.GetReason()
			case term.GetSignal() != 0:
				reason = fmt.Sprintf("Init:Signal:%d", term.GetSignal())
			default:
				reason = fmt.Sprintf("Init:ExitCode:%d", term.GetExitCode())
			}
		case wait != nil && wait.GetReason() != "" && wait.GetReason() != "PodInitializing":
			reason = "Init:" + wait.GetReason()
		default:
			reason = fmt.Sprintf("Init:%d/%d", i, len(p.GetSpec().GetInitContainers()))
		}
		initializing = true
		break
	}
	if !initializing {
		hasRunning := false
		cs := st.GetContainerStatuses()
		for i := len(cs) - 1; i >= 0; i-- {
			c := cs[i]
			term, wait := c.GetState().GetTerminated(), c.GetState().GetWaiting()
			switch {
			case wait != nil && wait.GetReason() != "":
				reason = wait.GetReason()
			case term != nil && term.GetReason() != "":
				reason = term.GetReason()
			case term != nil && term.GetSignal() != 0:
				reason = fmt.Sprintf("Signal:%d", term.GetSignal())
			case term != nil:
				reason = fmt.Sprintf("ExitCode:%d", term.GetExitCode())
			case c.GetReady() && c.GetState().GetRunning() != nil:
				hasRunning = true
			}
		}
		if reason == "Completed" && hasRunning {
			reason = "Running"
			if !podReady(p) {
				reason = "NotReady"
			}
		}
	}
	if p.GetMetadata().GetDeletionTimestamp() != nil {
		if st.GetReason() == "NodeLost" {
			return "Unknown"
		}
		return "Terminating"
	}
	if reason == "" {
		return "Unknown"
	}
	return reason
}

func podReady(p *wharfv1.Pod) bool {
	for _, c := range p.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c.GetStatus() == "True"
		}
	}
	return false
}

// nodeStatus is Ready, NotReady or Unknown, plus SchedulingDisabled when
// the node is cordoned.
func nodeStatus(n *wharfv1.Node) string {
	s := "Unknown"
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			switch c.GetStatus() {
			case "True":
				s = "Ready"
			case "False":
				s = "NotReady"
			}
		}
	}
	if n.GetSpec().GetUnschedulable() {
		s += ",SchedulingDisabled"
	}
	return s
}

// nodeRoles reads node-role.kubernetes.io/<role> labels, as kubectl does.
func nodeRoles(n *wharfv1.Node) string {
	var roles []string
	for k, v := range n.GetMetadata().GetLabels() {
		if role, ok := strings.CutPrefix(k, "node-role.kubernetes.io/"); ok && role != "" {
			roles = append(roles, role)
		} else if k == "kubernetes.io/role" && v != "" {
			roles = append(roles, v)
		}
	}
	if len(roles) == 0 {
		return "<none>"
	}
	slices.Sort(roles)
	return strings.Join(slices.Compact(roles), ",")
}

func nodeAddress(n *wharfv1.Node, typ string) string {
	for _, a := range n.GetStatus().GetAddresses() {
		if a.GetType() == typ {
			return a.GetAddress()
		}
	}
	return ""
}

// nodeGPUs is the GPU count, with the model when all are alike:
// "4 (NVIDIA H100 80GB HBM3)".
func nodeGPUs(n *wharfv1.Node) string {
	gpus := n.GetStatus().GetGpus()
	if len(gpus) == 0 {
		if c := n.GetStatus().GetCapacity()["nvidia.com/gpu"]; c != "" {
			return c
		}
		return "0"
	}
	models := map[string]bool{}
	for _, g := range gpus {
		models[g.GetModel()] = true
	}
	if len(models) == 1 && gpus[0].GetModel() != "" {
		return fmt.Sprintf("%d (%s)", len(gpus), gpus[0].GetModel())
	}
	return strconv.Itoa(len(gpus))
}

// eventAge is how long ago an event last happened, and, for one that
// happened several times, how often since when: "5s (x12 over 3m)", as
// kubectl prints it.
func eventAge(now time.Time, e *wharfv1.Event) string {
	age := humanDuration(now.Sub(eventTime(e).AsTime()))
	if e.GetCount() > 1 && e.GetFirstTimestamp() != nil {
		age = fmt.Sprintf("%s (x%d over %s)", age, e.GetCount(), humanDuration(now.Sub(e.GetFirstTimestamp().AsTime())))
	}
	return age
}

// eventTime is when an event last happened.
func eventTime(e *wharfv1.Event) *timestamppb.Timestamp {
	switch {
	case e.GetLastTimestamp() != nil:
		return e.GetLastTimestamp()
	case e.GetEventTime() != nil:
		return e.GetEventTime()
	case e.GetFirstTimestamp() != nil:
		return e.GetFirstTimestamp()
	}
	return e.GetMetadata().GetCreationTimestamp()
}

// involvedObject prints a reference as kind/name: pod/web.
func involvedObject(r *wharfv1.ObjectReference) string {
	if r == nil {
		return ""
	}
	return strings.ToLower(r.GetKind()) + "/" + r.GetName()
}

// labelsString prints labels as k=v,k=v in key order, or <none>.
func labelsString(m map[string]string) string {
	if len(m) == 0 {
		return "<none>"
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}
