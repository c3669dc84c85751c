package runtime

import (
	"context"
	"io"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/pkg/oci"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Runtime is what the node agent needs from a container runtime.
type Runtime interface {
	// Version names the runtime and its version, "containerd://1.6.20".
	Version(ctx context.Context) (string, error)

	// ImportImage imports the images of an OCI image layout or docker-save
	// archive and unpacks them.
	ImportImage(ctx context.Context, archive io.Reader) ([]Image, error)
	// PullImage pulls ref and unpacks it. Every failure wraps ErrImagePull.
	PullImage(ctx context.Context, ref string, opts PullOptions) (Image, error)
	// GetImage returns the image named ref if it is present
	// (errors.Is(err, ErrNotFound) if not).
	GetImage(ctx context.Context, ref string) (Image, error)

	// CreateContainer creates (does not start) the container for one run
	// of a pod's container and returns its ID.
	CreateContainer(ctx context.Context, cfg ContainerConfig) (string, error)
	// StartContainer starts a created container and returns its status as
	// of the start (running; it may have exited since).
	StartContainer(ctx context.Context, id string) (ContainerStatus, error)
	// StopContainer sends SIGTERM, then SIGKILL to all its processes after
	// grace, and waits for the exit. Stopping a container that is not
	// running is not an error.
	StopContainer(ctx context.Context, id string, grace time.Duration) error
	// KillContainer sends sig to the container's main process.
	KillContainer(ctx context.Context, id string, sig syscall.Signal) error
	// DeleteContainer removes the container, killing it if it still runs,
	// and its snapshot. Its log file stays (see RemovePod).
	DeleteContainer(ctx context.Context, id string) error
	// ContainerStatus returns the container's current status.
	ContainerStatus(ctx context.Context, id string) (ContainerStatus, error)
	// WaitContainer blocks while the container runs (until ctx ends) and
	// then returns its status; for a container that is not running (created
	// or exited) it returns at once. It works the same on a container
	// started by an earlier agent process.
	WaitContainer(ctx context.Context, id string) (ContainerStatus, error)
	// ListContainers returns the containers that match filter.
	ListContainers(ctx context.Context, filter ListFilter) ([]ContainerStatus, error)

	// RemovePod removes what the runtime keeps for a pod beyond its
	// containers: volumes (emptyDir) and logs. It fails with ErrPodInUse
	// while containers of the pod exist.
	RemovePod(ctx context.Context, podUID string) error
}

// Image is an image in the node's store.
type Image struct {
	// Name is the normalized reference, "docker.io/library/busybox:latest".
	Name string
	// Digest is the digest of the image's manifest (or index), "sha256:…".
	Digest string
	// Size is the size of the image's content in bytes (compressed).
	Size int64
}

// PullOptions says how to pull one image.
type PullOptions struct {
	// Credentials returns the user name and secret for a registry host
	// ("registry.example.com:5000"); nil or "", "" means anonymous.
	Credentials func(host string) (user, secret string, err error)
}

// ContainerConfig is one run of one of a pod's containers.
type ContainerConfig struct {
	// Pod supplies the pod's identity (metadata name, namespace, uid), its
	// volumes, hostname and security context.
	Pod *wharfv1.Pod
	// Container is the container to run, one of Pod's.
	Container *wharfv1.Container
	// RestartCount is how many times the container has been restarted
	// before this run.
	RestartCount int32
	// NetNSPath is the network namespace to join (a path under /var/run/netns
	// or /proc/<pid>/ns/net); empty runs in the host's network namespace.
	NetNSPath string
	// Env is added after the container's own env (e.g. the GPU env).
	Env []string
	// SpecOpts are applied to the OCI spec last (e.g. CDI device edits).
	SpecOpts []oci.SpecOpts
	// Labels are extra container labels; wharf.io/ keys are reserved.
	Labels map[string]string
}

// ListFilter selects containers; empty fields match everything.
type ListFilter struct {
	PodUID string
	// Name is the container's name in the pod spec.
	Name string
	// Labels must all be present with these values.
	Labels map[string]string
}

// State is where a container is in its life.
type State int

const (
	// StateUnknown: the container started once but its task is gone and no
	// exit was recorded (the host rebooted, or containerd lost the task).
	StateUnknown State = iota
	// StateCreated: created, never started.
	StateCreated
	// StateRunning: its task runs.
	StateRunning
	// StateExited: its task has exited.
	StateExited
)

func (s State) String() string {
	switch s {
	case StateCreated:
		return "created"
	case StateRunning:
		return "running"
	case StateExited:
		return "exited"
	}
	return "unknown"
}

// Exit reasons, as Kubernetes reports them.
const (
	ReasonCompleted = "Completed"
	ReasonError     = "Error"
	ReasonOOMKilled = "OOMKilled"
	// ReasonUnknown is given with StateUnknown.
	ReasonUnknown = "ContainerStatusUnknown"
)

// ContainerStatus is a container as the runtime sees it now.
type ContainerStatus struct {
	ID           string
	PodUID       string
	PodName      string
	PodNamespace string
	// Name is the container's name in the pod spec.
	Name         string
	RestartCount int32
	// Image is the image reference the container was created from, and
	// ImageID its digest.
	Image   string
	ImageID string
	State   State
	// Pid is the main process's host pid while running.
	Pid        uint32
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
	// ExitCode is set once exited; 128+n when killed by signal n (137 for
	// SIGKILL and OOM kills).
	ExitCode int32
	// Reason is set once exited: ReasonCompleted, ReasonError or
	// ReasonOOMKilled (ReasonUnknown with StateUnknown).
	Reason string
	// LogPath is the container's log file (see package containerlog).
	LogPath string
	// Labels are all the container's labels.
	Labels map[string]string
}

// ContainerIDPrefix is prepended to IDs in the API's container_id fields.
const ContainerIDPrefix = "containerd://"

// ContainerState converts s to the API's ContainerState.
func (s ContainerStatus) ContainerState() *wharfv1.ContainerState {
	ts := func(t time.Time) *timestamppb.Timestamp {
		if t.IsZero() {
			return nil
		}
		return timestamppb.New(t)
	}
	switch s.State {
	case StateCreated:
		return &wharfv1.ContainerState{Waiting: &wharfv1.ContainerStateWaiting{Reason: "ContainerCreated"}}
	case StateRunning:
		return &wharfv1.ContainerState{Running: &wharfv1.ContainerStateRunning{StartedAt: ts(s.StartedAt)}}
	case StateExited:
		return &wharfv1.ContainerState{Terminated: &wharfv1.ContainerStateTerminated{
			ExitCode:    s.ExitCode,
			Reason:      s.Reason,
			StartedAt:   ts(s.StartedAt),
			FinishedAt:  ts(s.FinishedAt),
			ContainerId: ContainerIDPrefix + s.ID,
		}}
	}
	return &wharfv1.ContainerState{Terminated: &wharfv1.ContainerStateTerminated{
		ExitCode:    137,
		Reason:      ReasonUnknown,
		Message:     "The container could not be located when the agent looked for its task",
		StartedAt:   ts(s.StartedAt),
		ContainerId: ContainerIDPrefix + s.ID,
	}}
}
