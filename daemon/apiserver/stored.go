package apiserver

import (
	"net/http"
	"strconv"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// An object goes to a watcher, a lister, or back to its creator, as the
// bytes the store holds, not marshalled again (nor, for a list without
// selectors, decoded): the object's encoding with its
// resourceVersion (which the store derives from its revision, and does not
// keep in the bytes) appended as a second metadata message, which
// protobuf merges into the first. The response message gets the object
// field as unknown fields, which protobuf writes out as they are: the
// client reads an ordinary response. JSON clients get the object
// marshalled (JSON has no unknown fields).

// sendsStoredBytes reports whether responses to a request with header h
// are binary protobuf (Connect, gRPC or gRPC-Web with the proto codec).
func sendsStoredBytes(h http.Header) bool {
	mt, _, _ := strings.Cut(h.Get("Content-Type"), ";")
	switch mt = strings.ToLower(strings.TrimSpace(mt)); mt {
	case "application/grpc", "application/grpc-web", "application/grpc-web-text", "application/proto":
		return true
	}
	return strings.HasSuffix(mt, "+proto")
}

// storedFields are the field numbers setStored writes: metadata in the
// object, resourceVersion in metadata, and the object in each response
// message it was used with.
type storedFields struct {
	once          sync.Once
	meta, version protowire.Number
	object        sync.Map // protoreflect.FullName of a response: protowire.Number
}

// answer puts obj in resp, a response to a request with header h: for a
// binary client as raw, its stored bytes (see setStored), for others
// through set.
func (r *resource[T]) answer(h http.Header, resp proto.Message, set func(T), obj T, raw []byte) {
	if raw != nil && sendsStoredBytes(h) {
		r.setStored(resp, raw, obj.GetMetadata().GetResourceVersion())
		return
	}
	set(obj)
}

// setStored sets an object in resp (a response message, its other fields
// set) as raw, its stored bytes, with resourceVersion rv.
func (r *resource[T]) setStored(resp proto.Message, raw []byte, rv string) {
	num := r.storedField(resp)
	b := make([]byte, 0, r.storedSize(num, raw, rv))
	b = r.appendStored(b, num, raw, rv)
	resp.ProtoReflect().SetUnknown(protoreflect.RawFields(b))
}

// setStoredItems sets items in resp (a List<Kind>sResponse, its other
// fields set), in order.
func (r *resource[T]) setStoredItems(resp proto.Message, items []storedObject) {
	num := r.storedField(resp)
	rvs := make([]string, len(items))
	size := 0
	for i, it := range items {
		rvs[i] = strconv.FormatInt(it.rev, 10)
		size += r.storedSize(num, it.raw, rvs[i])
	}
	b := make([]byte, 0, size)
	for i, it := range items {
		b = r.appendStored(b, num, it.raw, rvs[i])
	}
	resp.ProtoReflect().SetUnknown(protoreflect.RawFields(b))
}

// storedField returns the number of the field of resp that holds the
// kind's objects.
func (r *resource[T]) storedField(resp proto.Message) protowire.Number {
	f := &r.stored
	f.once.Do(func() {
		meta := r.md.Fields().ByName("metadata")
		f.meta, f.version = meta.Number(), meta.Message().Fields().ByName("resource_version").Number()
	})
	rd := resp.ProtoReflect().Descriptor()
	if n, ok := f.object.Load(rd.FullName()); ok {
		return n.(protowire.Number)
	}
	var num protowire.Number
	fields := rd.Fields()
	for i := range fields.Len() {
		if m := fields.Get(i).Message(); m != nil && m.FullName() == r.md.FullName() {
			num = fields.Get(i).Number()
		}
	}
	f.object.Store(rd.FullName(), num)
	return num
}

// storedSize is the size of field num holding raw with resourceVersion rv.
func (r *resource[T]) storedSize(num protowire.Number, raw []byte, rv string) int {
	return protowire.SizeTag(num) + protowire.SizeBytes(r.storedObjectSize(raw, rv))
}

func (r *resource[T]) storedObjectSize(raw []byte, rv string) int {
	f := &r.stored
	return len(raw) + protowire.SizeTag(f.meta) + protowire.SizeBytes(protowire.SizeTag(f.version)+protowire.SizeBytes(len(rv)))
}

// appendStored appends field num holding raw, and a second metadata with
// resourceVersion rv, which the decoder merges into the first.
func (r *resource[T]) appendStored(b []byte, num protowire.Number, raw []byte, rv string) []byte {
	f := &r.stored
	b = protowire.AppendVarint(protowire.AppendTag(b, num, protowire.BytesType), uint64(r.storedObjectSize(raw, rv)))
	b = append(b, raw...)
	b = protowire.AppendVarint(protowire.AppendTag(b, f.meta, protowire.BytesType), uint64(protowire.SizeTag(f.version)+protowire.SizeBytes(len(rv))))
	return protowire.AppendString(protowire.AppendTag(b, f.version, protowire.BytesType), rv)
}
