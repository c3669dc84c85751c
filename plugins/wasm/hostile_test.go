package wasm_test

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	"github.com/wharfhq/wharf/plugins/wasm"
	"github.com/wharfhq/wharf/sdk/plugin/abi"
)

// allowAllWAT is the hand-written plugin the ABI document walks through:
// a validator that allows every request. It needs nothing but the ABI.
//
//	(module
//	  (memory (export "memory") 1)
//	  ;; The version marker: its presence says "ABI v2".
//	  (func (export "wharf_abi_v3"))
//	  ;; One request buffer at 1024 (the host asks for 4096 bytes at
//	  ;; least and may reuse the buffer for later requests).
//	  (func (export "wharf_alloc") (param $size i32) (result i32)
//	    (i32.const 1024))
//	  ;; admission.validate: answer AdmissionResponse{allowed: true},
//	  ;; whose protobuf is 08 01, stored at 8192: return 8192<<32 | 2.
//	  (func (export "wharf_admission_validate") (param $ptr i32) (param $len i32) (result i64)
//	    (i64.const 0x0000200000000002))
//	  (data (i32.const 8192) "\08\01")
//	  (@custom "wharf.plugin.v1"
//	    "{\"name\":\"allow-all\",\"version\":\"1.0.0\",\"abiVersion\":3,\"extensionPoints\":[\"admission.validate\"]}"))
func allowAllWAT(validate []byte) modSpec {
	if validate == nil {
		validate = packed(8192, 2)
	}
	return modSpec{
		memPages: 1,
		funcs: []fn{
			{name: abi.ExportMarker},
			{name: abi.ExportAlloc, params: []byte{i32}, results: []byte{i32}, body: i32c(1024)},
			{name: abi.ExportValidate, params: []byte{i32, i32}, results: []byte{i64}, body: validate},
		},
		data: map[uint32][]byte{
			8192: {0x08, 0x01},
			8208: {0xff, 0xff, 0xff, 0xff, 0xff},
		},
		section: `{"name":"allow-all","version":"1.0.0","abiVersion":3,"extensionPoints":["admission.validate"]}`,
	}
}

func newEngine(t testing.TB, opts ...wasm.EngineOption) *wasm.Engine {
	e, err := wasm.NewEngine(t.TempDir(), append([]wasm.EngineOption{wasm.WithLogger(quiet)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func validate(t testing.TB, m *wasm.Module) (*pluginv1.AdmissionResponse, error) {
	req, _ := proto.Marshal(&pluginv1.AdmissionRequest{Kind: "Pod", Name: "p", Namespace: "default", Operation: pluginv1.Operation_OPERATION_CREATE})
	resp := &pluginv1.AdmissionResponse{}
	err := m.Call(context.Background(), abi.ExportValidate, req, resp)
	return resp, err
}

func TestHandWrittenModule(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	m, err := e.Load(context.Background(), allowAllWAT(nil).bytes(), wasm.Config{Name: "allow-all"})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	if got := m.Metadata().GetName(); got != "allow-all" {
		t.Errorf("metadata name %q", got)
	}
	for range 3 {
		resp, err := validate(t, m)
		if err != nil || !resp.GetAllowed() {
			t.Fatalf("validate: %v, %v", resp, err)
		}
	}
	if st := m.Stats(); st.Created != 1 || st.Discarded != 0 {
		t.Errorf("stats %+v; want one instance, reused", st)
	}
}

// TestHostileCalls: each misbehaviour is contained: the call fails with
// the right error within its deadline, the instance is discarded, and the
// module keeps serving with a fresh instance.
func TestHostileCalls(t *testing.T) {
	t.Parallel()
	growForever := cat(
		block(loop(
			i32c(16), []byte{0x40, 0x00}, // memory.grow 16 pages
			i32c(-1), []byte{0x46}, // i32.eq
			brIf(1),
			br(0),
		)),
		unreachable,
	)
	cases := []struct {
		name string
		body []byte
		want error
	}{
		{"infinite_loop", cat(loop(br(0)), unreachable), wasm.ErrTimeout},
		{"memory_bomb", growForever, wasm.ErrTrap},
		{"trap", unreachable, wasm.ErrTrap},
		{"garbage_output", packed(8208, 5), wasm.ErrBadResponse},
		{"oversized_output", packed(0, abi.MaxMessageBytes+1), wasm.ErrBadResponse},
		{"output_outside_memory", packed(0xffff0000, 16), wasm.ErrBadResponse},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newEngine(t)
			m, err := e.Load(context.Background(), allowAllWAT(tc.body).bytes(), wasm.Config{Name: tc.name, Timeout: 50 * time.Millisecond, MemoryLimitMiB: 2, MaxInstances: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(context.Background())
			for i := range 2 {
				start := time.Now()
				_, err := validate(t, m)
				if !errors.Is(err, tc.want) {
					t.Fatalf("call %d: err = %v; want %v", i, err, tc.want)
				}
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("call %d took %v", i, d)
				}
				if !wasm.Discarded(err) {
					t.Errorf("Discarded(%v) = false", err)
				}
			}
			// Each failed instance is discarded and replaced at once, in the
			// background.
			deadline := time.Now().Add(10 * time.Second)
			for m.Stats().Created < 3 && time.Now().Before(deadline) {
				time.Sleep(5 * time.Millisecond)
			}
			if st := m.Stats(); st.Discarded != 2 || st.Created != 3 {
				t.Errorf("stats %+v; want each failed instance discarded and replaced", st)
			}
		})
	}
}

func TestDeadlineFromContext(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	m, err := e.Load(context.Background(), allowAllWAT(cat(loop(br(0)), unreachable)).bytes(), wasm.Config{Name: "loop", Timeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := proto.Marshal(&pluginv1.AdmissionRequest{})
	start := time.Now()
	err = m.Call(ctx, abi.ExportValidate, req, &pluginv1.AdmissionResponse{})
	if !errors.Is(err, wasm.ErrTimeout) || time.Since(start) > 5*time.Second {
		t.Fatalf("err = %v after %v; want a timeout at the context's deadline", err, time.Since(start))
	}
}

// TestRefusedModules: what the host refuses at load, with a message that
// says what is wrong.
func TestRefusedModules(t *testing.T) {
	t.Parallel()
	base := func(f func(*modSpec)) []byte {
		m := allowAllWAT(nil)
		f(&m)
		return m.bytes()
	}
	rename := func(from, to string) func(*modSpec) {
		return func(m *modSpec) {
			for i := range m.funcs {
				if m.funcs[i].name == from {
					m.funcs[i].name = to
				}
			}
		}
	}
	cases := []struct {
		name   string
		module []byte
		want   string
	}{
		{"not_wasm", []byte("hello"), "not a WebAssembly module"},
		{"old_abi_version", base(rename(abi.ExportMarker, "wharf_abi_v1")), "speaks ABI version 1; this server speaks version 3: rebuild the plugin"},
		{"no_marker", base(rename(abi.ExportMarker, "hello")), "not a Wharf plugin"},
		{"missing_alloc", base(rename(abi.ExportAlloc, "malloc")), "does not export wharf_alloc (i32)->i32"},
		{"missing_point_export", base(rename(abi.ExportValidate, "validate")), "does not export wharf_admission_validate (i32,i32)->i64 (its metadata declares admission.validate)"},
		{"scorer_without_nodes", base(func(m *modSpec) {
			m.section = `{"name":"s","version":"1","abiVersion":3,"extensionPoints":["scheduler.score"]}`
			m.funcs[2].name = abi.ExportScore
		}), "does not export wharf_scheduler_nodes"},
		{"wrong_signature", base(func(m *modSpec) { m.funcs[1].results = []byte{i64}; m.funcs[1].body = i64c(1024) }), "export wharf_alloc has signature (i32)->i64; want (i32)->i32"},
		{"command_module", base(func(m *modSpec) { m.funcs = append(m.funcs, fn{name: "_start"}) }), "command module"},
		{"foreign_import", base(func(m *modSpec) { m.imports = []imp{{"env", "now"}} }), "imports env.now"},
		{"no_memory", base(func(m *modSpec) { m.noMemory = true; m.data = nil }), `does not export its memory as "memory"`},
		{"no_metadata", base(func(m *modSpec) { m.section = "" }), "has no metadata"},
		{"metadata_not_json", base(func(m *modSpec) { m.section = "name: x" }), "not PluginMetadata as JSON"},
		{"metadata_wrong_abi", base(func(m *modSpec) {
			m.section = `{"name":"x","version":"1","abiVersion":1,"extensionPoints":["admission.validate"]}`
		}), "abiVersion is 1"},
		{"unknown_point", base(func(m *modSpec) {
			m.section = `{"name":"x","version":"1","abiVersion":3,"extensionPoints":["admission.frobnicate"]}`
		}), `extension point "admission.frobnicate" is unknown`},
		{"unknown_capability", base(func(m *modSpec) {
			m.section = `{"name":"x","version":"1","abiVersion":3,"extensionPoints":["admission.validate"],"capabilities":["network"]}`
		}), `capability "network" cannot be granted`},
		{"bad_pod_resource", base(func(m *modSpec) {
			m.section = `{"name":"x","version":"1","abiVersion":3,"extensionPoints":["admission.validate"],"podResources":["nvidia.com/gpu","GPUs please"]}`
		}), `podResources: "GPUs please" is not a resource name`},
		{"reserved_export", base(func(m *modSpec) { m.exportMore = [][2]string{{wasm.InterruptGlobal, abi.ExportMarker}} }), "reserves"},
		{"config_without_configure", allowAllWAT(nil).bytes(), "takes no config"},
	}
	e := newEngine(t)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := wasm.Config{Name: tc.name}
			if tc.name == "config_without_configure" {
				cfg.PluginConfig = []byte(`{"x":1}`)
			}
			m, err := e.Load(context.Background(), tc.module, cfg)
			if err == nil {
				m.Close(context.Background())
				t.Fatalf("loaded; want an error containing %q", tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v\nwant it to contain %q", err, tc.want)
			}
			if !errors.Is(err, wasm.ErrABI) && !errors.Is(err, wasm.ErrConfig) {
				t.Errorf("err = %v; want ErrABI or ErrConfig", err)
			}
		})
	}
}

// TestInitializeLoopsForever: a start function that never returns is cut
// off like any call.
func TestInitializeLoopsForever(t *testing.T) {
	t.Parallel()
	m := allowAllWAT(nil)
	m.funcs = append(m.funcs, fn{name: abi.ExportInitialize, body: cat(loop(br(0)))})
	e := newEngine(t)
	start := time.Now()
	_, err := e.Load(context.Background(), m.bytes(), wasm.Config{Name: "init", Timeout: 10 * time.Millisecond})
	if !errors.Is(err, wasm.ErrTimeout) {
		t.Fatalf("err = %v; want ErrTimeout", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %v", d)
	}
}

func TestConcurrentCalls(t *testing.T) {
	t.Parallel()
	e := newEngine(t)
	m, err := e.Load(context.Background(), allowAllWAT(nil).bytes(), wasm.Config{Name: "c", MaxInstances: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	errs := make(chan error, 64)
	for range 64 {
		go func() {
			resp, err := validate(t, m)
			if err == nil && !resp.GetAllowed() {
				err = fmt.Errorf("not allowed")
			}
			errs <- err
		}()
	}
	for range 64 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	if st := m.Stats(); st.Created > 3 {
		t.Errorf("%d instances; want at most 3", st.Created)
	}
}

// TestLoopingGuestDoesNotStallGC: Go cannot preempt compiled wasm, so a
// guest that never left it would hold up every stop-the-world (and the
// timer that stops it). The instrumentation leaves compiled code now and
// then; a collection must finish long before the looping call's deadline.
func TestLoopingGuestDoesNotStallGC(t *testing.T) {
	e := newEngine(t)
	m, err := e.Load(context.Background(), allowAllWAT(cat(loop(br(0)), unreachable)).bytes(), wasm.Config{Name: "loop", Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := validate(t, m)
		done <- err
	}()
	time.Sleep(50 * time.Millisecond) // the guest is looping now
	gcDone := make(chan time.Duration, 1)
	go func() {
		start := time.Now()
		runtime.GC()
		gcDone <- time.Since(start)
	}()
	select {
	case d := <-gcDone:
		t.Logf("GC took %v while a guest looped", d)
	case err := <-done:
		t.Fatalf("the looping call ended (%v) before the GC did: the guest stalled the collector", err)
	}
	if err := <-done; !errors.Is(err, wasm.ErrTimeout) {
		t.Fatalf("err = %v; want ErrTimeout", err)
	}
}

// TestHostileCollect: a module whose wharf_collect loops or traps is
// contained like any call: the instance is discarded after the long
// deadline collections get, calls go on, on a new instance, and the
// export is not called again.
func TestHostileCollect(t *testing.T) {
	t.Parallel()
	for name, body := range map[string][]byte{
		"loop": cat(loop(br(0)), unreachable),
		"trap": unreachable,
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			spec := allowAllWAT(nil)
			spec.funcs = append(spec.funcs, fn{name: abi.ExportCollect, results: []byte{i32}, body: body})
			// Collections get the startup deadline: ten times the timeout,
			// at least a second.
			m, err := newEngine(t).Load(context.Background(), spec.bytes(), wasm.Config{Name: name, Timeout: 50 * time.Millisecond, MaxInstances: 1})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close(context.Background())
			before := m.Stats()
			deadline := time.Now().Add(30 * time.Second)
			for i := 0; m.Stats().Discarded == 0; i++ {
				if time.Now().After(deadline) {
					t.Fatalf("after %d calls: %+v; want the instance whose collect failed discarded", i, m.Stats())
				}
				if resp, err := validate(t, m); err != nil || !resp.GetAllowed() {
					t.Fatalf("call %d: %v, %v", i, resp, err)
				}
			}
			// Its replacement serves the next calls, and the export is not
			// called again: no other instance is lost to it.
			for i := range 200 {
				if resp, err := validate(t, m); err != nil || !resp.GetAllowed() {
					t.Fatalf("call %d after the discard: %v, %v", i, resp, err)
				}
			}
			time.Sleep(200 * time.Millisecond) // a collection would have come by now
			if st := m.Stats(); st.Created != before.Created+1 || st.Discarded != 1 || st.Collections != 0 {
				t.Errorf("stats %+v (before %+v); want one instance replaced, no collection", st, before)
			}
		})
	}
}
