// Package wharfv1 holds the Wharf API: the object kinds and their
// <Kind>Service messages, generated from the protos beside this file, plus
// the table of kinds the server and clients share.
//
// Anyone may import it: it is the wire contract. The Connect client and
// handler code is in the wharfv1connect subpackage.
package wharfv1

import (
	"strings"

	"google.golang.org/protobuf/proto"
)

// KindInfo describes one kind the API serves.
type KindInfo struct {
	Kind       string // Pod
	Plural     string // Pods
	Resource   string // pods: the CLI's and the store's name for the kind
	APIVersion string // the apiVersion a manifest of this kind carries
	Namespaced bool
	HasSpec    bool
	HasStatus  bool
	ShortNames []string
	Service    string // fully-qualified Connect service name
	// New returns an empty object of the kind.
	New func() proto.Message
}

// LookupKind finds a kind by its name (Pod), resource (pods), singular
// (pod) or a short name (po). The match ignores case.
func LookupKind(name string) (KindInfo, bool) {
	for _, k := range Kinds {
		if strings.EqualFold(name, k.Kind) || strings.EqualFold(name, k.Resource) {
			return k, true
		}
		for _, s := range k.ShortNames {
			if strings.EqualFold(name, s) {
				return k, true
			}
		}
	}
	return KindInfo{}, false
}
