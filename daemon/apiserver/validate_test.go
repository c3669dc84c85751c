package apiserver

import (
	"regexp"
	"testing"
)

// FuzzNameChecks: the written-out name checks accept what Kubernetes'
// regular expressions accept, and nothing else.
func FuzzNameChecks(f *testing.F) {
	for _, s := range []string{"", "a", "-", "a-", "-a", "a-b", "A", "a.b", "a..b", ".a", "a.", "a_b", "_a", "a_", "0", "9a",
		"example.com", "web-1", "my.label_Name-2", "PATH", "-x", ".y", "1x", "x1", "a/b", "é", "a\x00"} {
		f.Add(s)
	}
	checks := []struct {
		name string
		re   *regexp.Regexp
		fn   func(string) bool
	}{
		{"isDNSLabel", regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`), isDNSLabel},
		{"isDNSSubdomain", regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`), isDNSSubdomain},
		{"isLabelName", regexp.MustCompile(`^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$`), isLabelName},
		{"isEnvName", regexp.MustCompile(`^[-._a-zA-Z][-._a-zA-Z0-9]*$`), isEnvName},
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, c := range checks {
			if got, want := c.fn(s), c.re.MatchString(s); got != want {
				t.Errorf("%s(%q) = %v; the expression says %v", c.name, s, got, want)
			}
		}
	})
}
