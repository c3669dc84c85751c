// Package wasm runs Wharf plugins compiled to WebAssembly, on wazero: it
// checks a module against the ABI (docs/abi.md), compiles it once (with an
// on-disk compilation cache), and runs calls on a pool of instances with a
// memory limit and a deadline per call.
//
// It knows the ABI and the wharf.plugin.v1 messages, not the daemon: the
// plugin manager (package plugins) adapts a Module to admission, the
// scheduling framework and controllers. Only plugins/... imports it.
//
// # Sandbox
//
// A module may import only wasi_snapshot_preview1, and gets nothing
// through it: no files or directories, no network, no environment, no
// arguments. Its stdout and stderr go to the daemon log under the plugin's
// name when it asks for the "log" capability (else nowhere); its clocks
// are real only with "clock". Its memory is capped (Config.MemoryLimitMiB):
// growing past the cap fails inside the guest, which for a Go guest is a
// fatal "out of memory" and ends the instance.
//
// # Failures
//
// An instance that traps, exits, runs past its deadline, or answers with
// bytes that are not the expected message (or are longer than
// abi.MaxMessageBytes) is closed and replaced by a fresh one; the call
// returns an error that wraps ErrTrap, ErrTimeout or ErrBadResponse. A
// plugin that answers with its response's error field set returns an
// error wrapping ErrPlugin, and its instance is kept. Whether such errors
// refuse a request or are ignored is the caller's failurePolicy.
//
// # Deadlines
//
// Calls do not pass their context to wazero. The runtime is built with
// WithCloseOnContextDone, which makes compiled code check a flag at
// function entries and loop heads, and each instance owns one reusable
// timer that closes the instance when a call's deadline passes. A context
// with a deadline handed to wazero would instead cost a goroutine per
// call; see docs/RATIONALE.md ("Why a timer per instance for plugin
// deadlines?") for the measurements.
//
// # Notes
//
//   - A Module is safe for concurrent use; each call takes an instance
//     from the pool (creating one, up to Config.MaxInstances, or waiting
//     for one until the call's deadline).
//   - Close waits for calls in flight (each bounded by its deadline) and
//     then releases the module; calls that start after Close fail with
//     ErrClosed, which a caller holding a newer version retries on it.
package wasm
