package manifest

import (
	"fmt"
	"slices"
	"strings"
	"sync"

	"google.golang.org/protobuf/reflect/protoreflect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// listKind is the kind of a document that holds other objects in items.
const listKind = "List"

type kindTable struct {
	byKind    map[string]wharfv1.KindInfo
	byMessage map[protoreflect.FullName]wharfv1.KindInfo
	names     []string
	supported string
}

var kinds = sync.OnceValue(func() *kindTable {
	t := &kindTable{
		byKind:    make(map[string]wharfv1.KindInfo),
		byMessage: make(map[protoreflect.FullName]wharfv1.KindInfo),
	}
	var versions []string
	byVersion := make(map[string][]string)
	for _, k := range wharfv1.Kinds {
		t.byKind[k.Kind] = k
		t.byMessage[k.New().ProtoReflect().Descriptor().FullName()] = k
		t.names = append(t.names, k.Kind)
		if _, ok := byVersion[k.APIVersion]; !ok {
			versions = append(versions, k.APIVersion)
		}
		byVersion[k.APIVersion] = append(byVersion[k.APIVersion], k.Kind)
	}
	var parts []string
	for _, v := range versions {
		ks := slices.Sorted(slices.Values(byVersion[v]))
		parts = append(parts, fmt.Sprintf("%s (apiVersion %q)", strings.Join(ks, ", "), v))
	}
	t.supported = "supported kinds: " + strings.Join(parts, "; ")
	return t
})

// suggestKind returns the supported kind a misspelt kind most likely
// means, or "".
func suggestKind(kind string) string {
	if k, ok := wharfv1.LookupKind(kind); ok {
		return k.Kind
	}
	return closest(kind, kinds().names)
}

// kindOf returns the kind of a message, as the kinds table has it.
func kindOf(m protoreflect.Message) (wharfv1.KindInfo, bool) {
	k, ok := kinds().byMessage[m.Descriptor().FullName()]
	return k, ok
}
