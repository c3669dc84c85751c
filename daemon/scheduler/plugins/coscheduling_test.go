package plugins

import (
	"context"
	"testing"
	"time"

	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	st "github.com/wharfhq/wharf/daemon/scheduler/internal/schedtest"
)

func TestCoscheduling(t *testing.T) {
	t.Parallel()
	pi := framework.MustNewPodInfo(st.Pod("w-0"))
	for _, tc := range []struct {
		name          string
		gang          *framework.GangInfo
		wantPreFilter framework.Code
		wantPermit    framework.Code
		wantWait      time.Duration
		wantMsg       string
	}{
		{"no_gang", nil, framework.Skip, framework.Success, 0, ""},
		{"group_missing", &framework.GangInfo{Group: "default/g"}, framework.UnschedulableAndUnresolvable, framework.Success, 0,
			`pod group "default/g" not found; create the PodGroup or remove the pod's scheduling.wharf.dev/pod-group label`},
		{"first_of_three_waits", &framework.GangInfo{Group: "default/g", Found: true, MinMember: 3, Timeout: time.Minute},
			framework.Success, framework.Wait, time.Minute, `waiting for 2 more members of pod group "default/g"`},
		{"second_of_three_waits", &framework.GangInfo{Group: "default/g", Found: true, MinMember: 3, Placed: 1, Timeout: 5 * time.Second},
			framework.Success, framework.Wait, 5 * time.Second, `waiting for 1 more members of pod group "default/g"`},
		{"third_of_three_completes", &framework.GangInfo{Group: "default/g", Found: true, MinMember: 3, Placed: 2}, framework.Success, framework.Success, 0, ""},
		{"beyond_min_member", &framework.GangInfo{Group: "default/g", Found: true, MinMember: 3, Placed: 5}, framework.Success, framework.Success, 0, ""},
		{"min_member_one", &framework.GangInfo{Group: "default/g", Found: true, MinMember: 1}, framework.Success, framework.Success, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := framework.NewCycleState()
			if tc.gang != nil {
				state.Write(framework.GangStateKey, tc.gang)
			}
			ctx := context.Background()
			_, pst := Coscheduling{}.PreFilter(ctx, state, pi)
			if pst.Code() != tc.wantPreFilter {
				t.Errorf("PreFilter %v, want %v", pst, tc.wantPreFilter)
			}
			if pst.IsRejection() && pst.Message() != tc.wantMsg {
				t.Errorf("PreFilter message %q, want %q", pst.Message(), tc.wantMsg)
			}
			if pst.IsRejection() {
				return
			}
			s, wait := Coscheduling{}.Permit(ctx, state, pi, "n1")
			if s.Code() != tc.wantPermit || wait != tc.wantWait || s.Message() != tc.wantMsg {
				t.Errorf("Permit %v %s, want %v %s %q", s, wait, tc.wantPermit, tc.wantWait, tc.wantMsg)
			}
		})
	}
}
