package apiserver

import (
	"net/http"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// An object goes to a watcher, or back to its creator, as the bytes the
// store holds, not marshalled again: the object's encoding with its
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

// setStored sets obj in resp (a response message, its other fields set)
// as raw, its stored bytes, with obj's resourceVersion: protobuf writes
// unknown fields out as they are, and the decoder merges the second
// metadata into the first.
func (r *resource[T]) setStored(resp proto.Message, obj T, raw []byte) {
	f := &r.stored
	f.once.Do(func() {
		meta := r.md.Fields().ByName("metadata")
		f.meta, f.version = meta.Number(), meta.Message().Fields().ByName("resource_version").Number()
	})
	rd := resp.ProtoReflect().Descriptor()
	n, ok := f.object.Load(rd.FullName())
	if !ok {
		fields := rd.Fields()
		for i := range fields.Len() {
			if m := fields.Get(i).Message(); m != nil && m.FullName() == r.md.FullName() {
				n = fields.Get(i).Number()
			}
		}
		f.object.Store(rd.FullName(), n)
	}
	num := n.(protowire.Number)
	rv := obj.GetMetadata().GetResourceVersion()
	metaLen := protowire.SizeTag(f.version) + protowire.SizeBytes(len(rv))
	objLen := len(raw) + protowire.SizeTag(f.meta) + protowire.SizeBytes(metaLen)
	b := make([]byte, 0, protowire.SizeTag(num)+protowire.SizeBytes(objLen))
	b = protowire.AppendVarint(protowire.AppendTag(b, num, protowire.BytesType), uint64(objLen))
	b = append(b, raw...)
	b = protowire.AppendVarint(protowire.AppendTag(b, f.meta, protowire.BytesType), uint64(metaLen))
	b = protowire.AppendString(protowire.AppendTag(b, f.version, protowire.BytesType), rv)
	resp.ProtoReflect().SetUnknown(protoreflect.RawFields(b))
}
