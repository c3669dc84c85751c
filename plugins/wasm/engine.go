package wasm

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/tetratelabs/wazero"
)

// Engine compiles and loads modules. It holds what modules share: the
// compilation cache (on disk when given a directory) and the logger.
type Engine struct {
	cache wazero.CompilationCache
	log   *slog.Logger
	// interruptible is true unless a benchmark turns deadlines off to
	// measure what they cost: modules are instrumented (instrument.go).
	interruptible bool
	// wazeroDeadlines: see WithWazeroDeadlines.
	wazeroDeadlines bool
}

// EngineOption configures an Engine.
type EngineOption interface{ apply(*Engine) }

type engineOptionFunc func(*Engine)

func (f engineOptionFunc) apply(e *Engine) { f(e) }

// WithLogger sets the logger guest output and instance failures go to
// (default slog.Default()).
func WithLogger(l *slog.Logger) EngineOption {
	return engineOptionFunc(func(e *Engine) { e.log = l })
}

// WithoutDeadlines loads modules without the instrumentation that lets the
// host stop a running guest: a call that loops forever never returns. It
// exists to measure what deadlines cost; never use it for untrusted
// modules.
func WithoutDeadlines() EngineOption {
	return engineOptionFunc(func(e *Engine) { e.interruptible = false })
}

// WithWazeroDeadlines makes the host stop guests with wazero's own
// mechanism (WithCloseOnContextDone and a context deadline per call)
// instead of instrumenting modules. It exists to compare the two; it
// makes calls several times slower (docs/RATIONALE.md).
func WithWazeroDeadlines() EngineOption {
	return engineOptionFunc(func(e *Engine) { e.interruptible = false; e.wazeroDeadlines = true })
}

// NewEngine returns an engine that keeps compiled code under cacheDir
// (created if missing), so a module is compiled once across restarts. An
// empty cacheDir keeps compiled code in memory only.
func NewEngine(cacheDir string, opts ...EngineOption) (*Engine, error) {
	e := &Engine{log: slog.Default(), interruptible: true}
	for _, o := range opts {
		o.apply(e)
	}
	if cacheDir == "" {
		e.cache = wazero.NewCompilationCache()
		return e, nil
	}
	// wazero's cache key leaves out whether code was compiled with its
	// termination checks: keep the kinds apart.
	if e.wazeroDeadlines {
		cacheDir = filepath.Join(cacheDir, "wazero-deadlines")
	}
	if err := os.MkdirAll(cacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("wasm: compilation cache: %w", err)
	}
	c, err := wazero.NewCompilationCacheWithDir(cacheDir)
	if err != nil {
		return nil, fmt.Errorf("wasm: compilation cache in %s: %w", cacheDir, err)
	}
	e.cache = c
	return e, nil
}

// Close releases the compilation cache's memory; modules already loaded
// keep working.
func (e *Engine) Close(ctx context.Context) error { return e.cache.Close(ctx) }

func (e *Engine) runtimeConfig(memoryPages uint32) wazero.RuntimeConfig {
	return wazero.NewRuntimeConfig().
		WithCompilationCache(e.cache).
		WithMemoryLimitPages(memoryPages).
		WithCloseOnContextDone(e.wazeroDeadlines).
		// Go modules carry megabytes of DWARF; function names are enough
		// in a trap's stack trace.
		WithDebugInfoEnabled(false)
}
