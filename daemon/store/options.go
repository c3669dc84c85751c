package store

import (
	"io"
	"log/slog"
	"time"
)

// Defaults for Open.
const (
	// DefaultCompactionInterval is how often the scheduled compactor runs.
	DefaultCompactionInterval = 5 * time.Minute
	// DefaultCompactionRetain is how many revisions of history the
	// scheduled compactor keeps.
	DefaultCompactionRetain = 100_000
	// DefaultWatchBuffer is how many events a watcher may have waiting
	// before it is cut off with ErrWatcherTooSlow.
	DefaultWatchBuffer = 4096
	// DefaultProgressInterval is how long a watch may stay idle before it
	// gets an EventProgress.
	DefaultProgressInterval = 5 * time.Second
)

// An Option configures Open. Only this package implements Option.
type Option interface {
	apply(*config)
}

type config struct {
	logger             *slog.Logger
	compactionInterval time.Duration
	compactionRetain   int64
	watchBuffer        int
	progressInterval   time.Duration
	memTableSize       int64
}

func defaultConfig() config {
	return config{
		logger:             slog.New(slog.NewTextHandler(io.Discard, nil)),
		compactionInterval: DefaultCompactionInterval,
		compactionRetain:   DefaultCompactionRetain,
		watchBuffer:        DefaultWatchBuffer,
		progressInterval:   DefaultProgressInterval,
		memTableSize:       64 << 20,
	}
}

type optionFunc func(*config)

func (f optionFunc) apply(c *config) { f(c) }

// WithLogger sets the logger for the store and for Badger. Badger's own
// messages are logged at warn level and above only. The default discards
// everything.
func WithLogger(l *slog.Logger) Option {
	return optionFunc(func(c *config) {
		if l != nil {
			c.logger = l
		}
	})
}

// WithCompaction schedules compaction every interval, keeping the last
// retain revisions of history (watches may resume that far back). An
// interval of zero or less turns the scheduled compactor off; Compact still
// works. Defaults: DefaultCompactionInterval and DefaultCompactionRetain.
func WithCompaction(interval time.Duration, retain int64) Option {
	return optionFunc(func(c *config) {
		c.compactionInterval = interval
		c.compactionRetain = max(retain, 0)
	})
}

// WithWatchBuffer sets how many events a watcher may have waiting (both in
// its Events channel and while it catches up from history) before it is
// closed with ErrWatcherTooSlow. Default DefaultWatchBuffer.
func WithWatchBuffer(n int) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.watchBuffer = n
		}
	})
}

// WithProgressInterval sets how long a watch may stay idle before it is
// sent an EventProgress with the latest revision. Zero or less turns
// progress events off. Default DefaultProgressInterval.
func WithProgressInterval(d time.Duration) Option {
	return optionFunc(func(c *config) { c.progressInterval = d })
}

// WithMemTableSize sets Badger's memtable size in bytes (default 64 MiB).
// It also bounds how many bytes one group commit may carry (about 15%
// of it), hence the largest single write. Tests use small values to keep
// memory down.
func WithMemTableSize(n int64) Option {
	return optionFunc(func(c *config) {
		if n > 0 {
			c.memTableSize = n
		}
	})
}
