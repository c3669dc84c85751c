package wasm

import (
	"context"
	"math"

	"github.com/tetratelabs/wazero/experimental"
	"golang.org/x/sys/unix"
)

// withReservedMemory makes an instance's linear memory a reservation of
// its maximum size (the Plugin's memory limit) in address space, outside
// the Go heap. wazero's own memory is a Go slice that it replaces with a
// larger copy when the guest grows it: a Go guest grows its heap a few
// pages at a time while it runs, and each copy of tens of MiB into fresh
// pages took from milliseconds to over 200 ms on a virtual machine (each
// new page faults in), inside a call's deadline. A reservation grows in
// place: growing touches nothing, and a page faults in once, when the
// guest first writes it. The pages count against the process only once
// touched (MAP_NORESERVE), and they never count toward the Go heap, so
// instances do not inflate the daemon's garbage-collection goal.
func withReservedMemory(ctx context.Context) context.Context {
	return experimental.WithMemoryAllocator(ctx, experimental.MemoryAllocatorFunc(reserveMemory))
}

// reserveMemory is an experimental.MemoryAllocator. When the address
// space cannot be had, it falls back to a Go slice that grows by copying,
// as wazero's own memory does (wazero cannot take no memory).
func reserveMemory(capacity, max uint64) experimental.LinearMemory {
	if max > 0 && max <= math.MaxInt {
		buf, err := unix.Mmap(-1, 0, int(max), unix.PROT_READ|unix.PROT_WRITE, unix.MAP_PRIVATE|unix.MAP_ANONYMOUS|unix.MAP_NORESERVE)
		if err == nil {
			return &reservedMemory{buf: buf}
		}
	}
	return &sliceMemory{buf: make([]byte, 0, min(capacity, max)), max: max}
}

// reservedMemory is a linear memory in a reservation; its address never
// changes.
type reservedMemory struct{ buf []byte }

// Reallocate implements experimental.LinearMemory: the first size bytes
// of the reservation, nil past its end.
func (r *reservedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(r.buf)) {
		return nil
	}
	return r.buf[:size:size]
}

// Free implements experimental.LinearMemory.
func (r *reservedMemory) Free() {
	if r.buf != nil {
		_ = unix.Munmap(r.buf)
		r.buf = nil
	}
}

// sliceMemory is a linear memory in a Go slice, copied to a larger one
// when it grows past its capacity.
type sliceMemory struct {
	buf []byte
	max uint64
}

// Reallocate implements experimental.LinearMemory.
func (s *sliceMemory) Reallocate(size uint64) []byte {
	if size > s.max {
		return nil
	}
	if size > uint64(cap(s.buf)) {
		grown := make([]byte, size, min(max(2*uint64(cap(s.buf)), size), s.max))
		copy(grown, s.buf)
		s.buf = grown
	}
	s.buf = s.buf[:size]
	return s.buf
}

// Free implements experimental.LinearMemory.
func (s *sliceMemory) Free() { s.buf = nil }
