package agent

import (
	"context"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/runtime"
)

// cleanupOrphans runs once the first list of the node's pods is in: it
// gives a worker to every pod that has containers or a network here but no
// longer exists in the API (deleted while the agent was down), which
// stops and removes them, and frees the GPUs of pods that are gone.
func (a *Agent) cleanupOrphans(ctx context.Context) {
	ctrs, err := a.rt.ListContainers(ctx, runtime.ListFilter{})
	if err != nil {
		a.log.Warn("listing containers to find orphans failed", "err", err)
		return
	}
	type ref struct{ ns, name string }
	orphans := map[string]ref{}
	for _, c := range ctrs {
		if a.pod(c.PodUID) == nil {
			orphans[c.PodUID] = ref{c.PodNamespace, c.PodName}
		}
	}
	if a.cfg.Network != nil {
		for _, uid := range a.cfg.Network.Pods() {
			if _, ok := orphans[uid]; !ok && a.pod(uid) == nil {
				orphans[uid] = ref{}
			}
		}
	}
	for uid, r := range orphans {
		a.log.Info("cleaning up a pod deleted while the agent was away", "pod", r.ns+"/"+r.name, "uid", uid)
		a.enqueue(ctx, &wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Uid: uid, Namespace: r.ns, Name: r.name}})
	}
	released, err := a.alloc.ReleaseExcept(func(uid string) bool {
		_, orphan := orphans[uid]
		return orphan || a.pod(uid) != nil // orphans release theirs when cleaned up
	})
	if err != nil {
		a.log.Warn("releasing the GPUs of removed pods failed", "err", err)
	} else if len(released) > 0 {
		a.log.Info("released the GPUs of removed pods", "pods", len(released))
	}
}
