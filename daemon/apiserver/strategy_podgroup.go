package apiserver

import (
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// PodGroup defaults and limits.
const (
	defaultGangTimeoutSeconds = 60
	maxGangTimeoutSeconds     = 900 // the scheduler's longest Permit wait
)

var podGroupStrategy = strategy{
	prepareCreate: func(obj proto.Message) {
		g := obj.(*wharfv1.PodGroup)
		g.Status = &wharfv1.PodGroupStatus{Phase: "Pending"}
	},
	defaults: func(obj proto.Message) {
		g := obj.(*wharfv1.PodGroup)
		if g.Spec == nil {
			g.Spec = &wharfv1.PodGroupSpec{}
		}
		if g.Spec.ScheduleTimeoutSeconds == 0 {
			g.Spec.ScheduleTimeoutSeconds = defaultGangTimeoutSeconds
		}
	},
	validate: func(obj proto.Message) fieldErrors {
		s := obj.(*wharfv1.PodGroup).GetSpec()
		var fe fieldErrors
		if s.GetMinMember() < 1 {
			fe.add("spec.minMember", "%d is out of range; a group needs at least 1 member", s.GetMinMember())
		}
		if t := s.GetScheduleTimeoutSeconds(); t < 1 || t > maxGangTimeoutSeconds {
			fe.add("spec.scheduleTimeoutSeconds", "%d is out of range; use 1-%d seconds (default %d)", t, maxGangTimeoutSeconds, defaultGangTimeoutSeconds)
		}
		return fe
	},
}
