package plugins

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/apiserver"
	"github.com/wharfhq/wharf/sdk/plugin/abi"
)

// Admission is the API server's admission plugin for every loaded
// admission plugin: install it with
//
//	apiserver.WithMutatingAdmission(h.Admission()), apiserver.WithValidatingAdmission(h.Admission())
//
// Mutating plugins run in name order, each seeing the previous one's
// result; validating plugins then see the final object. Plugin objects
// themselves never go through plugin admission, so a broken plugin can
// always be removed.
type Admission struct{ h *Host }

var (
	_ apiserver.MutatingAdmission   = (*Admission)(nil)
	_ apiserver.ValidatingAdmission = (*Admission)(nil)
)

// Admission returns the host's admission plugin.
func (h *Host) Admission() *Admission { return &Admission{h: h} }

// Name implements apiserver.MutatingAdmission.
func (a *Admission) Name() string { return "plugins" }

// Matches implements apiserver.AdmissionMatcher: whether a loaded
// admission plugin's rules take requests of op, kind and namespace.
func (a *Admission) Matches(op apiserver.Operation, kind, namespace string) bool {
	set := a.h.admission.Load()
	if set == nil || kind == "Plugin" {
		return false
	}
	req := &apiserver.AdmissionRequest{Operation: op, Kind: kind, Namespace: namespace}
	for _, p := range *set {
		if v := p.cur.Load(); v != nil && (v.points[pluginv1.PointAdmissionMutate] || v.points[pluginv1.PointAdmissionValidate]) && v.matches(req) {
			return true
		}
	}
	return false
}

// Admit runs the admission.mutate plugins.
func (a *Admission) Admit(ctx context.Context, req *apiserver.AdmissionRequest) error {
	return a.h.admit(ctx, req, true)
}

// Validate runs the admission.validate plugins.
func (a *Admission) Validate(ctx context.Context, req *apiserver.AdmissionRequest) error {
	return a.h.admit(ctx, req, false)
}

// errDenied marks a refusal in metrics.
var errDenied = errors.New("denied")

func (h *Host) admit(ctx context.Context, req *apiserver.AdmissionRequest, mutate bool) error {
	set := h.admission.Load()
	if set == nil || len(*set) == 0 || req.Kind == "Plugin" {
		return nil
	}
	point, export := pluginv1.PointAdmissionValidate, abi.ExportValidate
	if mutate {
		point, export = pluginv1.PointAdmissionMutate, abi.ExportMutate
	}
	var wire *pluginv1.AdmissionRequest
	var reqBytes []byte
	for _, p := range *set {
		v := p.cur.Load()
		if v == nil || !v.points[point] || !v.matches(req) {
			continue
		}
		if reqBytes == nil {
			var err error
			if wire, err = wireRequest(req); err != nil {
				return err
			}
			if reqBytes, err = proto.Marshal(wire); err != nil {
				return err
			}
		}
		resp := &pluginv1.AdmissionResponse{}
		start := time.Now()
		v, err := p.call(func(v *version) error {
			resp.Reset()
			return v.mod.Call(ctx, export, reqBytes, resp)
		})
		if errors.Is(err, errGone) {
			continue
		}
		if err == nil && mutate && len(resp.GetPatchedObject()) > 0 && resp.GetAllowed() {
			err = applyPatch(req, resp.GetPatchedObject())
		}
		metricErr := err
		if err == nil && !resp.GetAllowed() {
			metricErr = errDenied
		}
		h.metrics.observe(p.name, point, start, metricErr)
		if err != nil {
			h.failed(p.name, point, v.ignore, err)
			if v.ignore {
				continue
			}
			return apiserver.AdmissionFailed(p.name, err)
		}
		if !resp.GetAllowed() {
			reason := resp.GetReason()
			if reason == "" {
				reason = "no reason given"
			}
			return apiserver.AdmissionDenied(p.name, reason)
		}
		for _, w := range resp.GetWarnings() {
			h.log.Info("admission warning", "plugin", p.name, "kind", req.Kind, "namespace", req.Namespace, "name", req.Name, "warning", w)
		}
		if mutate && len(resp.GetPatchedObject()) > 0 {
			wire.Object = resp.GetPatchedObject()
			reqBytes, _ = proto.Marshal(wire)
		}
	}
	return nil
}

func wireRequest(req *apiserver.AdmissionRequest) (*pluginv1.AdmissionRequest, error) {
	w := &pluginv1.AdmissionRequest{
		Kind:      req.Kind,
		Namespace: req.Namespace,
		Name:      req.Name,
		User:      &pluginv1.UserInfo{Name: req.User.Name, Groups: req.User.Groups},
	}
	switch req.Operation {
	case apiserver.OpCreate:
		w.Operation = pluginv1.Operation_OPERATION_CREATE
	case apiserver.OpUpdate:
		w.Operation = pluginv1.Operation_OPERATION_UPDATE
	case apiserver.OpDelete:
		w.Operation = pluginv1.Operation_OPERATION_DELETE
	}
	var err error
	enc := proto.MarshalOptions{Deterministic: true}
	if req.Object != nil {
		if w.Object, err = enc.Marshal(req.Object); err != nil {
			return nil, fmt.Errorf("admission: encode object: %w", err)
		}
	}
	if req.OldObject != nil {
		if w.OldObject, err = enc.Marshal(req.OldObject); err != nil {
			return nil, fmt.Errorf("admission: encode old object: %w", err)
		}
	}
	return w, nil
}

type metaObject interface {
	proto.Message
	GetMetadata() *wharfv1.ObjectMeta
}

// applyPatch replaces req.Object's content with a mutating plugin's
// result, in place (the API server keeps its pointer). A patch that is not
// the object's message, or renames it, is a bad answer.
func applyPatch(req *apiserver.AdmissionRequest, patched []byte) error {
	obj, ok := req.Object.(metaObject)
	if !ok {
		return fmt.Errorf("%w: patched a %s, which has no metadata", errBadPatch, req.Kind)
	}
	next := obj.ProtoReflect().New().Interface().(metaObject)
	if err := proto.Unmarshal(patched, next); err != nil {
		return fmt.Errorf("%w: patched_object is not a %s: %v", errBadPatch, req.Kind, err)
	}
	if next.GetMetadata().GetName() != obj.GetMetadata().GetName() || next.GetMetadata().GetNamespace() != obj.GetMetadata().GetNamespace() {
		return fmt.Errorf("%w: patched_object renames %s %q; a mutating plugin may not change name or namespace", errBadPatch, req.Kind, obj.GetMetadata().GetName())
	}
	proto.Reset(obj)
	proto.Merge(obj, next)
	return nil
}

var errBadPatch = errors.New("plugin answered a bad patch")

// matches reports whether a request is one the plugin's admission rules
// select (no rules: every request).
func (v *version) matches(req *apiserver.AdmissionRequest) bool {
	if len(v.rules) == 0 {
		return true
	}
	for _, r := range v.rules {
		if len(r.GetKinds()) > 0 && !slices.Contains(r.GetKinds(), req.Kind) && !slices.Contains(r.GetKinds(), "*") {
			continue
		}
		if len(r.GetOperations()) > 0 && !slices.Contains(r.GetOperations(), string(req.Operation)) {
			continue
		}
		if len(r.GetNamespaces()) > 0 && !slices.Contains(r.GetNamespaces(), req.Namespace) {
			continue
		}
		return true
	}
	return false
}
