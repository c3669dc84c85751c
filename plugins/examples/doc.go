// Package examples holds example Wharf plugins, one per directory, each a
// package main built with
//
//		GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o NAME.wasm ./plugins/examples/NAME
//
//	  - gpuscore: scheduler.filter and scheduler.score, GPU-aware (model
//	    match, GPU memory bin-packing); its code is in gpuscore/scorer,
//	    which the scheduler benchmark also compiles in natively.
//	  - requirelimits: admission.validate (resource limits required, no
//	    :latest images).
//	  - defaults: admission.mutate (default labels and tolerations).
//	  - podttl: controller.reconcile (delete finished pods after a TTL).
//	  - preferzone: scheduler.score (prefer nodes in the zones the config
//	    names); the scorer of the plugin tutorial, docs/plugins.md.
//	  - requireteam: admission.validate (pods need a team label); the
//	    validator of the plugin tutorial.
//
// The plugin host's tests build and exercise them end to end; each also
// has in-process tests with sdk/plugin/plugintest.
package examples
