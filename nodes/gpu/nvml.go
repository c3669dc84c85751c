package gpu

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// NVML discovers GPUs through the NVIDIA Management Library, which go-nvml
// loads with dlopen when Discover runs: the binary needs cgo to be built but
// does not link against the library, and a node without it has no GPUs
// (ErrUnavailable).
type NVML struct {
	// LibraryPath overrides the library to load (default
	// "libnvidia-ml.so.1" from the loader's path).
	LibraryPath string
	// SysfsRoot is where to read NUMA nodes (default "/sys").
	SysfsRoot string
}

// nvmlMu serializes NVML sessions: go-nvml binds the library's symbols
// globally.
var nvmlMu sync.Mutex

// Discover implements [Discoverer].
func (n NVML) Discover(ctx context.Context) ([]*wharfv1.GPUDevice, error) {
	if runtime.GOOS != "linux" {
		return nil, fmt.Errorf("gpu: nvml: %w: not linux", ErrUnavailable)
	}
	nvmlMu.Lock()
	defer nvmlMu.Unlock()
	return nvmlDiscover(ctx, n)
}
