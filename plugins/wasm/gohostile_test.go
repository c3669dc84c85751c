package wasm_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/plugins/wasm"
	"github.com/wharfhq/wharf/sdk/plugin/abi"
	"github.com/wharfhq/wharf/sdk/plugin/plugintest"
)

const hostilePkg = "github.com/wharfhq/wharf/plugins/wasm/testdata/hostile"

// loadHostile loads the hostile Go guest with cfg; the error is Load's.
func loadHostile(t *testing.T, cfg wasm.Config) (*wasm.Module, error) {
	t.Helper()
	bin, err := os.ReadFile(plugintest.Build(t, hostilePkg))
	if err != nil {
		t.Fatal(err)
	}
	e, err := wasm.NewEngine(cacheDir(t), wasm.WithLogger(quiet))
	if err != nil {
		t.Fatal(err)
	}
	m, err := e.Load(context.Background(), bin, cfg)
	if err == nil {
		t.Cleanup(func() { m.Close(context.Background()) })
	}
	return m, err
}

// TestHostileGoGuest: a Go guest that loops, spins, eats memory, panics or
// exits is contained, and the next call gets a healthy instance.
func TestHostileGoGuest(t *testing.T) {
	t.Parallel()
	m, err := loadHostile(t, wasm.Config{Name: "hostile", Timeout: 200 * time.Millisecond, MemoryLimitMiB: 64, MaxInstances: 2})
	if err != nil {
		t.Fatal(err)
	}
	call := func(mode string) (*pluginv1.AdmissionResponse, error) {
		pod, _ := proto.Marshal(&wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: "p", Annotations: map[string]string{"hostile": mode}}})
		req, _ := proto.Marshal(&pluginv1.AdmissionRequest{Kind: "Pod", Object: pod, Operation: pluginv1.Operation_OPERATION_CREATE})
		resp := &pluginv1.AdmissionResponse{}
		return resp, m.Call(context.Background(), abi.ExportValidate, req, resp)
	}
	for _, tc := range []struct {
		mode string
		want error
	}{
		{"loop", wasm.ErrTimeout},
		{"spin", wasm.ErrTimeout},
		{"grow", wasm.ErrTrap},
		{"exit", wasm.ErrTrap},
		{"panic", wasm.ErrPlugin},
		{"fail", wasm.ErrPlugin},
	} {
		start := time.Now()
		_, err := call(tc.mode)
		if tc.mode == "grow" && errors.Is(err, wasm.ErrTimeout) {
			err = wasm.ErrTrap // out of memory, or out of time first on a slow machine: contained either way
		}
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v; want %v", tc.mode, err, tc.want)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("%s: took %v", tc.mode, d)
		}
		resp, err := call("")
		if err != nil || !resp.GetAllowed() {
			t.Fatalf("after %s: a healthy call got %v, %v", tc.mode, resp, err)
		}
	}
	if st := m.Stats(); st.Discarded != 4 {
		t.Errorf("stats %+v; want the 4 instances that timed out or crashed discarded", st)
	}
}

// TestGuestCollectsBetweenCalls: a Go guest that holds a large heap and
// makes garbage with every call collects it when the host calls
// wharf_collect between calls, and a call that finds the instance
// collecting waits for it rather than start another instance.
func TestGuestCollectsBetweenCalls(t *testing.T) {
	t.Parallel()
	// Timeouts are not under test: a busy machine must not fail it.
	m, err := loadHostile(t, wasm.Config{Name: "hostile", MaxInstances: 2, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	call := func(mode string) error {
		pod, _ := proto.Marshal(&wharfv1.Pod{Metadata: &wharfv1.ObjectMeta{Name: "p", Annotations: map[string]string{"hostile": mode}}})
		req, _ := proto.Marshal(&pluginv1.AdmissionRequest{Kind: "Pod", Object: pod, Operation: pluginv1.Operation_OPERATION_CREATE})
		resp := &pluginv1.AdmissionResponse{}
		if err := m.Call(context.Background(), abi.ExportValidate, req, resp); err != nil || !resp.GetAllowed() {
			return fmt.Errorf("%s: %v, %v", mode, resp, err)
		}
		return nil
	}
	if err := call("hoard"); err != nil {
		t.Fatal(err)
	}
	before := m.Stats()
	deadline := time.Now().Add(30 * time.Second)
	for i := 0; m.Stats().Collections < before.Collections+3; i++ {
		if time.Now().After(deadline) {
			t.Fatalf("after %d calls that left 32 KiB of garbage each: %+v; want collections", i, m.Stats())
		}
		if err := call("litter"); err != nil {
			t.Fatalf("call %d: %v", i, err)
		}
	}
	if st := m.Stats(); st.Created != before.Created || st.Discarded != 0 {
		t.Errorf("stats %+v, %+v before; want no instance started or discarded", st, before)
	}
}

// TestInstrumentationKeepsResults: instrumented code computes what the
// original does (the GPU scorer's scores and verdicts over 500 nodes).
func TestInstrumentationKeepsResults(t *testing.T) {
	t.Parallel()
	const nodes = 500
	plain := loadGPUScore(t, "none", nodes)
	inst := loadGPUScore(t, "instrumented", nodes)
	pod := gpuPod(t)
	settle(t, plain, pod, nodes)
	settle(t, inst, pod, nodes)
	a, b := make([]int64, nodes), make([]int64, nodes)
	if _, err := plain.Score(context.Background(), pod, ids(nodes), a); err != nil {
		t.Fatal(err)
	}
	if _, err := inst.Score(context.Background(), pod, ids(nodes), b); err != nil {
		t.Fatal(err)
	}
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("node %d: score %d instrumented, %d plain", i, b[i], a[i])
		}
	}
	fa, err := plain.Filter(context.Background(), pod, ids(nodes))
	if err != nil {
		t.Fatal(err)
	}
	fb, err := inst.Filter(context.Background(), pod, ids(nodes))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(fa, fb) || len(fa) == 0 {
		t.Fatalf("filter verdicts differ (%d vs %d rejected)", len(fa), len(fb))
	}
}

// TestMemoryLimitBelowTheModulesStart: a limit under what the module needs
// at start is refused at load with the limit and how to raise it, not as
// an ABI violation.
func TestMemoryLimitBelowTheModulesStart(t *testing.T) {
	t.Parallel()
	_, err := loadHostile(t, wasm.Config{Name: "hostile", MemoryLimitMiB: 1})
	if !errors.Is(err, wasm.ErrMemoryLimit) || errors.Is(err, wasm.ErrABI) {
		t.Fatalf("err = %v; want ErrMemoryLimit (and not ErrABI)", err)
	}
	for _, want := range []string{"of 1 MiB", "--memory-limit"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%q does not say %q", err, want)
		}
	}
}

func TestDeadlineMessagesKeepSubMillisecondTimeouts(t *testing.T) {
	for d, want := range map[time.Duration]string{
		487*time.Microsecond + 300:  "487µs",
		1500 * time.Microsecond:     "2ms",
		2*time.Second + 400_000_000: "2.4s",
	} {
		if got := wasm.RoundDuration(d).String(); got != want {
			t.Errorf("%v reads %q; want %q", d, got, want)
		}
	}
}
