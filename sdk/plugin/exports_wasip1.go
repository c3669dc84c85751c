//go:build wasip1

package plugin

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"unsafe"

	"github.com/wharfhq/wharf/sdk/plugin/abi"
)

// The ABI's exports (docs/abi.md). The host is single-threaded per
// instance: it calls wharf_alloc, writes the request into the buffer, then
// calls one function, and reads the response before the next call. in and
// out keep both buffers alive (and reachable for the GC) between calls.
var (
	in  []byte
	out []byte
)

func init() {
	// The collector keeps Go's default pace (GOGC 100). Collecting four
	// times more seldom (400) saved collections of the nodes a scheduling
	// plugin holds, but left its heap sparse after the host sent them:
	// with the caches cold, as they are inside the scheduler, a GPU score
	// call over 750 nodes took about 135 us against 105 us at the default
	// (BenchmarkScoreInScheduler, cache=cold, interleaved runs). The host
	// caps the instance's memory and says by how much
	// (ConfigureRequest.memory_limit_bytes): the soft memory limit makes
	// the collector run before the cap is reached, however many nodes
	// there are. Only inside a module: a native program that imports the
	// SDK (plugintest, a benchmark that compiles a plugin in) keeps its
	// own garbage-collector settings.
	setMemoryLimit = func(limit uint64) {
		// Leave room for what the runtime does not count as its own
		// (the module's data and stack) and for a collection's lag.
		debug.SetMemoryLimit(int64(limit / 8 * 6))
	}
}

//go:wasmexport wharf_abi_v3
func wharfABIv3() {}

//go:wasmexport wharf_alloc
func wharfAlloc(size uint32) uint32 {
	if uint32(cap(in)) < size || cap(in) == 0 {
		in = make([]byte, max(size, 4096))
	}
	in = in[:size]
	return uint32(uintptr(unsafe.Pointer(unsafe.SliceData(in[:cap(in)]))))
}

//go:wasmexport wharf_metadata
func wharfMetadata() uint64 {
	if registered == nil {
		return 0
	}
	return respond(registered.Metadata())
}

//go:wasmexport wharf_configure
func wharfConfigure(ptr, n uint32) uint64 { return call(abi.ExportConfigure, ptr, n) }

//go:wasmexport wharf_scheduler_nodes
func wharfSchedulerNodes(ptr, n uint32) uint64 { return call(abi.ExportNodes, ptr, n) }

//go:wasmexport wharf_scheduler_filter
func wharfSchedulerFilter(ptr, n uint32) uint64 { return call(abi.ExportFilter, ptr, n) }

//go:wasmexport wharf_scheduler_score
func wharfSchedulerScore(ptr, n uint32) uint64 { return call(abi.ExportScore, ptr, n) }

//go:wasmexport wharf_admission_mutate
func wharfAdmissionMutate(ptr, n uint32) uint64 { return call(abi.ExportMutate, ptr, n) }

//go:wasmexport wharf_admission_validate
func wharfAdmissionValidate(ptr, n uint32) uint64 { return call(abi.ExportValidate, ptr, n) }

//go:wasmexport wharf_controller_reconcile
func wharfControllerReconcile(ptr, n uint32) uint64 { return call(abi.ExportReconcile, ptr, n) }

func call(export string, ptr, n uint32) uint64 {
	if registered == nil {
		return respond(errorResponse(export, "no plugin is registered: call plugin.Register from an init function of package main"))
	}
	base := uint32(uintptr(unsafe.Pointer(unsafe.SliceData(in[:cap(in)]))))
	if cap(in) == 0 || ptr != base || n > uint32(cap(in)) {
		return respond(errorResponse(export, "the request is not in the buffer wharf_alloc returned (host bug)"))
	}
	resp := registered.Call(export, in[:n])
	// Go runs no goroutine but the caller's once an exported function
	// returns, so a collection that began during a call (the collector
	// starts one when the heap reaches its goal) would stay in its mark
	// phase for good, its background workers never scheduled: every
	// pointer write then goes through the write barrier and every
	// allocation assists the marking, which made calls several times
	// slower on an instance holding thousands of nodes. Yielding lets the
	// workers (and any goroutine of the plugin) run before the host gets
	// the response. Not after every call: nothing is runnable most of the
	// time, and a yield runs the scheduler's code, which the host's work
	// between two calls has pushed out of the processor's caches: about
	// 40 us then (8 us warm), 5 us of every call when it was every 8th.
	// wharf_collect, which the host calls between calls, yields too, and
	// collects before the collector would start inside a call: a
	// collection seldom starts in one, and stays in its mark phase for
	// yieldEvery calls at most.
	if calls++; calls%yieldEvery == 0 {
		runtime.Gosched()
	}
	return respond(resp)
}

// wharfCollect collects garbage when the heap is halfway from what the
// last collection left to the collector's goal, before the collector would
// start a collection itself (at 70% of the way at the earliest). Left to
// itself, the collector runs inside calls, there being nowhere else: in
// an instance holding 5,000 nodes (a 19 MiB heap) its marking spread over
// the next 2,500 scheduling calls, each slowed by write barriers and
// assists, some by 5 to 20 ms, against a deadline of 100 ms. Here it takes
// 50 to 65 ms once, between calls, under the host's long deadline; and a
// full collection also sweeps, so the calls after it find nothing of it
// left to do.
//
//go:wasmexport wharf_collect
func wharfCollect() uint32 {
	runtime.Gosched() // a collection under way finishes its marking
	metrics.Read(heap[:])
	live, goal, now := heap[0].Value.Uint64(), heap[1].Value.Uint64(), heap[2].Value.Uint64()
	if now < live+(max(goal, live)-live)/2 {
		return 0
	}
	runtime.GC()
	return 1
}

var heap = [...]metrics.Sample{
	{Name: "/gc/heap/live:bytes"},
	{Name: "/gc/heap/goal:bytes"},
	{Name: "/memory/classes/heap/objects:bytes"},
}

// calls counts the calls into the plugin; every yieldEvery-th yields.
var calls uint

const yieldEvery = 64

func respond(b []byte) uint64 {
	out = b
	if len(b) == 0 {
		return 0
	}
	return abi.Pack(uint32(uintptr(unsafe.Pointer(unsafe.SliceData(b)))), uint32(len(b)))
}
