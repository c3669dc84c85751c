//go:build !wasm

package plugin

// viewsIDs: idsOf returns a view of the request's bytes.
const viewsIDs = false

// idsOf returns the packed fixed32 ids v (len(v) a multiple of 4), decoded
// into buf (grown when too small): outside WebAssembly (plugintest, a
// plugin compiled into a host) the platform's byte order and alignment
// rules are not assumed.
func idsOf(v []byte, buf []uint32) []uint32 { return appendIDs(buf[:0], v) }
