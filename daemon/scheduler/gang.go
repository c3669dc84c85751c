package scheduler

import (
	"fmt"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
)

// defaultGangTimeout applies when a PodGroup has no scheduleTimeoutSeconds
// (the API server defaults it to the same).
const defaultGangTimeout = 60 * time.Second

// gang is the loop's bookkeeping of one PodGroup: the object, and its
// members that are bound or hold a reservation.
type gang struct {
	key, ns, name string
	obj           *wharfv1.PodGroup // nil while the PodGroup is not known
	bound         map[string]bool   // members bound to a node, not finished
	reserved      map[string]*assumedPod
	waiting       []*assumedPod // reserved members waiting in Permit
	written       int32         // scheduled count last written to status; -1 none
}

// podGroupKey returns namespace/group of the pod's gang, "" for none.
func podGroupKey(p *wharfv1.Pod) string {
	m := p.GetMetadata()
	g := m.GetLabels()[framework.LabelPodGroup]
	if g == "" {
		g = m.GetAnnotations()[framework.LabelPodGroup]
	}
	if g == "" {
		return ""
	}
	return m.GetNamespace() + "/" + g
}

// gang returns the bookkeeping of the group ns/name, creating it.
func (s *Scheduler) gang(ns, name string) *gang {
	key := ns + "/" + name
	g := s.gangs[key]
	if g == nil {
		g = &gang{key: key, ns: ns, name: name, bound: map[string]bool{}, reserved: map[string]*assumedPod{}, written: -1}
		s.gangs[key] = g
	}
	return g
}

// gangOf returns the gang of pod, nil when it has none.
func (s *Scheduler) gangOf(p *wharfv1.Pod) *gang {
	m := p.GetMetadata()
	name := m.GetLabels()[framework.LabelPodGroup]
	if name == "" {
		name = m.GetAnnotations()[framework.LabelPodGroup]
	}
	if name == "" {
		return nil
	}
	return s.gang(m.GetNamespace(), name)
}

// dropGangIfIdle forgets a gang with nothing left to track.
func (s *Scheduler) dropGangIfIdle(g *gang) {
	if g.obj == nil && len(g.bound) == 0 && len(g.reserved) == 0 {
		delete(s.gangs, g.key)
	}
}

func (g *gang) minMember() int {
	if g.obj == nil {
		return 0
	}
	return int(g.obj.GetSpec().GetMinMember())
}

func (g *gang) timeout() time.Duration {
	if t := g.obj.GetSpec().GetScheduleTimeoutSeconds(); t > 0 {
		return time.Duration(t) * time.Second
	}
	return defaultGangTimeout
}

// info is what the Coscheduling plugin sees for member key.
func (g *gang) info(key string) *framework.GangInfo {
	placed := len(g.bound) + len(g.reserved)
	if g.bound[key] {
		placed--
	}
	if _, ok := g.reserved[key]; ok {
		placed--
	}
	return &framework.GangInfo{
		Group: g.key, Found: g.obj != nil, MinMember: g.minMember(), Timeout: g.timeout(), Placed: placed,
	}
}

// takeWaiting returns the waiting members (their wait is over: the gang is
// complete) and empties the list.
func (g *gang) takeWaiting() []*assumedPod {
	w := g.waiting
	g.waiting = nil
	return w
}

// gangMember records whether member p (with key) is bound and running.
func (s *Scheduler) gangMember(p *wharfv1.Pod, key string, bound bool) {
	gk := podGroupKey(p)
	if gk == "" {
		return
	}
	g := s.gangs[gk]
	if g == nil {
		if !bound {
			return
		}
		g = s.gang(p.GetMetadata().GetNamespace(), gk[len(p.GetMetadata().GetNamespace())+1:])
	}
	if g.bound[key] == bound {
		return
	}
	if bound {
		g.bound[key] = true
	} else {
		delete(g.bound, key)
	}
	s.gangStatus(g, "", time.Now())
	s.dropGangIfIdle(g)
}

// gangStatus writes the group's status when its scheduled count changed,
// or a message says why it is not scheduled.
func (s *Scheduler) gangStatus(g *gang, message string, now time.Time) {
	if g.obj == nil {
		return
	}
	n := int32(len(g.bound))
	if n == g.written && message == "" {
		return
	}
	g.written = n
	s.rec.groupStatus(g.key, g.ns, g.name, n, int32(g.minMember()), message, now)
}

// rejectGang releases the reservations of every waiting member of g and
// puts them back in the queue; timeout says the gang's time ran out (then
// the pods and the group get a GangTimeout event).
func (s *Scheduler) rejectGang(g *gang, why string, timeout bool, now time.Time) {
	waiting := g.takeWaiting()
	delete(s.waitG, g)
	if len(waiting) == 0 {
		return
	}
	placed := len(g.bound) + len(g.reserved)
	msg := fmt.Sprintf("pod group %s: %s; released the reservations of %d waiting members (%d of minMember %d were placed)",
		g.key, why, len(waiting), placed, g.minMember())
	if timeout {
		msg = GangTimeoutPrefix + msg
	}
	for _, ap := range waiting {
		ap.waiting = true // release takes it out of g.waiting, already empty
		s.release(ap)
		m := ap.qp.pod.GetMetadata()
		if cur, ok := s.pods.Get(m.GetNamespace(), m.GetName()); ok && cur.GetSpec().GetNodeName() == "" {
			// The back-off runs from now, so that what the gang held goes to
			// other pods first (else the gang takes it back at once).
			ap.qp.pod, ap.qp.lastAttempt = cur, now
			s.q.Requeue(ap.qp, false, now)
			if timeout {
				s.rec.warning(podRef(cur), ReasonFailedScheduling, msg)
			}
		}
	}
	if timeout && g.obj != nil {
		gm := g.obj.GetMetadata()
		s.rec.warning(&wharfv1.ObjectReference{Kind: "PodGroup", ApiVersion: "scheduling.wharf.dev/v1",
			Namespace: gm.GetNamespace(), Name: gm.GetName(), Uid: gm.GetUid()}, ReasonFailedScheduling, msg)
	}
	s.log.Info("gang not scheduled", "group", g.key, "why", why, "released", len(waiting), "timeout", timeout)
	s.gangStatus(g, msg, now)
	s.q.MoveAll(now)
}

// expireWaiting ends the Permit waits that are over: a gang whose first
// waiting member's wait ended is rejected whole; a lone waiting pod alone.
func (s *Scheduler) expireWaiting(now time.Time) {
	for g := range s.waitG {
		if len(g.waiting) > 0 && !now.Before(earliest(g.waiting)) {
			s.rejectGang(g, fmt.Sprintf("timed out after %s waiting for minMember %d", g.timeout(), g.minMember()), true, now)
		}
	}
	for _, ap := range s.solo {
		if !now.Before(ap.deadline) {
			s.release(ap)
			ap.qp.lastAttempt = now
			s.q.Requeue(ap.qp, false, now)
			s.rec.unschedulable(ap.qp.key, ap.qp.pod, "a permit plugin did not allow the pod in time")
		}
	}
}

func earliest(aps []*assumedPod) time.Time {
	t := aps[0].deadline
	for _, ap := range aps[1:] {
		if ap.deadline.Before(t) {
			t = ap.deadline
		}
	}
	return t
}

// nextDeadline is the earliest end of a Permit wait; zero when none.
func (s *Scheduler) nextDeadline() time.Time {
	var t time.Time
	for g := range s.waitG {
		if len(g.waiting) > 0 {
			if d := earliest(g.waiting); t.IsZero() || d.Before(t) {
				t = d
			}
		}
	}
	for _, ap := range s.solo {
		if t.IsZero() || ap.deadline.Before(t) {
			t = ap.deadline
		}
	}
	return t
}
