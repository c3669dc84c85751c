package manifest

import "testing"

func TestClosest(t *testing.T) {
	t.Parallel()
	names := []string{"imagePullPolicy", "image", "name", "ports", "env", "livenessProbe"}
	tests := map[string]string{
		"imagePullPolcy":    "imagePullPolicy",
		"image_pull_policy": "imagePullPolicy",
		"IMAGE":             "image",
		"nmae":              "name",
		"prots":             "ports",
		"envs":              "env",
		"livenesProbe":      "livenessProbe",
		"volumes":           "",
		"x":                 "",
	}
	for in, want := range tests {
		if got := closest(in, names); got != want {
			t.Errorf("closest(%q) = %q, want %q", in, got, want)
		}
	}
}
