// Package scheduler is Wharf's scheduler: it watches the API for pending
// pods, picks a node for each with the scheduling framework (package
// framework, built-in plugins in package plugins) and writes the bindings
// back through the API, in batches.
//
// `wharf server` runs it in-process (cmd/wharf wires it): bindings then go
// straight to the API service layer (apiserver.Server.BindPods, one store
// group commit per batch), while everything it reads comes from informers
// over the API like any other client. This package must not import the
// store or the API server (an import-boundary test enforces it); the
// in-process binder arrives as the Binder interface.
//
// # The loop
//
// One goroutine owns the scheduling state: the queue of pending pods, the
// snapshot of nodes with the pods assigned to them (kept current from the
// node and pod informers; never a store read per pod), the assumed pods
// (reserved on a node, not yet bound), the pods waiting in Permit and the
// gangs. Informer handlers and the binders only hand it deltas. Per pod it
// runs a framework cycle (PreFilter, Filter, Score), Reserve (the pod now
// counts on its node), Permit, and hands the binding to the binders, which
// write everything queued as one BindPods call while the loop goes on with
// the next pods. A failed binding undoes the reservation and the pod goes
// back to the queue.
//
// # The queue
//
// Highest spec.priority first, then first come first served. A pod that
// fits no node waits in the unschedulable set until a cluster event may let
// it fit (a node added or changed in a way that matters, a bound pod
// deleted or finished, a reservation released) or UnschedulableTimeout
// passes; then it is retried after its back-off (InitialBackoff doubling to
// MaxBackoff per failed attempt).
//
// # Gangs
//
// Pods labelled (or annotated) scheduling.wharf.dev/pod-group: NAME belong
// to the PodGroup NAME in their namespace. The Coscheduling plugin makes a
// member wait in Permit, holding its reservation, until minMember members
// are placed; the loop then binds the waiting members and the last one in
// one BindPods call. When the group's scheduleTimeoutSeconds pass first,
// or a member does not fit at all, every waiting member's reservation is
// released, the pods go back to the queue, and FailedScheduling events
// (message "GangTimeout: ..." on timeout) go to the pods and the group.
// A member tried before the loop had its group was turned away for that
// alone: when the group arrives it goes back with no back-off, in its first
// place in line (queue.Ungate).
//
// # What it writes
//
// Bindings (spec.nodeName, the gpu.wharf.dev/devices annotation for GPU
// pods, PodScheduled=True), PodScheduled=False with the Kubernetes-style
// summary for pods that fit nowhere, events (see recorder.go for how their
// volume is bounded) and PodGroup status.
//
// Only cmd/wharf, testing/ and tests import this package.
package scheduler
