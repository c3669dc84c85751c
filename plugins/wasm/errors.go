package wasm

import "errors"

var (
	// ErrABI: the module does not follow the ABI (missing or mistyped
	// exports, unknown imports, wrong ABI version, bad metadata). Returned
	// by Load, with a message that says what is wrong.
	ErrABI = errors.New("module does not follow the Wharf plugin ABI")
	// ErrConfig: the plugin rejected its config (Load).
	ErrConfig = errors.New("plugin rejected its config")
	// ErrMemoryLimit: the module's memory at start is over the memory
	// limit it was loaded with (Load).
	ErrMemoryLimit = errors.New("module needs more memory than its limit")
	// ErrTimeout: a call ran past its deadline; the instance was closed.
	ErrTimeout = errors.New("plugin call timed out")
	// ErrTrap: the guest trapped or exited during a call (a panic, an
	// out-of-bounds access, running out of memory); the instance was
	// closed.
	ErrTrap = errors.New("plugin crashed")
	// ErrBadResponse: the guest answered with bytes that are not the
	// expected message, or too many; the instance was closed.
	ErrBadResponse = errors.New("plugin answered garbage")
	// ErrPlugin: the guest reported a failure in its response's error
	// field. The instance is kept.
	ErrPlugin = errors.New("plugin reported an error")
	// ErrClosed: the Module was closed (after an upgrade or a removal).
	ErrClosed = errors.New("plugin module is closed")
	// ErrBusy: no instance became free before the call's deadline.
	ErrBusy = errors.New("no plugin instance free before the deadline")
)

// Discarded reports whether err means the instance that served the call
// was closed and replaced.
func Discarded(err error) bool {
	return errors.Is(err, ErrTimeout) || errors.Is(err, ErrTrap) || errors.Is(err, ErrBadResponse)
}
