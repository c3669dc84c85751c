package wasm

import (
	"bytes"
	"os"
	"testing"
	"unsafe"

	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
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

// A reservation's pages are faulted in as the guest grows into them, and
// no further.
func TestReservedMemoryPopulates(t *testing.T) {
	if !populating.Load() {
		t.Skip("this kernel cannot fault pages in ahead (MADV_POPULATE_WRITE)")
	}
	const max = 16 << 20
	mem := reserveMemory(64<<10, max).(*reservedMemory)
	defer mem.Free()
	resident := func(from, to int) int {
		page := os.Getpagesize()
		vec := make([]byte, (to-from+page-1)/page)
		b := mem.buf[from:to]
		if _, _, errno := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(unsafe.SliceData(b))), uintptr(len(b)), uintptr(unsafe.Pointer(unsafe.SliceData(vec)))); errno != 0 {
			t.Fatal(errno)
		}
		n := 0
		for _, v := range vec {
			n += int(v & 1)
		}
		return n * page
	}
	for _, size := range []int{64 << 10, 3 << 20, 8 << 20} {
		mem.Reallocate(uint64(size))
		if n := resident(0, size); n != size {
			t.Errorf("grown to %d bytes: %d of them resident", size, n)
		}
		if n := resident(size, max); n != 0 {
			t.Errorf("grown to %d bytes: %d bytes past them resident", size, n)
		}
	}
}
