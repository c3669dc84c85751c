package apiserver

import (
	"fmt"

	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

var nodeStrategy = strategy{
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
