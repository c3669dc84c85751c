package apiserver

import (
	"fmt"
	"strings"
	"time"

	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
)

// Bounds on a Plugin's settings; the plugin host applies the defaults.
const (
	pluginMaxTimeout      = 30 * time.Second
	pluginMinMemoryMiB    = 2
	pluginMaxMemoryMiB    = 4096
	pluginMaxInstances    = 256
	pluginMaxScoreWeight  = 100
	pluginMaxResyncSecond = 24 * 3600
)

var pluginStrategy = strategy{
	prepareCreate: func(obj proto.Message) {
		p := obj.(*wharfv1.Plugin)
		p.Status = &wharfv1.PluginStatus{Phase: "Pending", Message: "waiting for the plugin host to load the module"}
	},
	defaults: func(obj proto.Message) {
		p := obj.(*wharfv1.Plugin)
		if p.Spec == nil {
			p.Spec = &wharfv1.PluginSpec{}
		}
		if p.Spec.FailurePolicy == "" {
			p.Spec.FailurePolicy = pluginv1.FailurePolicyFail
		}
	},
	validate: validatePlugin,
}

func validatePlugin(obj proto.Message) fieldErrors {
	p := obj.(*wharfv1.Plugin)
	s := p.GetSpec()
	var fe fieldErrors
	validateModuleDigest(&fe, "spec.module", s.GetModule())
	seen := map[string]bool{}
	for i, ep := range s.GetExtensionPoints() {
		path := fmt.Sprintf("spec.extensionPoints[%d]", i)
		if !pluginv1.IsExtensionPoint(ep) {
			fe.add(path, "%q is not an extension point; use one of %s", ep, strings.Join(pluginv1.ExtensionPoints, ", "))
		} else if seen[ep] {
			fe.add(path, "%q is listed twice", ep)
		}
		seen[ep] = true
	}
	if fp := s.GetFailurePolicy(); fp != "" {
		oneOf(&fe, "spec.failurePolicy", fp, pluginv1.FailurePolicyFail, pluginv1.FailurePolicyIgnore)
	}
	if t := s.GetTimeout(); t != "" {
		d, err := time.ParseDuration(t)
		switch {
		case err != nil:
			fe.add("spec.timeout", "%q is not a duration; write it like 100ms or 2s", t)
		case d <= 0 || d > pluginMaxTimeout:
			fe.add("spec.timeout", "%s is out of range; want more than 0 and at most %s", t, pluginMaxTimeout)
		}
	}
	if m := s.GetMemoryLimitMib(); m != 0 && (m < pluginMinMemoryMiB || m > pluginMaxMemoryMiB) {
		fe.add("spec.memoryLimitMiB", "%d is out of range; want %d to %d (MiB)", m, pluginMinMemoryMiB, pluginMaxMemoryMiB)
	}
	if w := s.GetScoreWeight(); w < 0 || w > pluginMaxScoreWeight {
		fe.add("spec.scoreWeight", "%d is out of range; want 1 to %d (0 means 1)", w, pluginMaxScoreWeight)
	}
	if n := s.GetMaxInstances(); n < 0 || n > pluginMaxInstances {
		fe.add("spec.maxInstances", "%d is out of range; want 1 to %d (0: one per CPU)", n, pluginMaxInstances)
	}
	for i, r := range s.GetAdmissionRules() {
		path := fmt.Sprintf("spec.admissionRules[%d]", i)
		for j, k := range r.GetKinds() {
			if _, ok := wharfv1.LookupKind(k); !ok && k != "*" {
				fe.add(fmt.Sprintf("%s.kinds[%d]", path, j), "%q is not a kind this server serves", k)
			}
		}
		for j, op := range r.GetOperations() {
			oneOf(&fe, fmt.Sprintf("%s.operations[%d]", path, j), op, string(OpCreate), string(OpUpdate), string(OpDelete))
		}
		for j, ns := range r.GetNamespaces() {
			validateDNSLabel(&fe, fmt.Sprintf("%s.namespaces[%d]", path, j), ns)
		}
	}
	for i, w := range s.GetWatches() {
		path := fmt.Sprintf("spec.watches[%d]", i)
		if w.GetKind() == "" {
			fe.add(path+".kind", "required; e.g. Pod")
		} else if _, ok := wharfv1.LookupKind(w.GetKind()); !ok {
			fe.add(path+".kind", "%q is not a kind this server serves", w.GetKind())
		}
		if ns := w.GetNamespace(); ns != "" {
			validateDNSLabel(&fe, path+".namespace", ns)
		}
		if _, err := client.ParseLabelSelector(w.GetLabelSelector()); err != nil {
			fe.add(path+".labelSelector", "%v", err)
		}
		if r := w.GetResyncSeconds(); r < 0 || r > pluginMaxResyncSecond {
			fe.add(path+".resyncSeconds", "%d is out of range; want 1 to %d (0: 60)", r, pluginMaxResyncSecond)
		}
	}
	return fe
}

// validateModuleDigest checks "sha256:<64 lowercase hex digits>".
func validateModuleDigest(fe *fieldErrors, path, v string) {
	if v == "" {
		fe.add(path, "required; upload the module with `wharf plugin install FILE.wasm` (or PluginModuleService.Upload) and use the digest it returns")
		return
	}
	hex, ok := strings.CutPrefix(v, "sha256:")
	if !ok || len(hex) != 64 || strings.Trim(hex, "0123456789abcdef") != "" {
		fe.add(path, "%q is not a module digest; want sha256: and 64 lowercase hex digits", v)
	}
}
