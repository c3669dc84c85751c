package plugin

import (
	"encoding/binary"
	"errors"
	"slices"

	"google.golang.org/protobuf/encoding/protowire"
)

// The scheduling calls are the hot path: a Go protobuf decoder inside
// WebAssembly costs tens of microseconds for a small pod, so the SDK
// decodes FilterRequest and ScoreRequest, and encodes their responses, by
// hand, reusing its buffers so that a call allocates almost nothing (and
// the guest's garbage collector, which must walk every node the plugin
// holds, seldom runs).

var errWire = errors.New("malformed request")

// schedFields are the fields of a FilterRequest or ScoreRequest that
// decodeSchedRequest leaves encoded: the node ids' fields as they are,
// packed fixed32 (decode them with appendIDs, once the pod is known to
// need them), and the node updates (NodeUpdate messages, to apply in
// order before anything else).
type schedFields struct {
	ids, updates [][]byte
}

// reset empties f. The views left past the lengths are of request
// buffers, which the guest keeps anyway; clearing them would cost a call
// into the runtime.
func (f *schedFields) reset() {
	f.ids, f.updates = f.ids[:0], f.updates[:0]
}

// decodeSchedRequest parses a FilterRequest or ScoreRequest (same fields)
// into pod, and the node ids and updates into f. Field 2, the ids as
// varints in ABI version 1, is skipped as unknown.
func decodeSchedRequest(b []byte, pod *Pod, f *schedFields) error {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
		if typ == protowire.BytesType {
			v, n := consumeBytes(b)
			if n < 0 {
				return errWire
			}
			b = b[n:]
			switch num {
			case 1:
				if pod.raw == nil {
					pod.raw = v // decoded when the plugin asks (see Pod)
				} else { // a message given twice is the two merged: concatenated
					pod.raw = append(append([]byte(nil), pod.raw...), v...)
				}
			case 3:
				pod.requests = append(pod.requests, v)
			case 4:
				if len(v)%4 != 0 {
					return errWire
				}
				f.ids = append(f.ids, v)
			case 5:
				f.updates = append(f.updates, v)
			}
			continue
		}
		switch {
		case num == 4 && typ == protowire.Fixed32Type:
			if len(b) < 4 {
				return errWire
			}
			f.ids = append(f.ids, b[:4]) // one id, unpacked
			b = b[4:]
		default:
			n := consumeFieldValue(num, typ, b)
			if n < 0 {
				return errWire
			}
			b = b[n:]
		}
	}
	return nil
}

// appendIDs appends the packed fixed32 v (len(v) is a multiple of 4) to
// ids: ids grow once, and each id is one load (the compiler makes one of
// the four byte loads, WebAssembly included).
func appendIDs(ids []uint32, v []byte) []uint32 {
	k := len(ids)
	ids = slices.Grow(ids, len(v)/4)[:k+len(v)/4]
	out := ids[k:]
	for i := range out {
		out[i] = binary.LittleEndian.Uint32(v[4*i:])
	}
	return ids
}

// decodePodMeta reads metadata (field 1 of Pod): name, namespace, labels
// and annotations.
func decodePodMeta(b []byte, pod *Pod) error {
	return walkPodMeta(b, func(num protowire.Number, v []byte) error {
		switch num {
		case 1:
			pod.name = string(v)
		case 2:
			pod.namespace = string(v)
		case 9, 10:
			k, val, err := decodeStringEntry(v)
			if err != nil {
				return err
			}
			if num == 9 {
				pod.labels[k] = val
			} else {
				pod.annotations[k] = val
			}
		}
		return nil
	})
}

// podMetaEntry finds key in the labels (num 9) or annotations (10) of an
// encoded pod, without decoding the others.
func podMetaEntry(b []byte, num protowire.Number, key string) (val []byte, ok bool, err error) {
	err = walkPodMeta(b, func(n protowire.Number, v []byte) error {
		if n != num {
			return nil
		}
		k, vb, err := stringEntry(v)
		if err == nil && string(k) == key {
			val, ok = vb, true // the last entry wins, as in protobuf
		}
		return err
	})
	return val, ok, err
}

// walkPodMeta calls fn with each length-delimited field of an encoded
// pod's metadata (field 1 of Pod): its number and its bytes.
func walkPodMeta(b []byte, fn func(num protowire.Number, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
		if num != 1 || typ != protowire.BytesType {
			n := consumeFieldValue(num, typ, b)
			if n < 0 {
				return errWire
			}
			b = b[n:]
			continue
		}
		meta, n := consumeBytes(b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
		for len(meta) > 0 {
			num, typ, n := consumeTag(meta)
			if n < 0 {
				return errWire
			}
			meta = meta[n:]
			if typ != protowire.BytesType {
				n := consumeFieldValue(num, typ, meta)
				if n < 0 {
					return errWire
				}
				meta = meta[n:]
				continue
			}
			v, n := consumeBytes(meta)
			if n < 0 {
				return errWire
			}
			meta = meta[n:]
			if err := fn(num, v); err != nil {
				return err
			}
		}
	}
	return nil
}

func decodeStringEntry(b []byte) (k, v string, err error) {
	kb, vb, err := stringEntry(b)
	return string(kb), string(vb), err
}

// stringEntry decodes a map<string, string> entry, without copying.
func stringEntry(b []byte) (k, v []byte, err error) {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return nil, nil, errWire
		}
		b = b[n:]
		if typ != protowire.BytesType {
			n := consumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, nil, errWire
			}
			b = b[n:]
			continue
		}
		s, n := consumeBytes(b)
		if n < 0 {
			return nil, nil, errWire
		}
		b = b[n:]
		if num == 1 {
			k = s
		} else if num == 2 {
			v = s
		}
	}
	return k, v, nil
}

func decodeInt64Entry(b []byte) (k string, v int64, err error) {
	kb, v, err := int64Entry(b)
	return resourceName(kb), v, err
}

// int64Entry reads a map<string, int64> entry; k is in b.
func int64Entry(b []byte) (k []byte, v int64, err error) {
	for len(b) > 0 {
		num, typ, n := consumeTag(b)
		if n < 0 {
			return nil, 0, errWire
		}
		b = b[n:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			s, n := consumeBytes(b)
			if n < 0 {
				return nil, 0, errWire
			}
			b = b[n:]
			k = s
		case num == 2 && typ == protowire.VarintType:
			x, n := consumeVarint(b)
			if n < 0 {
				return nil, 0, errWire
			}
			b = b[n:]
			v = int64(x)
		default:
			n := consumeFieldValue(num, typ, b)
			if n < 0 {
				return nil, 0, errWire
			}
			b = b[n:]
		}
	}
	return k, v, nil
}

// resourceName is string(b), without allocating for the resources that
// every node and pod has.
func resourceName(b []byte) string {
	switch string(b) {
	case "cpu":
		return "cpu"
	case "memory":
		return "memory"
	case "pods":
		return "pods"
	case "nvidia.com/gpu":
		return "nvidia.com/gpu"
	case "ephemeral-storage":
		return "ephemeral-storage"
	}
	return string(b)
}

// appendScores encodes a ScoreResponse with scores, which must be in
// [0, 100] and so take one byte each; bad is the first that is not, or -1.
func appendScores(buf []byte, scores []int64) (out []byte, bad int) {
	buf = protowire.AppendTag(buf, 1, protowire.BytesType)
	buf = protowire.AppendVarint(buf, uint64(len(scores)))
	n := len(buf)
	buf = append(buf, make([]byte, len(scores))...)
	dst := buf[n : n+len(scores)] // of the scores' length: no bounds check in the loop
	for i, s := range scores {
		if uint64(s) > MaxScore {
			return buf, i
		}
		dst[i] = byte(s)
	}
	return buf, -1
}

// overMaxScore returns the index of the first byte of scores over
// MaxScore, or -1. Eight at a time: adding 27 to a byte sets its top bit
// when it is 101 or more (and one of 128 or more has it already); a carry
// from a byte of 229 or more can only flag the next byte too, which the
// byte-by-byte pass then clears.
func overMaxScore(scores []byte) int {
	const ones, tops = 0x0101010101010101, 0x8080808080808080
	i := 0
	for ; i+8 <= len(scores); i += 8 {
		x := binary.LittleEndian.Uint64(scores[i:])
		if ((x+(127-MaxScore)*ones)|x)&tops != 0 {
			break
		}
	}
	for ; i < len(scores); i++ {
		if scores[i] > MaxScore {
			return i
		}
	}
	return -1
}

// verdictEncoder encodes FilterResponse.rejected entries. Filters reject
// many nodes for the same reasons (often the same []string): the encoding
// of the reasons is reused while they repeat.
type verdictEncoder struct {
	last         []string
	unresolvable bool
	tail         []byte // fields 2 and 3 of the last verdict
}

func (e *verdictEncoder) reset() { e.last, e.tail = nil, e.tail[:0] }

func sameStrings(a, b []string) bool {
	if len(a) != len(b) || len(a) == 0 {
		return false
	}
	if &a[0] == &b[0] {
		return true
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func (e *verdictEncoder) append(buf []byte, index int, v *Verdict, fallback string) []byte {
	reasons := v.Reasons
	if len(reasons) == 0 {
		reasons = []string{fallback}
	}
	if !sameStrings(reasons, e.last) || v.Unresolvable != e.unresolvable || len(e.tail) == 0 {
		e.tail = e.tail[:0]
		if v.Unresolvable {
			e.tail = protowire.AppendTag(e.tail, 2, protowire.VarintType)
			e.tail = protowire.AppendVarint(e.tail, 1)
		}
		for _, r := range reasons {
			e.tail = protowire.AppendTag(e.tail, 3, protowire.BytesType)
			e.tail = protowire.AppendString(e.tail, r)
		}
		e.last, e.unresolvable = reasons, v.Unresolvable
	}
	if size := 2 + len(e.tail); index < 0x80 && size < 0x80 {
		// The common case, written directly: 0a <size> 08 <index> <tail>.
		buf = append(buf, 0x0a, byte(size+0), 0x08, byte(index))
		return append(buf, e.tail...)
	}
	size := protowire.SizeTag(1) + protowire.SizeVarint(uint64(index)) + len(e.tail)
	buf = protowire.AppendTag(buf, 1, protowire.BytesType)
	buf = protowire.AppendVarint(buf, uint64(size))
	buf = protowire.AppendTag(buf, 1, protowire.VarintType)
	buf = protowire.AppendVarint(buf, uint64(index))
	return append(buf, e.tail...)
}
