package apiserver

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/store"
)

// Binding pods to nodes.
//
// A bind is an Update of the pod that sets spec.nodeName, with an Update's
// checks (authorization as "update", admission, validation, the pod update
// rules: only from an empty nodeName), plus two things an Update cannot do:
// it adds annotations without replacing the others, and it sets the pod's
// PodScheduled condition in the same write. BindPods commits many binds as
// one store batch, so the scheduler pays one durable commit per batch, not
// one per pod.

// PodScheduled is the condition a bind sets to True.
const (
	conditionPodScheduled = "PodScheduled"
)

// BindPods binds each pod to its node and returns one error per binding
// (nil for success), in order, as *connect.Error values (connect.CodeOf
// gives the code). The binds share one store batch (one group
// commit); a bind whose pod changed between the read and the commit is read
// and tried again. Errors are the API's: NotFound, Aborted (the pod is bound
// to another node, or was re-created: the uid differs), InvalidArgument,
// FailedPrecondition (the pod is being deleted).
//
// The scheduler running in the server calls it directly; remote callers use
// SchedulerService.Bind.
func (s *Server) BindPods(ctx context.Context, bindings []*wharfv1.Binding) []error {
	_, errs := s.bindPods(ctx, bindings)
	for i, err := range errs {
		if err != nil {
			errs[i] = toConnect(ctx, s.log, bindProcedure, err)
		}
	}
	return errs
}

// bindProcedure names in-process binds in logs.
const bindProcedure = "BindPods"

// bindPods is BindPods that also returns the pods' resourceVersions.
func (s *Server) bindPods(ctx context.Context, bindings []*wharfv1.Binding) ([]string, []error) {
	r := s.bindResource()
	rvs := make([]string, len(bindings))
	errs := make([]error, len(bindings))
	pending := make([]int, len(bindings))
	for i := range pending {
		pending[i] = i
	}
	ops := make([]store.Op, len(bindings))
	skip := make([]bool, len(bindings)) // no write needed, or failed before one
	for range conflictRetries {
		if len(pending) == 0 {
			return rvs, errs
		}
		prepareBinds(ctx, r, bindings, pending, ops, rvs, errs, skip)
		batch := make([]store.Op, 0, len(pending))
		idx := make([]int, 0, len(pending))
		for _, i := range pending {
			if !skip[i] {
				batch = append(batch, ops[i])
				idx = append(idx, i)
			}
		}
		if len(batch) == 0 {
			return rvs, errs
		}
		res, err := s.store.Batch(ctx, batch)
		if err != nil {
			for _, i := range idx {
				errs[i] = err
			}
			return rvs, errs
		}
		pending = pending[:0]
		for j, i := range idx {
			ops[i] = store.Op{}
			switch err := res[j].Err; {
			case err == nil:
				rvs[i], errs[i] = strconv.FormatInt(res[j].KV.ModRevision, 10), nil
			case errors.Is(err, store.ErrConflict):
				pending = append(pending, i) // changed since we read it: read again
			default:
				b := bindings[i]
				errs[i] = mapStoreErr(err, r.ref, r.requestNamespace(b.GetNamespace()), b.GetName())
			}
		}
	}
	for _, i := range pending {
		b := bindings[i]
		errs[i] = newAPIError(connect.CodeUnavailable, "%s is being changed by many writers at once; retry the bind",
			r.ref.describe(r.requestNamespace(b.GetNamespace()), b.GetName()))
	}
	return rvs, errs
}

// bindResource returns the pods' resource (what binds write).
func (s *Server) bindResource() *resource[*wharfv1.Pod] {
	for _, r := range s.resources {
		if p, ok := r.(*resource[*wharfv1.Pod]); ok {
			return p
		}
	}
	panic("apiserver: no pod resource")
}

// prepareBinds reads and checks the pods of bindings[pending] and builds
// their store ops, on up to GOMAXPROCS goroutines (decoding, validating
// and encoding pods is most of a bind's CPU). A binding that fails, or needs
// no write, gets skip[i] and its error (or nil) in errs[i].
func prepareBinds(ctx context.Context, pr *resource[*wharfv1.Pod], bindings []*wharfv1.Binding, pending []int, ops []store.Op, rvs []string, errs []error, skip []bool) {
	work := func(part []int) {
		for _, i := range part {
			op, rv, err := bindOp(ctx, pr, bindings[i])
			ops[i], rvs[i], errs[i] = op, rv, err
			skip[i] = err != nil || op.Type == 0
		}
	}
	const minPerWorker = 64
	workers := min(runtime.GOMAXPROCS(0), len(pending)/minPerWorker)
	if workers <= 1 {
		work(pending)
		return
	}
	var wg sync.WaitGroup
	per := (len(pending) + workers - 1) / workers
	for lo := 0; lo < len(pending); lo += per {
		part := pending[lo:min(lo+per, len(pending))]
		wg.Go(func() { work(part) })
	}
	wg.Wait()
}

// bindOp reads the pod of b, checks the bind and returns the store op that
// makes it. A zero op with a nil error means the pod is already bound to
// that node (a retried bind): rv is then its resourceVersion.
func bindOp(ctx context.Context, pr *resource[*wharfv1.Pod], b *wharfv1.Binding) (op store.Op, rv string, err error) {
	ns, name, node := pr.requestNamespace(b.GetNamespace()), b.GetName(), b.GetNodeName()
	if name == "" {
		return op, "", errBadRequest("a binding needs the pod's name")
	}
	if err := pr.s.authorize(ctx, "update", pr.info.Kind, ns, name); err != nil {
		return op, "", err
	}
	var fe fieldErrors
	validateDNSSubdomain(&fe, "nodeName", node)
	for k := range b.GetAnnotations() {
		validateQualifiedName(&fe, "annotations["+k+"]", k)
	}
	if len(fe) > 0 {
		return op, "", errInvalid(pr.ref, name, fe)
	}
	key := pr.ref.key(ns, name)
	kv, err := pr.s.store.Get(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return op, "", errNotFound(pr.ref, ns, name)
	}
	if err != nil {
		return op, "", err
	}
	old, err := pr.decode(kv)
	if err != nil {
		return op, "", err
	}
	m := old.GetMetadata()
	if uid := b.GetUid(); uid != "" && uid != m.GetUid() {
		return op, "", newAPIError(connect.CodeAborted, "%s was deleted and created again (uid %s, the binding names %s); not bound",
			pr.ref.describe(ns, name), m.GetUid(), uid)
	}
	switch bound := old.GetSpec().GetNodeName(); {
	case bound == node:
		return op, m.GetResourceVersion(), nil
	case bound != "":
		return op, "", newAPIError(connect.CodeAborted, "%s is already bound to node %q; a pod cannot move", pr.ref.describe(ns, name), bound)
	}
	if m.GetDeletionTimestamp() != nil {
		return op, "", newAPIError(connect.CodeFailedPrecondition, "%s is being deleted; not bound", pr.ref.describe(ns, name))
	}
	// Admission plugins get the pod as it was, to compare: a copy, when a
	// plugin may take the bind.
	admits := pr.s.admissionApplies(OpUpdate, pr.info.Kind, ns)
	next := old
	if admits {
		next = proto.Clone(old).(*wharfv1.Pod)
	}
	nm := next.GetMetadata()
	if next.Spec == nil {
		next.Spec = &wharfv1.PodSpec{}
	}
	next.Spec.NodeName = node
	if len(b.GetAnnotations()) > 0 {
		if nm.Annotations == nil {
			nm.Annotations = make(map[string]string, len(b.GetAnnotations()))
		}
		for k, v := range b.GetAnnotations() {
			nm.Annotations[k] = v
		}
	}
	if admits {
		if err := pr.s.admit(ctx, &AdmissionRequest{Operation: OpUpdate, Kind: pr.info.Kind, Namespace: ns, Name: name, Object: next, OldObject: old}); err != nil {
			return op, "", err
		}
	}
	nm = pr.meta(next)
	nm.Name, nm.Namespace = name, ns
	if next.GetSpec().GetNodeName() != node {
		return op, "", newAPIError(connect.CodePermissionDenied, "admission changed the node of the binding of %s; not bound", pr.ref.describe(ns, name))
	}
	if admits && specChangedBeyondBinding(old, next) {
		// Admission changed the spec: check all an Update checks.
		if err := pr.validate(next); err != nil {
			return op, "", err
		}
		if fe := validatePodUpdate(old, next); len(fe) > 0 {
			return op, "", errInvalid(pr.ref, name, fe)
		}
	} else {
		// The stored pod was valid and only nodeName (checked above: from
		// empty) and metadata changed: what an Update checks of that is
		// the metadata. (Validating the whole spec again, and the update
		// rules' copies, were a quarter of a bind's cost.)
		var fe fieldErrors
		validateMeta(&fe, pr.ref, nm)
		if len(fe) > 0 {
			return op, "", errInvalid(pr.ref, name, fe)
		}
	}
	nm.Generation++
	setPodScheduled(next)
	val, err := pr.encode(next)
	if err != nil {
		return op, "", err
	}
	return store.Op{Type: store.OpUpdate, Key: key, Value: val, ExpectRevision: kv.ModRevision}, "", nil
}

// specChangedBeyondBinding reports whether next's spec differs from old's
// in more than nodeName.
func specChangedBeyondBinding(old, next *wharfv1.Pod) bool {
	if next.Spec == nil {
		return true
	}
	node := next.Spec.NodeName
	next.Spec.NodeName = old.GetSpec().GetNodeName()
	changed := !proto.Equal(old.GetSpec(), next.Spec)
	next.Spec.NodeName = node
	return changed
}

// setPodScheduled sets the PodScheduled condition to True.
func setPodScheduled(p *wharfv1.Pod) {
	if p.Status == nil {
		p.Status = &wharfv1.PodStatus{Phase: "Pending"}
	}
	now := timestamppb.Now()
	for _, c := range p.Status.Conditions {
		if c.GetType() == conditionPodScheduled {
			if c.Status != "True" {
				c.LastTransitionTime = now
			}
			c.Status, c.Reason, c.Message = "True", "", ""
			return
		}
	}
	p.Status.Conditions = append(p.Status.Conditions, &wharfv1.PodCondition{
		Type: conditionPodScheduled, Status: "True", LastTransitionTime: now,
	})
}
