// Package plugins is Wharf's plugin host: it turns Plugin objects into
// running WebAssembly plugins (package wasm) at the extension points they
// implement, and keeps them current as the objects change, without a
// restart.
//
//   - Modules are uploaded with PluginModuleService.Upload (Host.Handler)
//     and kept by content under the data dir (ModuleStore).
//   - Host.Run follows Plugin objects through the API: it loads a new or
//     changed plugin (the new version loads and validates its config
//     first, then replaces the old one atomically; calls in flight finish
//     on the old), unloads removed ones, and reports each in its status.
//   - Host.Admission is one MutatingAdmission and ValidatingAdmission for
//     the API server that forwards to every loaded admission plugin.
//   - Host.SchedulerAggregate is one framework plugin (WasmPlugins) that
//     forwards to every loaded scheduling plugin, for a scheduler built once
//     at start (EnableAggregate adds it to the profiles);
//     Host.SchedulerRegistry and Host.SchedulerProfile give one framework
//     plugin per Plugin instead, for a scheduler that rebuilds its
//     frameworks on Host.OnSchedulerChange. Nodes reach the plugins as
//     deltas (new or changed NodeInfos), not with every call.
//   - Controller plugins are run by the host: it watches what they declare
//     and applies the actions they return through the API.
//
// Every failure of a plugin applies its failurePolicy and is visible: a
// log line with the plugin's name, the metrics wharf_plugin_calls_total
// and wharf_plugin_call_duration_seconds, and a Warning event on the
// Plugin object.
//
// Only daemon/ (its wiring), cmd/ and the benchmarks (testing/bench)
// import this package.
package plugins
