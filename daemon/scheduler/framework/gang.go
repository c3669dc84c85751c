package framework

import "time"

// LabelPodGroup names a pod's gang (a PodGroup in the pod's namespace). The
// scheduler reads it from the pod's labels, else its annotations.
const LabelPodGroup = "scheduling.wharf.dev/pod-group"

// GangStateKey is where the scheduler puts a gang member's GangInfo in the
// CycleState before a cycle; the Coscheduling plugin reads it.
const GangStateKey StateKey = "Coscheduling/gang"

// GangInfo is what the scheduler knows of the gang of the pod being
// scheduled.
type GangInfo struct {
	// Group is the PodGroup's namespace/name.
	Group string
	// Found says whether the PodGroup exists; MinMember and Timeout are its
	// spec.
	Found     bool
	MinMember int
	Timeout   time.Duration
	// Placed counts the other members that are bound to a node or hold a
	// reservation (waiting in Permit, or binding).
	Placed int
}

// PodGroupOf returns the name of the pod's gang, "" when it has none.
func PodGroupOf(p *PodInfo) string {
	m := p.Pod.GetMetadata()
	if g := m.GetLabels()[LabelPodGroup]; g != "" {
		return g
	}
	return m.GetAnnotations()[LabelPodGroup]
}
