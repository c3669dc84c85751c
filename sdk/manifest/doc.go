// Package manifest reads and writes Wharf objects as Kubernetes-style
// manifests: the YAML and JSON that `wharf apply -f` reads and
// `wharf get -o yaml|json` writes.
//
// A manifest is a mapping with apiVersion, kind, metadata and, for most
// kinds, spec and status. Field names are the protojson names of the API
// messages in api/wharf/v1, which follow Kubernetes (containerPort,
// restartPolicy, podIP), so a Kubernetes manifest of a supported kind
// decodes unchanged. The proto field names (container_port) are accepted
// too.
//
// Decoding is strict: an unknown field, a value of the wrong type, an
// unsupported kind or apiVersion is an error that names the source, the
// document, the object and the field path, and suggests the closest field
// name. Nothing in a document that failed is returned.
//
// Decoding is lenient where real manifests rely on it: int-or-string
// fields (a probe's httpGet.port) and resource quantities
// (resources.limits, node capacity) accept numbers and keep them as the
// string that was written; timestamps accept RFC 3339 strings; YAML
// anchors, aliases and merge keys work.
//
// Anyone may import this package: it depends only on the API types and a
// YAML library, never on daemon/ or nodes/.
package manifest
