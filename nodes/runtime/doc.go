// Package runtime runs a node's containers through containerd: images
// (import from an OCI archive, pull from a registry), containers (create
// from a pod's container spec with cgroup limits and volume mounts, start,
// stop with a grace period, kill, delete), their status (exit code,
// OOMKilled), their logs, and finding them again after an agent restart.
//
// [Runtime] is what the node agent uses; [Containerd] implements it against
// a containerd daemon, in a containerd namespace of its own ("wharf" by
// default). The agent's sync loop, the pod network (CNI), probes and restart
// back-off live elsewhere and use this package.
//
// Only packages under nodes/ and cmd/wharf may import it.
//
// # Containers
//
// One containerd container is one run of a pod's container: its ID,
// [ContainerID](pod UID, container name, restart count), is deterministic, so
// a create that is retried finds the container it already made
// ([ErrAlreadyExists]), and a restart (restart count + 1) is a new
// container beside the exited one, which stays until deleted so its status
// can be reported as the container's last state. Labels on the container
// (wharf.io/…) record the pod, the container name, the restart count, the
// start time and, once it has exited, the exit code, finish time and reason;
// so [Containerd.ListContainers] and [Containerd.ContainerStatus] work from
// containerd alone after an agent restart, without restarting anything.
//
// When a task is seen to have exited (by Status, Wait or Stop), its exit is
// recorded in the labels, OOM kills are read from its cgroup, and the task is
// deleted, which ends its shim; the container and its snapshot stay until
// [Containerd.DeleteContainer].
//
// # Logs
//
// A container's stdout and stderr go to a file under the log dir
// (<log dir>/<namespace>_<pod>_<uid>/<container>/<restart count>.log) in the
// CRI log format, written by a log driver process that containerd's shim
// starts (see package nodes/containerlog), rotated by size. The driver is
// wharf-log-driver when it is installed next to the agent's binary, else the
// agent's own binary, whose main must then hand over to
// containerlog.RunDriver when containerlog.IsDriver(os.Args).
//
// # Notes
//
// Methods are safe for concurrent use. Errors wrap the sentinels of this
// package ([ErrNotFound], [ErrImagePull], ...) and, where containerd gave
// one, containerd's errdefs error.
package runtime
