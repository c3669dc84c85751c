package wasm

import (
	"runtime"
	"time"
)

// Defaults of Config.
const (
	DefaultTimeout        = 100 * time.Millisecond
	DefaultMemoryLimitMiB = 64
	maxDefaultInstances   = 8
)

// Config is how one plugin version runs.
type Config struct {
	// Name is the Plugin object's name: errors and log lines carry it.
	Name string
	// PluginConfig is the plugin's config as JSON, handed to
	// wharf_configure; nil or empty means "{}".
	PluginConfig []byte
	// Timeout is the deadline of each call unless the call's context has
	// an earlier one (default DefaultTimeout).
	Timeout time.Duration
	// MemoryLimitMiB caps each instance's memory (default
	// DefaultMemoryLimitMiB).
	MemoryLimitMiB int
	// MaxInstances caps the instances that run calls at once (default:
	// GOMAXPROCS, at most 8).
	MaxInstances int
}

func (c Config) withDefaults() Config {
	if c.Timeout <= 0 {
		c.Timeout = DefaultTimeout
	}
	if c.MemoryLimitMiB <= 0 {
		c.MemoryLimitMiB = DefaultMemoryLimitMiB
	}
	if c.MaxInstances <= 0 {
		c.MaxInstances = min(runtime.GOMAXPROCS(0), maxDefaultInstances)
	}
	if len(c.PluginConfig) == 0 {
		c.PluginConfig = []byte("{}")
	}
	return c
}

// memoryPages converts MiB to 64 KiB WebAssembly pages.
func (c Config) memoryPages() uint32 { return uint32(c.MemoryLimitMiB) * 16 }
