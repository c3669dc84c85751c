package plugintest

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"

	"github.com/wharfhq/wharf/sdk/plugin/abi"
)

// callTimeout bounds each call into a loaded module.
const callTimeout = 10 * time.Second

// wasmModule is a .wasm loaded in a minimal host: one instance, WASI with
// nothing mounted, guest output to the test log.
type wasmModule struct {
	t   testing.TB
	mod api.Module
}

// Load instantiates the .wasm at path and returns it as a Plugin. It
// checks what the server checks of the ABI's shape (the marker, memory,
// allocator, metadata) and fails the test with the reason otherwise.
func Load(t testing.TB, path string) *Plugin {
	t.Helper()
	bin, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	ctx := context.Background()
	rt := wazero.NewRuntimeWithConfig(ctx, wazero.NewRuntimeConfig().WithCloseOnContextDone(true))
	t.Cleanup(func() { _ = rt.Close(ctx) })
	wasi_snapshot_preview1.MustInstantiate(ctx, rt)
	compiled, err := rt.CompileModule(ctx, bin)
	if err != nil {
		t.Fatalf("plugintest: %s does not compile: %v", path, err)
	}
	fns := compiled.ExportedFunctions()
	for _, name := range []string{abi.ExportMarker, abi.ExportAlloc} {
		if _, ok := fns[name]; !ok {
			t.Fatalf("plugintest: %s does not export %s (see docs/abi.md)", path, name)
		}
	}
	if _, ok := fns[abi.ExportStart]; ok {
		t.Fatalf("plugintest: %s is a command module; build with -buildmode=c-shared", path)
	}
	cfg := wazero.NewModuleConfig().WithName("").WithStdout(testWriter{t, "stdout"}).WithStderr(testWriter{t, "stderr"})
	if _, ok := fns[abi.ExportInitialize]; ok {
		cfg = cfg.WithStartFunctions(abi.ExportInitialize)
	}
	ictx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	mod, err := rt.InstantiateModule(ictx, compiled, cfg)
	if err != nil {
		t.Fatalf("plugintest: instantiate %s: %v", path, err)
	}
	p := &Plugin{t: t, c: &wasmModule{t: t, mod: mod}}
	if section, ok, err := abi.CustomSection(bin, abi.SectionMetadata); err == nil && ok {
		md, err := abi.DecodeMetadataJSON(section)
		if err != nil {
			t.Fatalf("plugintest: %v", err)
		}
		if err := abi.ValidateMetadata(md); err != nil {
			t.Fatalf("plugintest: %v", err)
		}
	} else {
		p.Metadata() // validates
	}
	return p
}

func (w *wasmModule) invoke(name string, params ...uint64) (uint64, error) {
	fn := w.mod.ExportedFunction(name)
	if fn == nil {
		return 0, fmt.Errorf("the module does not export %s", name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), callTimeout)
	defer cancel()
	res, err := fn.Call(ctx, params...)
	if err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	if len(res) == 0 {
		return 0, nil
	}
	return res[0], nil
}

func (w *wasmModule) read(packed uint64) ([]byte, error) {
	ptr, n := abi.Unpack(packed)
	if n == 0 {
		return nil, nil
	}
	if n > abi.MaxMessageBytes {
		return nil, fmt.Errorf("response of %d bytes is over the limit", n)
	}
	b, ok := w.mod.Memory().Read(ptr, n)
	if !ok {
		return nil, fmt.Errorf("response at %#x (%d bytes) is outside the module's memory", ptr, n)
	}
	return append([]byte(nil), b...), nil
}

func (w *wasmModule) call(export string, req []byte) ([]byte, error) {
	ptr, err := w.invoke(abi.ExportAlloc, uint64(max(len(req), 4096)))
	if err != nil {
		return nil, err
	}
	if ptr == 0 || !w.mod.Memory().Write(uint32(ptr), req) {
		return nil, fmt.Errorf("%s returned %#x, where %d bytes do not fit", abi.ExportAlloc, ptr, len(req))
	}
	packed, err := w.invoke(export, ptr, uint64(len(req)))
	if err != nil {
		return nil, err
	}
	return w.read(packed)
}

func (w *wasmModule) metadata() ([]byte, error) {
	packed, err := w.invoke(abi.ExportMetadata)
	if err != nil {
		return nil, err
	}
	return w.read(packed)
}

// testWriter sends guest output to the test log.
type testWriter struct {
	t      testing.TB
	stream string
}

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Logf("plugin %s: %s", w.stream, b)
	return len(b), nil
}
