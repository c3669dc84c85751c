// Package podgc removes the pods of nodes that are gone, as Kubernetes'
// pod garbage collector does.
//
// A pod bound to a node (spec.nodeName) is finished and deleted by that
// node's agent. When the node object is deleted (a machine retired for
// good, or simulated nodes removed), no agent will ever do it: the pod
// would stay, Running or Terminating, forever. The collector finds pods
// bound to a node that does not exist, waits a quarantine period (the node
// may be registering, or the informer behind), checks with the API that
// the node really is gone, then marks the pod Failed with a DisruptionTarget
// condition saying why and deletes it at once.
//
// It also bounds the pods that finished (phase Succeeded or Failed): past
// TerminatedThreshold of them (12,500 by default, Kubernetes'
// terminated-pod-gc-threshold), the oldest are deleted, so that a cluster
// that runs short jobs for months does not keep every one.
//
// It runs in the server process (wharf server, wharf up) against the API.
package podgc

import (
	"cmp"
	"context"
	"log/slog"
	"slices"
	"sync"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
)

// Defaults.
const (
	// DefaultQuarantine is how long a pod's node must be missing before the
	// pod is collected (Kubernetes' quarantine time).
	DefaultQuarantine = 40 * time.Second
	// DefaultPeriod is how often pods are looked at.
	DefaultPeriod = 20 * time.Second
	// DefaultTerminatedThreshold is how many finished pods are kept.
	DefaultTerminatedThreshold = 12500
)

// ReasonDeletionByPodGC is the reason of the DisruptionTarget condition a
// collected pod gets.
const ReasonDeletionByPodGC = "DeletionByPodGC"

// Config configures the collector. Client is required.
type Config struct {
	Client     *client.Client
	Quarantine time.Duration // default DefaultQuarantine
	Period     time.Duration // default DefaultPeriod
	// TerminatedThreshold is how many finished pods are kept (default
	// DefaultTerminatedThreshold; negative keeps them all).
	TerminatedThreshold int
	Logger              *slog.Logger
	// Nodes and Pods, when set, are informers of every node and pod that
	// another component in the process runs (the scheduler's): the
	// collector shares their caches instead of keeping its own copies of
	// the cluster. Unset, it runs its own.
	Nodes *client.Informer[*wharfv1.Node]
	Pods  *client.Informer[*wharfv1.Pod]
}

// Collector is the pod garbage collector.
type Collector struct {
	cfg   Config
	nodes *client.Informer[*wharfv1.Node]
	pods  *client.Informer[*wharfv1.Pod]
	runs  []func(context.Context) error // the informers it runs itself
	// missing is when each absent node was first found missing (Run's
	// goroutine only).
	missing map[string]time.Time
}

// New returns a collector; Run runs it.
func New(cfg Config) *Collector {
	cfg.Quarantine = cmp.Or(cfg.Quarantine, DefaultQuarantine)
	cfg.Period = cmp.Or(cfg.Period, DefaultPeriod)
	cfg.TerminatedThreshold = cmp.Or(cfg.TerminatedThreshold, DefaultTerminatedThreshold)
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	c := &Collector{cfg: cfg, nodes: cfg.Nodes, pods: cfg.Pods, missing: map[string]time.Time{}}
	if c.nodes == nil {
		c.nodes = client.NewInformer(cfg.Client.Nodes(), client.InformerOptions{Logger: cfg.Logger})
		c.runs = append(c.runs, c.nodes.Run)
	}
	if c.pods == nil {
		c.pods = client.NewInformer(cfg.Client.Pods(), client.InformerOptions{Logger: cfg.Logger})
		c.runs = append(c.runs, c.pods.Run)
	}
	return c
}

// Run collects until ctx ends.
func (c *Collector) Run(ctx context.Context) error {
	var wg sync.WaitGroup
	defer wg.Wait()
	for _, run := range c.runs {
		wg.Go(func() { _ = run(ctx) })
	}
	if c.nodes.WaitForSync(ctx) != nil || c.pods.WaitForSync(ctx) != nil {
		return nil // ctx ended
	}
	tick := time.NewTicker(c.cfg.Period)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
			c.collect(ctx, time.Now())
			c.collectTerminated(ctx)
		}
	}
}

// collect deletes the pods whose node has been missing for the quarantine.
func (c *Collector) collect(ctx context.Context, now time.Time) {
	orphans := map[string][]*wharfv1.Pod{}
	for _, p := range c.pods.List() {
		if n := p.GetSpec().GetNodeName(); n != "" {
			if _, ok := c.nodes.Get("", n); !ok {
				orphans[n] = append(orphans[n], p)
			}
		}
	}
	for node := range c.missing {
		if orphans[node] == nil {
			delete(c.missing, node) // came, or its pods went
		}
	}
	for node, pods := range orphans {
		since, ok := c.missing[node]
		if !ok {
			c.missing[node] = now
			continue
		}
		if now.Sub(since) < c.cfg.Quarantine {
			continue
		}
		// The informer may be behind: ask the API.
		if _, err := c.cfg.Client.Nodes().Get(ctx, "", node); !client.IsNotFound(err) {
			if err != nil && ctx.Err() == nil {
				c.cfg.Logger.Warn("checking a missing node failed; will retry", "node", node, "err", err)
			}
			continue
		}
		for _, p := range pods {
			if err := c.delete(ctx, p, node); err != nil && ctx.Err() == nil {
				c.cfg.Logger.Warn("deleting a pod of a deleted node failed; will retry", "pod", key(p), "node", node, "err", err)
			}
		}
	}
}

// collectTerminated deletes the oldest finished pods past the threshold.
func (c *Collector) collectTerminated(ctx context.Context) {
	if c.cfg.TerminatedThreshold < 0 {
		return
	}
	var done []*wharfv1.Pod
	for _, p := range c.pods.List() {
		if ph := p.GetStatus().GetPhase(); ph == "Succeeded" || ph == "Failed" {
			done = append(done, p)
		}
	}
	excess := len(done) - c.cfg.TerminatedThreshold
	if excess <= 0 {
		return
	}
	slices.SortFunc(done, func(a, b *wharfv1.Pod) int {
		return cmp.Or(
			a.GetMetadata().GetCreationTimestamp().AsTime().Compare(b.GetMetadata().GetCreationTimestamp().AsTime()),
			cmp.Compare(key(a), key(b)))
	})
	zero := int64(0)
	deleted := 0
	for _, p := range done[:excess] {
		m := p.GetMetadata()
		_, err := c.cfg.Client.Pods().Delete(ctx, m.GetNamespace(), m.GetName(), client.DeleteOptions{ResourceVersion: m.GetResourceVersion(), GracePeriodSeconds: &zero})
		switch {
		case err == nil:
			deleted++
		case client.IsNotFound(err), client.IsConflict(err):
		case ctx.Err() != nil:
			return
		default:
			c.cfg.Logger.Warn("deleting a finished pod failed; will retry", "pod", key(p), "err", err)
		}
	}
	c.cfg.Logger.Info("deleted the oldest finished pods", "deleted", deleted, "kept", c.cfg.TerminatedThreshold)
}

// delete marks p Failed, as disrupted by the collector, and deletes it at
// once.
func (c *Collector) delete(ctx context.Context, p *wharfv1.Pod, node string) error {
	pods := c.cfg.Client.Pods()
	msg := "PodGC: node " + node + " no longer exists"
	next := proto.Clone(p).(*wharfv1.Pod)
	if next.Status == nil {
		next.Status = &wharfv1.PodStatus{}
	}
	if ph := next.Status.GetPhase(); ph != "Succeeded" && ph != "Failed" {
		next.Status.Phase, next.Status.Reason, next.Status.Message = "Failed", "NodeLost", msg
	}
	now := timestamppb.Now()
	next.Status.Conditions = append(next.Status.Conditions, &wharfv1.PodCondition{
		Type: "DisruptionTarget", Status: "True", Reason: ReasonDeletionByPodGC, Message: msg, LastTransitionTime: now,
	})
	out, err := pods.UpdateStatus(ctx, next)
	switch {
	case client.IsNotFound(err):
		return nil
	case client.IsConflict(err):
		return nil // changed meanwhile: the next round sees it again
	case err != nil:
		return err
	}
	zero := int64(0)
	_, err = pods.Delete(ctx, out.GetMetadata().GetNamespace(), out.GetMetadata().GetName(),
		client.DeleteOptions{ResourceVersion: out.GetMetadata().GetResourceVersion(), GracePeriodSeconds: &zero})
	if client.IsNotFound(err) || client.IsConflict(err) {
		return nil
	}
	if err == nil {
		c.cfg.Logger.Info("deleted a pod of a deleted node", "pod", key(p), "node", node)
	}
	return err
}

func key(p *wharfv1.Pod) string {
	return client.Key(p.GetMetadata().GetNamespace(), p.GetMetadata().GetName())
}
