//go:build wasm

package plugin

import "unsafe"

// viewsIDs: idsOf returns a view of the request's bytes.
const viewsIDs = true

// idsOf returns the packed fixed32 ids v (len(v) a multiple of 4) as a
// []uint32 that is v itself: WebAssembly is little-endian and loads need
// no alignment, so a call reads its candidates where the host wrote them,
// without a pass to copy them. The view is valid until the next call
// overwrites the request; buf is unused.
func idsOf(v []byte, _ []uint32) []uint32 {
	if len(v) < 4 {
		return nil
	}
	return unsafe.Slice((*uint32)(unsafe.Pointer(unsafe.SliceData(v))), len(v)/4)
}
