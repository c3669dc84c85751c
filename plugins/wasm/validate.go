package wasm

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	"github.com/wharfhq/wharf/sdk/plugin/abi"
)

// wasiModule is the only module a plugin may import from.
const wasiModule = "wasi_snapshot_preview1"

// checkModule checks a compiled module's shape against the ABI: version
// marker, memory, allocator, imports, and no _start. Errors say what is
// wrong and what to do, and wrap ErrABI.
func checkModule(c wazero.CompiledModule) error {
	fns := c.ExportedFunctions()
	if _, ok := fns[abi.ExportMarker]; !ok {
		var versions []string
		for name := range fns {
			if v, ok := strings.CutPrefix(name, abi.MarkerPrefix); ok {
				versions = append(versions, v)
			}
		}
		if len(versions) > 0 {
			sort.Strings(versions)
			return fmt.Errorf("%w: it speaks ABI version %s; this server speaks version %d: rebuild the plugin with an SDK for ABI v%d",
				ErrABI, strings.Join(versions, ", "), abi.Version, abi.Version)
		}
		return fmt.Errorf("%w: it exports no %s function, so it is not a Wharf plugin; build it with the Wharf plugin SDK (see docs/abi.md)",
			ErrABI, abi.ExportMarker)
	}
	if _, ok := fns[abi.ExportStart]; ok {
		return fmt.Errorf("%w: it is a command module (exports _start); build a reactor instead (Go: -buildmode=c-shared)", ErrABI)
	}
	if _, ok := c.ExportedMemories()[abi.ExportMemory]; !ok {
		return fmt.Errorf("%w: it does not export its memory as %q", ErrABI, abi.ExportMemory)
	}
	if len(c.ImportedMemories()) > 0 {
		return fmt.Errorf("%w: it imports a memory; a plugin must define and export its own", ErrABI)
	}
	for _, f := range c.ImportedFunctions() {
		mod, name, _ := f.Import()
		if mod != wasiModule {
			return fmt.Errorf("%w: it imports %s.%s; plugins may import only %s functions", ErrABI, mod, name, wasiModule)
		}
	}
	for _, name := range []string{abi.ExportMarker, abi.ExportAlloc} {
		if err := checkExport(fns, name, true); err != nil {
			return err
		}
	}
	for _, name := range []string{abi.ExportMetadata, abi.ExportConfigure, abi.ExportCollect} {
		if err := checkExport(fns, name, false); err != nil {
			return err
		}
	}
	if _, ok := fns[abi.ExportInitialize]; ok && signature(fns[abi.ExportInitialize]) != abi.SigMarker {
		return fmt.Errorf("%w: export %s has signature %s; want %s", ErrABI, abi.ExportInitialize, signature(fns[abi.ExportInitialize]), abi.SigMarker)
	}
	return nil
}

// checkPoints checks that the module exports what its metadata declares.
func checkPoints(c wazero.CompiledModule, md *pluginv1.PluginMetadata) error {
	fns := c.ExportedFunctions()
	sched := false
	for _, p := range md.GetExtensionPoints() {
		if err := checkExport(fns, abi.ExportFor(p), true); err != nil {
			return fmt.Errorf("%w (its metadata declares %s)", err, p)
		}
		sched = sched || p == pluginv1.PointSchedulerFilter || p == pluginv1.PointSchedulerScore
	}
	if sched {
		if err := checkExport(fns, abi.ExportNodes, true); err != nil {
			return fmt.Errorf("%w (scheduling plugins receive nodes through it)", err)
		}
	}
	return nil
}

func checkExport(fns map[string]api.FunctionDefinition, name string, required bool) error {
	f, ok := fns[name]
	if !ok {
		if required {
			want, _ := abi.ExportSignature(name)
			return fmt.Errorf("%w: it does not export %s %s", ErrABI, name, want)
		}
		return nil
	}
	want, _ := abi.ExportSignature(name)
	if got := signature(f); got != want {
		return fmt.Errorf("%w: export %s has signature %s; want %s", ErrABI, name, got, want)
	}
	return nil
}

func signature(f api.FunctionDefinition) abi.Signature {
	var params, results []string
	for _, t := range f.ParamTypes() {
		params = append(params, api.ValueTypeName(t))
	}
	for _, t := range f.ResultTypes() {
		results = append(results, api.ValueTypeName(t))
	}
	return abi.FormatSignature(params, results)
}

// grantable reports the capabilities of md the host grants.
func has(md *pluginv1.PluginMetadata, capability string) bool {
	return slices.Contains(md.GetCapabilities(), capability)
}
