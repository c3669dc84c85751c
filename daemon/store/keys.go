package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
)

// Badger key space. Every group commit is one Badger transaction, so all of
// these move together.
//
//	c/<key>                     current value: uvarint createRev, uvarint modRev, value
//	h/<key> 0x00 <^rev, 8 BE>   history, one entry per change, newest first:
//	                            flag (histPut|histTombstone), uvarint createRev, value
//	l/<rev, 8 BE>               change log: op byte, uvarint prevModRev, key
//	m/state                     rev (8 BE), keys (8 BE); written by every group
//	m/compacted                 compacted revision (8 BE)
//
// Keys may not contain NUL, so "<key> 0x00" sorts before every longer key
// and the history of one key is contiguous and in key order.
const (
	pfxCurrent = "c/"
	pfxHistory = "h/"
	pfxLog     = "l/"

	histPut       byte = 0
	histTombstone byte = 1

	revLen = 8
	// maxKeyLen keeps Badger keys (prefix, NUL, revision and Badger's own
	// 8-byte timestamp) well under Badger's 65,000-byte limit.
	maxKeyLen = 32 << 10
)

var (
	keyState     = []byte("m/state")
	keyCompacted = []byte("m/compacted")

	errInvalidKey = errors.New("invalid key")
	errCorrupt    = errors.New("corrupt record")
)

func validKey(key string) error {
	switch {
	case key == "":
		return fmt.Errorf("empty: %w", errInvalidKey)
	case len(key) > maxKeyLen:
		return fmt.Errorf("longer than %d bytes: %w", maxKeyLen, errInvalidKey)
	case strings.IndexByte(key, 0) >= 0:
		return fmt.Errorf("contains NUL: %w", errInvalidKey)
	}
	return nil
}

func appendCurrentKey(dst []byte, key string) []byte {
	dst = append(dst, pfxCurrent...)
	return append(dst, key...)
}

func appendHistoryKey(dst []byte, key string, rev int64) []byte {
	dst = append(dst, pfxHistory...)
	dst = append(dst, key...)
	dst = append(dst, 0)
	return binary.BigEndian.AppendUint64(dst, math.MaxUint64-uint64(rev))
}

// historyKeyParts splits an h/ key into the user key and revision.
func historyKeyParts(k []byte) (key []byte, rev int64, ok bool) {
	if len(k) < len(pfxHistory)+1+revLen || k[len(k)-revLen-1] != 0 {
		return nil, 0, false
	}
	rev = int64(math.MaxUint64 - binary.BigEndian.Uint64(k[len(k)-revLen:]))
	return k[len(pfxHistory) : len(k)-revLen-1], rev, true
}

func appendLogKey(dst []byte, rev int64) []byte {
	dst = append(dst, pfxLog...)
	return binary.BigEndian.AppendUint64(dst, uint64(rev))
}

func logKeyRev(k []byte) (int64, bool) {
	if len(k) != len(pfxLog)+revLen {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(k[len(pfxLog):])), true
}

func appendCurrentValue(dst []byte, createRev, modRev int64, value []byte) []byte {
	dst = binary.AppendUvarint(dst, uint64(createRev))
	dst = binary.AppendUvarint(dst, uint64(modRev))
	return append(dst, value...)
}

// decodeCurrent returns the revisions and the value (aliasing v).
func decodeCurrent(v []byte) (createRev, modRev int64, value []byte, err error) {
	c, n := binary.Uvarint(v)
	if n <= 0 {
		return 0, 0, nil, errCorrupt
	}
	m, n2 := binary.Uvarint(v[n:])
	if n2 <= 0 {
		return 0, 0, nil, errCorrupt
	}
	return int64(c), int64(m), v[n+n2:], nil
}

func appendHistoryValue(dst []byte, flag byte, createRev int64, value []byte) []byte {
	dst = append(dst, flag)
	dst = binary.AppendUvarint(dst, uint64(createRev))
	return append(dst, value...)
}

func decodeHistory(v []byte) (flag byte, createRev int64, value []byte, err error) {
	if len(v) < 2 {
		return 0, 0, nil, errCorrupt
	}
	c, n := binary.Uvarint(v[1:])
	if n <= 0 {
		return 0, 0, nil, errCorrupt
	}
	return v[0], int64(c), v[1+n:], nil
}

func appendLogValue(dst []byte, op OpType, prevModRev int64, key string) []byte {
	dst = append(dst, byte(op))
	dst = binary.AppendUvarint(dst, uint64(prevModRev))
	return append(dst, key...)
}

// decodeLog returns the op, the revision the key had before (0 for a
// create) and the key (aliasing v).
func decodeLog(v []byte) (op OpType, prevModRev int64, key []byte, err error) {
	if len(v) < 2 {
		return 0, 0, nil, errCorrupt
	}
	p, n := binary.Uvarint(v[1:])
	if n <= 0 {
		return 0, 0, nil, errCorrupt
	}
	return OpType(v[0]), int64(p), v[1+n:], nil
}

func encodeState(rev, keys int64) []byte {
	b := make([]byte, 0, 16)
	b = binary.BigEndian.AppendUint64(b, uint64(rev))
	return binary.BigEndian.AppendUint64(b, uint64(keys))
}

func decodeState(v []byte) (rev, keys int64, err error) {
	if len(v) != 16 {
		return 0, 0, errCorrupt
	}
	return int64(binary.BigEndian.Uint64(v)), int64(binary.BigEndian.Uint64(v[8:])), nil
}

func encodeRev(rev int64) []byte {
	return binary.BigEndian.AppendUint64(nil, uint64(rev))
}

func decodeRev(v []byte) (int64, error) {
	if len(v) != revLen {
		return 0, errCorrupt
	}
	return int64(binary.BigEndian.Uint64(v)), nil
}
