package plugins

import (
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	"github.com/wharfhq/wharf/plugins/wasm"
)

// ModuleStats returns the instance counters of the module plugin name
// serves now.
func ModuleStats(h *Host, name string) (wasm.Stats, bool) {
	h.mu.Lock()
	p := h.plugins[name]
	h.mu.Unlock()
	if p == nil || p.cur.Load() == nil {
		return wasm.Stats{}, false
	}
	return p.cur.Load().mod.Stats(), true
}

// EncodedPod returns the host's encoding of pi for the scheduling calls;
// nil when it holds none.
func EncodedPod(h *Host, pi *framework.PodInfo) *wasm.Pod {
	if e := h.lastPod.Load(); e != nil && e.pi == pi {
		return e.enc
	}
	return nil
}
