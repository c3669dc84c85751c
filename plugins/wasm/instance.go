package wasm

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/sys"
	"google.golang.org/protobuf/proto"

	"github.com/wharfhq/wharf/sdk/plugin/abi"
)

// exitTimeout is the exit code the watchdog closes an instance with.
const exitTimeout = 0xdead

// instance is one instantiation of a module: its own memory and state.
// It is used by one goroutine at a time (the pool hands it out).
type instance struct {
	m     *Module
	mod   api.Module
	mem   api.Memory
	alloc api.Function
	fns   [8]namedFn // the exports called so far
	stack [2]uint64

	// buf and bufCap are the request buffer wharf_alloc returned; the ABI
	// lets the host reuse it for requests up to bufCap bytes.
	buf, bufCap uint32

	// timer stops the instance when a call's deadline passes, through
	// interrupt (or by closing the module when it is not instrumented).
	timer     *time.Timer
	timedOut  atomic.Bool
	interrupt api.MutableGlobal

	// nodeSeq is the position in the module's node log this instance has
	// received (scheduling plugins).
	nodeSeq uint64
	// used is when the instance last went back to the pool after a call;
	// calls counts the calls since the last wharf_collect.
	used  time.Time
	calls int
	// nodeBuf and reqBuf are scratch space for node updates and
	// scheduling requests.
	nodeBuf, reqBuf []byte
}

type namedFn struct {
	name string
	fn   api.Function
}

// fn returns an export, nil when the module has none.
func (in *instance) fn(name string) api.Function {
	for i := range in.fns {
		if in.fns[i].name == name {
			return in.fns[i].fn
		}
		if in.fns[i].name == "" {
			f := in.mod.ExportedFunction(name)
			if f == nil {
				return nil
			}
			in.fns[i] = namedFn{name, f}
			return f
		}
	}
	return in.mod.ExportedFunction(name)
}

func (in *instance) expire() {
	in.timedOut.Store(true)
	if in.interrupt != nil {
		in.interrupt.Set(1)
		return
	}
	_ = in.mod.CloseWithExitCode(context.Background(), exitTimeout)
}

// run calls a () -> () or () -> i64 export under a deadline (start
// functions, metadata); the result, if any, is in in.stack[0].
func (in *instance) run(export string, deadline time.Time) error {
	fn := in.fn(export)
	if fn == nil {
		return fmt.Errorf("%w: %s is not exported", ErrABI, export)
	}
	ctx, cancel := in.callContext(deadline)
	defer cancel()
	in.timer.Reset(time.Until(deadline))
	err := fn.CallWithStack(ctx, in.stack[:])
	if !in.timer.Stop() {
		return fmt.Errorf("%w: %s ran past its deadline", ErrTimeout, export)
	}
	in.timedOut.Store(false)
	if err != nil {
		return in.trapped(export, err)
	}
	return nil
}

// callContext is what wazero gets: no Done channel (wazero would start a
// goroutine per call to watch it), except with WithWazeroDeadlines.
func (in *instance) callContext(deadline time.Time) (context.Context, context.CancelFunc) {
	if in.m.engine.wazeroDeadlines {
		return context.WithDeadline(context.Background(), deadline)
	}
	return context.Background(), func() {}
}

func (in *instance) close() {
	in.timer.Stop()
	_ = in.mod.Close(context.Background())
}

// call runs export on req and decodes the response into resp before the
// instance runs again.
func (in *instance) call(deadline time.Time, export string, req []byte, resp proto.Message) error {
	b, err := in.invoke(deadline, export, req)
	if err != nil {
		return err
	}
	return decodeResponse(export, b, resp)
}

// errorField is what every response message has: error, field 15.
type errorField interface{ GetError() string }

func decodeResponse(export string, b []byte, resp proto.Message) error {
	if err := proto.Unmarshal(b, resp); err != nil {
		return fmt.Errorf("%w: %s returned %d bytes that are not a %s: %v", ErrBadResponse, export, len(b), resp.ProtoReflect().Descriptor().Name(), err)
	}
	if e, ok := resp.(errorField); ok && e.GetError() != "" {
		return fmt.Errorf("%w: %s", ErrPlugin, e.GetError())
	}
	return nil
}

// invoke writes req into the guest, calls export and returns the
// response: a view of guest memory, valid until the instance runs again.
// The timer closes the instance if the deadline passes first.
func (in *instance) invoke(deadline time.Time, export string, req []byte) ([]byte, error) {
	fn := in.fn(export)
	if fn == nil {
		return nil, fmt.Errorf("%w: %s is not exported", ErrBadResponse, export)
	}
	d := time.Until(deadline)
	if d <= 0 {
		return nil, fmt.Errorf("%w: no time left before the call", ErrBusy)
	}
	ctx, cancel := in.callContext(deadline)
	defer cancel()
	in.timer.Reset(d)
	b, err := in.invokeUnguarded(ctx, fn, export, req)
	if !in.timer.Stop() {
		return nil, fmt.Errorf("%w: %s ran past its deadline (%s)", ErrTimeout, export, roundDuration(d))
	}
	if err != nil && in.timedOut.Load() {
		return nil, fmt.Errorf("%w: %s ran past its deadline (%s)", ErrTimeout, export, roundDuration(d))
	}
	return b, err
}

func (in *instance) invokeUnguarded(ctx context.Context, fn api.Function, export string, req []byte) ([]byte, error) {
	n := uint32(len(req))
	if n > abi.MaxMessageBytes {
		return nil, fmt.Errorf("request of %d bytes is over the %d-byte limit", n, abi.MaxMessageBytes)
	}
	if in.buf == 0 || n > in.bufCap {
		in.stack[0] = uint64(max(n, 4096))
		if err := in.alloc.CallWithStack(ctx, in.stack[:]); err != nil {
			return nil, in.trapped(abi.ExportAlloc, err)
		}
		in.buf, in.bufCap = uint32(in.stack[0]), max(n, 4096)
		if in.buf == 0 {
			return nil, fmt.Errorf("%w: %s(%d) returned 0 (out of memory?)", ErrTrap, abi.ExportAlloc, in.bufCap)
		}
	}
	if !in.mem.Write(in.buf, req) {
		return nil, fmt.Errorf("%w: %s returned an address outside its memory", ErrBadResponse, abi.ExportAlloc)
	}
	in.stack[0], in.stack[1] = uint64(in.buf), uint64(n)
	if err := fn.CallWithStack(ctx, in.stack[:]); err != nil {
		return nil, in.trapped(export, err)
	}
	ptr, rn := abi.Unpack(in.stack[0])
	if rn > abi.MaxMessageBytes {
		return nil, fmt.Errorf("%w: %s answered %d bytes, over the %d-byte limit", ErrBadResponse, export, rn, abi.MaxMessageBytes)
	}
	if rn == 0 {
		return nil, nil
	}
	b, ok := in.mem.Read(ptr, rn)
	if !ok {
		return nil, fmt.Errorf("%w: %s answered %d bytes at %#x, outside its memory", ErrBadResponse, export, rn, ptr)
	}
	return b, nil
}

// trapped classifies an error from a guest call.
func (in *instance) trapped(export string, err error) error {
	if in.timedOut.Load() {
		return fmt.Errorf("%w: %s ran past its deadline", ErrTimeout, export)
	}
	var exit *sys.ExitError
	if errors.As(err, &exit) {
		return fmt.Errorf("%w: %s: the guest exited with code %d (a Go guest exits with 2 on a fatal error such as running out of memory)", ErrTrap, export, exit.ExitCode())
	}
	return fmt.Errorf("%w: %s: %v", ErrTrap, export, err)
}

// roundDuration rounds d for a message: to milliseconds, or microseconds
// below one (a 500 µs timeout must not read "0s").
func roundDuration(d time.Duration) time.Duration {
	if d < time.Millisecond {
		return d.Round(time.Microsecond)
	}
	return d.Round(time.Millisecond)
}
