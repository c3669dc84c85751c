// Package nodelifecycle watches the nodes' heartbeats, as Kubernetes' node
// lifecycle controller does, so that a node whose agent died stops taking
// pods and, after a while, gives its pods up.
//
// A node agent renews its Ready condition every few seconds
// (lastHeartbeatTime). When a node's Ready condition has not been renewed
// for the grace period (or a node never posted one), the controller sets it
// to Unknown. As in Kubernetes, the grace period runs on the controller's
// clock, from when it last saw the heartbeat change, not from the time the
// node wrote: a node's clock may be off, and a restarted server gives every
// node a full grace period before judging it.
//
// A node that is not Ready carries two taints the controller keeps in step
// with the condition, one NoSchedule and one NoExecute:
// node.kubernetes.io/unreachable while Ready is Unknown,
// node.kubernetes.io/not-ready while it is False (the agent says its
// container runtime does not answer). The taints go as soon as the agent
// posts Ready=True again. The scheduler's TaintToleration filter places no
// new pod there unless the pod tolerates the taint. When a node becomes
// unreachable, the Ready condition of its pods turns False: nobody can
// vouch for them (the agent sets it again when it is back).
//
// NoExecute taints evict, as Kubernetes' taint eviction does: a pod on a
// node with a NoExecute taint it does not tolerate is deleted at once
// (gracefully: the node's agent stops it when it can), and one that
// tolerates it for tolerationSeconds is deleted that long after the taint
// came (or the pod, if later). A pod without a toleration of its own for
// a readiness taint tolerates it for 300 seconds, as Kubernetes'
// DefaultTolerationSeconds admission has it, so the pods of a dead node go
// after five minutes and the pods of a node that comes back within them
// stay. Unlike Kubernetes, the server does not write those tolerations
// into every pod: the controller applies them, and pod objects (every
// create, every watch event) stay as small as they were. The rest holds
// for any NoExecute taint, one a user put on a node to empty it included.
//
// It runs in the server process (wharf server, wharf up) against the API,
// like the scheduler.
package nodelifecycle

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
)

// The taints a node that is not Ready carries.
const (
	TaintUnreachable = "node.kubernetes.io/unreachable"
	TaintNotReady    = "node.kubernetes.io/not-ready"
)

// Reasons the controller gives a Ready condition it sets to Unknown, and
// the event it records.
const (
	ReasonStatusUnknown      = "NodeStatusUnknown"
	ReasonStatusNeverUpdated = "NodeStatusNeverUpdated"
	ReasonNodeNotReady       = "NodeNotReady"
	// ReasonTaintEviction is the reason of the event on an evicted pod,
	// and of its DisruptionTarget condition (Kubernetes' names).
	ReasonTaintEviction   = "TaintManagerEviction"
	ReasonDeletionByTaint = "DeletionByTaintManager"
)

// DefaultTolerationSeconds is how long a pod tolerates a readiness taint
// when it has no toleration of it (Kubernetes' DefaultTolerationSeconds).
const DefaultTolerationSeconds = 300

// DefaultGracePeriod is how long a node may go without renewing its Ready
// condition (Kubernetes' node-monitor-grace-period): four of the node
// agent's heartbeats.
const DefaultGracePeriod = 40 * time.Second

// Config configures the controller. Client is required.
type Config struct {
	Client *client.Client
	// GracePeriod is how long a node may go without a heartbeat before its
	// Ready condition becomes Unknown (default DefaultGracePeriod).
	GracePeriod time.Duration
	// MonitorPeriod is how often heartbeats are checked (default 5s, or the
	// grace period's eighth when that is less).
	MonitorPeriod time.Duration
	Logger        *slog.Logger
	// Nodes and Pods, when set, are informers of every node and pod that
	// another component in the process runs (the scheduler's): the
	// controller shares their caches instead of keeping its own copies of
	// the cluster. Unset, it runs its own.
	Nodes *client.Informer[*wharfv1.Node]
	Pods  *client.Informer[*wharfv1.Pod]
}

// Controller is the node lifecycle controller.
type Controller struct {
	cfg    Config
	nodes  *client.Informer[*wharfv1.Node]
	pods   *client.Informer[*wharfv1.Pod] // indexed by node (podsByNode)
	runs   []func(context.Context) error  // the informers it runs itself
	events *client.EventRecorder
	sig    chan string // nodes to look at now (their object changed)
	// seen is each node's heartbeat as last seen, and when it was seen to
	// change (Run's goroutine only).
	seen map[string]*heartbeat
}

type heartbeat struct {
	posted   time.Time // lastHeartbeatTime, as the node wrote it
	observed time.Time // when the controller saw it change
	// podsMarked: the node's pods were marked not ready since it last was
	// Ready.
	podsMarked bool
}

// New returns a controller; Run runs it.
func New(cfg Config) *Controller {
	cfg.GracePeriod = cmp.Or(cfg.GracePeriod, DefaultGracePeriod)
	cfg.MonitorPeriod = cmp.Or(cfg.MonitorPeriod, min(5*time.Second, cfg.GracePeriod/8))
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Controller{
		cfg:    cfg,
		nodes:  cfg.Nodes,
		events: client.NewEventRecorder(client.EventRecorderConfig{Component: "wharf-node-lifecycle", Logger: cfg.Logger}),
		sig:    make(chan string, 1024),
		seen:   map[string]*heartbeat{},
	}
	if c.nodes == nil {
		c.nodes = client.NewInformer(cfg.Client.Nodes(), client.InformerOptions{Logger: cfg.Logger})
		c.runs = append(c.runs, c.nodes.Run)
	}
	c.pods = cfg.Pods
	if c.pods == nil {
		c.pods = client.NewInformer(cfg.Client.Pods(), client.InformerOptions{Logger: cfg.Logger})
		c.runs = append(c.runs, c.pods.Run)
	}
	// Eviction and readiness look up a node's pods here, not through the
	// API: with many nodes unreachable at once, a list per node every
	// monitor period would read every pod each time. (An error says the
	// index is there already: another controller of this package shares
	// the informer.)
	_ = c.pods.AddIndex(podsByNode, func(p *wharfv1.Pod) []string { return []string{p.GetSpec().GetNodeName()} })
	changed := func(n *wharfv1.Node) {
		select {
		case c.sig <- n.GetMetadata().GetName():
		default: // the next monitor round sees it
		}
	}
	c.nodes.AddEventHandler(client.EventHandler[*wharfv1.Node]{
		AddFunc:    changed,
		UpdateFunc: func(_, n *wharfv1.Node) { changed(n) },
	})
	return c
}

// Run watches the nodes until ctx ends.
func (c *Controller) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	wg.Go(func() { c.events.Run(ctx, c.cfg.Client) })
	for _, run := range c.runs {
		wg.Go(func() { _ = run(ctx) })
	}
	if c.nodes.WaitForSync(ctx) != nil || c.pods.WaitForSync(ctx) != nil {
		return nil // ctx ended
	}
	tick := time.NewTicker(c.cfg.MonitorPeriod)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			nodes := c.nodes.List()
			for _, n := range nodes {
				c.check(ctx, n)
			}
			if len(c.seen) > len(nodes) { // some were deleted
				for name := range c.seen {
					if _, ok := c.nodes.Get("", name); !ok {
						delete(c.seen, name)
					}
				}
			}
		case name := <-c.sig:
			if n, ok := c.nodes.Get("", name); ok {
				c.check(ctx, n)
			}
		}
	}
}

// check brings one node's Ready condition and taints up to date. A write
// that conflicts (the agent heartbeat meanwhile) is left to the next look.
func (c *Controller) check(ctx context.Context, n *wharfv1.Node) {
	name := n.GetMetadata().GetName()
	if st := c.staleReady(n); st != nil {
		next := proto.Clone(n).(*wharfv1.Node)
		if next.Status == nil {
			next.Status = &wharfv1.NodeStatus{}
		}
		setReady(next.Status, st)
		out, err := c.cfg.Client.Nodes().UpdateStatus(ctx, next)
		if err != nil {
			if !client.IsConflict(err) && !client.IsNotFound(err) && ctx.Err() == nil {
				c.cfg.Logger.Warn("marking a silent node's Ready condition Unknown failed; will retry", "node", name, "err", err)
			}
			return
		}
		c.cfg.Logger.Warn("node marked unreachable: no status for the grace period; it takes no new pods", "node", name, "grace_period", c.cfg.GracePeriod)
		c.events.Event(&wharfv1.ObjectReference{Kind: "Node", ApiVersion: "v1", Name: name, Uid: n.GetMetadata().GetUid()},
			"Normal", ReasonNodeNotReady, fmt.Sprintf("Node %s status is now: NodeNotReady (%s)", name, st.GetMessage()))
		n = out
	}
	ready := readyCondition(n)
	if ready == nil {
		return // not posted yet: staleReady marks it Unknown after the grace period
	}
	if hb := c.seen[name]; hb != nil {
		switch {
		case ready.GetStatus() == "True":
			hb.podsMarked = false
		case ready.GetStatus() == "Unknown" && !hb.podsMarked:
			err := c.markPodsNotReady(ctx, name)
			if err != nil && ctx.Err() == nil {
				c.cfg.Logger.Warn("marking the pods of an unreachable node not ready failed; will retry", "node", name, "err", err)
			}
			hb.podsMarked = err == nil
		}
	}
	if taints, changed := withReadinessTaints(n.GetSpec().GetTaints(), wantTaint(ready.GetStatus())); changed {
		next := proto.Clone(n).(*wharfv1.Node)
		if next.Spec == nil {
			next.Spec = &wharfv1.NodeSpec{}
		}
		next.Spec.Taints = taints
		out, err := c.cfg.Client.Nodes().Update(ctx, next)
		if err != nil {
			if !client.IsConflict(err) && !client.IsNotFound(err) && ctx.Err() == nil {
				c.cfg.Logger.Warn("updating a node's readiness taints failed; will retry", "node", name, "err", err)
			}
			return
		}
		n = out
	}
	if err := c.evict(ctx, n); err != nil && ctx.Err() == nil {
		c.cfg.Logger.Warn("evicting pods from a node with NoExecute taints failed; will retry", "node", name, "err", err)
	}
}

// podsByNode is the pods informer's index by spec.nodeName.
const podsByNode = "nodelifecycle.nodeName"

// markPodsNotReady sets the Ready condition of the pods on node to False.
func (c *Controller) markPodsNotReady(ctx context.Context, node string) error {
	pods := c.cfg.Client.Pods()
	now := timestamppb.Now()
	var errs []error
	for _, p := range c.pods.ByIndex(podsByNode, node) {
		if ph := p.GetStatus().GetPhase(); ph == "Succeeded" || ph == "Failed" {
			continue
		}
		i := slices.IndexFunc(p.GetStatus().GetConditions(), func(c *wharfv1.PodCondition) bool {
			return c.GetType() == "Ready" && c.GetStatus() != "False"
		})
		if i < 0 {
			continue
		}
		p = proto.Clone(p).(*wharfv1.Pod) // the informer's is read-only
		p.Status.Conditions[i] = &wharfv1.PodCondition{Type: "Ready", Status: "False", LastTransitionTime: now,
			Reason: ReasonNodeNotReady, Message: "the pod's node " + node + " is unreachable"}
		if _, err := pods.UpdateStatus(ctx, p); err != nil && !client.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("pod %s/%s: %w", p.GetMetadata().GetNamespace(), p.GetMetadata().GetName(), err))
		}
	}
	return errors.Join(errs...)
}

// staleReady returns the Unknown Ready condition n should have, or nil
// when its heartbeat is current (or its Ready condition Unknown already).
func (c *Controller) staleReady(n *wharfv1.Node) *wharfv1.NodeCondition {
	now := time.Now()
	ready := readyCondition(n)
	posted := ready.GetLastHeartbeatTime().AsTime()
	name := n.GetMetadata().GetName()
	switch hb := c.seen[name]; {
	case hb == nil: // first sight: a full grace period from now
		c.seen[name] = &heartbeat{posted: posted, observed: now}
		return nil
	case !posted.Equal(hb.posted):
		hb.posted, hb.observed = posted, now
		return nil
	case now.Sub(hb.observed) <= c.cfg.GracePeriod:
		return nil
	}
	silent := now.Sub(c.seen[name].observed).Round(time.Second)
	switch {
	case ready == nil:
		return &wharfv1.NodeCondition{Type: "Ready", Status: "Unknown", LastTransitionTime: timestamppb.New(now),
			Reason: ReasonStatusNeverUpdated, Message: fmt.Sprintf("the node agent has not posted node status in %s", silent)}
	case ready.GetStatus() == "Unknown":
		return nil
	}
	return &wharfv1.NodeCondition{Type: "Ready", Status: "Unknown", LastHeartbeatTime: ready.GetLastHeartbeatTime(),
		LastTransitionTime: timestamppb.New(now), Reason: ReasonStatusUnknown,
		Message: fmt.Sprintf("the node agent stopped posting node status (none in %s)", silent)}
}

func readyCondition(n *wharfv1.Node) *wharfv1.NodeCondition {
	for _, c := range n.GetStatus().GetConditions() {
		if c.GetType() == "Ready" {
			return c
		}
	}
	return nil
}

// wantTaint is the readiness taint a node with Ready status s carries;
// "" for none.
func wantTaint(s string) string {
	switch s {
	case "True":
		return ""
	case "False":
		return TaintNotReady
	}
	return TaintUnreachable
}

// withReadinessTaints returns taints with want's two taints (NoSchedule
// and NoExecute) as their only readiness taints, none for want "", and
// whether that changes them; it allocates only then.
func withReadinessTaints(taints []*wharfv1.Taint, want string) ([]*wharfv1.Taint, bool) {
	readiness := func(t *wharfv1.Taint) bool {
		return (t.GetKey() == TaintUnreachable || t.GetKey() == TaintNotReady) &&
			(t.GetEffect() == "NoSchedule" || t.GetEffect() == "NoExecute")
	}
	var noSchedule, noExecute, stale bool
	for _, t := range taints {
		switch {
		case !readiness(t):
		case t.GetKey() != want:
			stale = true
		case t.GetEffect() == "NoSchedule":
			noSchedule = true
		default:
			noExecute = true
		}
	}
	if !stale && (want == "" || noSchedule && noExecute) {
		return taints, false
	}
	out := slices.DeleteFunc(slices.Clone(taints), func(t *wharfv1.Taint) bool { return readiness(t) && t.GetKey() != want })
	if want != "" {
		now := timestamppb.Now()
		if !noSchedule {
			out = append(out, &wharfv1.Taint{Key: want, Effect: "NoSchedule", TimeAdded: now})
		}
		if !noExecute {
			out = append(out, &wharfv1.Taint{Key: want, Effect: "NoExecute", TimeAdded: now})
		}
	}
	return out, true
}

// evict deletes the pods on n whose time on it is up under its NoExecute
// taints (see evictionTime), marking each with a DisruptionTarget
// condition and an event first.
func (c *Controller) evict(ctx context.Context, n *wharfv1.Node) error {
	name := n.GetMetadata().GetName()
	var taints []*wharfv1.Taint
	for _, t := range n.GetSpec().GetTaints() {
		if t.GetEffect() == "NoExecute" {
			taints = append(taints, t)
		}
	}
	if len(taints) == 0 {
		return nil
	}
	for _, t := range taints {
		if t.GetTimeAdded() == nil {
			// Written before the server stamped NoExecute taints: writing the
			// node back has it stamp them now, and the change brings the node
			// here again.
			_, err := c.cfg.Client.Nodes().Update(ctx, n)
			if client.IsConflict(err) || client.IsNotFound(err) {
				err = nil
			}
			return err
		}
	}
	now := time.Now()
	var errs []error
	for _, p := range c.pods.ByIndex(podsByNode, name) {
		if p.GetMetadata().GetDeletionTimestamp() != nil {
			continue
		}
		at, ok := evictionTime(p, taints)
		if !ok || at.After(now) {
			continue
		}
		if err := c.evictPod(ctx, p, name, taints); err != nil {
			errs = append(errs, fmt.Errorf("pod %s: %w", client.Key(p.GetMetadata().GetNamespace(), p.GetMetadata().GetName()), err))
		}
	}
	return errors.Join(errs...)
}

// evictionTime is when pod must leave a node with the NoExecute taints,
// each there since its timeAdded; ok is false when it may stay for good. As in
// Kubernetes: a pod that does not tolerate one of them leaves at once;
// otherwise it leaves after the shortest tolerationSeconds of the
// tolerations that match them (never, if none has a limit), counted from
// when the oldest of them came or from when the pod was created, if
// later. A pod with no toleration of a readiness taint tolerates it for
// DefaultTolerationSeconds.
func evictionTime(pod *wharfv1.Pod, taints []*wharfv1.Taint) (at time.Time, ok bool) {
	var start time.Time // of the oldest taint
	limit := int64(-1)  // seconds; -1: none
	for _, t := range taints {
		if added := t.GetTimeAdded().AsTime(); start.IsZero() || added.Before(start) {
			start = added
		}
		tolerated := false
		for _, tol := range pod.GetSpec().GetTolerations() {
			if !tolerates(tol, t) {
				continue
			}
			tolerated = true
			if s := tol.TolerationSeconds; s != nil && (limit < 0 || max(*s, 0) < limit) {
				limit = max(*s, 0)
			}
		}
		if !tolerated {
			if t.GetKey() != TaintUnreachable && t.GetKey() != TaintNotReady {
				return time.Time{}, true // now
			}
			if limit < 0 || DefaultTolerationSeconds < limit {
				limit = DefaultTolerationSeconds
			}
		}
	}
	if limit < 0 {
		return time.Time{}, false
	}
	if created := pod.GetMetadata().GetCreationTimestamp().AsTime(); created.After(start) {
		start = created
	}
	return start.Add(time.Duration(limit) * time.Second), true
}

// tolerates reports whether tol tolerates taint (Kubernetes' rules).
func tolerates(tol *wharfv1.Toleration, t *wharfv1.Taint) bool {
	if tol.GetEffect() != "" && tol.GetEffect() != t.GetEffect() {
		return false
	}
	if tol.GetKey() != "" && tol.GetKey() != t.GetKey() {
		return false
	}
	switch tol.GetOperator() {
	case "Exists":
		return true
	case "", "Equal":
		return tol.GetKey() != "" && tol.GetValue() == t.GetValue()
	}
	return false
}

// evictPod marks pod as disrupted by the taints, records an event and
// deletes it with its grace period: the node's agent stops its containers
// when it can. A conflict leaves it to the next look.
func (c *Controller) evictPod(ctx context.Context, p *wharfv1.Pod, node string, taints []*wharfv1.Taint) error {
	pods := c.cfg.Client.Pods()
	m := p.GetMetadata()
	var keys []string
	for _, t := range taints {
		keys = append(keys, t.GetKey())
	}
	msg := fmt.Sprintf("Taint manager: deleting due to NoExecute taint %s on node %s", strings.Join(keys, ", "), node)
	next := proto.Clone(p).(*wharfv1.Pod)
	if next.Status == nil {
		next.Status = &wharfv1.PodStatus{}
	}
	next.Status.Conditions = append(slices.DeleteFunc(next.Status.Conditions, func(c *wharfv1.PodCondition) bool { return c.GetType() == "DisruptionTarget" }),
		&wharfv1.PodCondition{Type: "DisruptionTarget", Status: "True", Reason: ReasonDeletionByTaint, Message: msg, LastTransitionTime: timestamppb.Now()})
	out, err := pods.UpdateStatus(ctx, next)
	switch {
	case client.IsNotFound(err), client.IsConflict(err):
		return nil
	case err != nil:
		return err
	}
	c.events.Event(&wharfv1.ObjectReference{Kind: "Pod", ApiVersion: "v1", Namespace: m.GetNamespace(), Name: m.GetName(), Uid: m.GetUid()},
		"Normal", ReasonTaintEviction, "Marking for deletion Pod "+client.Key(m.GetNamespace(), m.GetName()))
	_, err = pods.Delete(ctx, m.GetNamespace(), m.GetName(), client.DeleteOptions{ResourceVersion: out.GetMetadata().GetResourceVersion()})
	if client.IsNotFound(err) || client.IsConflict(err) {
		return nil
	}
	if err == nil {
		c.cfg.Logger.Info("evicted a pod from a node with a NoExecute taint", "pod", client.Key(m.GetNamespace(), m.GetName()), "node", node, "taints", strings.Join(keys, ","))
	}
	return err
}

// setReady replaces (or adds) the Ready condition in st.
func setReady(st *wharfv1.NodeStatus, ready *wharfv1.NodeCondition) {
	for i, c := range st.GetConditions() {
		if c.GetType() == "Ready" {
			st.Conditions[i] = ready
			return
		}
	}
	st.Conditions = append(st.Conditions, ready)
}
