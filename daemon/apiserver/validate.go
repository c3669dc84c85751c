package apiserver

import (
	"fmt"
	"regexp"
	"strings"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/quantity"
)

// fieldErrors collects validation failures with their JSON field paths.
type fieldErrors []fieldError

func (fe *fieldErrors) add(path, format string, args ...any) {
	*fe = append(*fe, fieldError{path: path, detail: fmt.Sprintf(format, args...)})
}

var (
	dnsLabelRE     = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	dnsSubdomainRE = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	labelNameRE    = regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`)
	envNameRE      = regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`)
)

func validateDNSLabel(fe *fieldErrors, path, v string) {
	if v == "" {
		fe.add(path, "required; use lowercase letters, digits and '-'")
		return
	}
	if len(v) > 63 || !dnsLabelRE.MatchString(v) {
		fe.add(path, "%q is not a valid name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", v)
	}
}

func validateDNSSubdomain(fe *fieldErrors, path, v string) {
	if v == "" {
		fe.add(path, "required; use lowercase letters, digits, '-' and '.'")
		return
	}
	if len(v) > 253 || !dnsSubdomainRE.MatchString(v) {
		fe.add(path, "%q is not a valid name: use at most 253 lowercase letters, digits, '-' and '.', starting and ending with a letter or digit", v)
	}
}

// validateQualifiedName checks a label or annotation key: an optional DNS
// subdomain prefix and '/', then a name of at most 63 characters.
func validateQualifiedName(fe *fieldErrors, path, key string) {
	name := key
	if i := strings.LastIndexByte(key, '/'); i >= 0 {
		prefix := key[:i]
		name = key[i+1:]
		if len(prefix) > 253 || !dnsSubdomainRE.MatchString(prefix) {
			fe.add(path, "key %q: the prefix before '/' must be a DNS subdomain such as example.com", key)
			return
		}
	}
	if name == "" || len(name) > 63 || !labelNameRE.MatchString(name) {
		fe.add(path, "key %q: the name must be 1-63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", key)
	}
}

func validateMeta(fe *fieldErrors, k kindRef, m *wharfv1.ObjectMeta) {
	if m == nil {
		fe.add("metadata", "required; set at least metadata.name")
		return
	}
	if k.kind == "Namespace" {
		validateDNSLabel(fe, "metadata.name", m.GetName())
	} else {
		validateDNSSubdomain(fe, "metadata.name", m.GetName())
	}
	if k.namespaced {
		validateDNSLabel(fe, "metadata.namespace", m.GetNamespace())
	}
	for key, v := range m.GetLabels() {
		path := "metadata.labels[" + key + "]"
		validateQualifiedName(fe, path, key)
		if v != "" && (len(v) > 63 || !labelNameRE.MatchString(v)) {
			fe.add(path, "value %q: use at most 63 letters, digits, '-', '_' or '.', starting and ending with a letter or digit", v)
		}
	}
	total := 0
	for key, v := range m.GetAnnotations() {
		validateQualifiedName(fe, "metadata.annotations["+key+"]", key)
		total += len(key) + len(v)
	}
	if total > 256*1024 {
		fe.add("metadata.annotations", "total size %d bytes is over the 256 KiB limit", total)
	}
	for i, f := range m.GetFinalizers() {
		validateQualifiedName(fe, fmt.Sprintf("metadata.finalizers[%d]", i), f)
	}
}

// validateQuantities checks a resource map such as resources.limits.
func validateQuantities(fe *fieldErrors, path string, m map[string]string) map[string]quantity.Quantity {
	out := make(map[string]quantity.Quantity, len(m))
	for name, v := range m {
		p := path + "[" + name + "]"
		validateQualifiedName(fe, p, name)
		q, err := quantity.Parse(v)
		if err != nil {
			fe.add(p, "%v", err)
			continue
		}
		if q.Sign() < 0 {
			fe.add(p, "%q is negative; quantities must be zero or more", v)
			continue
		}
		out[name] = q
	}
	return out
}

func oneOf(fe *fieldErrors, path, v string, allowed ...string) {
	for _, a := range allowed {
		if v == a {
			return
		}
	}
	fe.add(path, "%q is not supported; use one of %s", v, strings.Join(allowed, ", "))
}
