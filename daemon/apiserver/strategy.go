package apiserver

import (
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// strategy holds what differs between kinds: defaults, validation and the
// rules of update and delete. The generic resource calls these; a kind
// without a strategy entry gets metadata validation only.
type strategy struct {
	// prepareCreate resets what a client may not set on create (e.g. a
	// pod's status) and fills server-derived fields.
	prepareCreate func(obj proto.Message)
	// defaults fills unset spec fields. Apply runs it on the manifest before
	// comparing, so applying the same manifest twice changes nothing.
	defaults func(obj proto.Message)
	// validate checks the whole object (beyond metadata).
	validate func(obj proto.Message) fieldErrors
	// prepareUpdate carries over what an update may not drop, before
	// validateUpdate runs (e.g. a bound pod's nodeName).
	prepareUpdate func(old, obj proto.Message)
	// validateUpdate checks what an update may change.
	validateUpdate func(old, obj proto.Message) fieldErrors
	// graceful says whether deleting obj must wait for its owner (a pod
	// bound to a node), and the default grace period.
	graceful func(obj proto.Message) (seconds int64, ok bool)
	// watchIndex names a field (JSON path) the watch hub indexes watchers
	// on when they select it with "=": spec.nodeName for pods, so each node
	// agent's watch costs nothing per other node's pod.
	watchIndex string
}

// strategies is the registration of per-kind behaviour.
var strategies = map[string]strategy{
	"Pod":       podStrategy,
	"Node":      nodeStrategy,
	"Namespace": namespaceStrategy,
	"Event":     eventStrategy,
	"PodGroup":  podGroupStrategy,
	"Plugin":    pluginStrategy,
}

var namespaceStrategy = strategy{
	prepareCreate: func(obj proto.Message) {
		ns := obj.(*wharfv1.Namespace)
		ns.Status = &wharfv1.NamespaceStatus{Phase: "Active"}
	},
}

var eventStrategy = strategy{
	validate: func(obj proto.Message) fieldErrors {
		ev := obj.(*wharfv1.Event)
		var fe fieldErrors
		if ev.GetInvolvedObject().GetName() == "" {
			fe.add("involvedObject.name", "required; name the object the event is about")
		}
		if ev.GetInvolvedObject().GetKind() == "" {
			fe.add("involvedObject.kind", "required; e.g. Pod")
		}
		if t := ev.GetType(); t != "" {
			oneOf(&fe, "type", t, "Normal", "Warning")
		}
		return fe
	},
}
