package apiserver

import (
	"net/http"
	"strings"
	"sync"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// An object goes to a watcher as the bytes the store holds, not decoded
// and marshalled again: a watch event is the object's encoding with its
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

// storedFields are the field numbers setStoredObject writes: the object
// in a response message, metadata in the object, resourceVersion in
// metadata.
type storedFields struct {
	once          sync.Once
	object        protowire.Number
	meta, version protowire.Number
}

// setStoredObject sets ev's object in resp (a Watch<Kind>sResponse, its
// other fields set) as ev.Raw with the object's resourceVersion.
func (r *resource[T]) setStoredObject(resp proto.Message, ev watchEvent[T]) {
	f := &r.stored
	f.once.Do(func() {
		obj := r.newObject().ProtoReflect().Descriptor()
		fields := resp.ProtoReflect().Descriptor().Fields()
		for i := range fields.Len() {
			if m := fields.Get(i).Message(); m != nil && m.FullName() == obj.FullName() {
				f.object = fields.Get(i).Number()
			}
		}
		meta := obj.Fields().ByName("metadata")
		f.meta, f.version = meta.Number(), meta.Message().Fields().ByName("resource_version").Number()
	})
	rv := ev.Object.GetMetadata().GetResourceVersion()
	metaLen := protowire.SizeTag(f.version) + protowire.SizeBytes(len(rv))
	objLen := len(ev.Raw) + protowire.SizeTag(f.meta) + protowire.SizeBytes(metaLen)
	b := make([]byte, 0, protowire.SizeTag(f.object)+protowire.SizeBytes(objLen))
	b = protowire.AppendVarint(protowire.AppendTag(b, f.object, protowire.BytesType), uint64(objLen))
	b = append(b, ev.Raw...)
	b = protowire.AppendVarint(protowire.AppendTag(b, f.meta, protowire.BytesType), uint64(metaLen))
	b = protowire.AppendString(protowire.AppendTag(b, f.version, protowire.BytesType), rv)
	resp.ProtoReflect().SetUnknown(protoreflect.RawFields(b))
}
