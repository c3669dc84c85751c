package apiserver

import (
	"fmt"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// kindRef is what error messages and keys need to know about a kind.
type kindRef struct {
	kind       string // Pod
	resource   string // pods
	namespaced bool
}

func refOf(info wharfv1.KindInfo) kindRef {
	return kindRef{kind: info.Kind, resource: info.Resource, namespaced: info.Namespaced}
}

// describe names an object for a user: `pods "web" in namespace "default"`.
func (k kindRef) describe(ns, name string) string {
	if k.namespaced {
		return fmt.Sprintf("%s %q in namespace %q", k.resource, name, ns)
	}
	return fmt.Sprintf("%s %q", k.resource, name)
}

// Store keys: /registry/<resource>/<namespace>/<name> for namespaced kinds,
// /registry/<resource>/<name> for cluster-scoped ones. Namespace and object
// names cannot contain '/', so prefixes never overlap.
func (k kindRef) prefix() string { return "/registry/" + k.resource + "/" }

func (k kindRef) nsPrefix(ns string) string {
	if !k.namespaced || ns == "" {
		return k.prefix()
	}
	return k.prefix() + ns + "/"
}

func (k kindRef) key(ns, name string) string {
	if k.namespaced {
		return k.prefix() + ns + "/" + name
	}
	return k.prefix() + name
}
