package plugin

import (
	"google.golang.org/protobuf/encoding/protowire"
)

// Resources are amounts by resource name, in the units of Pod.Request:
// "cpu" in millicores, "memory" and "ephemeral-storage" in bytes, "pods"
// and extended resources such as "nvidia.com/gpu" as counts. The zero
// Resources has none.
//
// A node's Requested changes with every pod placed on the node, and the
// SDK reads it where it arrived (a few bytes per node version) instead of
// filling a map for every version: Get finds one resource, Map decodes
// them all.
type Resources struct {
	m map[string]int64
	// enc holds the entries, as map<string, int64> field num of a
	// message (other fields are skipped), when m is nil.
	enc []byte
	num protowire.Number
}

// ResourcesOf returns m as Resources; m is kept (do not change it).
func ResourcesOf(m map[string]int64) Resources { return Resources{m: m} }

// Get returns the amount of resource, 0 when there is none.
func (r Resources) Get(resource string) int64 {
	if r.enc == nil {
		return r.m[resource]
	}
	var v int64
	r.each(func(k []byte, x int64) {
		if string(k) == resource {
			v = x // the last entry wins, as in protobuf
		}
	})
	return v
}

// Map returns every amount: the map Resources was made of, or a new one
// decoded from the encoding. Treat it as read-only.
func (r Resources) Map() map[string]int64 {
	if r.enc == nil {
		return r.m
	}
	m := map[string]int64{}
	r.each(func(k []byte, x int64) { m[resourceName(k)] = x })
	return m
}

// each calls fn with every entry of the encoding, which was checked when
// it arrived (see encodedResources).
func (r Resources) each(fn func(k []byte, v int64)) {
	for b := r.enc; len(b) > 0; {
		num, typ, n := consumeTag(b)
		b = b[n:]
		if num != r.num || typ != protowire.BytesType {
			b = b[consumeFieldValue(num, typ, b):]
			continue
		}
		e, n := consumeBytes(b)
		b = b[n:]
		k, v, _ := int64Entry(e)
		fn(k, v)
	}
}

// encodedResources returns the entries of map<string, int64> field num of
// the message b (a copy of b, checked), as Resources. The copy is in dst
// when it fits.
func encodedResources(b []byte, num protowire.Number, dst []byte) (Resources, error) {
	for rest := b; len(rest) > 0; {
		n, typ, l := consumeTag(rest)
		if l < 0 {
			return Resources{}, errWire
		}
		rest = rest[l:]
		l = consumeFieldValue(n, typ, rest)
		if l < 0 {
			return Resources{}, errWire
		}
		if n == num {
			if typ != protowire.BytesType {
				return Resources{}, errWire
			}
			e, _ := consumeBytes(rest)
			if _, _, err := int64Entry(e); err != nil {
				return Resources{}, err
			}
		}
		rest = rest[l:]
	}
	enc := append(dst[:0:cap(dst)], b...)
	if enc == nil {
		enc = []byte{} // nil is the map form
	}
	return Resources{enc: enc, num: num}, nil
}
