// Package cputime reads the CPU time of the calling thread, for
// benchmarks that report it next to wall time: on a shared machine wall
// time also counts what other processes did meanwhile, and the CPU time
// of the thread that ran the measured code does not.
//
// Lock the goroutine to its thread (LockThread) around what is measured.
package cputime

import "runtime"

// LockThread locks the calling goroutine to its thread and returns the
// function that unlocks it.
func LockThread() (unlock func()) {
	runtime.LockOSThread()
	return runtime.UnlockOSThread
}
