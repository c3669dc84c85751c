package wasm

import (
	"context"
	"errors"
	"math"
	"sync/atomic"

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
// place, and its pages are faulted in when the guest grows into them, in
// one system call (see reservedMemory.Reallocate). The pages count against
// the process only once grown into (MAP_NORESERVE), and they never count
// toward the Go heap, so instances do not inflate the daemon's
// garbage-collection goal.
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
type reservedMemory struct {
	buf       []byte
	populated uint64 // bytes from the start faulted in
}

// Reallocate implements experimental.LinearMemory: the first size bytes
// of the reservation, nil past its end.
//
// The pages the guest grows into are faulted in here, in one system call
// (MADV_POPULATE_WRITE), rather than one by one at their first write. A Go
// guest grows its memory as its heap grows, but its heap then takes pages
// from that memory over the next thousands of calls, and each first write
// faulted inside a call: in bench:wasm, about 0.11 faults a score call,
// and the calls that faulted took about 100 us more than the others. Most
// of a scheduling plugin's memory is grown while it takes its nodes, at
// install, outside scheduling calls. A growth is not done twice, and the
// guest cannot see the pages before this returns.
func (r *reservedMemory) Reallocate(size uint64) []byte {
	if size > uint64(len(r.buf)) {
		return nil
	}
	if size > r.populated && populating.Load() {
		switch err := unix.Madvise(r.buf[r.populated:size], unix.MADV_POPULATE_WRITE); {
		case err == nil:
			r.populated = size
		case errors.Is(err, unix.EINVAL):
			populating.Store(false) // before Linux 5.14: pages fault in when written
		}
		// Anything else (ENOMEM, memory is short) leaves the pages to
		// fault in when written, as they would without this.
	}
	return r.buf[:size:size]
}

// populating is cleared when the kernel cannot fault pages in ahead.
var populating atomic.Bool

func init() { populating.Store(true) }

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
