package gpu_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/gpu"
	"google.golang.org/protobuf/proto"
)

// h100s are three GPUs, two on NUMA nodes 0 and 1 and one without a NUMA
// node, as the fake nvidia-smi and sysfs report them.
var h100s = []*wharfv1.GPUDevice{
	{Index: 0, Uuid: "GPU-0aa1b2c3-0000-0000-0000-000000000000", Model: "NVIDIA H100 80GB HBM3", MemoryMib: 81559,
		DriverVersion: "550.54.15", NumaNode: 0, PciBusId: "0000:1b:00.0"},
	{Index: 1, Uuid: "GPU-1bb1b2c3-0000-0000-0000-000000000000", Model: "NVIDIA H100 80GB HBM3", MemoryMib: 81559,
		DriverVersion: "550.54.15", NumaNode: 1, PciBusId: "0000:9b:00.0"},
	{Index: 2, Uuid: "GPU-2cc1b2c3-0000-0000-0000-000000000000", Model: "NVIDIA H100 80GB HBM3", MemoryMib: 0,
		DriverVersion: "550.54.15", NumaNode: -1, PciBusId: "0000:cb:00.0"},
}

const fakeNvidiaSMI = `#!/bin/sh
if [ "$1" != "--query-gpu=index,uuid,name,memory.total,driver_version,pci.bus_id" ] || [ "$2" != "--format=csv,noheader,nounits" ]; then
	echo "unexpected arguments: $*" >&2
	exit 2
fi
cat <<'CSV'
0, GPU-0aa1b2c3-0000-0000-0000-000000000000, NVIDIA H100 80GB HBM3, 81559, 550.54.15, 00000000:1B:00.0
1, GPU-1bb1b2c3-0000-0000-0000-000000000000, NVIDIA H100 80GB HBM3, 81559, 550.54.15, 00000000:9B:00.0
2, GPU-2cc1b2c3-0000-0000-0000-000000000000, NVIDIA H100 80GB HBM3, [N/A], 550.54.15, 00000000:CB:00.0
CSV
`

// fakeSysfs writes numa_node files for the first two GPUs; the third has
// none (-1).
func fakeSysfs(t *testing.T) string {
	root := t.TempDir()
	for bus, node := range map[string]string{"0000:1b:00.0": "0\n", "0000:9b:00.0": "1\n"} {
		dir := filepath.Join(root, "bus", "pci", "devices", bus)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "numa_node"), []byte(node), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

// TestNvidiaSMI puts a fake nvidia-smi on PATH (so it cannot run in
// parallel).
func TestNvidiaSMI(t *testing.T) {
	bin := t.TempDir()
	if err := os.WriteFile(filepath.Join(bin, "nvidia-smi"), []byte(fakeNvidiaSMI), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	sysfs := fakeSysfs(t)

	got, err := gpu.NvidiaSMI{SysfsRoot: sysfs}.Discover(context.Background())
	if err != nil {
		t.Fatalf("Discover: %v", err)
	}
	assertGPUs(t, got, h100s)

	t.Run("chain_falls_back_from_nvml", func(t *testing.T) {
		c := gpu.Chain{Discoverers: []gpu.Discoverer{
			gpu.NVML{LibraryPath: filepath.Join(t.TempDir(), "libnvidia-ml.so.1")},
			gpu.NvidiaSMI{SysfsRoot: sysfs},
		}}
		got, err := c.Discover(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		assertGPUs(t, got, h100s)
	})
	t.Run("failing_binary", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "nvidia-smi")
		if err := os.WriteFile(bad, []byte("#!/bin/sh\necho 'NVIDIA-SMI has failed' >&2\nexit 9\n"), 0o755); err != nil {
			t.Fatal(err)
		}
		_, err := gpu.NvidiaSMI{Path: bad}.Discover(context.Background())
		if err == nil || errors.Is(err, gpu.ErrUnavailable) {
			t.Errorf("error = %v, want a failure that is not ErrUnavailable", err)
		}
	})
}

func TestNvidiaSMIMissing(t *testing.T) {
	t.Parallel()
	_, err := gpu.NvidiaSMI{Path: filepath.Join(t.TempDir(), "nvidia-smi")}.Discover(context.Background())
	if !errors.Is(err, gpu.ErrUnavailable) {
		t.Errorf("error = %v, want ErrUnavailable", err)
	}
}

// TestNVMLWithoutLibrary points NVML at a library that does not exist: no
// GPUs and ErrUnavailable, not a crash.
func TestNVMLWithoutLibrary(t *testing.T) {
	t.Parallel()
	_, err := gpu.NVML{LibraryPath: filepath.Join(t.TempDir(), "libnvidia-ml.so.1")}.Discover(context.Background())
	if !errors.Is(err, gpu.ErrUnavailable) {
		t.Errorf("error = %v, want ErrUnavailable", err)
	}
}

func TestChain(t *testing.T) {
	t.Parallel()
	t.Run("first_working_wins", func(t *testing.T) {
		c := gpu.Chain{Discoverers: []gpu.Discoverer{
			gpu.Fake{Err: gpu.ErrUnavailable},
			gpu.Fake{Devices: h100s[:1]},
			gpu.Fake{Devices: h100s},
		}}
		got, err := c.Discover(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		assertGPUs(t, got, h100s[:1])
	})
	t.Run("never_fails", func(t *testing.T) {
		c := gpu.Chain{Discoverers: []gpu.Discoverer{gpu.Fake{Err: errors.New("boom")}, panicky{}}}
		got, err := c.Discover(context.Background())
		if err != nil || len(got) != 0 {
			t.Errorf("Discover = %v, %v; want no GPUs and no error", got, err)
		}
	})
	t.Run("default_on_this_machine", func(t *testing.T) {
		// Whatever this machine has, the default chain must not fail.
		if _, err := gpu.Default(nil).Discover(context.Background()); err != nil {
			t.Errorf("Default: %v", err)
		}
	})
	t.Run("fake_returns_copies", func(t *testing.T) {
		got, _ := gpu.Fake{Devices: h100s}.Discover(context.Background())
		got[0].Model = "changed"
		if h100s[0].Model == "changed" {
			t.Error("Fake handed out its own devices")
		}
	})
}

type panicky struct{}

func (panicky) Discover(context.Context) ([]*wharfv1.GPUDevice, error) { panic("driver exploded") }

func TestNormalizeBusID(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"00000000:3B:00.0": "0000:3b:00.0",
		"0000:3b:00.0":     "0000:3b:00.0",
		"00000001:3B:00.0": "0001:3b:00.0",
		" 0000:AF:00.1 ":   "0000:af:00.1",
	} {
		if got := gpu.NormalizeBusID(in); got != want {
			t.Errorf("NormalizeBusID(%q) = %q, want %q", in, got, want)
		}
	}
}

func assertGPUs(t *testing.T, got, want []*wharfv1.GPUDevice) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d GPUs, want %d: %v", len(got), len(want), got)
	}
	for i := range got {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("GPU %d = %v, want %v", i, got[i], want[i])
		}
	}
}
