// Package pluginv1 is the contract between Wharf and its plugins: the
// messages each extension point exchanges, generated from the protos
// beside this file, and the names of the extension points and
// capabilities. The WebAssembly ABI (docs/abi.md) and the subprocess
// transport carry these same messages.
//
// Anyone may import it: plugin authors, the Go guest SDK and the host.
package pluginv1

// Extension points, as a plugin's metadata and a Plugin object name them.
const (
	PointAdmissionMutate     = "admission.mutate"
	PointAdmissionValidate   = "admission.validate"
	PointSchedulerFilter     = "scheduler.filter"
	PointSchedulerScore      = "scheduler.score"
	PointControllerReconcile = "controller.reconcile"
)

// ExtensionPoints lists every extension point, in the order the host runs
// them in a request's life.
var ExtensionPoints = []string{
	PointAdmissionMutate,
	PointAdmissionValidate,
	PointSchedulerFilter,
	PointSchedulerScore,
	PointControllerReconcile,
}

// IsExtensionPoint reports whether s names an extension point.
func IsExtensionPoint(s string) bool {
	for _, p := range ExtensionPoints {
		if p == s {
			return true
		}
	}
	return false
}

// Capabilities a plugin may ask for (ABI versions 1 and 2 alike).
const (
	// CapabilityLog: the plugin's stdout and stderr go to the daemon log
	// under its name (without it they are discarded).
	CapabilityLog = "log"
	// CapabilityClock: real wall and monotonic clocks (without it the
	// clocks are fixed and deterministic).
	CapabilityClock = "clock"
)

// Capabilities lists the capabilities the host can grant.
var Capabilities = []string{CapabilityLog, CapabilityClock}

// Failure policies of a Plugin.
const (
	FailurePolicyFail   = "Fail"
	FailurePolicyIgnore = "Ignore"
)
