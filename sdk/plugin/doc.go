// Package plugin is the Go SDK for Wharf's WebAssembly plugins. A plugin
// is an ordinary Go type that implements one or more of the small
// interfaces below, registered from an init function:
//
//	package main
//
//	import "github.com/wharfhq/wharf/sdk/plugin"
//
//	type noLatest struct{}
//
//	func (noLatest) Validate(req *plugin.AdmissionRequest) error {
//		pod, ok := req.Object.(*wharfv1.Pod)
//		if !ok {
//			return nil
//		}
//		for _, c := range pod.GetSpec().GetContainers() {
//			if strings.HasSuffix(c.GetImage(), ":latest") {
//				return fmt.Errorf("container %q uses :latest; pin a version", c.GetName())
//			}
//		}
//		return nil
//	}
//
//	func init() {
//		plugin.Register(plugin.Info{Name: "no-latest", Version: "1.0.0"}, noLatest{})
//	}
//
//	func main() {} // required by Go, never called
//
// and is built as a WebAssembly reactor:
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -o no-latest.wasm .
//
// The interfaces a plugin may implement, one per extension point:
// Mutator (admission.mutate), Validator (admission.validate), Filter
// (scheduler.filter), Scorer (scheduler.score) and Reconciler
// (controller.reconcile); Configurer receives the Plugin object's config.
// The SDK derives the plugin's extension points from the interfaces it
// implements and provides every export the ABI needs (docs/abi.md): the
// version marker, the allocator, the metadata and one function per point.
// The host keeps the nodes a Filter or Scorer sees current inside the
// plugin; a call carries only the pod and which nodes to look at. Four
// more interfaces make such a plugin cheaper: NodePreparer derives data
// from a node once per version of it, PodSelector lets the SDK answer for
// pods the plugin does not deal with without looking at the nodes,
// IDScorer scores the candidates by id, from what PrepareNode kept in
// slices indexed by it, and IDByteScorer writes those scores as bytes
// straight into the response.
//
// Package plugintest runs a plugin in-process in a test, and builds and
// loads the .wasm in a test host.
//
// Anyone may import this package; it must not import daemon/, nodes/ or
// plugins/.
//
// # Notes
//
//   - A plugin runs single-threaded: the host never calls one instance
//     concurrently, but runs several instances side by side, each with its
//     own memory. Do not rely on state shared between calls except the
//     nodes the SDK keeps.
//   - No filesystem, network or environment: the module has nothing
//     mounted. Write logs to stdout or stderr (fmt.Println, log.Printf);
//     with the "log" capability (on by default) they go to the daemon log
//     under the plugin's name.
//   - Errors: a Validator or Mutator that returns an error refuses the
//     request with the error's text. Wrap an error with Fail to report a
//     failure of the plugin instead (the Plugin's failurePolicy then
//     decides); a panic is such a failure too.
package plugin
