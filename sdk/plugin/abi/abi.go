// Package abi states Wharf's WebAssembly plugin ABI, version 3, in Go: the
// names and signatures of the exports a module provides, how request and
// response bytes cross the module's memory, and the metadata a module
// carries. docs/abi.md is the full specification; this package is what the
// host, the Go guest SDK and tools share so that they cannot disagree.
//
// Anyone may import it (it has no WebAssembly runtime in it): plugin
// authors' tools, the Go guest SDK and the host.
//
// # In one paragraph
//
// A plugin is a reactor module (exports _initialize, not _start) that
// exports its linear memory as "memory", the marker function wharf_abi_v3,
// an allocator wharf_alloc(size i32) -> i32, and one function per extension
// point it implements, each (ptr i32, len i32) -> i64. The host asks
// wharf_alloc for a buffer, writes the request (protobuf of a
// wharf.plugin.v1 message) there, calls the function with the buffer's
// address and length, and reads the response from the address and length
// packed into the i64 result (Pack). Buffers belong to the guest and stay
// valid until the guest is called again.
package abi

import "fmt"

// Version is the ABI version this package describes. Version 2 added
// accounting-only node updates (NodeUpdate.accounting), which a guest of
// version 1 would ignore, and sends the candidates' ids of a Filter or
// Score request as fixed32 (field 4) instead of varints (field 2).
// Version 3 sends small node updates inside the Filter or Score request
// (node_update, field 5) instead of in a call of their own, which a guest
// of version 2 would ignore.
const Version = 3

// Exports every module has.
const (
	// ExportMemory is the module's linear memory.
	ExportMemory = "memory"
	// ExportMarker is a function () -> () whose presence says the module
	// speaks ABI version 3. The host never calls it. A module for version N
	// exports MarkerPrefix followed by N.
	ExportMarker = "wharf_abi_v3"
	// MarkerPrefix starts every version marker.
	MarkerPrefix = "wharf_abi_v"
	// ExportAlloc is (size i32) -> (ptr i32): a buffer of at least size
	// bytes in the guest's memory, valid until the next call into the
	// guest other than wharf_alloc itself. The host writes a request there.
	// A zero pointer means the guest could not allocate.
	ExportAlloc = "wharf_alloc"
)

// Optional exports.
const (
	// ExportInitialize is the reactor's start function; the host calls it
	// once when it instantiates the module, before anything else.
	ExportInitialize = "_initialize"
	// ExportStart marks a command module (one that runs main and exits); the
	// host refuses such modules.
	ExportStart = "_start"
	// ExportMetadata is () -> i64: the packed address of PluginMetadata as
	// protobuf. Required when the module has no metadata custom section.
	ExportMetadata = "wharf_metadata"
	// ExportConfigure takes ConfigureRequest and returns ConfigureResponse;
	// the host calls it once per instance, after _initialize. A module
	// without it accepts only an empty config.
	ExportConfigure = "wharf_configure"
	// ExportNodes takes NodeUpdate and returns NodeUpdateResponse. Required
	// with scheduler.filter or scheduler.score: the host sends large updates
	// (every node, to a fresh instance) through it, and small ones inside
	// the Filter or Score request.
	ExportNodes = "wharf_scheduler_nodes"
	// ExportCollect is () -> i32: the guest may reclaim memory now. The
	// host calls it now and then between calls, under a long deadline; it
	// returns 1 when it collected, else 0. A guest with a garbage collector
	// collects here before its collector would start a collection inside a
	// call, where it would count against that call's deadline.
	ExportCollect = "wharf_collect"
)

// Exports per extension point: each is (ptr i32, len i32) -> i64.
const (
	ExportMutate    = "wharf_admission_mutate"     // AdmissionRequest -> AdmissionResponse
	ExportValidate  = "wharf_admission_validate"   // AdmissionRequest -> AdmissionResponse
	ExportFilter    = "wharf_scheduler_filter"     // FilterRequest -> FilterResponse
	ExportScore     = "wharf_scheduler_score"      // ScoreRequest -> ScoreResponse
	ExportReconcile = "wharf_controller_reconcile" // ReconcileRequest -> ReconcileResponse
)

// SectionMetadata is the name of the custom section that holds the
// module's PluginMetadata as JSON (protojson field names).
const SectionMetadata = "wharf.plugin.v1"

// MaxMessageBytes caps a request or response: a response longer than this
// is garbage, and the instance that produced it is discarded.
const MaxMessageBytes = 16 << 20

// ExportFor returns the export that serves an extension point, or "" for a
// name that is not one.
func ExportFor(point string) string {
	switch point {
	case "admission.mutate":
		return ExportMutate
	case "admission.validate":
		return ExportValidate
	case "scheduler.filter":
		return ExportFilter
	case "scheduler.score":
		return ExportScore
	case "controller.reconcile":
		return ExportReconcile
	}
	return ""
}

// Pack puts a guest address and a length into the i64 a call returns:
// address in the high 32 bits, length in the low 32 bits.
func Pack(ptr, n uint32) uint64 { return uint64(ptr)<<32 | uint64(n) }

// Unpack splits what Pack made.
func Unpack(v uint64) (ptr, n uint32) { return uint32(v >> 32), uint32(v) }

// Signature is a function type in WebAssembly terms, e.g. "(i32,i32)->i64".
type Signature string

// Signatures of the ABI's functions.
const (
	SigMarker   Signature = "()->()"
	SigAlloc    Signature = "(i32)->i32"
	SigMetadata Signature = "()->i64"
	SigCall     Signature = "(i32,i32)->i64"
	SigCollect  Signature = "()->i32"
)

// ExportSignature returns the signature an ABI export must have, and
// whether name is an ABI export at all.
func ExportSignature(name string) (Signature, bool) {
	switch name {
	case ExportMarker:
		return SigMarker, true
	case ExportAlloc:
		return SigAlloc, true
	case ExportMetadata:
		return SigMetadata, true
	case ExportCollect:
		return SigCollect, true
	case ExportConfigure, ExportNodes, ExportMutate, ExportValidate, ExportFilter, ExportScore, ExportReconcile:
		return SigCall, true
	}
	return "", false
}

// FormatSignature writes a signature from WebAssembly value type names.
func FormatSignature(params, results []string) Signature {
	s := "("
	for i, p := range params {
		if i > 0 {
			s += ","
		}
		s += p
	}
	s += ")->"
	switch len(results) {
	case 0:
		s += "()"
	case 1:
		s += results[0]
	default:
		s += "(" + fmt.Sprint(results) + ")"
	}
	return Signature(s)
}
