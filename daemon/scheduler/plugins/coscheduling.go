package plugins

import (
	"context"
	"fmt"
	"time"

	"github.com/wharfhq/wharf/daemon/scheduler/framework"
)

// Coscheduling schedules gangs (PodGroups) all-or-nothing, with what the
// scheduler tells it in the CycleState (framework.GangInfo under
// framework.GangStateKey):
//
//   - PreFilter rejects a member whose PodGroup does not exist (resolvable
//     only by creating it), and skips pods without a gang.
//   - Permit lets the member that completes the gang (minMember bound or
//     reserved, itself included) through, and makes the others Wait up to
//     the group's scheduleTimeoutSeconds; the scheduler then binds the
//     waiting members together with the completing one, or releases them
//     all when the time is up.
type Coscheduling struct{}

var (
	_ framework.PreFilterPlugin = Coscheduling{}
	_ framework.PermitPlugin    = Coscheduling{}
)

// Name returns "Coscheduling".
func (Coscheduling) Name() string { return framework.CoschedulingPlugin }

func gangOf(state *framework.CycleState) *framework.GangInfo {
	if state == nil {
		return nil
	}
	v, ok := state.Read(framework.GangStateKey)
	if !ok {
		return nil
	}
	g, _ := v.(*framework.GangInfo)
	return g
}

// PreFilter rejects members of a PodGroup that does not exist.
func (Coscheduling) PreFilter(_ context.Context, state *framework.CycleState, _ *framework.PodInfo) (*framework.PreFilterResult, framework.Status) {
	g := gangOf(state)
	if g == nil {
		return nil, framework.NewStatus(framework.Skip)
	}
	if !g.Found {
		return nil, framework.NewStatus(framework.UnschedulableAndUnresolvable,
			fmt.Sprintf("pod group %q not found; create the PodGroup or remove the pod's %s label", g.Group, framework.LabelPodGroup))
	}
	return nil, framework.Status{}
}

// Permit waits until the gang has minMember members placed.
func (Coscheduling) Permit(_ context.Context, state *framework.CycleState, _ *framework.PodInfo, _ string) (framework.Status, time.Duration) {
	g := gangOf(state)
	if g == nil || g.Placed+1 >= g.MinMember {
		return framework.Status{}, 0
	}
	return framework.NewStatus(framework.Wait, fmt.Sprintf("waiting for %d more members of pod group %q",
		g.MinMember-g.Placed-1, g.Group)), g.Timeout
}
