// Package agent is Wharf's node agent (`wharf node`): it registers its
// machine as a Node (capacity, allocatable, labels, GPUs, addresses),
// heartbeats its Ready condition, watches the pods bound to it and makes
// them real through a container runtime (package nodes/runtime), reporting
// their status through the API.
//
// Only cmd/wharf and tests import it.
//
// # Reconciling
//
// Every pod has a worker goroutine that reconciles it level-triggered: it
// reads the pod from the informer's cache and the pod's containers from
// containerd (labels say which pod and which run each one is), decides the
// next step (pull the image, create and start a container, restart one
// after its back-off, kill one whose liveness probe failed, stop them all
// for a deletion) and writes the status that results. Anything may wake a
// worker (a watch event, a container exit, a probe result, a back-off
// timer, a periodic resync); a wake-up only means "look again".
//
// Because containers are found from containerd alone, an agent that was
// killed and started again re-adopts them: it restarts nothing and carries
// restart counts, start times and exits on. Pods deleted from the API while
// the agent was down are cleaned up once the first list shows them gone.
//
// # Restart policy and back-off
//
// A container that exits is restarted as restartPolicy says (Always,
// OnFailure, Never). The first restart is immediate; after that the agent
// waits 10 s, doubling up to 300 s (the waiting reason is
// CrashLoopBackOff), and forgets the back-off once a run lasted 10 min.
// Image pulls back off the same way (ErrImagePull, then ImagePullBackOff).
//
// # Probes
//
// Liveness, readiness and startup probes run in goroutines beside each
// running container: exec (through the runtime), httpGet, tcpSocket, and
// grpc, the standard grpc.health.v1 health check in plain text, as
// kubelet's. Network probes go to the pod's IP unless they name a host.
//
// # Active deadline
//
// A pod with spec.activeDeadlineSeconds that has been running (since its
// status.startTime) for longer fails, as in Kubernetes: phase Failed,
// reason DeadlineExceeded, an event of that reason, and its containers
// stopped (SIGTERM, SIGKILL after terminationGracePeriodSeconds) and not
// restarted, whatever the restart policy. The failed status is written
// before the containers are stopped. A running container of a pod whose
// phase is Failed or Succeeded is stopped the same way, so an agent that
// restarts in the middle finishes the job.
//
// # Deletion
//
// A pod with deletionTimestamp gets SIGTERM in each container, SIGKILL
// when its grace period ends; then its containers, network, volumes, logs
// and GPU allocations are removed and the pod object deleted with grace 0.
// A pod removed from the API at once (forced) gets a 2 s grace period.
package agent
