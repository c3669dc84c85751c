// Command defaults is an example admission plugin (admission.mutate): it
// gives objects default labels they lack, and pods default tolerations.
//
// Config: {"labels": {"team": "unassigned"}, "tolerations": [{"key":
// "dedicated", "operator": "Equal", "value": "batch", "effect":
// "NoSchedule"}]}.
package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin"
)

var info = plugin.Info{
	Name:         "defaults",
	Version:      "1.0.0",
	Description:  "adds default labels to objects and default tolerations to pods",
	ConfigSchema: `{"type":"object","properties":{"labels":{"type":"object"},"tolerations":{"type":"array"}},"additionalProperties":false}`,
}

type toleration struct {
	Key      string `json:"key"`
	Operator string `json:"operator"`
	Value    string `json:"value"`
	Effect   string `json:"effect"`
}

type config struct {
	Labels      map[string]string `json:"labels"`
	Tolerations []toleration      `json:"tolerations"`
}

type defaults struct{ cfg config }

func init() { plugin.Register(info, &defaults{}) }

func main() {}

func (d *defaults) Configure(raw []byte) error {
	var c config
	dec := json.NewDecoder(strings.NewReader(string(raw)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("config: %v; want {\"labels\": {...}, \"tolerations\": [...]}", err)
	}
	for i, t := range c.Tolerations {
		if t.Operator != "" && t.Operator != "Equal" && t.Operator != "Exists" {
			return fmt.Errorf("config: tolerations[%d].operator %q: want Equal or Exists", i, t.Operator)
		}
	}
	d.cfg = c
	return nil
}

func (d *defaults) Mutate(req *plugin.AdmissionRequest) error {
	if req.Object == nil {
		return nil
	}
	if len(d.cfg.Labels) > 0 {
		meta := metadataOf(req.Object)
		if meta != nil {
			for k, v := range d.cfg.Labels {
				if _, ok := meta.GetLabels()[k]; !ok {
					if meta.Labels == nil {
						meta.Labels = map[string]string{}
					}
					meta.Labels[k] = v
				}
			}
		}
	}
	if pod, ok := req.Object.(*wharfv1.Pod); ok && req.Operation == "CREATE" {
		if pod.Spec == nil {
			pod.Spec = &wharfv1.PodSpec{}
		}
		for _, t := range d.cfg.Tolerations {
			if !hasToleration(pod.Spec.Tolerations, t) {
				op := t.Operator
				if op == "" {
					op = "Equal"
				}
				pod.Spec.Tolerations = append(pod.Spec.Tolerations, &wharfv1.Toleration{Key: t.Key, Operator: op, Value: t.Value, Effect: t.Effect})
			}
		}
	}
	return nil
}

func hasToleration(list []*wharfv1.Toleration, t toleration) bool {
	for _, have := range list {
		if have.GetKey() == t.Key && have.GetEffect() == t.Effect && have.GetValue() == t.Value {
			return true
		}
	}
	return false
}

// metadataOf returns any wharf.v1 object's metadata, allocating it.
func metadataOf(obj proto.Message) *wharfv1.ObjectMeta {
	m := obj.ProtoReflect()
	fd := m.Descriptor().Fields().ByName(protoreflect.Name("metadata"))
	if fd == nil {
		return nil
	}
	meta, _ := m.Mutable(fd).Message().Interface().(*wharfv1.ObjectMeta)
	return meta
}
