package framework

import "runtime"

// Option configures a Framework.
type Option interface {
	apply(*options)
}

type options struct {
	parallelism int
}

type optionFunc func(*options)

func (f optionFunc) apply(o *options) { f(o) }

// WithParallelism sets how many goroutines filter nodes in one cycle
// (default GOMAXPROCS). 1 filters on the calling goroutine only.
func WithParallelism(n int) Option {
	return optionFunc(func(o *options) { o.parallelism = max(n, 1) })
}

func newOptions(opts []Option) options {
	o := options{parallelism: runtime.GOMAXPROCS(0)}
	for _, opt := range opts {
		opt.apply(&o)
	}
	return o
}
