package apiserver

import (
	"fmt"
	"slices"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

var nodeStrategy = strategy{
	prepareCreate: func(obj proto.Message) { stampNoExecute(nil, obj.(*wharfv1.Node)) },
	prepareUpdate: func(old, obj proto.Message) { stampNoExecute(old.(*wharfv1.Node), obj.(*wharfv1.Node)) },
	validate: func(obj proto.Message) fieldErrors {
		n := obj.(*wharfv1.Node)
		var fe fieldErrors
		for i, t := range n.GetSpec().GetTaints() {
			p := fmt.Sprintf("spec.taints[%d]", i)
			if t.GetKey() == "" {
				fe.add(p+".key", "required")
			} else {
				validateQualifiedName(&fe, p+".key", t.GetKey())
			}
			oneOf(&fe, p+".effect", t.GetEffect(), "NoSchedule", "PreferNoSchedule", "NoExecute")
		}
		validateQuantities(&fe, "status.capacity", n.GetStatus().GetCapacity())
		validateQuantities(&fe, "status.allocatable", n.GetStatus().GetAllocatable())
		return fe
	},
}

// stampNoExecute gives each NoExecute taint of n without timeAdded the
// time of the same taint (key, value and effect) in old, or now for a new
// one: pods evicted by it count their tolerationSeconds from then, and a
// manifest that leaves the time out applies again as no change.
func stampNoExecute(old, n *wharfv1.Node) {
	var now *timestamppb.Timestamp
	cloned := false
	for i, t := range n.GetSpec().GetTaints() {
		if t.GetEffect() != "NoExecute" || t.GetTimeAdded() != nil {
			continue
		}
		if !cloned { // the caller's messages may be shared
			n.Spec.Taints, cloned = slices.Clone(n.Spec.Taints), true
		}
		t = proto.Clone(t).(*wharfv1.Taint)
		for _, o := range old.GetSpec().GetTaints() {
			if o.GetKey() == t.GetKey() && o.GetValue() == t.GetValue() && o.GetEffect() == t.GetEffect() {
				t.TimeAdded = o.GetTimeAdded()
				break
			}
		}
		if t.TimeAdded == nil {
			if now == nil {
				now = timestamppb.Now()
			}
			t.TimeAdded = now
		}
		n.Spec.Taints[i] = t
	}
}
