package plugin

import (
	"time"

	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// Reconciler turns the state of watched objects into changes
// (controller.reconcile). The host calls it when a watched object changes
// and again at every resync: decide from the object's state, not from
// what changed.
type Reconciler interface {
	Reconcile(req *ReconcileRequest) (Result, error)
}

// ReconcileRequest is one watched object.
type ReconcileRequest struct {
	Kind      string
	Namespace string
	Name      string
	// Object is the object's current state (its wharf.v1 message), nil when
	// it was deleted.
	Object proto.Message
	// Now is the host's clock.
	Now time.Time
}

// Result is what to change.
type Result struct {
	// Actions are applied by the host, in order, through the API.
	Actions []Action
	// RequeueAfter asks for another call for this object after a while
	// even if nothing changes (0: at the next resync only).
	RequeueAfter time.Duration
}

// Action is one change; make it with Create, Update, UpdateStatus or
// Delete.
type Action struct {
	Type               pluginv1.ActionType
	Kind               string
	Namespace          string
	Name               string
	Object             proto.Message
	ResourceVersion    string
	GracePeriodSeconds *int64
}

// Create returns an action that creates obj (a wharf.v1 message).
func Create(obj proto.Message) Action {
	return objectAction(pluginv1.ActionType_ACTION_TYPE_CREATE, obj)
}

// Update returns an action that replaces obj's metadata and spec; its
// resourceVersion, when set, is a precondition.
func Update(obj proto.Message) Action {
	return objectAction(pluginv1.ActionType_ACTION_TYPE_UPDATE, obj)
}

// UpdateStatus returns an action that replaces obj's status.
func UpdateStatus(obj proto.Message) Action {
	return objectAction(pluginv1.ActionType_ACTION_TYPE_UPDATE_STATUS, obj)
}

// Delete returns an action that deletes obj, on the condition that it has
// not changed since (its resourceVersion).
func Delete(obj proto.Message) Action {
	a := objectAction(pluginv1.ActionType_ACTION_TYPE_DELETE, obj)
	a.Object = nil
	return a
}

// DeleteByName returns an action that deletes kind/namespace/name.
func DeleteByName(kind, namespace, name string) Action {
	return Action{Type: pluginv1.ActionType_ACTION_TYPE_DELETE, Kind: kind, Namespace: namespace, Name: name}
}

type metaObject interface {
	GetMetadata() *wharfv1.ObjectMeta
}

func objectAction(t pluginv1.ActionType, obj proto.Message) Action {
	a := Action{Type: t, Object: obj, Kind: kindOf(obj)}
	if m, ok := obj.(metaObject); ok {
		a.Namespace = m.GetMetadata().GetNamespace()
		a.Name = m.GetMetadata().GetName()
		a.ResourceVersion = m.GetMetadata().GetResourceVersion()
	}
	return a
}

// kindOf returns the kind of a wharf.v1 message, "" for another message.
func kindOf(m proto.Message) string {
	if m == nil {
		return ""
	}
	name := m.ProtoReflect().Descriptor().FullName()
	for _, k := range wharfv1.Kinds {
		if k.New().ProtoReflect().Descriptor().FullName() == name {
			return k.Kind
		}
	}
	return ""
}

// newObject returns an empty message of kind, or nil.
func newObject(kind string) proto.Message {
	k, ok := wharfv1.LookupKind(kind)
	if !ok {
		return nil
	}
	return k.New()
}
