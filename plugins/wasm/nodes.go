package wasm

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"
	"unsafe"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	"github.com/wharfhq/wharf/sdk/plugin/abi"
)

// nodeLog is the module's account of the nodes its instances must hold:
// each node's latest encoding by id, and a log of which ids changed, so
// that an instance that is behind receives only the changes (a delta)
// before its next scheduling call. Every instance has its own copy of the
// nodes in its own memory.
//
// A node's encoding is in two parts, the node object (with allocatable)
// and its accounting (what its pods request, its GPUs given to pods):
// most changes are a pod placed on a node, which changes the accounting
// alone, and an instance that has the node's object receives only the new
// accounting (NodeUpdate.accounting), which a guest applies for a
// fraction of the cost of a whole node.
type nodeLog struct {
	mu      sync.Mutex
	nodes   []nodeEnc // by id
	present int
	log     []nodeChange // changes with seq > base, in order
	base    uint64
	seq     uint64
	mark    []uint64 // scratch: the last delta (pass) an id was collected in
	pass    uint64
}

// nodeEnc is a node's latest encoding: obj is SchedulerNode fields 2 and
// 3 (node, allocatable), nil when there is no node with the id; acct is
// fields 4 and 5 (requested, allocated_gpus). objSeq is the change that
// last set obj (or removed the node).
type nodeEnc struct {
	obj, acct []byte
	objSeq    uint64
}

type nodeChange struct {
	seq uint64
	id  uint32
}

// minLog is the fewest changes kept; the log keeps up to four per node.
const minLog = 4096

// UpdateNodes records nodes that are new or changed (by id) and ids that
// are gone. Instances receive the changes before their next Filter or
// Score. Ids are the caller's: small integers, reused after removal.
func (m *Module) UpdateNodes(upserts []*pluginv1.SchedulerNode, removed []uint32) error {
	encs := make([]EncodedNode, len(upserts))
	opts := proto.MarshalOptions{Deterministic: true}
	for i, n := range upserts {
		obj, err := opts.Marshal(&pluginv1.SchedulerNode{Node: n.GetNode(), Allocatable: n.GetAllocatable()})
		if err != nil {
			return fmt.Errorf("encode node %d: %w", n.GetId(), err)
		}
		acct, err := opts.Marshal(&pluginv1.SchedulerNode{Requested: n.GetRequested(), AllocatedGpus: n.GetAllocatedGpus()})
		if err != nil {
			return fmt.Errorf("encode node %d: %w", n.GetId(), err)
		}
		encs[i] = EncodedNode{ID: n.GetId(), Object: obj, Accounting: acct}
	}
	m.UpdateEncodedNodes(encs, removed)
	return nil
}

// EncodedNode is a SchedulerNode already encoded, without its id, in two
// parts: Object holds the fields node and allocatable (2 and 3),
// Accounting requested and allocated_gpus (4 and 5). An update whose
// Object is byte for byte the one the module has for the id sends
// instances only the accounting: encode an unchanged node object the
// same way every time (the plugin host keeps its bytes).
type EncodedNode struct {
	ID                 uint32
	Object, Accounting []byte // kept: do not change them after the call
}

// UpdateEncodedNodes is UpdateNodes for nodes the caller encoded.
func (m *Module) UpdateEncodedNodes(upserts []EncodedNode, removed []uint32) {
	l := &m.nodes
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, n := range upserts {
		l.set(n.ID, n.Object, n.Accounting)
	}
	for _, id := range removed {
		l.remove(id)
	}
	if len(l.log) > max(minLog, 4*l.present) {
		drop := len(l.log) / 2
		l.base = l.log[drop-1].seq
		l.log = append(l.log[:0], l.log[drop:]...)
	}
	select {
	case m.syncCh <- struct{}{}:
	default:
	}
}

func (l *nodeLog) set(id uint32, obj, acct []byte) {
	for int(id) >= len(l.nodes) {
		l.nodes = append(l.nodes, nodeEnc{})
	}
	if obj == nil {
		obj = []byte{} // present, if empty
	}
	e := &l.nodes[id]
	objChanged := e.obj == nil || !bytes.Equal(e.obj, obj)
	if !objChanged && bytes.Equal(e.acct, acct) {
		return // unchanged (a heartbeat that touched nothing sent)
	}
	if e.obj == nil {
		l.present++
	}
	l.seq++
	if objChanged {
		e.obj, e.objSeq = obj, l.seq
	}
	e.acct = acct
	l.log = append(l.log, nodeChange{l.seq, id})
}

func (l *nodeLog) remove(id uint32) {
	if int(id) >= len(l.nodes) || l.nodes[id].obj == nil {
		return
	}
	l.present--
	l.seq++
	l.nodes[id] = nodeEnc{objSeq: l.seq}
	l.log = append(l.log, nodeChange{l.seq, id})
}

// behind is how many changes an instance at seq has not received.
func (l *nodeLog) behind(seq uint64) uint64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.seq - seq
}

// delta appends the NodeUpdate that brings an instance at seq up to date,
// and returns the seq it reaches. Nothing to send: same seq, no bytes.
func (l *nodeLog) delta(buf []byte, seq uint64) ([]byte, uint64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if seq == l.seq {
		return buf, seq
	}
	if seq == 0 || seq < l.base {
		buf = protowire.AppendTag(buf, 1, protowire.VarintType)
		buf = protowire.AppendVarint(buf, 1)
		for id := range l.nodes {
			if e := &l.nodes[id]; e.obj != nil {
				buf = e.appendUpsert(buf, uint32(id))
			}
		}
		return buf, l.seq
	}
	for len(l.mark) < len(l.nodes) {
		l.mark = append(l.mark, 0)
	}
	// Each delta marks the ids it collected with a pass of its own: two
	// instances brought up to the same seq (the sync loop does that to
	// every idle instance in turn) must each get every change.
	l.pass++
	var removed []uint32
	// Newest first, so each id is sent once, in its latest state.
	for i := len(l.log) - 1; i >= 0 && l.log[i].seq > seq; i-- {
		id := l.log[i].id
		if l.mark[id] == l.pass {
			continue
		}
		l.mark[id] = l.pass
		switch e := &l.nodes[id]; {
		case e.obj == nil:
			removed = append(removed, id)
		case e.objSeq > seq: // the instance has another node object, or none
			buf = e.appendUpsert(buf, id)
		default:
			buf = e.appendAccounting(buf, id)
		}
	}
	if len(removed) > 0 {
		var packed []byte
		for _, id := range removed {
			packed = protowire.AppendVarint(packed, uint64(id))
		}
		buf = protowire.AppendTag(buf, 3, protowire.BytesType)
		buf = protowire.AppendBytes(buf, packed)
	}
	return buf, l.seq
}

// appendUpsert appends the node as NodeUpdate.upserts (field 2): a
// SchedulerNode of the id, the object and the accounting.
func (e *nodeEnc) appendUpsert(buf []byte, id uint32) []byte {
	buf = protowire.AppendTag(buf, 2, protowire.BytesType)
	buf = protowire.AppendVarint(buf, uint64(1+protowire.SizeVarint(uint64(id))+len(e.obj)+len(e.acct)))
	buf = protowire.AppendVarint(append(buf, 0x08), uint64(id)) // id, field 1
	return append(append(buf, e.obj...), e.acct...)
}

// appendAccounting appends the node's accounting as
// NodeUpdate.accounting (field 4): a NodeAccounting, whose fields have
// SchedulerNode's numbers.
func (e *nodeEnc) appendAccounting(buf []byte, id uint32) []byte {
	buf = protowire.AppendTag(buf, 4, protowire.BytesType)
	buf = protowire.AppendVarint(buf, uint64(1+protowire.SizeVarint(uint64(id))+len(e.acct)))
	buf = protowire.AppendVarint(append(buf, 0x08), uint64(id))
	return append(buf, e.acct...)
}

// SyncNodes sends an idle instance the node changes it has not seen, now,
// rather than with the next scheduling call: after UpdateNodes with every
// node, the calls that follow then carry none. It waits for an instance
// as a call would.
func (m *Module) SyncNodes(ctx context.Context) error {
	return m.do(ctx, func(in *instance, _ time.Time) error {
		if err := in.syncNodes(); err != nil {
			return err
		}
		return m.collect(in) // the garbage of decoding them
	})
}

// syncNodes sends the instance the node changes it has not seen. Shipping
// every node to a fresh instance may take longer than a scheduling call's
// deadline, so the sync has the startup deadline, and the call that
// follows gets its own deadline from when the sync ends. Usually the
// module's sync loop has already done it while the instance was idle.
func (in *instance) syncNodes() error {
	var target uint64
	in.nodeBuf, target = in.m.nodes.delta(in.nodeBuf[:0], in.nodeSeq)
	return in.sendNodes(in.nodeBuf, target)
}

// nodeChunkBytes caps one NodeUpdate: a fresh instance receives thousands
// of nodes in several calls, each with its own (startup) deadline, and
// the guest's request buffer stays small.
const nodeChunkBytes = 256 << 10

// sendNodes sends the instance update, the NodeUpdate delta wrote to
// bring it to target, through wharf_scheduler_nodes: in chunks, each with
// the startup deadline.
func (in *instance) sendNodes(update []byte, target uint64) error {
	resp := &pluginv1.NodeUpdateResponse{}
	for rest := update; len(rest) > 0; {
		var chunk []byte
		chunk, rest = nextNodeChunk(rest, nodeChunkBytes)
		in.m.nodeUpdates.Add(1)
		if err := in.call(time.Now().Add(in.m.cfg.startupTimeout()), abi.ExportNodes, chunk, resp); err != nil {
			return err
		}
	}
	in.nodeSeq = target
	return nil
}

// inlineNodeBytes caps the node changes a Filter or Score request carries
// (node_update): a pod or two placed since the instance's last call take
// tens of bytes. More (thousands of nodes for a fresh instance, say) go
// first through wharf_scheduler_nodes, in chunks with the startup
// deadline, so that the call's own deadline covers the call alone.
const inlineNodeBytes = 16 << 10

// schedRequest returns a Filter or Score request for pod and the node ids,
// which brings the instance's nodes up to date: the changes it has not
// seen ride inside the request (node_update, applied by the guest before
// the rest) when they are few, else they go first, in calls of their own
// (synced is then true, and the call deserves a new deadline). Once the
// call succeeds the instance has the nodes up to seq. A call that fails
// may or may not have applied its update: the next call sends it again,
// which the ABI makes harmless (applying an update twice is applying it
// once).
//
// One call per pod instead of two matters more than the bytes: inside the
// guest, every call runs through code and data that the scheduler's own
// work between two calls has pushed out of the processor's caches.
func (in *instance) schedRequest(pod *Pod, ids []uint32) (req []byte, seq uint64, synced bool, err error) {
	in.nodeBuf, seq = in.m.nodes.delta(in.nodeBuf[:0], in.nodeSeq)
	req = in.reqBuf[:0]
	switch {
	case seq == in.nodeSeq:
	case len(in.nodeBuf) <= inlineNodeBytes && !isReset(in.nodeBuf):
		req = protowire.AppendBytes(protowire.AppendTag(req, 5, protowire.BytesType), in.nodeBuf)
	default:
		if err := in.sendNodes(in.nodeBuf, seq); err != nil {
			return nil, 0, false, err
		}
		synced = true
	}
	req = pod.request(req, ids)
	in.reqBuf = req
	return req, seq, synced, nil
}

// isReset reports whether a NodeUpdate that delta wrote starts with
// reset (field 1, written first).
func isReset(update []byte) bool { return len(update) > 0 && update[0] == 0x08 }

// nextNodeChunk splits a NodeUpdate (as delta writes it) after whole
// fields, at about max bytes: each chunk is a NodeUpdate, and applying
// them in order has the effect of the whole (only the first can hold
// reset, and removals come last).
func nextNodeChunk(b []byte, max int) (chunk, rest []byte) {
	n := 0
	for n < len(b) {
		num, typ, tl := protowire.ConsumeTag(b[n:])
		if tl < 0 {
			return b, nil // not ours to judge: the guest will say
		}
		vl := protowire.ConsumeFieldValue(num, typ, b[n+tl:])
		if vl < 0 {
			return b, nil
		}
		if n > 0 && n+tl+vl > max {
			break
		}
		n += tl + vl
	}
	return b[:n], b[n:]
}

// Pod is a pod encoded once for the Filter and Score calls of its
// scheduling cycle (FilterRequest and ScoreRequest share its fields).
type Pod struct {
	enc []byte
}

// EncodePod encodes a pod and its parsed requests (see
// pluginv1.FilterRequest).
func EncodePod(pod proto.Message, requests map[string]int64) (*Pod, error) {
	var enc []byte
	for _, k := range slices.Sorted(maps.Keys(requests)) { // pod_requests, field 3
		v := requests[k]
		enc = protowire.AppendTag(enc, 3, protowire.BytesType)
		enc = protowire.AppendVarint(enc, uint64(protowire.SizeTag(1)+protowire.SizeBytes(len(k))+protowire.SizeTag(2)+protowire.SizeVarint(uint64(v))))
		enc = protowire.AppendString(protowire.AppendTag(enc, 1, protowire.BytesType), k)
		enc = protowire.AppendVarint(protowire.AppendTag(enc, 2, protowire.VarintType), uint64(v))
	}
	return EncodePodRequests(pod, enc)
}

// EncodePodRequests is EncodePod with the requests encoded already: the
// entries of FilterRequest.pod_requests (field 3), in any order.
func EncodePodRequests(pod proto.Message, requests []byte) (*Pod, error) {
	// api/'s messages have generated marshalling (vtprotobuf): a cold call
	// here, as in the scheduler, costs half of what protobuf-go's costs.
	vt, generated := pod.(vtMarshaler)
	var size int
	if generated {
		size = vt.SizeVT()
	} else {
		size = proto.Size(pod)
	}
	enc := make([]byte, 0, 1+protowire.SizeBytes(size)+len(requests))
	enc = protowire.AppendVarint(protowire.AppendTag(enc, 1, protowire.BytesType), uint64(size))
	n := len(enc)
	if generated {
		if _, err := vt.MarshalToSizedBufferVT(enc[n : n+size]); err != nil {
			return nil, fmt.Errorf("encode pod: %w", err)
		}
		enc = enc[:n+size]
	} else {
		// The sizes were just computed (deterministic would sort maps the
		// guest does not care about).
		var err error
		if enc, err = (proto.MarshalOptions{UseCachedSize: true}).MarshalAppend(enc, pod); err != nil {
			return nil, fmt.Errorf("encode pod: %w", err)
		}
		if len(enc) != n+size {
			return nil, fmt.Errorf("encode pod: %d bytes, %d expected (was it changed meanwhile?)", len(enc)-n, size)
		}
	}
	return &Pod{enc: append(enc, requests...)}, nil
}

// vtMarshaler is a message with vtprotobuf's generated marshalling, as
// api/'s messages have (*_vtproto.pb.go).
type vtMarshaler interface {
	SizeVT() int
	MarshalToSizedBufferVT([]byte) (int, error)
}

// request appends a Filter/Score request: the pod's fields, then the node
// ids packed as fixed32 (field 4), 4 bytes little-endian each: on a
// little-endian machine, the ids' own bytes, in one copy.
func (p *Pod) request(buf []byte, ids []uint32) []byte {
	buf = append(buf, p.enc...)
	buf = protowire.AppendTag(buf, 4, protowire.BytesType)
	buf = protowire.AppendVarint(buf, uint64(4*len(ids)))
	if littleEndian && len(ids) > 0 {
		return append(buf, unsafe.Slice((*byte)(unsafe.Pointer(&ids[0])), 4*len(ids))...)
	}
	for _, id := range ids {
		buf = binary.LittleEndian.AppendUint32(buf, id)
	}
	return buf
}

// littleEndian: the machine stores a uint32 as fixed32 does.
var littleEndian = binary.NativeEndian.Uint16([]byte{1, 0}) == 1

// Rejection is one node a filter rejected.
type Rejection struct {
	// Index is the node's position in the ids Filter was given.
	Index        int
	Unresolvable bool
	Reasons      []string
}

// Filter asks which of the nodes ids can run pod and returns the others.
// Every id must have been given to UpdateNodes. Reasons that repeat share
// their strings (and slices): treat them as read-only.
func (m *Module) Filter(ctx context.Context, pod *Pod, ids []uint32) ([]Rejection, error) {
	var out []Rejection
	err := m.do(ctx, func(in *instance, deadline time.Time) error {
		req, seq, synced, err := in.schedRequest(pod, ids)
		if err != nil {
			return err
		}
		if synced {
			deadline = m.deadline(ctx)
		}
		b, err := in.invoke(deadline, abi.ExportFilter, req)
		if err != nil {
			return err
		}
		if out, err = decodeRejections(b, len(ids)); err == nil {
			in.nodeSeq = seq
		}
		return err
	})
	return out, err
}

// decodeRejections decodes a FilterResponse by hand: thousands of entries
// with a handful of distinct reasons.
func decodeRejections(b []byte, n int) ([]Rejection, error) {
	bad := func(format string, args ...any) ([]Rejection, error) {
		return nil, fmt.Errorf("%w: %s: %s", ErrBadResponse, abi.ExportFilter, fmt.Sprintf(format, args...))
	}
	var out []Rejection
	var lastRaw []byte // the reasons' encoding of the previous entry
	var lastReasons []string
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return bad("not a FilterResponse")
		}
		b = b[l:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			entry, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return bad("not a FilterResponse")
			}
			b = b[l:]
			var r Rejection
			rs, re := -1, -1 // where the reasons (field 3) start and end
			for off := 0; off < len(entry); {
				num, typ, l := protowire.ConsumeTag(entry[off:])
				if l < 0 {
					return bad("not a NodeVerdict")
				}
				fieldStart := off
				off += l
				switch {
				case num == 1 && typ == protowire.VarintType:
					v, l := protowire.ConsumeVarint(entry[off:])
					if l < 0 || v >= uint64(n) {
						return bad("rejected node #%d of %d", v, n)
					}
					off += l
					r.Index = int(v)
				case num == 2 && typ == protowire.VarintType:
					v, l := protowire.ConsumeVarint(entry[off:])
					if l < 0 {
						return bad("not a NodeVerdict")
					}
					off += l
					r.Unresolvable = v != 0
				default:
					l := protowire.ConsumeFieldValue(num, typ, entry[off:])
					if l < 0 {
						return bad("not a NodeVerdict")
					}
					off += l
					if num == 3 && typ == protowire.BytesType {
						if rs < 0 {
							rs = fieldStart
						}
						re = off
					}
				}
			}
			var raw []byte
			if rs >= 0 {
				raw = entry[rs:re]
			}
			if raw != nil && bytes.Equal(raw, lastRaw) {
				r.Reasons = lastReasons
			} else {
				for rb := raw; len(rb) > 0; {
					num, typ, l := protowire.ConsumeTag(rb)
					rb = rb[l:]
					l = protowire.ConsumeFieldValue(num, typ, rb)
					if num == 3 && typ == protowire.BytesType {
						s, _ := protowire.ConsumeBytes(rb)
						r.Reasons = append(r.Reasons, string(s))
					}
					rb = rb[l:]
				}
				lastRaw, lastReasons = raw, r.Reasons
			}
			out = append(out, r)
		case num == 15 && typ == protowire.BytesType:
			msg, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return bad("not a FilterResponse")
			}
			return nil, fmt.Errorf("%w: %s", ErrPlugin, msg)
		default:
			l := protowire.ConsumeFieldValue(num, typ, b)
			if l < 0 {
				return bad("not a FilterResponse")
			}
			b = b[l:]
		}
	}
	return out, nil
}

// Score ranks the nodes ids for pod into scores (len(scores) ==
// len(ids)), each from 0 to 100. skip: the plugin has no opinion (scores
// are zero).
func (m *Module) Score(ctx context.Context, pod *Pod, ids []uint32, scores []int64) (skip bool, err error) {
	err = m.do(ctx, func(in *instance, deadline time.Time) error {
		req, seq, synced, err := in.schedRequest(pod, ids)
		if err != nil {
			return err
		}
		if synced {
			deadline = m.deadline(ctx)
		}
		b, err := in.invoke(deadline, abi.ExportScore, req)
		if err != nil {
			return err
		}
		if skip, err = decodeScores(b, scores); err == nil {
			in.nodeSeq = seq
		}
		return err
	})
	return skip, err
}

// decodeScores decodes a ScoreResponse straight into scores: the one
// message on the hot path worth decoding by hand.
func decodeScores(b []byte, scores []int64) (skip bool, err error) {
	bad := func(format string, args ...any) (bool, error) {
		return false, fmt.Errorf("%w: %s: %s", ErrBadResponse, abi.ExportScore, fmt.Sprintf(format, args...))
	}
	n := 0
	inRange := false // every score was checked to be in [0, 100]
	for len(b) > 0 {
		num, typ, l := protowire.ConsumeTag(b)
		if l < 0 {
			return bad("not a ScoreResponse")
		}
		b = b[l:]
		switch {
		case num == 1 && typ == protowire.BytesType:
			packed, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return bad("not a ScoreResponse")
			}
			b = b[l:]
			if n == 0 && len(packed) == len(scores) {
				// Every score in one byte, as scores 0 to 100 are, and
				// checked here.
				ok := true
				for i, c := range packed {
					ok = ok && c <= 100
					scores[i] = int64(c)
				}
				if ok {
					n, inRange = len(scores), true
					continue
				}
			}
			for len(packed) > 0 {
				v, l := protowire.ConsumeVarint(packed)
				if l < 0 || n >= len(scores) {
					return bad("more scores than the %d nodes asked about", len(scores))
				}
				packed = packed[l:]
				scores[n] = int64(v)
				n++
			}
		case num == 1 && typ == protowire.VarintType:
			v, l := protowire.ConsumeVarint(b)
			if l < 0 || n >= len(scores) {
				return bad("more scores than the %d nodes asked about", len(scores))
			}
			b = b[l:]
			scores[n] = int64(v)
			n++
		case num == 2 && typ == protowire.VarintType:
			v, l := protowire.ConsumeVarint(b)
			if l < 0 {
				return bad("not a ScoreResponse")
			}
			b = b[l:]
			skip = v != 0
		case num == 15 && typ == protowire.BytesType:
			msg, l := protowire.ConsumeBytes(b)
			if l < 0 {
				return bad("not a ScoreResponse")
			}
			return false, fmt.Errorf("%w: %s", ErrPlugin, msg)
		default:
			l := protowire.ConsumeFieldValue(num, typ, b)
			if l < 0 {
				return bad("not a ScoreResponse")
			}
			b = b[l:]
		}
	}
	if skip {
		clear(scores)
		return true, nil
	}
	if n != len(scores) {
		return bad("%d scores for %d nodes", n, len(scores))
	}
	if inRange {
		return false, nil
	}
	for i, v := range scores {
		if v < 0 || v > 100 {
			return bad("score %d for node #%d is outside [0, 100]", v, i)
		}
	}
	return false, nil
}
