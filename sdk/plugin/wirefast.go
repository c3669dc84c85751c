package plugin

import "google.golang.org/protobuf/encoding/protowire"

// The decoders below read tags, lengths and varints of one byte (field
// numbers below 16, lengths and values below 128: almost all of them)
// inline, and leave everything else to protowire. Inside WebAssembly a
// function call costs more than the decoding it does: decoding a node
// made about 450 calls to protowire's Consume functions, most of a node's
// cost. They return what protowire's would, errors included. Each is one
// call where protowire's make several; with their slow paths they are
// over the compiler's inlining budget, so the hottest loops (nextField,
// count) read the one-byte cases in place themselves.

// consumeTag is protowire.ConsumeTag.
func consumeTag(b []byte) (protowire.Number, protowire.Type, int) {
	if len(b) > 0 && b[0] < 0x80 && b[0] >= 8 { // field number 0 is invalid
		return protowire.Number(b[0] >> 3), protowire.Type(b[0] & 7), 1
	}
	return slowTag(b)
}

// consumeVarint is protowire.ConsumeVarint.
func consumeVarint(b []byte) (uint64, int) {
	for _, c := range b {
		if c < 0x80 {
			return uint64(c), 1
		}
		break
	}
	return slowVarint(b)
}

// consumeBytes is protowire.ConsumeBytes.
func consumeBytes(b []byte) ([]byte, int) {
	if len(b) > 0 && b[0] < 0x80 && int(b[0]) < len(b) {
		n := int(b[0]) + 1
		return b[1:n:n], n
	}
	return slowBytes(b)
}

// consumeFieldValue is protowire.ConsumeFieldValue.
func consumeFieldValue(num protowire.Number, typ protowire.Type, b []byte) int {
	if len(b) > 0 && b[0] < 0x80 {
		switch typ {
		case protowire.VarintType:
			return 1
		case protowire.BytesType:
			if int(b[0]) < len(b) {
				return 1 + int(b[0])
			}
		}
	}
	return slowFieldValue(num, typ, b)
}

//go:noinline
func slowTag(b []byte) (protowire.Number, protowire.Type, int) { return protowire.ConsumeTag(b) }

//go:noinline
func slowVarint(b []byte) (uint64, int) { return protowire.ConsumeVarint(b) }

//go:noinline
func slowBytes(b []byte) ([]byte, int) { return protowire.ConsumeBytes(b) }

//go:noinline
func slowFieldValue(num protowire.Number, typ protowire.Type, b []byte) int {
	return protowire.ConsumeFieldValue(num, typ, b)
}
