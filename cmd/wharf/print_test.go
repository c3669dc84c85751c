package main

import (
	"bytes"
	"testing"
	"time"

	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

func TestHumanDuration(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{
		{-5 * time.Second, "<invalid>"},
		{0, "0s"},
		{45 * time.Second, "45s"},
		{119 * time.Second, "119s"},
		{150 * time.Second, "2m30s"},
		{5 * time.Minute, "5m"},
		{90 * time.Minute, "90m"},
		{200 * time.Minute, "3h20m"},
		{10 * time.Hour, "10h"},
		{52 * time.Hour, "2d4h"},
		{300 * 24 * time.Hour, "300d"},
		{3 * 365 * 24 * time.Hour, "3y"},
	} {
		if got := humanDuration(tc.d); got != tc.want {
			t.Errorf("humanDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

func TestPodStatus(t *testing.T) {
	t.Parallel()
	running := &wharfv1.ContainerState{Running: &wharfv1.ContainerStateRunning{}}
	waiting := func(reason string) *wharfv1.ContainerState {
		return &wharfv1.ContainerState{Waiting: &wharfv1.ContainerStateWaiting{Reason: reason}}
	}
	terminated := func(reason string, code int32) *wharfv1.ContainerState {
		return &wharfv1.ContainerState{Terminated: &wharfv1.ContainerStateTerminated{Reason: reason, ExitCode: code}}
	}
	pod := func(phase string, init []*wharfv1.ContainerStatus, cs ...*wharfv1.ContainerStatus) *wharfv1.Pod {
		p := &wharfv1.Pod{
			Metadata: &wharfv1.ObjectMeta{Name: "p"},
			Spec:     &wharfv1.PodSpec{Containers: []*wharfv1.Container{{Name: "a"}}},
			Status:   &wharfv1.PodStatus{Phase: phase, ContainerStatuses: cs, InitContainerStatuses: init},
		}
		for range init {
			p.Spec.InitContainers = append(p.Spec.InitContainers, &wharfv1.Container{})
		}
		return p
	}
	terminating := pod("Running", nil, &wharfv1.ContainerStatus{State: running, Ready: true})
	terminating.Metadata.DeletionTimestamp = timestamppb.Now()
	for name, tc := range map[string]struct {
		pod  *wharfv1.Pod
		want string
	}{
		"pending":          {pod("Pending", nil), "Pending"},
		"running":          {pod("Running", nil, &wharfv1.ContainerStatus{State: running, Ready: true}), "Running"},
		"crash_loop":       {pod("Running", nil, &wharfv1.ContainerStatus{State: waiting("CrashLoopBackOff")}), "CrashLoopBackOff"},
		"image_pull":       {pod("Pending", nil, &wharfv1.ContainerStatus{State: waiting("ErrImagePull")}), "ErrImagePull"},
		"oom":              {pod("Running", nil, &wharfv1.ContainerStatus{State: terminated("OOMKilled", 137)}), "OOMKilled"},
		"exit_code":        {pod("Failed", nil, &wharfv1.ContainerStatus{State: terminated("", 3)}), "ExitCode:3"},
		"completed":        {pod("Succeeded", nil, &wharfv1.ContainerStatus{State: terminated("Completed", 0)}), "Completed"},
		"init_running":     {pod("Pending", []*wharfv1.ContainerStatus{{State: running}}), "Init:0/1"},
		"init_crash":       {pod("Pending", []*wharfv1.ContainerStatus{{State: waiting("CrashLoopBackOff")}}), "Init:CrashLoopBackOff"},
		"init_failed":      {pod("Pending", []*wharfv1.ContainerStatus{{State: terminated("Error", 1)}}), "Init:Error"},
		"terminating":      {terminating, "Terminating"},
		"no_phase_unknown": {pod("", nil), "Unknown"},
	} {
		if got := podStatus(tc.pod); got != tc.want {
			t.Errorf("%s: podStatus = %q, want %q", name, got, tc.want)
		}
	}
}

func TestTableKeepsWidths(t *testing.T) {
	t.Parallel()
	var b bytes.Buffer
	tb := &table{header: []string{"NAME", "STATUS", "AGE"}}
	tb.print(&b, [][]string{{"web", "Running", "5s"}}, false)
	tb.row(&b, []string{"a-much-longer-name", "Pending", "0s"})
	want := "NAME   STATUS    AGE\n" +
		"web    Running   5s\n" +
		"a-much-longer-name   Pending   0s\n"
	if b.String() != want {
		t.Errorf("got\n%s\nwant\n%s", b.String(), want)
	}
}

// An event that happened several times says how often since when, as
// kubectl prints it.
func TestEventRow(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	info, _ := wharfv1.LookupKind("Event")
	p := printer{info: info, now: now}
	ev := &wharfv1.Event{
		Metadata:       &wharfv1.ObjectMeta{Name: "web.1", Namespace: "default"},
		InvolvedObject: &wharfv1.ObjectReference{Kind: "Pod", Name: "web"},
		Type:           "Warning", Reason: "Unhealthy", Message: "Readiness probe failed", Count: 1,
		FirstTimestamp: timestamppb.New(now.Add(-3 * time.Minute)),
		LastTimestamp:  timestamppb.New(now.Add(-5 * time.Second)),
	}
	if got := p.row(ev)[0]; got != "5s" {
		t.Errorf("once: LAST SEEN %q, want 5s", got)
	}
	ev.Count = 12
	if got := p.row(ev)[0]; got != "5s (x12 over 3m)" {
		t.Errorf("12 times: LAST SEEN %q, want \"5s (x12 over 3m)\"", got)
	}
}
