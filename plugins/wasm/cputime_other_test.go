//go:build !linux

package wasm_test

import "time"

var processStart = time.Now()

// threadCPU falls back to wall time where the thread's CPU clock is not
// at hand.
func threadCPU() time.Duration { return time.Since(processStart) }

func lockThread() func() { return func() {} }
