package abi

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
)

// wasmHeader is the magic number and version 1 of the binary format.
var wasmHeader = []byte{0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00}

// AppendCustomSection returns module with a custom section appended. Custom
// sections may appear anywhere after the header, so appending leaves the
// rest of the module as it was: this is how a toolchain that cannot emit
// custom sections (Go) gets its metadata section after the build.
func AppendCustomSection(module []byte, name string, payload []byte) ([]byte, error) {
	if len(module) < len(wasmHeader) || string(module[:len(wasmHeader)]) != string(wasmHeader) {
		return nil, errors.New("not a WebAssembly module (bad magic number or version)")
	}
	body := binary.AppendUvarint(nil, uint64(len(name)))
	body = append(body, name...)
	body = append(body, payload...)
	out := append([]byte(nil), module...)
	out = append(out, 0) // custom section id
	out = binary.AppendUvarint(out, uint64(len(body)))
	return append(out, body...), nil
}

// CustomSection returns the payload of the first custom section called
// name, and whether there is one. It walks the section headers only.
func CustomSection(module []byte, name string) ([]byte, bool, error) {
	if len(module) < len(wasmHeader) || string(module[:len(wasmHeader)]) != string(wasmHeader) {
		return nil, false, errors.New("not a WebAssembly module (bad magic number or version)")
	}
	b := module[len(wasmHeader):]
	for len(b) > 0 {
		id := b[0]
		size, n, err := readULEB(b[1:])
		if err != nil {
			return nil, false, fmt.Errorf("section header: %w", err)
		}
		b = b[1+n:]
		if uint64(len(b)) < size {
			return nil, false, errors.New("section runs past the end of the module")
		}
		sec := b[:size]
		b = b[size:]
		if id != 0 {
			continue
		}
		nl, n, err := readULEB(sec)
		if err != nil || uint64(len(sec)-n) < nl {
			return nil, false, errors.New("custom section name runs past its section")
		}
		if string(sec[n:n+int(nl)]) == name {
			return sec[n+int(nl):], true, nil
		}
	}
	return nil, false, nil
}

func readULEB(b []byte) (uint64, int, error) {
	var v uint64
	for i := 0; i < len(b) && i < 10; i++ {
		v |= uint64(b[i]&0x7f) << (7 * i)
		if b[i]&0x80 == 0 {
			return v, i + 1, nil
		}
	}
	return 0, 0, errors.New("bad LEB128 number")
}

func jsonValid(s string) bool { return json.Valid([]byte(s)) }
