package plugins

import (
	"context"
	"fmt"

	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/apiserver"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	"github.com/wharfhq/wharf/sdk/plugin/abi"
)

// Trial is a plugin loaded outside any server, to see what it would do to
// the live state before installing it (`wharf plugin install --dry-run`).
// It runs exactly as an installed plugin would, with the Plugin's config,
// timeout and limits, but nothing it decides is applied.
type Trial struct {
	h *Host
	p *plugin
}

// Trial loads module with spec's settings as Plugin name. Errors are the
// ones installing it would report in its status.
func (h *Host) Trial(ctx context.Context, name string, module []byte, spec *wharfv1.PluginSpec) (*Trial, error) {
	digest, err := h.modules.Put(module)
	if err != nil {
		return nil, err
	}
	spec = proto.Clone(spec).(*wharfv1.PluginSpec)
	spec.Module = digest
	obj := &wharfv1.Plugin{Metadata: &wharfv1.ObjectMeta{Name: name}, Spec: spec}
	mod, err := h.load(ctx, name, obj)
	if err != nil {
		return nil, err
	}
	p := &plugin{name: name}
	p.sch = &schedulerPlugin{h: h, p: p}
	p.cur.Store(newVersion(obj, mod, loadKey(obj), nil))
	return &Trial{h: h, p: p}, nil
}

// Metadata is what the module says about itself.
func (t *Trial) Metadata() *pluginv1.PluginMetadata { return t.p.cur.Load().mod.Metadata() }

// Points are the extension points the trial enables.
func (t *Trial) Points() []string { return t.p.cur.Load().pointList() }

// Weight is the plugin's score weight.
func (t *Trial) Weight() int64 { return t.p.cur.Load().weight }

// Matches reports whether the plugin's admission rules select a request.
func (t *Trial) Matches(req *apiserver.AdmissionRequest) bool { return t.p.cur.Load().matches(req) }

// Admit runs the admission point (mutate or validate) on req and reports
// the decision; a mutation is applied to req.Object. err is a failure of
// the plugin (its failurePolicy would decide).
func (t *Trial) Admit(ctx context.Context, req *apiserver.AdmissionRequest, mutate bool) (allowed bool, reason string, changed bool, err error) {
	point, export := pluginv1.PointAdmissionValidate, abi.ExportValidate
	if mutate {
		point, export = pluginv1.PointAdmissionMutate, abi.ExportMutate
	}
	v := t.p.cur.Load()
	if !v.points[point] {
		return false, "", false, fmt.Errorf("the plugin does not implement %s", point)
	}
	wire, err := wireRequest(req)
	if err != nil {
		return false, "", false, err
	}
	b, err := proto.Marshal(wire)
	if err != nil {
		return false, "", false, err
	}
	resp := &pluginv1.AdmissionResponse{}
	if err := v.mod.Call(ctx, export, b, resp); err != nil {
		return false, "", false, err
	}
	if !resp.GetAllowed() {
		return false, resp.GetReason(), false, nil
	}
	if mutate && len(resp.GetPatchedObject()) > 0 {
		before := proto.Clone(req.Object)
		if err := applyPatch(req, resp.GetPatchedObject()); err != nil {
			return false, "", false, err
		}
		changed = !proto.Equal(before, req.Object)
	}
	return true, "", changed, nil
}

// SchedulerPlugin is the trial's framework plugin, for a profile that adds
// it under its name.
func (t *Trial) SchedulerPlugin() framework.Plugin { return t.p.sch }

// Close releases the module.
func (t *Trial) Close(ctx context.Context) error {
	if v := t.p.cur.Swap(nil); v != nil {
		return v.mod.Close(ctx)
	}
	return nil
}
