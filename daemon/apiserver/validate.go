package apiserver

import (
	"fmt"
	"strings"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/quantity"
)

// fieldErrors collects validation failures with their JSON field paths.
type fieldErrors []fieldError

func (fe *fieldErrors) add(path, format string, args ...any) {
	*fe = append(*fe, fieldError{path: path, detail: fmt.Sprintf(format, args...)})
}

// The name checks below are Kubernetes' regular expressions, written out:
// a create checks a dozen names and keys, and matching them with package
// regexp was 5% of a create's CPU in bench:api. FuzzNameChecks holds them
// to the expressions.

// isDNSLabel: [a-z0-9]([-a-z0-9]*[a-z0-9])? (the length is checked apart).
func isDNSLabel(s string) bool {
	if s == "" || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// isDNSSubdomain: DNS labels joined by '.'.
func isDNSSubdomain(s string) bool {
	for {
		label, rest, more := strings.Cut(s, ".")
		if !isDNSLabel(label) {
			return false
		}
		if !more {
			return true
		}
		s = rest
	}
}

// isLabelName: ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], the name part of a
// label key and a label value.
func isLabelName(s string) bool {
	if s == "" || !isAlnum(s[0]) || !isAlnum(s[len(s)-1]) {
		return false
	}
	for i := 1; i < len(s)-1; i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

// isEnvName: [-._a-zA-Z][-._a-zA-Z0-9]*.
func isEnvName(s string) bool {
	if s == "" || '0' <= s[0] && s[0] <= '9' {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !isAlnum(c) && c != '-' && c != '_' && c != '.' {
			return false
		}
	}
	return true
}

func isAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

func validateDNSLabel(fe *fieldErrors, path, v string) {
	if v == "" {
		fe.add(path, "required; use lowercase letters, digits and '-'")
		return
	}
	if len(v) > 63 || !isDNSLabel(v) {
		fe.add(path, "%q is not a valid name: use at most 63 lowercase letters, digits and '-', starting and ending with a letter or digit", v)
	}
}

func validateDNSSubdomain(fe *fieldErrors, path, v string) {
	if v == "" {
		fe.add(path, "required; use lowercase letters, digits, '-' and '.'")
		return
	}
	if len(v) > 253 || !isDNSSubdomain(v) {
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
		if len(prefix) > 253 || !isDNSSubdomain(prefix) {
			fe.add(path, "key %q: the prefix before '/' must be a DNS subdomain such as example.com", key)
			return
		}
	}
	if name == "" || len(name) > 63 || !isLabelName(name) {
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
		if v != "" && (len(v) > 63 || !isLabelName(v)) {
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
