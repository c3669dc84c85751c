package framework

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"
)

// Config is the scheduler's configuration file (YAML), shaped like
// Kubernetes' KubeSchedulerConfiguration:
//
//	apiVersion: wharf.dev/v1          # optional
//	kind: SchedulerConfiguration      # optional
//	profiles:
//	  - schedulerName: default-scheduler
//	    percentageOfNodesToScore: 0   # 0: adaptive
//	    plugins:
//	      score:
//	        disabled: [{name: NodeAffinity}]
//	        enabled:  [{name: NodeResourcesFit, weight: 2}]
//	    pluginConfig:
//	      - name: NodeResourcesFit
//	        args:
//	          scoringStrategy: {type: MostAllocated}
//
// Each profile starts from DefaultProfile: per extension point, disabled
// plugins are removed ("*" removes them all), enabled plugins already there
// keep their place (with the new weight), others are appended in order. A
// file with no profiles means the default profile alone.
type Config struct {
	APIVersion string          `yaml:"apiVersion"`
	Kind       string          `yaml:"kind"`
	Profiles   []ProfileConfig `yaml:"profiles"`
}

// ProfileConfig is one profile in a Config.
type ProfileConfig struct {
	SchedulerName            string         `yaml:"schedulerName"`
	PercentageOfNodesToScore int32          `yaml:"percentageOfNodesToScore"`
	Plugins                  PluginsConfig  `yaml:"plugins"`
	PluginConfig             []PluginConfig `yaml:"pluginConfig"`
}

// PluginsConfig changes the default plugins per extension point.
type PluginsConfig struct {
	PreFilter  PluginSet `yaml:"preFilter"`
	Filter     PluginSet `yaml:"filter"`
	PostFilter PluginSet `yaml:"postFilter"`
	Score      PluginSet `yaml:"score"`
	Reserve    PluginSet `yaml:"reserve"`
	Permit     PluginSet `yaml:"permit"`
	Bind       PluginSet `yaml:"bind"`
}

// PluginSet enables and disables plugins at one extension point.
type PluginSet struct {
	Enabled  []PluginRef `yaml:"enabled"`
	Disabled []PluginRef `yaml:"disabled"`
}

// PluginRef names a plugin; Weight is for score plugins only (1-100,
// default 1 or the default profile's weight).
type PluginRef struct {
	Name   string `yaml:"name"`
	Weight int64  `yaml:"weight"`
}

// PluginConfig holds one plugin's args.
type PluginConfig struct {
	Name string         `yaml:"name"`
	Args map[string]any `yaml:"args"`
}

// Values accepted for Config.APIVersion and Config.Kind when set.
const (
	ConfigAPIVersion = "wharf.dev/v1"
	ConfigKind       = "SchedulerConfiguration"
)

// LoadConfig reads and checks a configuration file. Errors name the file
// and the field: `sched.yaml: profiles[0].plugins.score.enabled[1].weight:
// 300 is out of range; want 1 to 100`. Plugin names are checked by
// Resolve, which knows the registry.
func LoadConfig(path string) (*Config, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("scheduler config: %w", err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("scheduler config %s: %w", path, err)
	}
	return c, nil
}

var unknownField = regexp.MustCompile(`field (\S+) not found in type \S+`)

// ParseConfig is LoadConfig for bytes.
func ParseConfig(data []byte) (*Config, error) {
	var c Config
	d := yaml.NewDecoder(bytes.NewReader(data))
	d.KnownFields(true)
	if err := d.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		var te *yaml.TypeError
		if errors.As(err, &te) {
			msgs := make([]string, len(te.Errors))
			for i, e := range te.Errors {
				msgs[i] = unknownField.ReplaceAllString(e, `unknown field "$1"`)
			}
			return nil, errors.New(strings.Join(msgs, "; "))
		}
		return nil, err
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

func (c *Config) validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if c.APIVersion != "" && c.APIVersion != ConfigAPIVersion {
		bad("apiVersion: %q is not supported; want %s", c.APIVersion, ConfigAPIVersion)
	}
	if c.Kind != "" && c.Kind != ConfigKind {
		bad("kind: %q is not supported; want %s", c.Kind, ConfigKind)
	}
	names := map[string]int{}
	for i, p := range c.Profiles {
		path := fmt.Sprintf("profiles[%d]", i)
		switch j, dup := names[p.SchedulerName]; {
		case p.SchedulerName == "":
			bad("%s.schedulerName: required", path)
		case dup:
			bad("%s.schedulerName: %q is already used by profiles[%d]", path, p.SchedulerName, j)
		default:
			names[p.SchedulerName] = i
		}
		if v := p.PercentageOfNodesToScore; v < 0 || v > 100 {
			bad("%s.percentageOfNodesToScore: %d is out of range; want 0 (adaptive) to 100", path, v)
		}
		for _, pt := range p.Plugins.points() {
			pp := path + ".plugins." + pt.name
			seen := map[string]bool{}
			for j, r := range pt.set.Enabled {
				switch {
				case r.Name == "":
					bad("%s.enabled[%d].name: required", pp, j)
				case seen[r.Name]:
					bad("%s.enabled[%d].name: %q is enabled twice", pp, j, r.Name)
				}
				seen[r.Name] = true
				if pt.name != "score" && r.Weight != 0 {
					bad("%s.enabled[%d].weight: only score plugins have a weight", pp, j)
				} else if r.Weight < 0 || r.Weight > 100 {
					bad("%s.enabled[%d].weight: %d is out of range; want 1 to 100", pp, j, r.Weight)
				}
			}
			for j, r := range pt.set.Disabled {
				if r.Name == "" {
					bad("%s.disabled[%d].name: required", pp, j)
				}
			}
		}
		cfgSeen := map[string]bool{}
		for j, pc := range p.PluginConfig {
			switch {
			case pc.Name == "":
				bad("%s.pluginConfig[%d].name: required", path, j)
			case cfgSeen[pc.Name]:
				bad("%s.pluginConfig[%d].name: %q is configured twice", path, j, pc.Name)
			}
			cfgSeen[pc.Name] = true
		}
	}
	return errors.Join(errs...)
}

type point struct {
	name string
	set  PluginSet
}

func (p PluginsConfig) points() []point {
	return []point{
		{"preFilter", p.PreFilter}, {"filter", p.Filter}, {"postFilter", p.PostFilter},
		{"score", p.Score}, {"reserve", p.Reserve}, {"permit", p.Permit}, {"bind", p.Bind},
	}
}

// Resolve turns the file's profiles into the profiles Frameworks run,
// merged over DefaultProfile, and checks that every plugin named is in r.
func (c *Config) Resolve(r Registry) ([]Profile, error) {
	cfgs := c.Profiles
	if len(cfgs) == 0 {
		cfgs = []ProfileConfig{{SchedulerName: DefaultSchedulerName}}
	}
	var errs []error
	out := make([]Profile, 0, len(cfgs))
	known := func(path, name string) {
		if _, ok := r[name]; !ok {
			errs = append(errs, fmt.Errorf("%s: unknown plugin %q; registered plugins are %s", path, name, registered(r)))
		}
	}
	for i, pc := range cfgs {
		path := fmt.Sprintf("profiles[%d]", i)
		def := DefaultProfile()
		p := Profile{SchedulerName: pc.SchedulerName, PercentageOfNodesToScore: pc.PercentageOfNodesToScore}
		for _, pt := range pc.Plugins.points() {
			for j, e := range pt.set.Enabled {
				known(fmt.Sprintf("%s.plugins.%s.enabled[%d].name", path, pt.name, j), e.Name)
			}
		}
		p.PreFilter = mergeNames(def.PreFilter, pc.Plugins.PreFilter)
		p.Filter = mergeNames(def.Filter, pc.Plugins.Filter)
		p.PostFilter = mergeNames(def.PostFilter, pc.Plugins.PostFilter)
		p.Score = mergeSet(def.Score, pc.Plugins.Score)
		p.Reserve = mergeNames(def.Reserve, pc.Plugins.Reserve)
		p.Permit = mergeNames(def.Permit, pc.Plugins.Permit)
		p.Bind = mergeNames(def.Bind, pc.Plugins.Bind)
		for j, cfg := range pc.PluginConfig {
			fp := fmt.Sprintf("%s.pluginConfig[%d]", path, j)
			known(fp+".name", cfg.Name)
			if cfg.Args == nil {
				continue
			}
			a, err := NewArgs(cfg.Args)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s.args: %w", fp, err))
				continue
			}
			if p.PluginArgs == nil {
				p.PluginArgs = map[string]Args{}
			}
			p.PluginArgs[cfg.Name] = a
		}
		out = append(out, p)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

// Frameworks resolves the profiles and builds one Framework per profile,
// keyed by scheduler name.
func (c *Config) Frameworks(r Registry, opts ...Option) (map[string]*Framework, error) {
	profiles, err := c.Resolve(r)
	if err != nil {
		return nil, err
	}
	fws := make(map[string]*Framework, len(profiles))
	for i, p := range profiles {
		fw, err := New(p, r, opts...)
		if err != nil {
			return nil, fmt.Errorf("profiles[%d]: %w", i, err)
		}
		fws[p.SchedulerName] = fw
	}
	return fws, nil
}

func registered(r Registry) string {
	names := make([]string, 0, len(r))
	for n := range r {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// mergeSet applies a PluginSet to default weighted plugins.
func mergeSet(def []WeightedPlugin, set PluginSet) []WeightedPlugin {
	disabled := map[string]bool{}
	for _, d := range set.Disabled {
		disabled[d.Name] = true
	}
	enabled := map[string]PluginRef{}
	for _, e := range set.Enabled {
		enabled[e.Name] = e
	}
	var out []WeightedPlugin
	placed := map[string]bool{}
	for _, d := range def {
		if disabled["*"] || disabled[d.Name] {
			continue
		}
		if e, ok := enabled[d.Name]; ok && e.Weight > 0 {
			d.Weight = e.Weight
		}
		placed[d.Name] = true
		out = append(out, d)
	}
	for _, e := range set.Enabled {
		if placed[e.Name] {
			continue
		}
		w := e.Weight
		if w == 0 {
			w = 1
		}
		out = append(out, WeightedPlugin{e.Name, w})
	}
	return out
}

func mergeNames(def []string, set PluginSet) []string {
	wp := make([]WeightedPlugin, len(def))
	for i, n := range def {
		wp[i] = WeightedPlugin{Name: n}
	}
	merged := mergeSet(wp, set)
	out := make([]string, len(merged))
	for i, m := range merged {
		out[i] = m.Name
	}
	return out
}
