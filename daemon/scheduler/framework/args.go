package framework

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// Args are one plugin's configuration (pluginConfig[].args), kept as JSON so
// that a built-in plugin decodes it into its own struct and a WASM or
// subprocess plugin receives it as is.
type Args struct {
	raw json.RawMessage
}

// NewArgs encodes v (a struct with json tags, or a map) as Args.
func NewArgs(v any) (Args, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return Args{}, fmt.Errorf("plugin args: %w", err)
	}
	if string(b) == "null" {
		return Args{}, nil
	}
	return Args{raw: b}, nil
}

// IsZero reports whether no args were given.
func (a Args) IsZero() bool { return len(a.raw) == 0 }

// Raw returns the args as JSON (nil when none were given).
func (a Args) Raw() []byte { return a.raw }

// Decode decodes the args into v, strictly: a field v does not have is an
// error that names it. With no args, v is left as it is (its defaults).
func (a Args) Decode(v any) error {
	if a.IsZero() {
		return nil
	}
	d := json.NewDecoder(bytes.NewReader(a.raw))
	d.DisallowUnknownFields()
	if err := d.Decode(v); err != nil {
		return fmt.Errorf("args: %w", err)
	}
	return nil
}
