//go:build !linux

package bench

import "time"

// threadCPU is not measured here.
func threadCPU() time.Duration { return 0 }
