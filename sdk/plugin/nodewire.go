package plugin

import (
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
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errWire
		}
		b = b[n:]
		f := field{num: num}
		switch typ {
		case protowire.BytesType:
			f.v, n = protowire.ConsumeBytes(b)
			f.bytes = true
		case protowire.VarintType:
			f.x, n = protowire.ConsumeVarint(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
			if n < 0 {
				return errWire
			}
			b = b[n:]
			continue
		}
		if n < 0 {
			return errWire
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

// decodeSchedulerNode decodes a SchedulerNode.
func decodeSchedulerNode(b []byte) (*Node, error) {
	n := &Node{}
	var node []byte
	err := walk(b, func(f field) error {
		switch {
		case f.num == 1 && !f.bytes:
			n.ID = uint32(f.x)
		case f.num == 2 && f.bytes:
			if node != nil {
				return errWire // a message field sent twice would merge
			}
			node = f.v
		case f.num == 3 && f.bytes:
			k, v, err := decodeInt64Entry(f.v)
			if err != nil {
				return err
			}
			if n.Allocatable == nil {
				n.Allocatable = map[string]int64{}
			}
			n.Allocatable[k] = v
		case f.num == 4 || f.num == 5:
			return decodeAccountingField(f, n)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	n.Node = &wharfv1.Node{}
	if err := decodeNode(node, n.Node); err != nil {
		return nil, err
	}
	return n, nil
}

// decodeAccounting decodes a NodeAccounting: the id, and the new
// accounting into n.
func decodeAccounting(b []byte, n *Node) (id uint32, err error) {
	err = walk(b, func(f field) error {
		if f.num == 1 && !f.bytes {
			id = uint32(f.x)
			return nil
		}
		return decodeAccountingField(f, n)
	})
	return id, err
}

// decodeAccountingField decodes requested (4) and allocated_gpus (5),
// which SchedulerNode and NodeAccounting share, into n; other fields are
// skipped.
func decodeAccountingField(f field, n *Node) error {
	switch {
	case f.num == 4 && f.bytes:
		k, v, err := decodeInt64Entry(f.v)
		if err != nil {
			return err
		}
		if n.Requested == nil {
			n.Requested = make(map[string]int64, 4)
		}
		n.Requested[k] = v
	case f.num == 5 && !f.bytes:
		n.AllocatedGPUs = append(n.AllocatedGPUs, int32(f.x))
	case f.num == 5:
		for v := f.v; len(v) > 0; {
			if v[0] < 0x80 { // indices below 128: one byte each
				n.AllocatedGPUs = append(n.AllocatedGPUs, int32(v[0]))
				v = v[1:]
				continue
			}
			x, k := protowire.ConsumeVarint(v)
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
	return walk(b, func(f field) error {
		if !f.bytes {
			return nil
		}
		switch f.num {
		case 1:
			m.Name = string(f.v)
		case 2:
			m.Namespace = string(f.v)
		case 3:
			m.Uid = string(f.v)
		case 9, 10:
			k, v, err := decodeStringEntry(f.v)
			if err != nil {
				return err
			}
			p := &m.Labels
			if f.num == 10 {
				p = &m.Annotations
			}
			if *p == nil {
				*p = map[string]string{}
			}
			(*p)[k] = v
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
					t.Key = string(f.v)
				case 2:
					t.Value = string(f.v)
				case 3:
					t.Effect = string(f.v)
				}
				return nil
			})
		}
		return nil
	})
}

func decodeNodeStatus(b []byte, s *wharfv1.NodeStatus) error {
	return walk(b, func(f field) error {
		if !f.bytes {
			return nil
		}
		switch f.num {
		case 1, 2:
			k, v, err := decodeStringEntry(f.v)
			if err != nil {
				return err
			}
			p := &s.Capacity
			if f.num == 2 {
				p = &s.Allocatable
			}
			if *p == nil {
				*p = map[string]string{}
			}
			(*p)[k] = v
		case 6:
			g := &wharfv1.GPUDevice{}
			s.Gpus = append(s.Gpus, g)
			return walk(f.v, func(f field) error {
				switch {
				case f.num == 1 && !f.bytes:
					g.Index = int32(f.x)
				case f.num == 2 && f.bytes:
					g.Uuid = string(f.v)
				case f.num == 3 && f.bytes:
					g.Model = string(f.v)
				case f.num == 4 && !f.bytes:
					g.MemoryMib = int64(f.x)
				case f.num == 5 && f.bytes:
					g.DriverVersion = string(f.v)
				case f.num == 6 && !f.bytes:
					g.NumaNode = int32(f.x)
				case f.num == 7 && f.bytes:
					g.PciBusId = string(f.v)
				}
				return nil
			})
		}
		return nil
	})
}
