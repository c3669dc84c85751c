//go:build !linux

package wasm

import "context"

// withReservedMemory leaves the instance's memory to wazero outside
// Linux (see memory_linux.go).
func withReservedMemory(ctx context.Context) context.Context { return ctx }
