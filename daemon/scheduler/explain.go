package scheduler

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
)

func (s *Scheduler) explain(ctx context.Context, req *wharfv1.ExplainRequest) (*wharfv1.ExplainResponse, error) {
	ns, name := req.GetNamespace(), req.GetName()
	if ns == "" {
		ns = "default"
	}
	pod, ok := s.pods.Get(ns, name)
	if !ok {
		return nil, connect.NewError(connect.CodeNotFound, fmt.Errorf("pods %q in namespace %q not found", name, ns))
	}
	sched := schedulerName(pod)
	boundNode := pod.GetSpec().GetNodeName()
	fw := s.explainFws[sched]
	if fw == nil {
		return nil, connect.NewError(connect.CodeFailedPrecondition, fmt.Errorf(
			"the pod asks for scheduler %q (spec.schedulerName); this server runs %s", sched, strings.Join(s.SchedulerNames(), ", ")))
	}
	if pod.GetSpec().GetNodeName() != "" {
		// Where would it go now: the binding's nodeName is not a constraint.
		pod = proto.Clone(pod).(*wharfv1.Pod)
		pod.Spec.NodeName = ""
	}
	info, err := framework.NewPodInfo(pod)
	if err != nil {
		return nil, connect.NewError(connect.CodeInvalidArgument, fmt.Errorf("the pod cannot be scheduled: %w", err))
	}
	key := ns + "/" + name
	cp := s.cache.pods[key]
	if boundNode == "" && cp != nil && cp.assumed && s.assumed[key] == nil {
		// This scheduler's binding succeeded and the informer has not
		// delivered the bound pod yet: it is bound all the same.
		boundNode = cp.node
	}
	out := &wharfv1.ExplainResponse{SchedulerName: sched, BoundNode: boundNode}
	// A bound pod is counted on its node: take it off while explaining, so
	// the cycle shows where it would go now.
	if cp != nil && boundNode != "" {
		if ni := s.cache.snap.Get(cp.node); ni != nil && ni.RemovePod(cp.info) {
			defer ni.AddPod(cp.info)
		}
	}
	state := framework.NewCycleState()
	if g := s.gangOf(pod); g != nil {
		state.Write(framework.GangStateKey, g.info(key))
	}
	res, err := fw.Explain(ctx, state, info, s.cache.snap)
	var fe *framework.FitError
	if err != nil && !errors.As(err, &fe) {
		return nil, fmt.Errorf("explain %s: %w", key, err)
	}
	diag := res.Diagnosis
	out.NumNodes = int32(diag.NumAllNodes)
	out.FeasibleNodes = int32(res.Feasible)
	if pf := diag.PreFilter; pf.IsRejection() {
		out.PodRejectedBy, out.PodReasons = pf.Plugin(), pf.Reasons()
	}
	if res.Node != nil {
		out.SelectedNode = res.Node.Name
		out.Summary = fmt.Sprintf("%s would be chosen among %d feasible of %d nodes", res.Node.Name, res.Feasible, diag.NumAllNodes)
	} else {
		out.Summary = diag.Summary()
	}
	out.ScorePlugins = scorePluginNames(fw)

	seen := map[string]bool{}
	for _, sc := range diag.Scores() {
		ne := &wharfv1.NodeExplanation{Name: sc.Node, Feasible: true, TotalScore: sc.Total, Scores: map[string]int64{}}
		for _, p := range sc.Plugins {
			ne.Scores[p.Plugin] = p.Score
		}
		out.Nodes = append(out.Nodes, ne)
		seen[sc.Node] = true
	}
	if res.Node != nil && !seen[res.Node.Name] {
		out.Nodes = append(out.Nodes, &wharfv1.NodeExplanation{Name: res.Node.Name, Feasible: true})
		seen[res.Node.Name] = true
	}
	var rejected []*wharfv1.NodeExplanation
	for _, ns := range diag.Rejected() {
		rejected = append(rejected, &wharfv1.NodeExplanation{Name: ns.Node, RejectedBy: ns.Status.Plugin(), Reasons: ns.Status.Reasons()})
		seen[ns.Node] = true
	}
	// Nodes a PreFilter plugin left out (or all of them, when it rejected
	// the pod itself).
	for _, n := range s.cache.snap.Nodes() {
		if seen[n.Name] {
			continue
		}
		ne := &wharfv1.NodeExplanation{Name: n.Name}
		switch {
		case diag.PreFilter.IsRejection():
			ne.RejectedBy, ne.Reasons = diag.PreFilter.Plugin(), diag.PreFilter.Reasons()
		case diag.ExcludedReason != "":
			ne.RejectedBy, ne.Reasons = "PreFilter", []string{diag.ExcludedReason}
		default:
			ne.Feasible = true // not reached: every node is evaluated
		}
		if ne.Feasible {
			out.Nodes = append(out.Nodes, ne)
		} else {
			rejected = append(rejected, ne)
		}
	}
	slices.SortFunc(rejected, func(a, b *wharfv1.NodeExplanation) int { return strings.Compare(a.Name, b.Name) })
	out.Nodes = append(out.Nodes, rejected...)
	return out, nil
}

func scorePluginNames(fw *framework.Framework) []string {
	var out []string
	for _, w := range fw.Profile().Score {
		out = append(out, w.Name)
	}
	return out
}
