package agent

import (
	"context"
	"errors"
	"fmt"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/runtime"
)

// imageCacheFor is how long an image seen present is taken to be, without
// asking containerd again.
const imageCacheFor = 30 * time.Second

// ensureImage makes c's image present as its imagePullPolicy says: Never
// uses what is there, IfNotPresent pulls when it is missing, Always pulls
// before every run. Failed pulls back off. It reports whether the image is
// ready, and otherwise when to look again; the container's waiting reason
// says why not.
func (w *podWorker) ensureImage(ctx context.Context, pod *wharfv1.Pod, c *wharfv1.Container) (bool, time.Duration) {
	a := w.a
	name, image := c.GetName(), c.GetImage()
	policy := c.GetImagePullPolicy()
	if policy != "Always" {
		if at, ok := a.images.Load(image); ok && time.Since(at.(time.Time)) < imageCacheFor {
			return true, 0 // seen a moment ago (CreateContainer checks again)
		}
	}
	_, err := a.rt.GetImage(ctx, image)
	if err == nil {
		a.images.Store(image, time.Now())
	}
	present := err == nil
	if err != nil && !errors.Is(err, runtime.ErrNotFound) {
		w.waiting[name] = &wharfv1.ContainerStateWaiting{Reason: reasonContainerCreating, Message: err.Error()}
		return false, time.Second
	}
	switch policy {
	case "Never":
		if present {
			return true, 0
		}
		msg := fmt.Sprintf("Container image %q is not present with pull policy of Never", image)
		w.waiting[name] = &wharfv1.ContainerStateWaiting{Reason: reasonErrImageNeverPull, Message: msg}
		if key := "never/" + image; !w.reported[key] {
			w.reported[key] = true
			a.events.container(pod, name, typeWarning, reasonErrImageNeverPull, msg)
		}
		return false, a.cfg.ResyncInterval
	case "Always":
	default: // IfNotPresent
		if present {
			return true, 0
		}
	}
	bo := w.pulls[image]
	if bo == nil {
		bo = &backOff{cfg: a.cfg.PullBackOff}
		w.pulls[image] = bo
	}
	if d := bo.wait(time.Now()); d > 0 {
		msg := fmt.Sprintf("Back-off pulling image %q", image)
		w.waiting[name] = &wharfv1.ContainerStateWaiting{Reason: reasonImagePullBackOff, Message: msg}
		a.events.container(pod, name, typeNormal, "BackOff", msg)
		return false, d
	}
	bo.retry(time.Now())
	a.events.container(pod, name, typeNormal, "Pulling", fmt.Sprintf("Pulling image %q", image))
	began := time.Now()
	img, err := a.rt.PullImage(ctx, image, runtime.PullOptions{})
	if err != nil {
		msg := fmt.Sprintf("Failed to pull image %q: %v", image, err)
		w.waiting[name] = &wharfv1.ContainerStateWaiting{Reason: reasonErrImagePull, Message: msg}
		a.events.container(pod, name, typeWarning, "Failed", msg)
		return false, bo.wait(time.Now())
	}
	bo.reset()
	a.images.Store(image, time.Now())
	a.events.container(pod, name, typeNormal, "Pulled", fmt.Sprintf("Successfully pulled image %q in %s. Image size: %d bytes.",
		image, time.Since(began).Round(time.Millisecond), img.Size))
	return true, 0
}
