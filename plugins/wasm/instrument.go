package wasm

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// InterruptGlobal is the mutable i32 global instrument adds and exports:
// the host sets it to 1 to stop the instance, which then traps at its
// next function entry or loop iteration. A module may not export this
// name itself.
const InterruptGlobal = "wharf_interrupt"

// instrument returns module rewritten so that a running instance can be
// stopped cheaply. It adds a mutable i32 global, the interrupt flag
// (exported as InterruptGlobal; the host sets it to 1 to stop the
// instance), an i32 local to every function, the back-edge counter, and
// two checks.
//
// At every function entry, the flag (and the counter is set):
//
//	global.get $interrupt
//	if unreachable end
//	i32.const checkInterval
//	local.set $n
//
// Before every branch back to a loop (a back-edge), a count-down that now
// and then leaves compiled code and checks the flag:
//
//	local.get $n
//	i32.const 1
//	i32.sub
//	local.tee $n
//	i32.eqz
//	if                    ;; every checkInterval back-edges:
//	  i32.const 0
//	  memory.grow 0       ;;   an exit to Go in wazero's compiler
//	  drop
//	  i32.const checkInterval
//	  local.set $n
//	  global.get $interrupt
//	  if unreachable end
//	end
//
// A guest cannot run for long without passing one: wasm repeats code only
// through loops and calls. The exit matters as much as the flag: Go cannot
// preempt a goroutine inside compiled wasm, so a looping guest that never
// left it would stall every stop-the-world (the garbage collector) and,
// with it, the timer that sets the flag. memory.grow with a delta of 0
// changes nothing but returns to Go; once per checkInterval back-edges it
// costs next to nothing. The counter is a local (a register), not a
// global (memory): a store and reload on every iteration was most of the
// cost. It sits on back-edges, not loop heads, because every Go function
// is a loop (how Go resumes goroutines): at loop heads it would run on
// every call.
//
// wazero's own mechanism (WithCloseOnContextDone) leaves compiled code at
// every loop iteration and costs several times as much (docs/RATIONALE.md).
// Like it, this one does not make a guest that recurses without looping
// long in any one call leave compiled code; such a guest is still stopped
// by the flag at its next call, unless a stop-the-world began first.
//
// instrument decodes every instruction to find loops and branches; a
// module that uses an instruction it does not know is refused
// (errInstrument).
func instrument(module []byte) ([]byte, error) {
	r := &reader{b: module}
	if len(module) < 8 || string(module[:4]) != "\x00asm" || string(module[4:8]) != "\x01\x00\x00\x00" {
		return nil, fmt.Errorf("%w: not a WebAssembly module (bad magic number or version)", errInstrument)
	}
	r.i = 8
	type section struct {
		id   byte
		body []byte
	}
	var sections []section
	for r.i < len(r.b) {
		id := r.byte()
		size := r.u32()
		body := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("%w: section %d: %v", errInstrument, id, r.err)
		}
		sections = append(sections, section{id, body})
	}
	var importedGlobals, definedGlobals, importedFuncs uint32
	var typeParams []uint32 // params per type
	voidType := -1          // a () -> () type, for the yield function
	var funcTypes []uint32  // type per defined function
	hasGlobalSection, hasMemory := false, false
	for _, s := range sections {
		switch s.id {
		case 1:
			var err error
			if typeParams, voidType, err = paramCounts(s.body); err != nil {
				return nil, fmt.Errorf("%w: type section: %v", errInstrument, err)
			}
		case 3:
			sr := &reader{b: s.body}
			n := sr.u32()
			for i := uint32(0); i < n && sr.err == nil; i++ {
				funcTypes = append(funcTypes, sr.u32())
			}
			if sr.err != nil {
				return nil, fmt.Errorf("%w: function section: %v", errInstrument, sr.err)
			}
		case 2:
			n, mems, funcs, err := countImports(s.body)
			if err != nil {
				return nil, fmt.Errorf("%w: import section: %v", errInstrument, err)
			}
			importedGlobals, importedFuncs = n, funcs
			hasMemory = hasMemory || mems > 0
		case 5:
			sr := &reader{b: s.body}
			hasMemory = hasMemory || sr.u32() > 0
		case 6:
			hasGlobalSection = true
			sr := &reader{b: s.body}
			definedGlobals = sr.u32()
			if sr.err != nil {
				return nil, fmt.Errorf("%w: global section: %v", errInstrument, sr.err)
			}
		case 7:
			if err := checkExportName(s.body); err != nil {
				return nil, err
			}
		}
	}
	if !hasMemory || funcTypes == nil {
		// Not a plugin (no memory, no functions): checkModule refuses it
		// with a better message than instrument could; it never runs.
		return module, nil
	}
	idx := importedGlobals + definedGlobals            // $interrupt
	newGlobals := []byte{0x7f, 0x01, 0x41, 0x00, 0x0b} // mut i32 = 0
	addVoidType := voidType < 0
	if addVoidType {
		voidType = len(typeParams)
	}
	yield := importedFuncs + uint32(len(funcTypes)) // the function instrument adds

	out := append([]byte(nil), module[:8]...)
	emit := func(id byte, body []byte) {
		out = append(out, id)
		out = binary.AppendUvarint(out, uint64(len(body)))
		out = append(out, body...)
	}
	// order gives a section's place; custom sections keep theirs.
	order := func(id byte) int {
		switch id {
		case 13: // tag: between memory and global
			return 55
		case 12: // data count: before code
			return 95
		}
		return int(id) * 10
	}
	globalDone := hasGlobalSection
	for _, s := range sections {
		if !globalDone && s.id != 0 && order(s.id) > order(6) {
			emit(6, append(binary.AppendUvarint(nil, 1), newGlobals...))
			globalDone = true
		}
		switch s.id {
		case 6:
			sr := &reader{b: s.body}
			n := sr.u32()
			body := binary.AppendUvarint(nil, uint64(n+1))
			body = append(body, s.body[sr.i:]...)
			emit(6, append(body, newGlobals...))
		case 7:
			sr := &reader{b: s.body}
			n := sr.u32()
			body := binary.AppendUvarint(nil, uint64(n+1))
			body = append(body, s.body[sr.i:]...)
			body = binary.AppendUvarint(body, uint64(len(InterruptGlobal)))
			body = append(body, InterruptGlobal...)
			body = append(body, 0x03)
			emit(7, binary.AppendUvarint(body, uint64(idx)))
		case 1:
			if addVoidType {
				sr := &reader{b: s.body}
				n := sr.u32()
				body := binary.AppendUvarint(nil, uint64(n+1))
				body = append(body, s.body[sr.i:]...)
				s.body = append(body, 0x60, 0x00, 0x00)
			}
			emit(1, s.body)
		case 3:
			sr := &reader{b: s.body}
			n := sr.u32()
			body := binary.AppendUvarint(nil, uint64(n+1))
			body = append(body, s.body[sr.i:]...)
			emit(3, binary.AppendUvarint(body, uint64(voidType)))
		case 10:
			params := make([]uint32, len(funcTypes))
			for i, t := range funcTypes {
				if int(t) >= len(typeParams) {
					return nil, fmt.Errorf("%w: function %d has type %d, which does not exist", errInstrument, int(importedFuncs)+i, t)
				}
				params[i] = typeParams[t]
			}
			body, err := instrumentCode(s.body, idx, yield, params)
			if err != nil {
				return nil, err
			}
			emit(10, body)
		default:
			emit(s.id, s.body)
		}
	}
	if !globalDone {
		emit(6, append(binary.AppendUvarint(nil, 1), newGlobals...))
	}
	return out, nil
}

// checkInterval is how many checks pass between exits to Go: with Go
// guests that is every few tens of microseconds.
const checkInterval = 4096

// checks are the instruction sequences instrument inserts into one
// function.
type checks struct {
	// entry: check the flag; set the counter.
	entry []byte
	// count: decrement the counter, leaving "it reached zero" on the stack.
	count []byte
	// yield: call the yield function and reset the counter.
	yield []byte
	// backEdge: count, and yield at zero, in place (for the loops that are
	// not wrapped).
	backEdge []byte
}

func newChecks(interrupt, yield, counter uint32) checks {
	get := func(b []byte, l uint32) []byte { return binary.AppendUvarint(append(b, 0x20), uint64(l)) }
	set := func(b []byte, l uint32) []byte { return binary.AppendUvarint(append(b, 0x21), uint64(l)) }
	tee := func(b []byte, l uint32) []byte { return binary.AppendUvarint(append(b, 0x22), uint64(l)) }
	var c checks
	c.entry = entryFlag(interrupt)
	c.entry = appendSLEB(append(c.entry, 0x41), checkInterval) // i32.const N
	c.entry = set(c.entry, counter)

	c.count = get(nil, counter)
	c.count = append(c.count, 0x41, 0x01, 0x6b) // i32.const 1; i32.sub
	c.count = tee(c.count, counter)
	c.count = append(c.count, 0x45) // i32.eqz

	c.yield = binary.AppendUvarint([]byte{0x10}, uint64(yield)) // call $yield
	c.yield = appendSLEB(append(c.yield, 0x41), checkInterval)  // i32.const N
	c.yield = set(c.yield, counter)

	c.backEdge = append(append([]byte(nil), c.count...), 0x04, 0x40) // if
	c.backEdge = append(c.backEdge, c.yield...)
	c.backEdge = append(c.backEdge, 0x0b)
	return c
}

func appendSLEB(b []byte, v int64) []byte {
	for {
		c := byte(v & 0x7f)
		v >>= 7
		done := (v == 0 && c&0x40 == 0) || (v == -1 && c&0x40 != 0)
		if !done {
			c |= 0x80
		}
		b = append(b, c)
		if done {
			return b
		}
	}
}

var errInstrument = fmt.Errorf("%w: cannot instrument it", ErrABI)

// paramCounts returns the number of parameters of each function type, and
// the index of a () -> () type (-1 if there is none).
func paramCounts(b []byte) ([]uint32, int, error) {
	r := &reader{b: b}
	n := r.u32()
	out := make([]uint32, 0, n)
	void := -1
	for i := uint32(0); i < n && r.err == nil; i++ {
		if form := r.byte(); form != 0x60 {
			return nil, 0, fmt.Errorf("type %d is not a function type (%#x)", i, form)
		}
		np := r.u32()
		for j := uint32(0); j < np && r.err == nil; j++ {
			r.valType()
		}
		nr := r.u32()
		for j := uint32(0); j < nr && r.err == nil; j++ {
			r.valType()
		}
		if np == 0 && nr == 0 && void < 0 {
			void = int(i)
		}
		out = append(out, np)
	}
	return out, void, r.err
}

func countImports(b []byte) (globals, memories, funcs uint32, err error) {
	r := &reader{b: b}
	n := r.u32()
	for range n {
		r.name()
		r.name()
		switch kind := r.byte(); kind {
		case 0x00: // func: type index
			r.u32()
			funcs++
		case 0x01: // table: reftype, limits
			r.refType()
			r.limits()
		case 0x02: // memory: limits
			r.limits()
			memories++
		case 0x03: // global: valtype, mut
			r.valType()
			r.byte()
			globals++
		case 0x04: // tag: attribute, type index
			r.byte()
			r.u32()
		default:
			return 0, 0, 0, fmt.Errorf("unknown import kind %#x", kind)
		}
		if r.err != nil {
			return 0, 0, 0, r.err
		}
	}
	return globals, memories, funcs, r.err
}

func checkExportName(b []byte) error {
	r := &reader{b: b}
	n := r.u32()
	for range n {
		name := r.name()
		r.byte()
		r.u32()
		if r.err != nil {
			return fmt.Errorf("%w: export section: %v", errInstrument, r.err)
		}
		if name == InterruptGlobal {
			return fmt.Errorf("%w: it exports %q, a name the host reserves", ErrABI, InterruptGlobal)
		}
	}
	return nil
}

func instrumentCode(b []byte, interrupt, yield uint32, params []uint32) ([]byte, error) {
	r := &reader{b: b}
	n := r.u32()
	if int(n) != len(params) {
		return nil, fmt.Errorf("%w: %d function bodies for %d functions", errInstrument, n, len(params))
	}
	out := binary.AppendUvarint(make([]byte, 0, len(b)+int(n)*16), uint64(n+1))
	var body []byte
	for f := range n {
		size := r.u32()
		code := r.bytes(int(size))
		if r.err != nil {
			return nil, fmt.Errorf("%w: function %d: %v", errInstrument, f, r.err)
		}
		var err error
		body, err = instrumentBody(body[:0], code, interrupt, yield, params[f])
		if err != nil {
			return nil, fmt.Errorf("%w: function %d: %v", errInstrument, f, err)
		}
		out = binary.AppendUvarint(out, uint64(len(body)))
		out = append(out, body...)
	}
	// The yield function: leave compiled code, then check the flag.
	body = append(body[:0], 0x00)                     // no locals
	body = append(body, 0x41, 0x00, 0x40, 0x00, 0x1a) // i32.const 0; memory.grow 0; drop
	body = append(body, entryFlag(interrupt)...)
	body = append(body, 0x0b)
	out = binary.AppendUvarint(out, uint64(len(body)))
	return append(out, body...), nil
}

// entryFlag: global.get $interrupt; if unreachable end.
func entryFlag(interrupt uint32) []byte {
	c := binary.AppendUvarint([]byte{0x23}, uint64(interrupt))
	return append(c, 0x04, 0x40, 0x00, 0x0b)
}

func instrumentBody(out, code []byte, interrupt, yield, params uint32) ([]byte, error) {
	r := &reader{b: code}
	groups := r.u32()
	counter := uint64(params) // the index of the local instrument adds
	for range groups {
		counter += uint64(r.u32())
		r.valType()
	}
	if r.err != nil {
		return nil, fmt.Errorf("locals: %v", r.err)
	}
	if counter >= 50000 {
		return nil, fmt.Errorf("%d locals is over the limit", counter)
	}
	body := r.i
	// Functions with exception handling or typed-reference branches keep
	// their loops as they are and get the simple back-edge check; the
	// others have their loops wrapped (see wrapLoops).
	wrap := true
	for r.i < len(r.b) {
		op := r.byte()
		switch op {
		case 0x06, 0x07, 0x08, 0x09, 0x18, 0x19, 0x1f, 0xd4, 0xd6:
			wrap = false
		}
		r.skipImmediates(op)
		if r.err != nil {
			return nil, fmt.Errorf("instruction %#x: %v", op, r.err)
		}
	}
	// The locals, plus one i32: the back-edge counter.
	out = binary.AppendUvarint(out, uint64(groups)+1)
	out = append(out, code[len(binary.AppendUvarint(nil, uint64(groups))):body]...)
	out = append(out, 0x01, 0x7f)
	c := newChecks(interrupt, yield, uint32(counter))
	out = append(out, c.entry...)
	return rewriteBody(out, code[body:], c, wrap)
}

// frame is one open block while rewriteBody walks a body.
type frame struct {
	loop    bool
	wrapped bool // a loop wrapped in $out, $again and $yield
}

// rewriteBody copies a function's instructions, inserting the back-edge
// checks.
//
// A loop that takes no parameters (nearly all) is wrapped, so that the
// rare call to the yield function sits outside it; a call inside a hot
// loop makes wazero's register allocator spill the loop's values:
//
//	block $out (result of $l)        ;; added
//	  loop $again                    ;; added
//	    block $yield                 ;; added
//	      loop $l ...                ;; the original loop; a back-edge
//	                                 ;; "br $l" becomes:
//	        local.get $n  i32.const 1  i32.sub  local.tee $n
//	        i32.eqz
//	        br_if $yield             ;; every checkInterval back-edges
//	        br $l
//	      end
//	      br $out                    ;; the loop ended: carry on
//	    end
//	    call $wharf_yield            ;; leave compiled code, check the flag
//	    i32.const checkInterval
//	    local.set $n
//	    br $again                    ;; back to the head of $l
//	  end
//	  unreachable
//	end
//
// Branches from inside the loop to labels outside it skip the three added
// labels. Loops with parameters, back-edges through br_table and
// functions that use exception handling get the plain check, with its
// call, instead.
func rewriteBody(out, code []byte, c checks, wrap bool) ([]byte, error) {
	r := &reader{b: code}
	stack := []frame{{}} // the body is the outermost block
	// depth maps a label of the original code to the rewritten one: three
	// more for every wrapped loop it crosses.
	depth := func(l uint32) uint32 {
		d := l
		for i := uint32(0); i < l && int(i) < len(stack); i++ {
			if stack[len(stack)-1-int(i)].wrapped {
				d += 3
			}
		}
		return d
	}
	target := func(l uint32) *frame {
		if int(l) < len(stack) {
			return &stack[len(stack)-1-int(l)]
		}
		return nil
	}
	for r.i < len(r.b) {
		start := r.i
		op := r.byte()
		if r.err != nil {
			break
		}
		switch op {
		case 0x03: // loop
			btStart := r.i
			r.blockType()
			bt := code[btStart:r.i]
			simple := len(bt) == 1 && (bt[0] == 0x40 || bt[0] == 0x7f || bt[0] == 0x7e || bt[0] == 0x7d || bt[0] == 0x7c || bt[0] == 0x7b || bt[0] == 0x70 || bt[0] == 0x6f)
			if wrap && simple {
				out = append(out, 0x02, bt[0], 0x03, 0x40, 0x02, 0x40, 0x03, bt[0])
				stack = append(stack, frame{loop: true, wrapped: true})
			} else {
				out = append(out, code[start:r.i]...)
				stack = append(stack, frame{loop: true})
			}
			continue
		case 0x02, 0x04, 0x06, 0x1f: // block, if, try, try_table
			r.skipImmediates(op)
			out = append(out, code[start:r.i]...)
			stack = append(stack, frame{})
			continue
		case 0x0b, 0x18: // end, delegate
			r.skipImmediates(op)
			out = append(out, code[start:r.i]...)
			if len(stack) == 0 {
				continue
			}
			f := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if f.wrapped {
				out = append(out, 0x0c, 0x02, 0x0b) // br $out; end $yield
				out = append(out, c.yield...)
				out = append(out, 0x0c, 0x00, 0x0b, 0x00, 0x0b) // br $again; end; unreachable; end
			}
			continue
		case 0x0c, 0x0d: // br, br_if
			l := r.u32()
			if r.err != nil {
				break
			}
			t := target(l)
			switch {
			case t != nil && t.wrapped && op == 0x0c:
				out = append(out, c.count...)
				out = binary.AppendUvarint(append(out, 0x0d), uint64(depth(l)+1)) // br_if $yield
				out = binary.AppendUvarint(append(out, 0x0c), uint64(depth(l)))   // br $l
			case t != nil && t.wrapped: // br_if: inside an if, one label deeper
				out = append(out, 0x04, 0x40)
				out = append(out, c.count...)
				out = binary.AppendUvarint(append(out, 0x0d), uint64(depth(l)+2))
				out = binary.AppendUvarint(append(out, 0x0c), uint64(depth(l)+1))
				out = append(out, 0x0b)
			case t != nil && t.loop:
				out = append(out, c.backEdge...)
				out = binary.AppendUvarint(append(out, op), uint64(depth(l)))
			default:
				out = binary.AppendUvarint(append(out, op), uint64(depth(l)))
			}
			continue
		case 0x0e: // br_table
			n := r.u32()
			var labels []uint32
			for i := uint32(0); i <= n && r.err == nil; i++ {
				labels = append(labels, r.u32())
			}
			if r.err != nil {
				break
			}
			for _, l := range labels {
				if t := target(l); t != nil && t.loop {
					out = append(out, c.backEdge...)
					break
				}
			}
			out = binary.AppendUvarint(append(out, 0x0e), uint64(n))
			for _, l := range labels {
				out = binary.AppendUvarint(out, uint64(depth(l)))
			}
			continue
		case 0x12, 0x13, 0x15: // return_call*: a loop in disguise
			out = append(out, c.backEdge...)
		}
		r.skipImmediates(op)
		if r.err != nil {
			return nil, fmt.Errorf("instruction %#x at offset %d: %v", op, start, r.err)
		}
		out = append(out, code[start:r.i]...)
	}
	if r.err != nil {
		return nil, fmt.Errorf("at offset %d: %v", r.i, r.err)
	}
	return out, nil
}

// reader decodes the binary format; the first error sticks.
type reader struct {
	b   []byte
	i   int
	err error
}

var errEOF = errors.New("unexpected end")

func (r *reader) fail(err error) {
	if r.err == nil {
		r.err = err
	}
	r.i = len(r.b)
}

func (r *reader) byte() byte {
	if r.i >= len(r.b) {
		r.fail(errEOF)
		return 0
	}
	c := r.b[r.i]
	r.i++
	return c
}

func (r *reader) bytes(n int) []byte {
	if n < 0 || r.i+n > len(r.b) {
		r.fail(errEOF)
		return nil
	}
	s := r.b[r.i : r.i+n]
	r.i += n
	return s
}

// leb skips or reads an LEB128 number of at most maxBytes bytes.
func (r *reader) leb(maxBytes int) uint64 {
	var v uint64
	for k := 0; k < maxBytes; k++ {
		c := r.byte()
		if r.err != nil {
			return 0
		}
		if k < 10 {
			v |= uint64(c&0x7f) << (7 * k)
		}
		if c&0x80 == 0 {
			return v
		}
	}
	r.fail(errors.New("LEB128 number too long"))
	return 0
}

func (r *reader) u32() uint32 { return uint32(r.leb(5)) }

func (r *reader) name() string { return string(r.bytes(int(r.u32()))) }

func (r *reader) limits() {
	flags := r.byte()
	r.leb(10)
	if flags&0x01 != 0 {
		r.leb(10)
	}
}

func (r *reader) valType() {
	switch t := r.byte(); t {
	case 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
	case 0x63, 0x64: // (ref null? heaptype)
		r.heapType()
	default:
		r.fail(fmt.Errorf("unknown value type %#x", t))
	}
}

func (r *reader) refType() { r.valType() }

func (r *reader) heapType() {
	if r.i < len(r.b) && (r.b[r.i] == 0x70 || r.b[r.i] == 0x6f) {
		r.i++
		return
	}
	r.leb(5) // s33 type index
}

func (r *reader) blockType() {
	if r.i >= len(r.b) {
		r.fail(errEOF)
		return
	}
	switch c := r.b[r.i]; c {
	case 0x40, 0x7f, 0x7e, 0x7d, 0x7c, 0x7b, 0x70, 0x6f:
		r.i++
	case 0x63, 0x64:
		r.valType()
	default:
		r.leb(5) // s33 type index
	}
}

func (r *reader) memArg() {
	align := r.u32()
	if align&0x40 != 0 { // multi-memory: a memory index follows
		r.u32()
	}
	r.leb(10)
}

// skipImmediates skips the immediates of an instruction whose opcode was
// just read.
func (r *reader) skipImmediates(op byte) {
	switch {
	case op == 0x00 || op == 0x01 || op == 0x05 || op == 0x0b || op == 0x0f || op == 0x0a || op == 0x19 ||
		op == 0x1a || op == 0x1b || op == 0xd1 || op == 0xd3 || (op >= 0x45 && op <= 0xc4):
		// no immediates
	case op == 0x02 || op == 0x03 || op == 0x04 || op == 0x06:
		r.blockType()
	case op == 0x07 || op == 0x08 || op == 0x09 || op == 0x18 || op == 0x0c || op == 0x0d ||
		op == 0x10 || op == 0x12 || op == 0x14 || op == 0x15 || (op >= 0x20 && op <= 0x26) ||
		op == 0x3f || op == 0x40 || op == 0xd2 || op == 0xd4 || op == 0xd6:
		r.u32()
	case op == 0x0e: // br_table
		n := r.u32()
		for i := uint32(0); i <= n && r.err == nil; i++ {
			r.u32()
		}
	case op == 0x11 || op == 0x13: // call_indirect: type, table
		r.u32()
		r.u32()
	case op == 0x1c: // select t*
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			r.valType()
		}
	case op == 0x1f: // try_table
		r.blockType()
		n := r.u32()
		for i := uint32(0); i < n && r.err == nil; i++ {
			switch k := r.byte(); k {
			case 0x00, 0x01:
				r.u32()
				r.u32()
			case 0x02, 0x03:
				r.u32()
			default:
				r.fail(fmt.Errorf("unknown catch clause %#x", k))
			}
		}
	case op >= 0x28 && op <= 0x3e:
		r.memArg()
	case op == 0x41:
		r.leb(5)
	case op == 0x42:
		r.leb(10)
	case op == 0x43:
		r.bytes(4)
	case op == 0x44:
		r.bytes(8)
	case op == 0xd0:
		r.heapType()
	case op == 0xfc:
		r.skipFC(r.u32())
	case op == 0xfd:
		r.skipFD(r.u32())
	case op == 0xfe:
		if sub := r.u32(); sub == 0x03 {
			r.byte() // atomic.fence
		} else {
			r.memArg()
		}
	default:
		r.fail(fmt.Errorf("unknown opcode %#x", op))
	}
}

func (r *reader) skipFC(sub uint32) {
	switch {
	case sub <= 7: // trunc_sat
	case sub == 8 || sub == 10 || sub == 12 || sub == 14:
		r.u32()
		r.u32()
	case sub == 9 || sub == 11 || sub == 13 || (sub >= 15 && sub <= 17):
		r.u32()
	default:
		r.fail(fmt.Errorf("unknown 0xfc opcode %d", sub))
	}
}

func (r *reader) skipFD(sub uint32) {
	switch {
	case sub <= 11 || sub == 92 || sub == 93: // loads and stores
		r.memArg()
	case sub == 12 || sub == 13: // v128.const, i8x16.shuffle
		r.bytes(16)
	case sub >= 21 && sub <= 34: // extract and replace lane
		r.byte()
	case sub >= 84 && sub <= 91: // load and store lane
		r.memArg()
		r.byte()
	case sub <= 0x1ff: // the rest take no immediates
	default:
		r.fail(fmt.Errorf("unknown 0xfd opcode %d", sub))
	}
}
