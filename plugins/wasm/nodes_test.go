package wasm

import (
	"bytes"
	"testing"
)

// TestNodeLogDeltaPerInstance: instances behind by the same changes each
// get all of them, not only the first one brought up to date.
func TestNodeLogDeltaPerInstance(t *testing.T) {
	var l nodeLog
	l.set(0, []byte("a0"))
	l.set(1, []byte("b0"))
	_, seq := l.delta(nil, 0) // both instances start from a full update
	l.set(0, []byte("a1"))
	l.set(1, []byte("b1"))
	l.set(1, nil)
	first, s1 := l.delta(nil, seq)
	second, s2 := l.delta(nil, seq)
	if s1 != l.seq || s2 != l.seq {
		t.Fatalf("seqs %d, %d; want %d", s1, s2, l.seq)
	}
	if len(first) == 0 || !bytes.Equal(first, second) {
		t.Fatalf("the second instance's delta %x differs from the first's %x", second, first)
	}
	if !bytes.Contains(first, []byte("a1")) || bytes.Contains(first, []byte("b")) {
		t.Errorf("delta %q: want node 0's latest state and node 1 removed", first)
	}
}

// TestNextNodeChunk: a full update splits into NodeUpdates of whole
// fields, reset in the first, that add up to the whole.
func TestNextNodeChunk(t *testing.T) {
	var l nodeLog
	for id := range uint32(100) {
		l.set(id, bytes.Repeat([]byte{byte(id)}, 100))
	}
	full, _ := l.delta(nil, 0)
	var joined []byte
	chunks := 0
	for rest := full; len(rest) > 0; chunks++ {
		var c []byte
		c, rest = nextNodeChunk(rest, 1000)
		if len(c) == 0 || len(c) > 1000 {
			t.Fatalf("chunk %d has %d bytes", chunks, len(c))
		}
		if (c[0] == 0x08) != (chunks == 0) {
			t.Errorf("chunk %d: reset where it should not be, or missing", chunks)
		}
		joined = append(joined, c...)
	}
	if chunks < 10 || !bytes.Equal(joined, full) {
		t.Errorf("%d chunks; joined equal: %v", chunks, bytes.Equal(joined, full))
	}
}
