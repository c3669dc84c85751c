package framework_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	st "github.com/wharfhq/wharf/daemon/scheduler/internal/schedtest"
	"github.com/wharfhq/wharf/daemon/scheduler/plugins"
)

func writeConfig(t *testing.T, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "scheduler.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestLoadConfigProfiles(t *testing.T) {
	t.Parallel()
	path := writeConfig(t, `
apiVersion: wharf.dev/v1
kind: SchedulerConfiguration
profiles:
  - schedulerName: default-scheduler
  - schedulerName: gpu-packer
    percentageOfNodesToScore: 30
    plugins:
      filter:
        disabled:
          - name: NodeUnschedulable
      score:
        disabled:
          - name: "*"
        enabled:
          - name: NodeResourcesFit
            weight: 5
          - name: TaintToleration
    pluginConfig:
      - name: NodeResourcesFit
        args:
          scoringStrategy:
            type: MostAllocated
            resources:
              - {name: cpu, weight: 1}
              - {name: nvidia.com/gpu, weight: 10}
`)
	cfg, err := framework.LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := cfg.Resolve(plugins.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if len(profiles) != 2 {
		t.Fatalf("%d profiles", len(profiles))
	}
	def, gpu := profiles[0], profiles[1]
	if fmt.Sprint(def.Filter) != fmt.Sprint(framework.DefaultProfile().Filter) || fmt.Sprint(def.Score) != fmt.Sprint(framework.DefaultProfile().Score) {
		t.Errorf("default profile changed: %+v", def)
	}
	if gpu.SchedulerName != "gpu-packer" || gpu.PercentageOfNodesToScore != 30 {
		t.Errorf("gpu profile: %+v", gpu)
	}
	if got := strings.Join(gpu.Filter, ","); got != "NodeName,TaintToleration,NodeAffinity,NodeResourcesFit,GPUFit" {
		t.Errorf("filter = %s", got)
	}
	if got := fmt.Sprint(gpu.Score); got != "[{NodeResourcesFit 5} {TaintToleration 1}]" {
		t.Errorf("score = %s", got)
	}
	if got := string(gpu.PluginArgs["NodeResourcesFit"].Raw()); !strings.Contains(got, `"type":"MostAllocated"`) {
		t.Errorf("args = %s", got)
	}
	fws, err := cfg.Frameworks(plugins.NewRegistry())
	if err != nil {
		t.Fatal(err)
	}
	if len(fws) != 2 || fws["gpu-packer"].SchedulerName() != "gpu-packer" {
		t.Fatalf("frameworks: %v", fws)
	}
	// The gpu-packer profile bin-packs even plain pods (MostAllocated).
	snap := snapshot(t, st.Node("empty"), st.Node("used"))
	snap.Get("used").AddPod(framework.MustNewPodInfo(st.Pod("x", st.Requests("cpu", "4"))))
	pi := framework.MustNewPodInfo(st.Pod("p", st.Requests("cpu", "1"), st.SchedulerName("gpu-packer")))
	res, err := fws[pi.SchedulerName].Schedule(context.Background(), nil, pi, snap)
	if err != nil || res.Node.Name != "used" {
		t.Errorf("gpu-packer chose %v, %v; want used", res.Node, err)
	}
}

func TestLoadConfigEmptyIsDefault(t *testing.T) {
	t.Parallel()
	cfg, err := framework.LoadConfig(writeConfig(t, "# nothing\n"))
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := cfg.Resolve(plugins.NewRegistry())
	if err != nil || len(profiles) != 1 || profiles[0].SchedulerName != framework.DefaultSchedulerName {
		t.Errorf("profiles %+v, %v", profiles, err)
	}
}

func TestLoadConfigErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, yaml string
		want       []string
	}{
		{"unknown_field", "profiles:\n  - schedulerName: a\n    plugin: {}\n",
			[]string{`line 3: unknown field "plugin"`}},
		{"unknown_nested_field", "profiles:\n  - schedulerName: a\n    plugins:\n      score:\n        enabled:\n          - name: X\n            weigth: 2\n",
			[]string{`line 7: unknown field "weigth"`}},
		{"bad_type", "profiles:\n  - schedulerName: a\n    percentageOfNodesToScore: lots\n",
			[]string{"line 3", "lots"}},
		{"syntax", "profiles: [\n", []string{"yaml"}},
		{"kind", "kind: Pod\n", []string{`kind: "Pod" is not supported; want SchedulerConfiguration`}},
		{"fields", `
profiles:
  - percentageOfNodesToScore: 101
  - schedulerName: a
    plugins:
      filter:
        enabled: [{name: NodeName, weight: 3}, {name: ""}]
      score:
        enabled: [{name: NodeAffinity, weight: 300}, {name: NodeAffinity}]
        disabled: [{}]
    pluginConfig: [{name: X}, {name: X}]
  - schedulerName: a
`, []string{
			"profiles[0].schedulerName: required",
			"profiles[0].percentageOfNodesToScore: 101 is out of range; want 0 (adaptive) to 100",
			"profiles[1].plugins.filter.enabled[0].weight: only score plugins have a weight",
			"profiles[1].plugins.filter.enabled[1].name: required",
			"profiles[1].plugins.score.enabled[0].weight: 300 is out of range; want 1 to 100",
			`profiles[1].plugins.score.enabled[1].name: "NodeAffinity" is enabled twice`,
			"profiles[1].plugins.score.disabled[0].name: required",
			`profiles[1].pluginConfig[1].name: "X" is configured twice`,
			`profiles[2].schedulerName: "a" is already used by profiles[1]`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, tt.yaml)
			_, err := framework.LoadConfig(path)
			if err == nil {
				t.Fatal("no error")
			}
			msg := err.Error()
			for _, w := range append(tt.want, path) {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q lacks %q", msg, w)
				}
			}
			if strings.Contains(msg, "framework.") {
				t.Errorf("error %q names a Go type", msg)
			}
		})
	}
	if _, err := framework.LoadConfig(filepath.Join(t.TempDir(), "missing.yaml")); err == nil || !strings.Contains(err.Error(), "missing.yaml") {
		t.Errorf("missing file: %v", err)
	}
}

func TestConfigResolveErrors(t *testing.T) {
	t.Parallel()
	cfg, err := framework.ParseConfig([]byte(`
profiles:
  - schedulerName: a
    plugins:
      filter:
        enabled: [{name: NodeName}, {name: Volcano}]
    pluginConfig:
      - name: Gang
        args: {minMember: 3}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Resolve(plugins.NewRegistry())
	for _, w := range []string{
		`profiles[0].plugins.filter.enabled[1].name: unknown plugin "Volcano"; registered plugins are Coscheduling, GPUFit, NodeAffinity, NodeName,`,
		`profiles[0].pluginConfig[0].name: unknown plugin "Gang"`,
	} {
		if err == nil || !strings.Contains(err.Error(), w) {
			t.Errorf("error %v lacks %q", err, w)
		}
	}

	// Bad args surface from the plugin's factory, naming the profile.
	cfg, err = framework.ParseConfig([]byte(`
profiles:
  - schedulerName: a
    pluginConfig:
      - name: NodeResourcesFit
        args: {scoringStrategy: {type: Spread}}
`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = cfg.Frameworks(plugins.NewRegistry())
	if want := `profiles[0]: profile "a": plugin "NodeResourcesFit": args.scoringStrategy.type: unknown strategy "Spread"`; err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("error %v lacks %q", err, want)
	}
	// A plugin enabled where it has no implementation.
	cfg, _ = framework.ParseConfig([]byte("profiles:\n  - schedulerName: a\n    plugins:\n      score:\n        enabled: [{name: GPUFit}]\n"))
	if _, err = cfg.Frameworks(plugins.NewRegistry()); err == nil || !strings.Contains(err.Error(), `plugin "GPUFit" does not implement Score`) {
		t.Errorf("err = %v", err)
	}
}
