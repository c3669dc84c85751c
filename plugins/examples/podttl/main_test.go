package main

import (
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin/plugintest"
)

func TestPodTTL(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	finished := func(ago time.Duration) *wharfv1.Pod {
		return &wharfv1.Pod{
			Metadata: &wharfv1.ObjectMeta{Name: "job", Namespace: "default", ResourceVersion: "7"},
			Status: &wharfv1.PodStatus{Phase: "Succeeded", ContainerStatuses: []*wharfv1.ContainerStatus{{
				State: &wharfv1.ContainerState{Terminated: &wharfv1.ContainerStateTerminated{FinishedAt: timestamppb.New(now.Add(-ago))}},
			}}},
		}
	}
	for name, p := range map[string]*plugintest.Plugin{
		"in-process": plugintest.New(t, info, newPlugin()),
		"wasm":       plugintest.Load(t, plugintest.Build(t, ".")),
	} {
		t.Run(name, func(t *testing.T) {
			if err := p.Configure(`{"ttlSeconds": 60}`); err != nil {
				t.Fatal(err)
			}
			resp, err := p.Reconcile("Pod", "default", "job", finished(10*time.Second), now)
			if err != nil || len(resp.GetActions()) != 0 || resp.GetRequeueAfterMs() != 50000 {
				t.Errorf("young pod: %v %v; want a requeue in 50s", resp, err)
			}
			resp, err = p.Reconcile("Pod", "default", "job", finished(2*time.Minute), now)
			if err != nil || len(resp.GetActions()) != 1 {
				t.Fatalf("old pod: %v %v", resp, err)
			}
			a := resp.GetActions()[0]
			if a.GetType() != pluginv1.ActionType_ACTION_TYPE_DELETE || a.GetName() != "job" || a.GetResourceVersion() != "7" {
				t.Errorf("action %v; want a conditional delete of job", a)
			}
			if resp, err := p.Reconcile("Pod", "default", "gone", nil, now); err != nil || len(resp.GetActions()) != 0 {
				t.Errorf("deleted pod: %v %v", resp, err)
			}
		})
	}
}
