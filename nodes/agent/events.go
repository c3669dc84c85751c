package agent

import (
	"log/slog"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/client"
)

// Event types.
const (
	typeNormal  = "Normal"
	typeWarning = "Warning"
)

// component is the events' source.
const component = "wharf-node"

// recorder writes Events about pods and their containers through the API
// (client.EventRecorder: in the background, the same event counted on one
// Event, so a probe failing every second costs a write per interval).
type recorder struct{ *client.EventRecorder }

func newRecorder(node string, log *slog.Logger) recorder {
	return recorder{client.NewEventRecorder(client.EventRecorderConfig{Component: component, Host: node, Logger: log})}
}

// pod records an event about the pod.
func (r recorder) pod(p *wharfv1.Pod, typ, reason, msg string) {
	r.Event(podRef(p, ""), typ, reason, msg)
}

// container records an event about one of the pod's containers.
func (r recorder) container(p *wharfv1.Pod, container, typ, reason, msg string) {
	path := "spec.containers{" + container + "}"
	for _, c := range p.GetSpec().GetInitContainers() {
		if c.GetName() == container {
			path = "spec.initContainers{" + container + "}"
		}
	}
	r.Event(podRef(p, path), typ, reason, msg)
}

func podRef(p *wharfv1.Pod, fieldPath string) *wharfv1.ObjectReference {
	md := p.GetMetadata()
	return &wharfv1.ObjectReference{
		Kind: "Pod", ApiVersion: "v1", Namespace: md.GetNamespace(), Name: md.GetName(), Uid: md.GetUid(), FieldPath: fieldPath,
	}
}
