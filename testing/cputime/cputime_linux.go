//go:build linux

package cputime

import (
	"syscall"
	"time"
	"unsafe"
)

// Supported reports whether Thread reads the thread's CPU clock.
const Supported = true

// Thread returns the CPU time the calling thread has used
// (CLOCK_THREAD_CPUTIME_ID).
func Thread() time.Duration {
	var ts syscall.Timespec
	const clockThreadCPUTime = 3
	syscall.Syscall(syscall.SYS_CLOCK_GETTIME, clockThreadCPUTime, uintptr(unsafe.Pointer(&ts)), 0)
	return time.Duration(ts.Nano())
}
