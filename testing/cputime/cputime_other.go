//go:build !linux

package cputime

import "time"

// Supported reports whether Thread reads the thread's CPU clock.
const Supported = false

var start = time.Now()

// Thread falls back to wall time where the thread's CPU clock is not at
// hand.
func Thread() time.Duration { return time.Since(start) }
