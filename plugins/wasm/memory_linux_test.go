package wasm

import (
	"bytes"
	"testing"
	"unsafe"

	"github.com/tetratelabs/wazero/experimental"
)

// Both linear memories keep what was written when they grow, give out no
// more than their maximum, and the reservation never moves.
func TestLinearMemories(t *testing.T) {
	const max = 8 << 20
	for name, mem := range map[string]experimental.LinearMemory{
		"reserved": reserveMemory(64<<10, max),
		"slice":    &sliceMemory{buf: make([]byte, 0, 64<<10), max: max},
	} {
		t.Run(name, func(t *testing.T) {
			defer mem.Free()
			b := mem.Reallocate(64 << 10)
			if len(b) != 64<<10 {
				t.Fatalf("len %d", len(b))
			}
			copy(b, "hello")
			base := unsafe.SliceData(b)
			for _, size := range []uint64{128 << 10, 1 << 20, max} {
				b = mem.Reallocate(size)
				if uint64(len(b)) != size || !bytes.HasPrefix(b, []byte("hello")) || b[size-1] != 0 {
					t.Fatalf("grown to %d: len %d, prefix %q", size, len(b), b[:5])
				}
				if name == "reserved" && unsafe.SliceData(b) != base {
					t.Fatal("the reservation moved")
				}
			}
			if b := mem.Reallocate(max + 1); b != nil {
				t.Errorf("grew past the maximum to %d", len(b))
			}
		})
	}
	if _, ok := reserveMemory(0, 1<<20).(*reservedMemory); !ok {
		t.Error("a reservation of 1 MiB was not made")
	}
}
