package plugins

import (
	"context"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
)

// AggregateName is the framework plugin that stands for every loaded
// scheduling plugin at once: a scheduler built once, at start, gets plugins
// installed later through it, without rebuilding its frameworks.
const AggregateName = "WasmPlugins"

// SchedulerAggregate returns a registry with the aggregate plugin
// (AggregateName), for scheduler.Config.Registry; enable it in the
// profiles with EnableAggregate.
//
// Its Filter runs every loaded plugin's filter, in name order; a node is
// rejected by the first plugin that rejects it, and the reason names that
// plugin ("gpu-score: 0 free GPU(s) ..."). Its Score is the mean of the
// loaded scorers' scores weighted by their scoreWeight, so that it stays in
// 0..100; the profile's weight for WasmPlugins sets how much the plugins
// count against the built-in scorers.
func (h *Host) SchedulerAggregate() framework.Registry {
	a := &aggregate{h: h}
	return framework.Registry{AggregateName: func(framework.Args) (framework.Plugin, error) { return a, nil }}
}

// EnableAggregate returns c with WasmPlugins enabled as a filter and a
// scorer (with weight) in every profile; nil c stands for the default
// profile.
func EnableAggregate(c *framework.Config, weight int64) *framework.Config {
	out := &framework.Config{}
	if c != nil {
		*out = *c
		out.Profiles = append([]framework.ProfileConfig(nil), c.Profiles...)
	}
	if len(out.Profiles) == 0 {
		out.Profiles = []framework.ProfileConfig{{SchedulerName: framework.DefaultSchedulerName}}
	}
	for i := range out.Profiles {
		p := &out.Profiles[i]
		p.Plugins.Filter.Enabled = append(append([]framework.PluginRef(nil), p.Plugins.Filter.Enabled...), framework.PluginRef{Name: AggregateName})
		p.Plugins.Score.Enabled = append(append([]framework.PluginRef(nil), p.Plugins.Score.Enabled...), framework.PluginRef{Name: AggregateName, Weight: weight})
	}
	return out
}

type aggregate struct{ h *Host }

var (
	_ framework.FilterPlugin = (*aggregate)(nil)
	_ framework.ScorePlugin  = (*aggregate)(nil)
)

func (a *aggregate) Name() string { return AggregateName }

func (a *aggregate) loaded(point string) []*plugin {
	set := a.h.scheduling.Load()
	if set == nil {
		return nil
	}
	var out []*plugin
	for _, p := range *set {
		if v := p.cur.Load(); v != nil && v.points[point] {
			out = append(out, p)
		}
	}
	return out
}

func (a *aggregate) Filter(ctx context.Context, state *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, out []framework.Status) {
	ps := a.loaded(pluginv1.PointSchedulerFilter)
	if len(ps) == 0 {
		return
	}
	scratch := make([]framework.Status, len(nodes))
	for _, p := range ps {
		clear(scratch)
		p.sch.Filter(ctx, state, pod, nodes, scratch)
		named := map[string]framework.Status{} // one status per distinct verdict
		for i := range scratch {
			if scratch[i].IsSuccess() || !out[i].IsSuccess() {
				continue
			}
			key := scratch[i].String()
			st, ok := named[key]
			if !ok {
				reasons := scratch[i].Reasons()
				for j := range reasons {
					reasons[j] = p.name + ": " + reasons[j]
				}
				st = framework.NewStatus(scratch[i].Code(), reasons...)
				named[key] = st
			}
			out[i] = st
		}
	}
}

func (a *aggregate) Score(ctx context.Context, state *framework.CycleState, pod *framework.PodInfo, nodes []*framework.NodeInfo, scores []int64) framework.Status {
	ps := a.loaded(pluginv1.PointSchedulerScore)
	switch len(ps) {
	case 0:
		return framework.NewStatus(framework.Skip)
	case 1:
		// The usual case: the plugin's scores are the average (its weight
		// divides out), written in place.
		return ps[0].sch.Score(ctx, state, pod, nodes, scores)
	}
	scratch := make([]int64, len(nodes))
	var total int64
	clear(scores)
	for _, p := range ps {
		clear(scratch)
		st := p.sch.Score(ctx, state, pod, nodes, scratch)
		if st.Code() == framework.Skip {
			continue
		}
		if !st.IsSuccess() {
			return st
		}
		v := p.cur.Load()
		if v == nil {
			continue
		}
		for i, s := range scratch {
			scores[i] += s * v.weight
		}
		total += v.weight
	}
	if total == 0 {
		return framework.NewStatus(framework.Skip)
	}
	for i := range scores {
		scores[i] /= total
	}
	return framework.Status{}
}
