package runtime

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/api/types/runc/options"
	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/errdefs"
	"github.com/wharfhq/wharf/nodes/containerlog"
)

// runcRuntime is the containerd runtime (shim) containers run with.
const runcRuntime = "io.containerd.runc.v2"

// LogPath is where the log of one run of a pod's container is written.
func (r *Containerd) LogPath(podNamespace, podName, podUID, container string, restartCount int32) string {
	return filepath.Join(r.cfg.LogDir, podNamespace+"_"+podName+"_"+podUID, container,
		strconv.Itoa(int(restartCount))+".log")
}

// CreateContainer implements [Runtime]. The image must be present
// (ErrImageNotPresent otherwise). Creating a container that exists fails
// with ErrAlreadyExists.
func (r *Containerd) CreateContainer(ctx context.Context, cfg ContainerConfig) (string, error) {
	ctx = r.ns(ctx)
	md, c := cfg.Pod.GetMetadata(), cfg.Container
	if md.GetUid() == "" || c.GetName() == "" || c.GetImage() == "" {
		return "", fmt.Errorf("runtime: create container: pod uid, container name and image are required: %w", ErrInvalidSpec)
	}
	id := ContainerID(md.GetUid(), c.GetName(), cfg.RestartCount)
	err := r.create(ctx, cfg, id)
	if errdefs.IsNotFound(err) && !errors.Is(err, ErrImageNotPresent) {
		// The image's content or snapshot went since it was last seen
		// unpacked (create forgot that): look at the image again.
		err = r.create(ctx, cfg, id)
	}
	if err != nil {
		return "", err
	}
	return id, nil
}

// create creates container id from cfg; a create that fails for want of
// the image's content or snapshot makes the next look at the image ask
// containerd whether it is unpacked.
func (r *Containerd) create(ctx context.Context, cfg ContainerConfig, id string) error {
	md, c := cfg.Pod.GetMetadata(), cfg.Container
	img, err := r.image(ctx, c.GetImage())
	if err != nil {
		if errdefs.IsNotFound(err) {
			return fmt.Errorf("runtime: create container %s: image %s: %w", id, c.GetImage(), ErrImageNotPresent)
		}
		return err
	}
	mounts, err := r.mounts(cfg)
	if err != nil {
		return err
	}
	specOpts, err := r.specOpts(ctx, cfg, img, id, mounts)
	if err != nil {
		return err
	}
	labels := map[string]string{}
	for k, v := range cfg.Labels {
		if strings.HasPrefix(k, labelPrefix) {
			return fmt.Errorf("runtime: create container %s: label %q: the %s prefix is reserved: %w", id, k, labelPrefix, ErrInvalidSpec)
		}
		labels[k] = v
	}
	for k, v := range map[string]string{
		LabelManaged:      "true",
		LabelPodUID:       md.GetUid(),
		LabelPodName:      md.GetName(),
		LabelPodNamespace: md.GetNamespace(),
		LabelContainer:    c.GetName(),
		LabelRestartCount: strconv.Itoa(int(cfg.RestartCount)),
		LabelImageID:      img.Target().Digest.String(),
		LabelLogPath:      r.LogPath(md.GetNamespace(), md.GetName(), md.GetUid(), c.GetName(), cfg.RestartCount),
		LabelCgroupPath:   r.cgroupPath(id),
	} {
		labels[k] = v
	}
	var runtimeOpts any
	if r.cfg.RuncRoot != "" {
		runtimeOpts = &options.Options{Root: r.cfg.RuncRoot}
	}
	_, err = r.client.NewContainer(ctx, id,
		containerd.WithImage(img),
		containerd.WithSnapshotter(r.cfg.Snapshotter),
		containerd.WithNewSnapshot(id, img),
		containerd.WithRuntime(runcRuntime, runtimeOpts),
		containerd.WithNewSpec(specOpts...),
		containerd.WithContainerLabels(labels))
	if errdefs.IsNotFound(err) {
		r.unpacked.Delete(img.Target().Digest)
	}
	if err != nil {
		return wrap("create container", id, err)
	}
	return nil
}

// StartContainer implements [Runtime]. Its stdout and stderr go to the log
// driver; its start time is recorded in a label.
func (r *Containerd) StartContainer(ctx context.Context, id string) (ContainerStatus, error) {
	ctx = r.ns(ctx)
	ctr, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return ContainerStatus{}, wrap("start container", id, err)
	}
	// LoadContainer has just read the labels.
	info, err := ctr.Info(ctx, containerd.WithoutRefreshedMetadata)
	if err != nil {
		return ContainerStatus{}, wrap("start container", id, err)
	}
	labels := maps.Clone(info.Labels)
	if labels[LabelStartedAt] != "" {
		return ContainerStatus{}, fmt.Errorf("runtime: start container %s: started before, at %s: %w", id, labels[LabelStartedAt], errdefs.ErrFailedPrecondition)
	}
	uri := containerlog.DriverURI(containerlog.DriverConfig{
		Binary:   r.cfg.LogDriver,
		Path:     labels[LabelLogPath],
		MaxSize:  r.cfg.LogMaxSize,
		MaxFiles: r.cfg.LogMaxFiles,
	})
	task, err := ctr.NewTask(ctx, cio.LogURI(uri))
	if err != nil {
		return ContainerStatus{}, wrap("start container", id, err)
	}
	// Taken before Start: a process that exits at once must not seem to
	// have finished before it started.
	// The label is written while the task starts (a start costs as much as
	// both together otherwise); a failed start takes it back.
	started := time.Now().UTC()
	labels[LabelStartedAt] = started.Format(time.RFC3339Nano)
	labeled := make(chan error, 1)
	go func() {
		_, err := ctr.SetLabels(ctx, map[string]string{LabelStartedAt: labels[LabelStartedAt]})
		labeled <- err
	}()
	if err := task.Start(ctx); err != nil {
		task.Delete(ctx, containerd.WithProcessKill)
		if <-labeled == nil {
			ctr.SetLabels(ctx, map[string]string{LabelStartedAt: ""})
		}
		return ContainerStatus{}, wrap("start container", id, err)
	}
	if err := <-labeled; err != nil {
		return ContainerStatus{}, wrap("start container", id, err)
	}
	s := statusFromLabels(id, info.Image, info.CreatedAt, labels)
	s.State, s.Pid, s.Reason = StateRunning, task.Pid(), ""
	return s, nil
}

// StopContainer implements [Runtime].
func (r *Containerd) StopContainer(ctx context.Context, id string, grace time.Duration) error {
	ctx = r.ns(ctx)
	ctr, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return wrap("stop container", id, err)
	}
	task, err := ctr.Task(ctx, nil)
	if errdefs.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return wrap("stop container", id, err)
	}
	exited, err := task.Wait(ctx)
	if err != nil {
		return wrap("stop container", id, err)
	}
	if err := task.Kill(ctx, syscall.SIGTERM); err != nil && !errdefs.IsNotFound(err) {
		return wrap("stop container", id, err)
	}
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case <-exited:
	case <-ctx.Done():
		return wrap("stop container", id, ctx.Err())
	case <-timer.C:
		if err := task.Kill(ctx, syscall.SIGKILL, containerd.WithKillAll); err != nil && !errdefs.IsNotFound(err) {
			return wrap("stop container", id, err)
		}
		select {
		case <-exited:
		case <-ctx.Done():
			return wrap("stop container", id, ctx.Err())
		}
	}
	_, err = r.status(ctx, ctr)
	return err
}

// KillContainer implements [Runtime].
func (r *Containerd) KillContainer(ctx context.Context, id string, sig syscall.Signal) error {
	ctx = r.ns(ctx)
	ctr, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return wrap("kill container", id, err)
	}
	task, err := ctr.Task(ctx, nil)
	if err != nil {
		return wrap("kill container", id, err)
	}
	var opts []containerd.KillOpts
	if sig == syscall.SIGKILL {
		opts = append(opts, containerd.WithKillAll)
	}
	return wrap("kill container", id, task.Kill(ctx, sig, opts...))
}

// DeleteContainer implements [Runtime].
func (r *Containerd) DeleteContainer(ctx context.Context, id string) error {
	ctx = r.ns(ctx)
	ctr, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return wrap("delete container", id, err)
	}
	if task, err := ctr.Task(ctx, nil); err == nil {
		if _, err := task.Delete(ctx, containerd.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			return wrap("delete container", id, err)
		}
	} else if !errdefs.IsNotFound(err) {
		return wrap("delete container", id, err)
	}
	if err := ctr.Delete(ctx, containerd.WithSnapshotCleanup); err != nil {
		return wrap("delete container", id, err)
	}
	r.locks.Delete(id)
	return nil
}

// WaitContainer implements [Runtime].
func (r *Containerd) WaitContainer(ctx context.Context, id string) (ContainerStatus, error) {
	ctx = r.ns(ctx)
	ctr, err := r.client.LoadContainer(ctx, id)
	if err != nil {
		return ContainerStatus{}, wrap("wait container", id, err)
	}
	task, err := ctr.Task(ctx, nil)
	if err == nil {
		exited, err := task.Wait(ctx)
		if err != nil {
			return ContainerStatus{}, wrap("wait container", id, err)
		}
		select {
		case <-exited:
		case <-ctx.Done():
			return ContainerStatus{}, wrap("wait container", id, ctx.Err())
		}
	} else if !errdefs.IsNotFound(err) {
		return ContainerStatus{}, wrap("wait container", id, err)
	}
	return r.status(ctx, ctr)
}
