package wasm_test

// A tiny assembler for hand-written test modules: wazero cannot read the
// text format, so the modules below are written as WAT in comments and
// assembled here, instruction by instruction.

import (
	"encoding/binary"

	"github.com/wharfhq/wharf/sdk/plugin/abi"
)

type fn struct {
	name    string // export name; "" for none
	params  []byte // value types
	results []byte
	locals  []byte
	body    []byte // instructions, without the final end
}

type modSpec struct {
	imports    []imp
	memPages   uint32
	memMax     uint32 // 0: no maximum
	funcs      []fn
	data       map[uint32][]byte // offset -> bytes
	section    string            // metadata JSON; "" for none
	noMemory   bool
	exportMore [][2]string // extra exports: name, function name
}

type imp struct{ module, name string }

const (
	i32 = 0x7f
	i64 = 0x7e
)

func uleb(v uint64) []byte {
	var b []byte
	for {
		c := byte(v & 0x7f)
		v >>= 7
		if v != 0 {
			c |= 0x80
		}
		b = append(b, c)
		if v == 0 {
			return b
		}
	}
}

func sleb(v int64) []byte {
	var b []byte
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

func vec(items ...[]byte) []byte {
	out := uleb(uint64(len(items)))
	for _, it := range items {
		out = append(out, it...)
	}
	return out
}

func name(s string) []byte { return append(uleb(uint64(len(s))), s...) }

func section(id byte, body []byte) []byte {
	return append(append([]byte{id}, uleb(uint64(len(body)))...), body...)
}

func cat(parts ...[]byte) []byte {
	var out []byte
	for _, p := range parts {
		out = append(out, p...)
	}
	return out
}

// Instructions.
func i32c(v int32) []byte { return append([]byte{0x41}, sleb(int64(v))...) }
func i64c(v int64) []byte { return append([]byte{0x42}, sleb(v)...) }
func packed(ptr, n uint32) []byte {
	return i64c(int64(abi.Pack(ptr, n)))
}

var (
	unreachable = []byte{0x00}
	end         = []byte{0x0b}
)

func loop(body ...[]byte) []byte { return cat([]byte{0x03, 0x40}, cat(body...), end) }
func block(body ...[]byte) []byte {
	return cat([]byte{0x02, 0x40}, cat(body...), end)
}
func br(l uint32) []byte   { return append([]byte{0x0c}, uleb(uint64(l))...) }
func brIf(l uint32) []byte { return append([]byte{0x0d}, uleb(uint64(l))...) }

func (m modSpec) bytes() []byte {
	type sig struct{ p, r string }
	var types [][]byte
	typeIdx := map[sig]int{}
	typeOf := func(f fn) int {
		k := sig{string(f.params), string(f.results)}
		if i, ok := typeIdx[k]; ok {
			return i
		}
		typeIdx[k] = len(types)
		types = append(types, cat([]byte{0x60}, vec(bytesOf(f.params)...), vec(bytesOf(f.results)...)))
		return len(types) - 1
	}
	// Imports are all () -> () functions of the named modules.
	var imports [][]byte
	for _, im := range m.imports {
		t := typeOf(fn{})
		imports = append(imports, cat(name(im.module), name(im.name), []byte{0x00}, uleb(uint64(t))))
	}
	var funcs, codes, exports [][]byte
	for i, f := range m.funcs {
		funcs = append(funcs, uleb(uint64(typeOf(f))))
		var locals [][]byte
		for _, l := range f.locals {
			locals = append(locals, []byte{0x01, l})
		}
		body := cat(vec(locals...), f.body, end)
		codes = append(codes, cat(uleb(uint64(len(body))), body))
		if f.name != "" {
			exports = append(exports, cat(name(f.name), []byte{0x00}, uleb(uint64(len(m.imports)+i))))
		}
	}
	for _, e := range m.exportMore {
		for i, f := range m.funcs {
			if f.name == e[1] {
				exports = append(exports, cat(name(e[0]), []byte{0x00}, uleb(uint64(len(m.imports)+i))))
			}
		}
	}
	out := []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}
	out = append(out, section(1, vec(types...))...)
	if len(imports) > 0 {
		out = append(out, section(2, vec(imports...))...)
	}
	out = append(out, section(3, vec(funcs...))...)
	if !m.noMemory {
		lim := cat([]byte{0x00}, uleb(uint64(m.memPages)))
		if m.memMax > 0 {
			lim = cat([]byte{0x01}, uleb(uint64(m.memPages)), uleb(uint64(m.memMax)))
		}
		out = append(out, section(5, vec(lim))...)
		exports = append(exports, cat(name("memory"), []byte{0x02, 0x00}))
	}
	out = append(out, section(7, vec(exports...))...)
	out = append(out, section(10, vec(codes...))...)
	if len(m.data) > 0 {
		var segs [][]byte
		for off, b := range m.data {
			segs = append(segs, cat([]byte{0x00}, i32c(int32(off)), end, uleb(uint64(len(b))), b))
		}
		out = append(out, section(11, vec(segs...))...)
	}
	if m.section != "" {
		out = append(out, section(0, cat(name(abi.SectionMetadata), []byte(m.section)))...)
	}
	return out
}

func bytesOf(b []byte) [][]byte {
	out := make([][]byte, len(b))
	for i := range b {
		out[i] = []byte{b[i]}
	}
	return out
}

func le32(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
