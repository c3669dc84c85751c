package agent

import (
	"context"
	"errors"
	"sort"
	"sync/atomic"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/runtime"
)

// podWorker reconciles one pod (one UID) in its own goroutine. Its fields
// below kickC are owned by that goroutine, except where noted.
type podWorker struct {
	a             *Agent
	uid, ns, name string
	kickC         chan struct{}
	// last is the last object the informer handed over for this UID; it
	// outlives the pod's removal from the cache.
	last atomic.Pointer[wharfv1.Pod]
	// podIP is read by probe goroutines.
	podIP atomic.Pointer[string]

	restarts map[string]*backOff // container name ->
	pulls    map[string]*backOff // image ->
	// waiting says why a container has no run (or no new run) yet.
	waiting map[string]*wharfv1.ContainerStateWaiting
	// watched are the runs with a goroutine waiting for their exit, and
	// probes, by container ID.
	watched map[string]*runWatch
	// killed are the runs this agent killed to restart them, and why:
	// killedProbe (restarted unless the policy is Never, even when the exit
	// was 0) or killedChanged (a new image: restarted whatever the policy).
	killed map[string]string
	// reported are the events sent once per run or back-off (OOM, back-off).
	reported map[string]bool
	// written is the pod as the last status write returned it.
	written   *wharfv1.Pod
	startTime time.Time
	// netReady: the pod has its network (or needs none); net is a setup
	// in flight.
	netReady bool
	net      *netJob
	// admitErr, once set, fails the pod (GPUs the node cannot give).
	admitErr *wharfv1.PodStatus
	// failed, once set, fails a pod that ran (its active deadline passed):
	// its containers are stopped and not restarted.
	failed *podFailure
}

func newPodWorker(a *Agent, uid, ns, name string) *podWorker {
	return &podWorker{
		a: a, uid: uid, ns: ns, name: name,
		kickC:    make(chan struct{}, 1),
		restarts: map[string]*backOff{},
		pulls:    map[string]*backOff{},
		waiting:  map[string]*wharfv1.ContainerStateWaiting{},
		watched:  map[string]*runWatch{},
		killed:   map[string]string{},
		reported: map[string]bool{},
	}
}

// kick asks the worker to look at its pod again. Safe from any goroutine.
func (w *podWorker) kick() {
	select {
	case w.kickC <- struct{}{}:
	default:
	}
}

func (w *podWorker) run(ctx context.Context) {
	removed := false
	defer func() { w.a.workerDone(w, removed) }()
	defer w.stopWatches()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-w.kickC:
		case <-timer.C:
		}
		began := time.Now()
		done, after := w.sync(ctx)
		w.a.log.Debug("pod synced", "pod", w.ns+"/"+w.name, "took", time.Since(began), "done", done, "next", after)
		if done {
			removed = true
			return
		}
		if ctx.Err() != nil {
			return
		}
		timer.Reset(min(after, w.a.cfg.ResyncInterval))
	}
}

// runs groups a pod's containers by name, newest run first.
func runsByName(ctrs []runtime.ContainerStatus) map[string][]runtime.ContainerStatus {
	m := map[string][]runtime.ContainerStatus{}
	for _, c := range ctrs {
		m[c.Name] = append(m[c.Name], c)
	}
	for _, rs := range m {
		sort.Slice(rs, func(i, j int) bool { return rs[i].RestartCount > rs[j].RestartCount })
	}
	return m
}

// runWatch is what runs beside one running container: a goroutine that
// waits for its exit, and its probes.
type runWatch struct {
	cancel context.CancelFunc
	probes *probeState
}

// watch starts waiting for the exit of the running container id and its
// probes, once.
func (w *podWorker) watch(ctx context.Context, pod *wharfv1.Pod, c *wharfv1.Container, id string) {
	if w.watched[id] != nil {
		return
	}
	wctx, cancel := context.WithCancel(ctx)
	rw := &runWatch{cancel: cancel, probes: newProbeState(pod, c, id)}
	w.watched[id] = rw
	w.a.wg.Go(func() {
		delay := 100 * time.Millisecond
		for wctx.Err() == nil {
			st, err := w.a.rt.WaitContainer(wctx, id)
			if err == nil && st.State != runtime.StateRunning {
				w.kick()
				return
			}
			if err != nil && errors.Is(err, runtime.ErrNotFound) {
				w.kick()
				return
			}
			// containerd restarting, or the wait ended early: wait again.
			select {
			case <-wctx.Done():
				return
			case <-time.After(delay):
			}
			delay = min(2*delay, 5*time.Second)
		}
	})
	w.startProbes(wctx, pod, c, id, rw.probes)
}

// unwatch stops what runs beside the container id.
func (w *podWorker) unwatch(id string) {
	if rw := w.watched[id]; rw != nil {
		rw.cancel()
		delete(w.watched, id)
	}
}

func (w *podWorker) stopWatches() {
	for id := range w.watched {
		w.unwatch(id)
	}
}
