// Package hook lets plugintest reach the guest side of package plugin
// without making it part of plugin's API. Only sdk/plugin/... imports it.
package hook

// Guest is a plugin at the level of the ABI: bytes in, bytes out.
type Guest interface {
	// Call runs one export (abi.Export*) on a request's bytes.
	Call(export string, req []byte) []byte
	// Metadata returns PluginMetadata as protobuf.
	Metadata() []byte
}

// New returns the guest for a plugin.Info and an implementation; package
// plugin sets it at init.
var New func(info, impl any) (Guest, error)
