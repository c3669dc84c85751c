package framework

import "fmt"

// Factory builds a plugin from its args. It is called once per profile that
// enables the plugin; the instance serves every extension point the profile
// enables it for.
type Factory func(args Args) (Plugin, error)

// Registry maps plugin names to factories: the built-in plugins, and later
// the WASM and subprocess plugins the plugin host loads.
type Registry map[string]Factory

// Register adds a factory; a name can be registered once.
func (r Registry) Register(name string, f Factory) error {
	if _, ok := r[name]; ok {
		return fmt.Errorf("plugin %q is already registered", name)
	}
	r[name] = f
	return nil
}

// Merge adds every factory of o.
func (r Registry) Merge(o Registry) error {
	for name, f := range o {
		if err := r.Register(name, f); err != nil {
			return err
		}
	}
	return nil
}
