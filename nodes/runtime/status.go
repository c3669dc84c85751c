package runtime

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/errdefs"
)

// ContainerStatus implements [Runtime]. A task found exited is reaped: its
// exit is recorded in the container's labels and the task deleted.
func (r *Containerd) ContainerStatus(ctx context.Context, id string) (ContainerStatus, error) {
	ctx = r.ns(ctx)
	ctr, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return ContainerStatus{}, wrap("container status", id, err)
	}
	return r.status(ctx, ctr)
}

// ListContainers implements [Runtime].
func (r *Containerd) ListContainers(ctx context.Context, f ListFilter) ([]ContainerStatus, error) {
	ctx = r.ns(ctx)
	filters := []string{labelFilter(LabelManaged, "true")}
	if f.PodUID != "" {
		filters = append(filters, labelFilter(LabelPodUID, f.PodUID))
	}
	if f.Name != "" {
		filters = append(filters, labelFilter(LabelContainer, f.Name))
	}
	for k, v := range f.Labels {
		filters = append(filters, labelFilter(k, v))
	}
	ctrs, err := r.client.Containers(ctx, strings.Join(filters, ","))
	if err != nil {
		return nil, fmt.Errorf("runtime: list containers: %w", err)
	}
	out := make([]ContainerStatus, 0, len(ctrs))
	for _, ctr := range ctrs {
		s, err := r.status(ctx, ctr)
		if errdefs.IsNotFound(err) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func labelFilter(k, v string) string {
	return "labels." + strconv.Quote(k) + "==" + strconv.Quote(v)
}

func (r *Containerd) status(ctx context.Context, ctr containerd.Container) (ContainerStatus, error) {
	id := ctr.ID()
	info, err := ctr.Info(ctx, containerd.WithoutRefreshedMetadata)
	if err != nil {
		return ContainerStatus{}, wrap("container status", id, err)
	}
	task, err := ctr.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return statusFromLabels(id, info.Image, info.CreatedAt, info.Labels), nil
	}
	if err != nil {
		return ContainerStatus{}, wrap("container status", id, err)
	}
	st, err := task.Status(ctx)
	if errdefs.IsNotFound(err) {
		return r.reloadStatus(ctx, ctr)
	}
	if err != nil {
		return ContainerStatus{}, wrap("container status", id, err)
	}
	s := statusFromLabels(id, info.Image, info.CreatedAt, info.Labels)
	switch st.Status {
	case containerd.Running, containerd.Paused, containerd.Pausing:
		s.State, s.Pid = StateRunning, task.Pid()
		if s.StartedAt.IsZero() {
			// Started by StartContainer a moment ago; its label is on the way.
			s.StartedAt = time.Now().UTC()
		}
		return s, nil
	case containerd.Created:
		s.State = StateCreated
		return s, nil
	case containerd.Stopped:
		if err := r.reap(ctx, ctr, task, st); err != nil {
			return ContainerStatus{}, err
		}
		return r.reloadStatus(ctx, ctr)
	}
	s.State = StateUnknown
	return s, nil
}

func (r *Containerd) reloadStatus(ctx context.Context, ctr containerd.Container) (ContainerStatus, error) {
	info, err := ctr.Info(ctx)
	if err != nil {
		return ContainerStatus{}, wrap("container status", ctr.ID(), err)
	}
	return statusFromLabels(ctr.ID(), info.Image, info.CreatedAt, info.Labels), nil
}

// reap records the exit of a stopped task in the container's labels (exit
// code, finish time, reason with OOM kills read from the cgroup, which lives
// until the task is deleted) and deletes the task.
func (r *Containerd) reap(ctx context.Context, ctr containerd.Container, task containerd.Task, st containerd.Status) error {
	defer r.lock(ctr.ID())()
	labels, err := ctr.Labels(ctx)
	if err != nil {
		return wrap("reap container", ctr.ID(), err)
	}
	if labels[LabelExitCode] == "" {
		reason := ReasonCompleted
		switch {
		case oomKilled(labels[LabelCgroupPath]):
			reason = ReasonOOMKilled
		case st.ExitStatus != 0:
			reason = ReasonError
		}
		finished := st.ExitTime
		if finished.IsZero() {
			finished = time.Now()
		}
		if _, err := ctr.SetLabels(ctx, map[string]string{
			LabelExitCode:   strconv.FormatUint(uint64(st.ExitStatus), 10),
			LabelFinishedAt: finished.UTC().Format(time.RFC3339Nano),
			LabelReason:     reason,
		}); err != nil {
			return wrap("reap container", ctr.ID(), err)
		}
	}
	if _, err := task.Delete(ctx); err != nil && !errdefs.IsNotFound(err) {
		// Deleted by another caller meanwhile (its shim is gone: "ttrpc:
		// closed"): the exit is recorded, which is all that matters.
		if _, terr := ctr.Task(ctx, nil); errdefs.IsNotFound(terr) {
			return nil
		}
		return wrap("reap container", ctr.ID(), err)
	}
	return nil
}

func statusFromLabels(id, image string, created time.Time, l map[string]string) ContainerStatus {
	rc, _ := strconv.ParseInt(l[LabelRestartCount], 10, 32)
	s := ContainerStatus{
		ID:           id,
		PodUID:       l[LabelPodUID],
		PodName:      l[LabelPodName],
		PodNamespace: l[LabelPodNamespace],
		Name:         l[LabelContainer],
		RestartCount: int32(rc),
		Image:        image,
		ImageID:      l[LabelImageID],
		CreatedAt:    created,
		StartedAt:    parseTime(l[LabelStartedAt]),
		LogPath:      l[LabelLogPath],
		Labels:       l,
	}
	switch {
	case l[LabelExitCode] != "":
		code, _ := strconv.ParseInt(l[LabelExitCode], 10, 32)
		s.State, s.ExitCode, s.Reason = StateExited, int32(code), l[LabelReason]
		s.FinishedAt = parseTime(l[LabelFinishedAt])
	case l[LabelStartedAt] != "":
		s.State, s.Reason = StateUnknown, ReasonUnknown
	default:
		s.State = StateCreated
	}
	return s
}

func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// cgroupRoot is where the cgroup hierarchies are mounted.
var cgroupRoot = "/sys/fs/cgroup"

// oomKilled reports whether the kernel OOM-killed a process of the cgroup:
// the oom_kill counter of memory.events (cgroup v2) or memory.oom_control
// (cgroup v1 memory controller).
func oomKilled(cgroupPath string) bool {
	if cgroupPath == "" {
		return false
	}
	for _, f := range []string{
		filepath.Join(cgroupRoot, cgroupPath, "memory.events"),
		filepath.Join(cgroupRoot, "memory", cgroupPath, "memory.oom_control"),
	} {
		if n := readCounter(f, "oom_kill"); n > 0 {
			return true
		}
	}
	return false
}

func readCounter(path, key string) int64 {
	f, err := os.Open(path)
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), " ")
		if ok && k == key {
			n, _ := strconv.ParseInt(v, 10, 64)
			return n
		}
	}
	return 0
}
