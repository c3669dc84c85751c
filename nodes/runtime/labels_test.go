package runtime

import (
	"regexp"
	"testing"
)

func TestContainerID(t *testing.T) {
	t.Parallel()
	// containerd's identifier rule.
	valid := regexp.MustCompile(`^[A-Za-z0-9]+(?:[._-][A-Za-z0-9]+)*$`)
	a := ContainerID("0f7e5d1c-9b1a-4d5e-8f00-cd1a2b3c4d5e", "web", 0)
	if !valid.MatchString(a) || len(a) > 76 {
		t.Errorf("ContainerID = %q, not a valid containerd ID", a)
	}
	if a != ContainerID("0f7e5d1c-9b1a-4d5e-8f00-cd1a2b3c4d5e", "web", 0) {
		t.Error("ContainerID is not deterministic")
	}
	for _, b := range []string{
		ContainerID("0f7e5d1c-9b1a-4d5e-8f00-cd1a2b3c4d5e", "web", 1),
		ContainerID("0f7e5d1c-9b1a-4d5e-8f00-cd1a2b3c4d5e", "web2", 0),
		ContainerID("1f7e5d1c-9b1a-4d5e-8f00-cd1a2b3c4d5e", "web", 0),
	} {
		if a == b {
			t.Errorf("two runs share the ID %s", a)
		}
	}
}

func TestPlainHTTP(t *testing.T) {
	t.Parallel()
	r := &Containerd{cfg: Config{InsecureRegistries: []string{"registry.lan:5000"}}}
	for host, want := range map[string]bool{
		"127.0.0.1:5000":    true,
		"localhost:5000":    true,
		"[::1]:5000":        true,
		"127.1.2.3":         true,
		"registry.lan:5000": true,
		"registry.lan":      false,
		"docker.io":         false,
		"10.0.0.1:5000":     false,
	} {
		if got, _ := r.plainHTTP(host); got != want {
			t.Errorf("plainHTTP(%q) = %v, want %v", host, got, want)
		}
	}
}
