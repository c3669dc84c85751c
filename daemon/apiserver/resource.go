package apiserver

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"connectrpc.com/connect"
	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/store"
)

// object is what every kind's message has: metadata.
type object interface {
	proto.Message
	GetMetadata() *wharfv1.ObjectMeta
}

// resource is the one generic implementation of the verbs, for any kind.
// The generated adapters in kinds_gen.go only translate requests.
type resource[T object] struct {
	s      *Server
	info   wharfv1.KindInfo
	ref    kindRef
	md     protoreflect.MessageDescriptor
	metaFD protoreflect.FieldDescriptor
	specFD protoreflect.FieldDescriptor // nil when the kind has no spec
	statFD protoreflect.FieldDescriptor // nil when the kind has no status
	strat  strategy
	hub    *hub[T]
	stored storedFields // for setStored
}

// conflictRetries bounds read-modify-write retries for writes without a
// client precondition (apply, unconditional update).
const conflictRetries = 16

func newResource[T object](s *Server, kind string) *resource[T] {
	info, ok := wharfv1.LookupKind(kind)
	if !ok {
		panic("apiserver: unknown kind " + kind)
	}
	md := info.New().ProtoReflect().Descriptor()
	r := &resource[T]{
		s:      s,
		info:   info,
		ref:    refOf(info),
		md:     md,
		metaFD: md.Fields().ByName("metadata"),
		strat:  strategies[kind],
	}
	if info.HasSpec {
		r.specFD = md.Fields().ByName("spec")
	}
	if info.HasStatus {
		r.statFD = md.Fields().ByName("status")
	}
	r.hub = newHub(r)
	s.metrics.watchers.WithLabelValues(info.Kind).Set(0)
	s.register(r)
	return r
}

func (r *resource[T]) kind() string { return r.info.Kind }

func (r *resource[T]) newObject() T { return r.info.New().(T) }

// meta returns obj's metadata, allocating it when unset.
func (r *resource[T]) meta(obj T) *wharfv1.ObjectMeta {
	return obj.ProtoReflect().Mutable(r.metaFD).Message().Interface().(*wharfv1.ObjectMeta)
}

func (r *resource[T]) encode(obj T) ([]byte, error) {
	m := r.meta(obj)
	rv := m.ResourceVersion
	m.ResourceVersion = "" // derived from the store's revision on read
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(obj)
	m.ResourceVersion = rv
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", r.ref.resource, err)
	}
	return b, nil
}

// decode decodes a stored object. Everything stored went through
// validation, and requests are decoded with protobuf-go, which checks
// strings for UTF-8; so stored bytes are decoded with the kinds' generated
// decoders (vtprotobuf, without that check), about twice as fast: every
// watch event and most reads decode objects here.
func (r *resource[T]) decode(kv store.KV) (T, error) {
	obj := r.newObject()
	var err error
	if vt, ok := any(obj).(interface{ UnmarshalVT([]byte) error }); ok {
		err = vt.UnmarshalVT(kv.Value)
	} else {
		err = proto.Unmarshal(kv.Value, obj)
	}
	if err != nil {
		return obj, fmt.Errorf("decode %s: %w", kv.Key, err)
	}
	r.meta(obj).ResourceVersion = strconv.FormatInt(kv.ModRevision, 10)
	return obj, nil
}

// namespaceOf returns the namespace an object lives in: "" for
// cluster-scoped kinds, "default" when a namespaced object names none.
func (r *resource[T]) namespaceOf(ns string) (string, error) {
	if !r.ref.namespaced {
		if ns != "" {
			return "", errBadRequest("%s are cluster-scoped; remove metadata.namespace (%q)", r.info.Plural, ns)
		}
		return "", nil
	}
	if ns == "" {
		return "default", nil
	}
	return ns, nil
}

// requestNamespace is namespaceOf for Get/Delete requests, where a
// namespace sent for a cluster-scoped kind is ignored.
func (r *resource[T]) requestNamespace(ns string) string {
	if !r.ref.namespaced {
		return ""
	}
	if ns == "" {
		return "default"
	}
	return ns
}

func (r *resource[T]) get(ctx context.Context, ns, name string) (T, error) {
	kv, err := r.getStored(ctx, ns, name)
	if err != nil {
		var zero T
		return zero, err
	}
	return r.decode(kv)
}

// getStored is get without decoding: the object as the store holds it.
func (r *resource[T]) getStored(ctx context.Context, ns, name string) (store.KV, error) {
	ns = r.requestNamespace(ns)
	if err := r.s.authorize(ctx, "get", r.info.Kind, ns, name); err != nil {
		return store.KV{}, err
	}
	if name == "" {
		return store.KV{}, errBadRequest("name is required to get %s", r.info.Plural)
	}
	kv, err := r.s.store.Get(ctx, r.ref.key(ns, name))
	if errors.Is(err, store.ErrNotFound) {
		return store.KV{}, errNotFound(r.ref, ns, name)
	}
	return kv, err
}

// create stores a new object. It takes obj, and changes it (defaults,
// server-set metadata): callers pass an object of their own, as a request's
// is; copying every created object cost about 2% of a create's CPU.
func (r *resource[T]) create(ctx context.Context, obj T) (T, error) {
	obj, _, err := r.createStored(ctx, obj)
	return obj, err
}

// createStored is create, returning also the object's stored bytes (see
// setStored).
func (r *resource[T]) createStored(ctx context.Context, obj T) (T, []byte, error) {
	var zero T
	if !obj.ProtoReflect().IsValid() {
		return zero, nil, errBadRequest("the request has no %s; send {%q: {...}}", r.info.Kind, lowerFirst(r.info.Kind))
	}
	m := r.meta(obj)
	ns, err := r.namespaceOf(m.GetNamespace())
	if err != nil {
		return zero, nil, err
	}
	m.Namespace = ns
	generated := m.Name == "" && m.GenerateName != ""
	if generated {
		m.Name = m.GenerateName + randomSuffix()
	}
	if err := r.s.authorize(ctx, "create", r.info.Kind, ns, m.Name); err != nil {
		return zero, nil, err
	}
	if r.strat.defaults != nil {
		r.strat.defaults(obj)
	}
	if err := r.s.admit(ctx, &AdmissionRequest{Operation: OpCreate, Kind: r.info.Kind, Namespace: ns, Name: m.Name, Object: obj}); err != nil {
		return zero, nil, err
	}
	m = r.meta(obj) // admission may have replaced it
	m.Namespace = ns
	if err := r.validate(obj); err != nil {
		return zero, nil, err
	}
	if err := r.s.checkNamespaceWritable(ctx, r.ref, ns); err != nil {
		return zero, nil, err
	}
	// Server-owned metadata.
	m.Uid = uuid.NewString()
	m.ResourceVersion = ""
	m.Generation = 1
	m.CreationTimestamp = timestamppb.Now()
	m.DeletionTimestamp = nil
	m.DeletionGracePeriodSeconds = nil
	if r.strat.prepareCreate != nil {
		r.strat.prepareCreate(obj)
	}
	generated = generated && strings.HasPrefix(m.Name, m.GenerateName) // admission may have named it
	for attempt := 0; ; attempt++ {
		b, err := r.encode(obj)
		if err != nil {
			return zero, nil, err
		}
		kv, err := r.s.store.Create(ctx, r.ref.key(ns, m.Name), b)
		if errors.Is(err, store.ErrExists) {
			// A generated name taken: another suffix, as kube-apiserver
			// does (five characters of 27 collide about once in 30 for a
			// thousand names).
			if generated && attempt < generateNameRetries {
				m.Name = m.GenerateName + randomSuffix()
				continue
			}
			return zero, nil, errAlreadyExists(r.ref, ns, m.Name)
		}
		if err != nil {
			return zero, nil, err
		}
		m.ResourceVersion = strconv.FormatInt(kv.ModRevision, 10)
		return obj, b, nil
	}
}

// generateNameRetries is how many other names a create from generateName
// tries when the one it drew is taken.
const generateNameRetries = 7

func (r *resource[T]) validate(obj T) error {
	var fe fieldErrors
	validateMeta(&fe, r.ref, obj.GetMetadata())
	if r.strat.validate != nil {
		fe = append(fe, r.strat.validate(obj)...)
	}
	if len(fe) > 0 {
		return errInvalid(r.ref, obj.GetMetadata().GetName(), fe)
	}
	return nil
}

// updateKind says which part of the object an update replaces.
type updateKind uint8

const (
	updateSpec   updateKind = iota // metadata (user-owned fields) and spec
	updateStatus                   // status only
	updateApply                    // spec, labels and annotations
)

func (r *resource[T]) update(ctx context.Context, obj T) (applyResult[T], error) {
	return r.write(ctx, obj, updateSpec)
}

func (r *resource[T]) updateStatus(ctx context.Context, obj T) (applyResult[T], error) {
	if r.statFD == nil {
		return applyResult[T]{}, errBadRequest("%s have no status; use Update", r.info.Plural)
	}
	return r.write(ctx, obj, updateStatus)
}

// applyResult is what apply reports.
type applyResult[T object] struct {
	object  T
	raw     []byte // object as stored (see setStored)
	created bool
	changed bool
}

func (r *resource[T]) apply(ctx context.Context, obj T) (applyResult[T], error) {
	for range conflictRetries {
		res, err := r.write(ctx, obj, updateApply)
		if err == nil || !isNotFound(err) {
			return res, err
		}
		created, raw, err := r.createStored(ctx, proto.Clone(obj).(T)) // obj again if it exists meanwhile
		if err == nil {
			return applyResult[T]{object: created, raw: raw, created: true, changed: true}, nil
		}
		if !isAlreadyExists(err) {
			return applyResult[T]{}, err
		}
		// Created by someone else in between: apply onto it.
	}
	return applyResult[T]{}, fmt.Errorf("apply %s: still conflicting after %d tries", r.ref.resource, conflictRetries)
}

// write is the read-modify-write of Update, UpdateStatus and Apply. A
// resourceVersion in the request is a precondition; without one, conflicts
// with concurrent writers are retried on the fresh object.
func (r *resource[T]) write(ctx context.Context, obj T, kind updateKind) (applyResult[T], error) {
	var zero applyResult[T]
	if !obj.ProtoReflect().IsValid() {
		return zero, errBadRequest("the request has no %s; send {%q: {...}}", r.info.Kind, lowerFirst(r.info.Kind))
	}
	in := obj.GetMetadata()
	ns, err := r.namespaceOf(in.GetNamespace())
	if err != nil {
		return zero, err
	}
	name := in.GetName()
	if name == "" {
		return zero, errInvalid(r.ref, "", []fieldError{{"metadata.name", "required"}})
	}
	verb := "update"
	if kind == updateStatus {
		verb = "update/status"
	}
	if err := r.s.authorize(ctx, verb, r.info.Kind, ns, name); err != nil {
		return zero, err
	}
	precondition := in.GetResourceVersion()
	if kind == updateApply {
		precondition = "" // apply is by name; it always applies to the latest
	}
	if kind != updateStatus && r.strat.defaults != nil {
		// Defaults apply to every write of a spec, so an update or apply that
		// leaves a defaulted field out does not change it.
		obj = proto.Clone(obj).(T)
		r.strat.defaults(obj)
	}
	key := r.ref.key(ns, name)
	for range conflictRetries {
		kv, err := r.s.store.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return zero, errNotFound(r.ref, ns, name)
		}
		if err != nil {
			return zero, err
		}
		old, err := r.decode(kv)
		if err != nil {
			return zero, err
		}
		have := old.GetMetadata().GetResourceVersion()
		if precondition != "" && precondition != have {
			return zero, errConflict(r.ref, ns, name, have, precondition)
		}
		next := r.merge(old, obj, kind)
		if kind != updateStatus {
			op := OpUpdate
			if err := r.s.admit(ctx, &AdmissionRequest{Operation: op, Kind: r.info.Kind, Namespace: ns, Name: name, Object: next, OldObject: old}); err != nil {
				return zero, err
			}
			r.meta(next).Name, r.meta(next).Namespace = name, ns
		}
		if err := r.validate(next); err != nil {
			return zero, err
		}
		if kind != updateStatus && r.strat.validateUpdate != nil {
			if fe := r.strat.validateUpdate(old, next); len(fe) > 0 {
				return zero, errInvalid(r.ref, name, fe)
			}
		}
		if r.specFD != nil && !proto.Equal(fieldMessage(old, r.specFD), fieldMessage(next, r.specFD)) {
			r.meta(next).Generation++
		}
		if proto.Equal(old, next) {
			return applyResult[T]{object: old, raw: kv.Value}, nil // nothing changed: no new revision
		}
		// The last finalizer removed from an object being deleted ends it.
		if nm := next.GetMetadata(); nm.GetDeletionTimestamp() != nil && len(nm.GetFinalizers()) == 0 && !r.awaitsOwner(next) {
			gone, err := r.s.store.Delete(ctx, key, kv.ModRevision)
			if errors.Is(err, store.ErrConflict) {
				continue
			}
			if err != nil {
				return zero, mapStoreErr(err, r.ref, ns, name)
			}
			out, err := r.decode(gone)
			return applyResult[T]{object: out, raw: gone.Value, changed: true}, err
		}
		b, err := r.encode(next)
		if err != nil {
			return zero, err
		}
		nkv, err := r.s.store.Update(ctx, key, b, kv.ModRevision)
		switch {
		case errors.Is(err, store.ErrNotFound):
			return zero, errNotFound(r.ref, ns, name)
		case errors.Is(err, store.ErrConflict) && precondition == "":
			continue // changed since we read it: redo on the fresh object
		case errors.Is(err, store.ErrConflict):
			return zero, errConflict(r.ref, ns, name, "", precondition)
		case err != nil:
			return zero, err
		}
		r.meta(next).ResourceVersion = strconv.FormatInt(nkv.ModRevision, 10)
		return applyResult[T]{object: next, raw: b, changed: true}, nil
	}
	return zero, newAPIError(connect.CodeUnavailable, "%s is being changed by many writers at once; retry", r.ref.describe(ns, name))
}

// merge builds the object an update would store: the old object with the
// parts this kind of update owns taken from the request.
func (r *resource[T]) merge(old, in T, kind updateKind) T {
	next := proto.Clone(old).(T)
	nm, im := r.meta(next), in.GetMetadata()
	switch kind {
	case updateStatus:
		copyField(next, in, r.statFD)
	case updateApply:
		nm.Labels, nm.Annotations = im.GetLabels(), im.GetAnnotations()
		copyField(next, in, r.specFD)
		copyNonMeta(next, in, r.md, r.metaFD, r.specFD, r.statFD)
	case updateSpec:
		nm.Labels, nm.Annotations = im.GetLabels(), im.GetAnnotations()
		nm.OwnerReferences, nm.Finalizers = im.GetOwnerReferences(), im.GetFinalizers()
		copyField(next, in, r.specFD)
		copyNonMeta(next, in, r.md, r.metaFD, r.specFD, r.statFD)
	}
	if kind != updateStatus && r.strat.prepareUpdate != nil {
		r.strat.prepareUpdate(old, next)
	}
	return next
}

// awaitsOwner reports whether obj, marked for deletion, still waits for
// its owner (a bound pod waits for its node to stop its containers).
func (r *resource[T]) awaitsOwner(obj T) bool {
	if r.strat.graceful == nil {
		return false
	}
	_, ok := r.strat.graceful(obj)
	return ok && obj.GetMetadata().GetDeletionGracePeriodSeconds() > 0
}

// deleteOptions are the Delete request's.
type deleteOptions struct {
	Namespace          string
	Name               string
	ResourceVersion    string
	GracePeriodSeconds *int64
	// finalize removes a terminating namespace once it is empty (the
	// reaper's own delete; not reachable from the API).
	finalize bool
}

// delete removes an object, or starts a graceful delete: a pod bound to a
// node gets deletionTimestamp and is removed by the node once its
// containers stopped (it deletes again with grace 0); an object with
// finalizers is removed when the last one goes.
func (r *resource[T]) delete(ctx context.Context, opts deleteOptions) (T, error) {
	var zero T
	ns := r.requestNamespace(opts.Namespace)
	name := opts.Name
	if name == "" {
		return zero, errBadRequest("name is required to delete %s", r.info.Plural)
	}
	if err := r.s.authorize(ctx, "delete", r.info.Kind, ns, name); err != nil {
		return zero, err
	}
	if g := opts.GracePeriodSeconds; g != nil && *g < 0 {
		return zero, errBadRequest("gracePeriodSeconds %d is negative; use 0 to delete at once", *g)
	}
	key := r.ref.key(ns, name)
	for range conflictRetries {
		kv, err := r.s.store.Get(ctx, key)
		if errors.Is(err, store.ErrNotFound) {
			return zero, errNotFound(r.ref, ns, name)
		}
		if err != nil {
			return zero, err
		}
		old, err := r.decode(kv)
		if err != nil {
			return zero, err
		}
		have := old.GetMetadata().GetResourceVersion()
		if opts.ResourceVersion != "" && opts.ResourceVersion != have {
			return zero, errConflict(r.ref, ns, name, have, opts.ResourceVersion)
		}
		if err := r.s.admit(ctx, &AdmissionRequest{Operation: OpDelete, Kind: r.info.Kind, Namespace: ns, Name: name, OldObject: old}); err != nil {
			return zero, err
		}
		next, keep := r.markDeleted(old, opts.GracePeriodSeconds, opts.finalize)
		if keep {
			if proto.Equal(old, next) {
				return old, nil // already terminating
			}
			b, err := r.encode(next)
			if err != nil {
				return zero, err
			}
			nkv, err := r.s.store.Update(ctx, key, b, kv.ModRevision)
			if errors.Is(err, store.ErrConflict) && opts.ResourceVersion == "" {
				continue
			}
			if err != nil {
				return zero, mapStoreErr(err, r.ref, ns, name)
			}
			r.meta(next).ResourceVersion = strconv.FormatInt(nkv.ModRevision, 10)
			r.s.afterDelete(r.info.Kind, ns, name)
			return next, nil
		}
		gone, err := r.s.store.Delete(ctx, key, kv.ModRevision)
		if errors.Is(err, store.ErrConflict) && opts.ResourceVersion == "" {
			continue
		}
		if err != nil {
			return zero, mapStoreErr(err, r.ref, ns, name)
		}
		return r.decode(gone)
	}
	return zero, newAPIError(connect.CodeUnavailable, "%s is being changed by many writers at once; retry", r.ref.describe(ns, name))
}

// markDeleted returns the object as a graceful delete leaves it, and
// whether it must stay in the store for now.
func (r *resource[T]) markDeleted(old T, grace *int64, finalize bool) (T, bool) {
	next := proto.Clone(old).(T)
	m := r.meta(next)
	seconds, graceful := int64(0), false
	if r.strat.graceful != nil {
		seconds, graceful = r.strat.graceful(next)
	}
	if grace != nil {
		seconds = *grace
	}
	if r.info.Kind == "Namespace" && !finalize {
		graceful, seconds = true, 1 // emptied by the namespace reaper first
		if ns, ok := any(next).(*wharfv1.Namespace); ok {
			if ns.Status == nil {
				ns.Status = &wharfv1.NamespaceStatus{}
			}
			ns.Status.Phase = "Terminating"
		}
	}
	graceful = graceful && seconds > 0
	if !graceful && len(m.GetFinalizers()) == 0 {
		return next, false
	}
	if m.DeletionTimestamp != nil {
		// Already terminating: a shorter grace period may speed it up.
		if graceful && seconds < m.GetDeletionGracePeriodSeconds() {
			m.DeletionGracePeriodSeconds = proto.Int64(seconds)
			m.DeletionTimestamp = timestamppb.New(time.Now().Add(time.Duration(seconds) * time.Second))
			return next, true
		}
		if !graceful && len(m.GetFinalizers()) == 0 {
			return next, false
		}
		return next, true
	}
	m.DeletionTimestamp = timestamppb.New(time.Now().Add(time.Duration(seconds) * time.Second))
	m.DeletionGracePeriodSeconds = proto.Int64(seconds)
	return next, true
}

func mapStoreErr(err error, k kindRef, ns, name string) error {
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errNotFound(k, ns, name)
	case errors.Is(err, store.ErrConflict):
		return errConflict(k, ns, name, "", "")
	case errors.Is(err, store.ErrExists):
		return errAlreadyExists(k, ns, name)
	}
	return err
}

func isNotFound(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.code == connect.CodeNotFound
}

func isAlreadyExists(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.code == connect.CodeAlreadyExists
}

// fieldMessage returns a message field's value, nil when unset.
func fieldMessage(m proto.Message, fd protoreflect.FieldDescriptor) proto.Message {
	if fd == nil || !m.ProtoReflect().Has(fd) {
		return nil
	}
	return m.ProtoReflect().Get(fd).Message().Interface()
}

// copyField sets dst's field fd to a copy of src's (clearing it when src
// has none).
func copyField(dst, src proto.Message, fd protoreflect.FieldDescriptor) {
	if fd == nil {
		return
	}
	d, s := dst.ProtoReflect(), src.ProtoReflect()
	if !s.Has(fd) {
		d.Clear(fd)
		return
	}
	d.Set(fd, protoreflect.ValueOfMessage(proto.Clone(s.Get(fd).Message().Interface()).ProtoReflect()))
}

// copyNonMeta copies the top-level fields of kinds without spec/status
// (Event's reason, message, ...): for them the whole body is "spec".
func copyNonMeta(dst, src proto.Message, md protoreflect.MessageDescriptor, skip ...protoreflect.FieldDescriptor) {
	fields := md.Fields()
	for i := 0; i < fields.Len(); i++ {
		fd := fields.Get(i)
		if containsFD(skip, fd) {
			continue
		}
		d, s := dst.ProtoReflect(), src.ProtoReflect()
		if !s.Has(fd) {
			d.Clear(fd)
			continue
		}
		d.Set(fd, s.Get(fd))
	}
}

func containsFD(list []protoreflect.FieldDescriptor, fd protoreflect.FieldDescriptor) bool {
	for _, x := range list {
		if x != nil && x.FullName() == fd.FullName() {
			return true
		}
	}
	return false
}

func lowerFirst(s string) string {
	if s == "" {
		return s
	}
	return string(s[0]+'a'-'A') + s[1:]
}

// randomSuffix is the 5-character suffix of a name from generateName (a
// variable for tests).
var randomSuffix = func() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	var b [5]byte
	_, _ = rand.Read(b[:])
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:])
}
