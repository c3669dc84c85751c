package scheduler

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

func qpod(name string, prio int32) *wharfv1.Pod {
	p := &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: name, Namespace: "default", Generation: 1},
		Spec:     &wharfv1.PodSpec{Containers: []*wharfv1.Container{{Name: "c", Image: "i"}}},
	}
	if prio != 0 {
		p.Spec.Priority = proto.Int32(prio)
	}
	return p
}

func popAll(q *queue, now time.Time) []string {
	var out []string
	for qp := q.Pop(now); qp != nil; qp = q.Pop(now) {
		out = append(out, qp.pod.GetMetadata().GetName())
	}
	return out
}

func TestBackoffDuration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		attempts int
		want     time.Duration
	}{
		{0, 0}, {1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second},
		{4, 8 * time.Second}, {5, 10 * time.Second}, {6, 10 * time.Second}, {50, 10 * time.Second},
	} {
		t.Run(fmt.Sprint("attempts_", tc.attempts), func(t *testing.T) {
			if got := backoffDuration(tc.attempts); got != tc.want {
				t.Errorf("backoffDuration(%d) = %s, want %s", tc.attempts, got, tc.want)
			}
		})
	}
}

func TestQueueOrder(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name string
		pods []*wharfv1.Pod // added 1ms apart
		want []string
	}{
		{"fifo_within_priority", []*wharfv1.Pod{qpod("a", 0), qpod("b", 0), qpod("c", 0)}, []string{"a", "b", "c"}},
		{"priority_first", []*wharfv1.Pod{qpod("low", 1), qpod("high", 100), qpod("mid", 10), qpod("none", 0)}, []string{"high", "mid", "low", "none"}},
		{"negative_priority_last", []*wharfv1.Pod{qpod("neg", -5), qpod("zero", 0)}, []string{"zero", "neg"}},
		{"ties_by_arrival", []*wharfv1.Pod{qpod("x", 5), qpod("y", 7), qpod("z", 5)}, []string{"y", "x", "z"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newQueue()
			for i, p := range tc.pods {
				q.Add("default/"+p.Metadata.Name, p, t0.Add(time.Duration(i)*time.Millisecond))
			}
			if got := popAll(q, t0.Add(time.Second)); !slices.Equal(got, tc.want) {
				t.Errorf("order %v, want %v", got, tc.want)
			}
		})
	}
}

// A pod that failed waits out its back-off: 1s after the first attempt,
// doubling per attempt, at most 10s.
func TestQueueBackoff(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		attempts int // failed attempts so far
		wait     time.Duration
	}{{1, time.Second}, {2, 2 * time.Second}, {3, 4 * time.Second}, {4, 8 * time.Second}, {5, 10 * time.Second}, {9, 10 * time.Second}} {
		t.Run(fmt.Sprint("after_", tc.attempts, "_failures"), func(t *testing.T) {
			q := newQueue()
			now := time.Unix(1000, 0)
			q.Add("default/p", qpod("p", 0), now)
			var qp *queuedPod
			for i := range tc.attempts {
				qp = q.Pop(now)
				if qp == nil {
					t.Fatalf("attempt %d: nothing to pop", i+1)
				}
				q.Requeue(qp, false, now) // an error: back-off
				if i < tc.attempts-1 {
					now = now.Add(backoffDuration(i + 1))
				}
			}
			if _, b, _ := q.Counts(); b != 1 {
				t.Fatalf("pod not backing off: counts %v", fmt.Sprint(q.Counts()))
			}
			if got := q.Pop(now.Add(tc.wait - time.Millisecond)); got != nil {
				t.Errorf("popped %s before its back-off of %s ended", got.key, tc.wait)
			}
			if got := q.NextBackoff(); !got.Equal(now.Add(tc.wait)) {
				t.Errorf("NextBackoff %s, want %s", got, now.Add(tc.wait))
			}
			if got := q.Pop(now.Add(tc.wait)); got == nil {
				t.Errorf("not popped when its back-off of %s ended", tc.wait)
			}
		})
	}
}

// Unschedulable pods wait for a cluster event (MoveAll) or the flush
// timeout; moved pods still wait out their back-off.
func TestQueueUnschedulable(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	for _, tc := range []struct {
		name     string
		event    func(q *queue, now time.Time)
		at       time.Duration // after the failed attempt
		wantPop  bool
		wantWhat string
	}{
		{"no_event_stays", func(*queue, time.Time) {}, 5 * time.Second, false, "unschedulable"},
		{"event_during_backoff_waits", func(q *queue, now time.Time) { q.MoveAll(now) }, 500 * time.Millisecond, false, "backoff"},
		{"event_after_backoff_pops", func(q *queue, now time.Time) { q.MoveAll(now) }, 1500 * time.Millisecond, true, ""},
		{"flush_after_timeout", func(q *queue, now time.Time) { q.FlushUnschedulable(now) }, UnschedulableTimeout, true, ""},
		{"flush_before_timeout_stays", func(q *queue, now time.Time) { q.FlushUnschedulable(now) }, UnschedulableTimeout - time.Second, false, "unschedulable"},
		{"status_update_stays", func(q *queue, now time.Time) {
			p := qpod("p", 0)
			p.Status = &wharfv1.PodStatus{Phase: "Pending", Message: "x"}
			q.Update("default/p", p, now)
		}, 5 * time.Second, false, "unschedulable"},
		{"spec_update_moves", func(q *queue, now time.Time) {
			p := qpod("p", 0)
			p.Metadata.Generation = 2
			p.Spec.Tolerations = []*wharfv1.Toleration{{Operator: "Exists"}}
			q.Update("default/p", p, now)
		}, 5 * time.Second, true, ""},
		{"label_update_moves", func(q *queue, now time.Time) {
			p := qpod("p", 0)
			p.Metadata.Labels = map[string]string{"a": "b"}
			q.Update("default/p", p, now)
		}, 5 * time.Second, true, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q := newQueue()
			q.Add("default/p", qpod("p", 0), t0)
			qp := q.Pop(t0)
			q.Requeue(qp, true, t0)
			now := t0.Add(tc.at)
			tc.event(q, now)
			got := q.Pop(now)
			if (got != nil) != tc.wantPop {
				t.Fatalf("popped %v, want %v (counts %v)", got != nil, tc.wantPop, fmt.Sprint(q.Counts()))
			}
			if tc.wantPop {
				return
			}
			a, b, u := q.Counts()
			where := map[bool]string{true: "backoff"}[b == 1]
			if u == 1 {
				where = "unschedulable"
			}
			if a != 0 || where != tc.wantWhat {
				t.Errorf("counts active %d backoff %d unschedulable %d, want the pod in %s", a, b, u, tc.wantWhat)
			}
		})
	}
}

// A pod turned away only because its PodGroup had not arrived yet goes
// back at once when it arrives, ahead of pods created after it; a pod that
// had failed before still waits out the back-off of its earlier failures.
func TestQueueUngate(t *testing.T) {
	t.Parallel()
	t0 := time.Unix(1000, 0)
	member := func(name string) *wharfv1.Pod {
		p := qpod(name, 0)
		p.Metadata.Labels = map[string]string{"group": "g"}
		return p
	}
	inGroup := func(qp *queuedPod) bool { return qp.pod.GetMetadata().GetLabels()["group"] == "g" }
	// turnedAway pops the first active pod and puts it back unschedulable,
	// tried without its group or not.
	turnedAway := func(q *queue, now time.Time, groupMissing bool) {
		qp := q.Pop(now)
		qp.groupMissing = groupMissing
		q.Requeue(qp, true, now)
	}

	q := newQueue()
	q.Add("default/m", member("m"), t0)
	turnedAway(q, t0, true)
	t1 := t0.Add(10 * time.Millisecond)
	q.Add("default/later", qpod("later", 0), t1)
	q.Add("default/other", member("other"), t1.Add(time.Millisecond))
	q.Requeue(q.Pop(t1), false, t1) // "later": an error, backing off
	turnedAway(q, t1, true)         // "other"
	if n := q.Ungate(t1, inGroup); n != 2 {
		t.Fatalf("Ungate moved %d, want 2", n)
	}
	if got := popAll(q, t1); !slices.Equal(got, []string{"m", "other"}) {
		t.Errorf("popped %v after the group arrived, want [m other]", got)
	}

	// A member that had failed once before (its back-off, 1s, counts
	// again) waits it out.
	q = newQueue()
	q.Add("default/m", member("m"), t0)
	q.Requeue(q.Pop(t0), false, t0)
	t1 = t0.Add(time.Second)
	turnedAway(q, t1, true)
	q.Ungate(t1, inGroup)
	if got := q.Pop(t1.Add(999 * time.Millisecond)); got != nil {
		t.Errorf("popped %s within the back-off of its earlier failure", got.key)
	}
	if got := q.Pop(t1.Add(time.Second)); got == nil {
		t.Error("not popped when the back-off of its earlier failure ended")
	}

	// Pods the match leaves out stay, and so do members whose last attempt
	// had their group (they did not fit).
	q = newQueue()
	q.Add("default/x", qpod("x", 0), t0)
	q.Add("default/fit", member("fit"), t0.Add(time.Millisecond))
	turnedAway(q, t0, true)
	turnedAway(q, t0, false)
	if n := q.Ungate(t0, inGroup); n != 0 {
		t.Errorf("Ungate moved %d pods", n)
	}
	if _, _, u := q.Counts(); u != 2 {
		t.Errorf("%d unschedulable, want 2", u)
	}
}

func TestQueueDeleteAndReAdd(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	q := newQueue()
	for _, n := range []string{"a", "b", "c"} {
		q.Add("default/"+n, qpod(n, 0), now)
	}
	q.Delete("default/b")
	qp := q.Pop(now) // a
	q.Requeue(qp, true, now)
	q.Delete("default/a") // from the unschedulable set
	if got := popAll(q, now); !slices.Equal(got, []string{"c"}) {
		t.Errorf("popped %v, want [c]", got)
	}
	if q.Len() != 0 {
		t.Errorf("Len %d after popping everything", q.Len())
	}
	// Adding a queued pod again only updates it.
	q.Add("default/d", qpod("d", 0), now)
	q.Add("default/d", qpod("d", 0), now)
	if got := popAll(q, now); len(got) != 1 {
		t.Errorf("popped %v, want d once", got)
	}
}

func TestQueuePriorityUpdate(t *testing.T) {
	t.Parallel()
	now := time.Unix(1000, 0)
	q := newQueue()
	q.Add("default/a", qpod("a", 1), now)
	q.Add("default/b", qpod("b", 2), now.Add(time.Millisecond))
	up := qpod("a", 5)
	up.Metadata.Generation = 2
	q.Update("default/a", up, now)
	if got := popAll(q, now); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("order %v, want [a b] after raising a's priority", got)
	}
}
