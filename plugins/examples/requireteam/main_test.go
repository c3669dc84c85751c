package main

import (
	"strings"
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin/plugintest"
)

func pod(labels map[string]string) *wharfv1.Pod {
	return &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: "web", Namespace: "default", Labels: labels},
		Spec:     &wharfv1.PodSpec{Containers: []*wharfv1.Container{{Name: "web", Image: "nginx:1.27"}}},
	}
}

func TestRequireTeam(t *testing.T) {
	for name, p := range map[string]*plugintest.Plugin{
		"in-process": plugintest.New(t, info, newPlugin()),
		"wasm":       plugintest.Load(t, plugintest.Build(t, ".")),
	} {
		t.Run(name, func(t *testing.T) {
			if err := p.Configure(`{"label": ""}`); err == nil {
				t.Error("an empty label was accepted")
			}
			if err := p.Configure(`{"teams": ["ml", "web"]}`); err != nil {
				t.Fatal(err)
			}
			for _, tc := range []struct {
				op       string
				obj, old *wharfv1.Pod
				deny     string // "" to allow
			}{
				{"CREATE", pod(map[string]string{"team": "ml"}), nil, ""},
				{"CREATE", pod(nil), nil, `no "team" label`},
				{"CREATE", pod(map[string]string{"team": "sales"}), nil, `team "sales" is not one of ml, web`},
				{"UPDATE", pod(nil), pod(nil), ""},                               // older than the rule
				{"UPDATE", pod(nil), pod(map[string]string{"team": "ml"}), "no"}, // the label removed
			} {
				resp, err := p.Validate(tc.op, tc.obj, tc.old)
				if err != nil {
					t.Fatal(err)
				}
				if resp.GetAllowed() != (tc.deny == "") || !strings.Contains(resp.GetReason(), tc.deny) {
					t.Errorf("%s %v: allowed=%v reason=%q; want deny %q", tc.op, tc.obj.GetMetadata().GetLabels(), resp.GetAllowed(), resp.GetReason(), tc.deny)
				}
			}
		})
	}
}
