// Package framework is Wharf's scheduling framework: the extension points a
// scheduling plugin implements, the scheduler-owned views of pods and nodes
// the plugins read (PodInfo, NodeInfo, Snapshot), scheduler profiles and
// their configuration file, and the Framework that runs one scheduling cycle
// for one pod and explains its decision (Diagnosis).
//
// Only the scheduler (daemon/scheduler/...) and the plugin host (plugins/)
// import this package. Third-party plugins do not: they are WASM modules or
// subprocesses behind adapters that implement these interfaces.
//
// # Batching
//
// Filter and Score take one pod and a list of nodes, never one node: a plugin
// across a process or WASM boundary is called once per pod (per chunk of
// nodes when filtering runs in parallel), not once per node. Filter fills one
// Status per node; Score fills one score per node.
//
// # A scheduling cycle
//
// Schedule runs PreFilter, then Filter over the snapshot's nodes in chunks on
// GOMAXPROCS workers, stopping once enough feasible nodes are found (see
// NumFeasibleNodesToFind), then PostFilter when no node fits, then Score and
// NormalizeScore over the feasible nodes, and picks the highest weighted
// total (ties broken at random). The caller then runs Reserve (which assumes
// the pod onto the chosen NodeInfo, so the next pod sees it, and allocates
// its GPU devices), Permit and Bind; Unreserve undoes Reserve.
//
// Schedule is the scheduling loop's call: it reuses its buffers, counts
// rejections by reason, and takes index shortcuts (PreFilterResult.Index:
// a GPU pod only looks at nodes with GPUs). Explain runs the same cycle for
// the explain verb without shortcuts and records every node's verdict and
// every plugin's score.
//
// # Notes
//
//   - Concurrency: a Framework is safe for concurrent use, but a Snapshot and
//     its NodeInfos are not: Schedule reads them from several goroutines and
//     Reserve/Unreserve write them, so one goroutine (the scheduling loop)
//     must own a snapshot. Plugins must not modify a PodInfo or NodeInfo.
//   - Filter and Score are called concurrently for different chunks of nodes
//     of the same pod; a plugin keeps per-pod state in CycleState, written
//     in PreFilter only.
//   - Errors: a plugin that returns an Error status aborts the cycle with an
//     error; an unschedulable pod yields a *FitError (errors.Is
//     ErrUnschedulable) whose message is the Kubernetes-style summary.
package framework
