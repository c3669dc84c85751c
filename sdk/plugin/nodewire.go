package plugin

import (
	"bytes"
	"slices"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// Nodes arrive in NodeUpdate messages, thousands at a time when an
// instance starts. The host sends each node slimmed to what scheduling
// reads (docs/abi.md, "Nodes"): metadata name, uid, labels and annotations;
// spec unschedulable and taints; status capacity, allocatable and gpus.
// The SDK decodes exactly those by hand: several times faster inside
// WebAssembly than the generic decoder, which walks maps by reflection.

// field is one decoded field: bytes for length-delimited fields, x for
// varints.
type field struct {
	num   protowire.Number
	v     []byte
	x     uint64
	bytes bool // length-delimited (else a varint)
}

// walk calls fn for every field of a message; unknown wire types are
// skipped.
func walk(b []byte, fn func(f field) error) error {
	for len(b) > 0 {
		f, n := nextField(b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
		if f.num == 0 { // a field of another wire type, skipped
			continue
		}
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// nextField decodes the field at the start of b and returns it with its
// length; a field of a wire type other than varint and bytes comes back
// with number 0, to be skipped; n < 0: b is malformed. Tags, lengths and
// varints of one byte (almost all) are read here, not in protowire: in
// WebAssembly the calls would cost more than the decoding (see
// wirefast.go).
func nextField(b []byte) (f field, n int) {
	var typ protowire.Type
	if c := b[0]; c < 0x80 && c >= 8 {
		f.num, typ, n = protowire.Number(c>>3), protowire.Type(c&7), 1
	} else if f.num, typ, n = slowTag(b); n < 0 {
		return f, n
	}
	rest := b[n:]
	var m int
	switch typ {
	case protowire.BytesType:
		f.bytes = true
		if len(rest) > 0 && rest[0] < 0x80 && int(rest[0]) < len(rest) {
			m = int(rest[0]) + 1
			f.v = rest[1:m:m]
		} else {
			f.v, m = slowBytes(rest)
		}
	case protowire.VarintType:
		if len(rest) > 0 && rest[0] < 0x80 {
			f.x, m = uint64(rest[0]), 1
		} else {
			f.x, m = slowVarint(rest)
		}
	default:
		m = slowFieldValue(f.num, typ, rest)
		f.num = 0
	}
	if m < 0 {
		return f, m
	}
	return f, n + m
}

// decodeGPU decodes a GPUDevice: a loop of its own rather than walk with
// a closure, for the eight or so of every GPU node.
func decodeGPU(b []byte, g *wharfv1.GPUDevice) error {
	for len(b) > 0 {
		f, n := nextField(b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
		switch {
		case f.num == 1 && !f.bytes:
			g.Index = int32(f.x)
		case f.num == 2 && f.bytes:
			g.Uuid = str(f.v)
		case f.num == 3 && f.bytes:
			g.Model = str(f.v)
		case f.num == 4 && !f.bytes:
			g.MemoryMib = int64(f.x)
		case f.num == 5 && f.bytes:
			g.DriverVersion = str(f.v)
		case f.num == 6 && !f.bytes:
			g.NumaNode = int32(f.x)
		case f.num == 7 && f.bytes:
			g.PciBusId = str(f.v)
		}
	}
	return nil
}

// decodeSchedulerNode decodes a SchedulerNode. decodeNode and what it
// calls make strings that are views of b: b must not change afterwards.
func decodeSchedulerNode(b []byte) (*Node, error) {
	n := &Node{}
	var node []byte
	var alloc, requested map[string]int64
	err := walk(b, func(f field) error {
		switch {
		case f.num == 1 && !f.bytes:
			n.ID = uint32(f.x)
		case f.num == 2 && f.bytes:
			if node != nil {
				return errWire // a message field sent twice would merge
			}
			node = f.v
		case f.num == 3 && f.bytes, f.num == 4 && f.bytes:
			k, v, err := decodeInt64Entry(f.v)
			if err != nil {
				return err
			}
			m := &alloc
			if f.num == 4 {
				m = &requested
			}
			if *m == nil {
				*m = map[string]int64{}
			}
			(*m)[k] = v
		case f.num == 5:
			return decodeAccountingField(f, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	n.Allocatable, n.Requested = ResourcesOf(alloc), ResourcesOf(requested)
	// The node's strings (labels, GPU models, ...) are views of one copy
	// of its encoding, not a copy each: a node has about a hundred.
	n.Node = &wharfv1.Node{}
	if err := decodeNode(bytes.Clone(node), n.Node); err != nil {
		return nil, err
	}
	return n, nil
}

// str is b as a string without a copy: only for bytes that are never
// written again (a node's own copy of its encoding).
func str(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

// count returns how many fields num b has (to size maps and slices).
func count(b []byte, num protowire.Number) int {
	c := 0
	for len(b) > 0 {
		// A bytes field with a one-byte tag and length (almost all):
		// without a call (see wirefast.go).
		if t := b[0]; t < 0x80 && t >= 8 && t&7 == byte(protowire.BytesType) && len(b) > 1 && b[1] < 0x80 && int(b[1])+2 <= len(b) {
			if protowire.Number(t>>3) == num {
				c++
			}
			b = b[2+int(b[1]):]
			continue
		}
		n, typ, l := consumeTag(b)
		if l < 0 {
			return c
		}
		b = b[l:]
		if n == num {
			c++
		}
		if l = consumeFieldValue(n, typ, b); l < 0 {
			return c
		}
		b = b[l:]
	}
	return c
}

// ownedStringMap adds the map<string, string> entry e to *m (made with
// room for size entries), its strings views of e.
func ownedStringMap(m *map[string]string, size int, e []byte) error {
	k, v, err := stringEntry(e)
	if err != nil {
		return err
	}
	if *m == nil {
		*m = make(map[string]string, size)
	}
	(*m)[str(k)] = str(v)
	return nil
}

// decodeAccounting decodes a NodeAccounting: the id, and the new
// accounting into n. It comes with every pod placed on a node: it is
// written out, in one pass, without walk's call per field. The requests
// are checked here and read in place by Resources, in a copy of b in enc
// (when it fits); the GPU indices go to gpus (when they fit): the caller
// allocates both with the node, in one allocation.
func decodeAccounting(b []byte, n *Node, enc []byte, gpus []int32) (id uint32, err error) {
	for rest := b; len(rest) > 0; {
		num, typ, l := consumeTag(rest)
		if l < 0 {
			return 0, errWire
		}
		rest = rest[l:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			x, l := consumeVarint(rest)
			if l < 0 {
				return 0, errWire
			}
			rest = rest[l:]
			id = uint32(x)
			continue
		case num == 4:
			if typ != protowire.BytesType {
				return 0, errWire
			}
			e, l := consumeBytes(rest)
			if l < 0 {
				return 0, errWire
			}
			rest = rest[l:]
			if _, _, err := int64Entry(e); err != nil {
				return 0, err
			}
			continue
		case num == 5 && typ == protowire.BytesType:
			v, l := consumeBytes(rest)
			if l < 0 {
				return 0, errWire
			}
			rest = rest[l:]
			if n.AllocatedGPUs == nil && len(v) > 0 {
				if len(v) <= cap(gpus) {
					n.AllocatedGPUs = gpus[:0]
				} else {
					n.AllocatedGPUs = make([]int32, 0, len(v)) // at most a byte each
				}
			}
			if err := decodeAccountingField(field{num: num, v: v, bytes: true}, n); err != nil {
				return 0, err
			}
			continue
		case num == 5 && typ == protowire.VarintType:
			x, l := consumeVarint(rest)
			if l < 0 {
				return 0, errWire
			}
			rest = rest[l:]
			n.AllocatedGPUs = append(n.AllocatedGPUs, int32(x))
			continue
		}
		l = consumeFieldValue(num, typ, rest)
		if l < 0 {
			return 0, errWire
		}
		rest = rest[l:]
	}
	enc = append(enc[:0:cap(enc)], b...)
	if enc == nil {
		enc = []byte{} // nil is the map form
	}
	n.Requested = Resources{enc: enc, num: 4}
	return id, nil
}

// decodeAccountingField decodes allocated_gpus (5), which SchedulerNode
// and NodeAccounting share, into n; other fields are skipped.
func decodeAccountingField(f field, n *Node) error {
	switch {
	case f.num == 5 && !f.bytes:
		n.AllocatedGPUs = append(n.AllocatedGPUs, int32(f.x))
	case f.num == 5:
		for v := f.v; len(v) > 0; {
			if v[0] < 0x80 { // indices below 128: one byte each
				n.AllocatedGPUs = append(n.AllocatedGPUs, int32(v[0]))
				v = v[1:]
				continue
			}
			x, k := consumeVarint(v)
			if k < 0 {
				return errWire
			}
			v = v[k:]
			n.AllocatedGPUs = append(n.AllocatedGPUs, int32(x))
		}
	}
	return nil
}

func decodeNode(b []byte, node *wharfv1.Node) error {
	return walk(b, func(f field) error {
		if !f.bytes {
			return nil
		}
		switch f.num {
		case 1:
			if node.Metadata == nil {
				node.Metadata = &wharfv1.ObjectMeta{}
			}
			return decodeMeta(f.v, node.Metadata)
		case 2:
			if node.Spec == nil {
				node.Spec = &wharfv1.NodeSpec{}
			}
			return decodeNodeSpec(f.v, node.Spec)
		case 3:
			if node.Status == nil {
				node.Status = &wharfv1.NodeStatus{}
			}
			return decodeNodeStatus(f.v, node.Status)
		}
		return nil
	})
}

func decodeMeta(b []byte, m *wharfv1.ObjectMeta) error {
	labels, annotations := count(b, 9), count(b, 10)
	return walk(b, func(f field) error {
		if !f.bytes {
			return nil
		}
		switch f.num {
		case 1:
			m.Name = str(f.v)
		case 2:
			m.Namespace = str(f.v)
		case 3:
			m.Uid = str(f.v)
		case 9:
			return ownedStringMap(&m.Labels, labels, f.v)
		case 10:
			return ownedStringMap(&m.Annotations, annotations, f.v)
		}
		return nil
	})
}

func decodeNodeSpec(b []byte, s *wharfv1.NodeSpec) error {
	return walk(b, func(f field) error {
		switch {
		case f.num == 4 && !f.bytes:
			s.Unschedulable = f.x != 0
		case f.num == 5 && f.bytes:
			t := &wharfv1.Taint{}
			s.Taints = append(s.Taints, t)
			return walk(f.v, func(f field) error {
				if !f.bytes {
					return nil
				}
				switch f.num {
				case 1:
					t.Key = str(f.v)
				case 2:
					t.Value = str(f.v)
				case 3:
					t.Effect = str(f.v)
				}
				return nil
			})
		}
		return nil
	})
}

func decodeNodeStatus(b []byte, s *wharfv1.NodeStatus) error {
	capacity, allocatable := count(b, 1), count(b, 2)
	// The devices in one allocation.
	var devs []wharfv1.GPUDevice
	if n := count(b, 6); n > 0 {
		devs = make([]wharfv1.GPUDevice, n)
		s.Gpus = slices.Grow(s.Gpus, n)
	}
	return walk(b, func(f field) error {
		if !f.bytes {
			return nil
		}
		switch f.num {
		case 1:
			return ownedStringMap(&s.Capacity, capacity, f.v)
		case 2:
			return ownedStringMap(&s.Allocatable, allocatable, f.v)
		case 6:
			if len(devs) == 0 {
				devs = make([]wharfv1.GPUDevice, 1) // not counted (malformed)
			}
			g := &devs[0]
			devs = devs[1:]
			s.Gpus = append(s.Gpus, g)
			return decodeGPU(f.v, g)
		}
		return nil
	})
}
