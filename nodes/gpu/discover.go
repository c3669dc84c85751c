package gpu

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"google.golang.org/protobuf/proto"
)

// Discoverer finds the node's GPUs.
type Discoverer interface {
	// Discover returns the GPUs, ordered by index. A node without GPUs (or
	// without the driver) returns none and, from the concrete discoverers,
	// an error that wraps ErrUnavailable.
	Discover(ctx context.Context) ([]*wharfv1.GPUDevice, error)
}

// ErrUnavailable: the discovery mechanism is missing on this node (no
// libnvidia-ml.so, no nvidia-smi, binary built without cgo).
var ErrUnavailable = errors.New("GPU discovery unavailable")

// Fake is a Discoverer for tests: it returns copies of Devices, or Err.
type Fake struct {
	Devices []*wharfv1.GPUDevice
	Err     error
}

// Discover implements [Discoverer].
func (f Fake) Discover(context.Context) ([]*wharfv1.GPUDevice, error) {
	if f.Err != nil {
		return nil, f.Err
	}
	out := make([]*wharfv1.GPUDevice, len(f.Devices))
	for i, d := range f.Devices {
		out[i] = proto.Clone(d).(*wharfv1.GPUDevice)
	}
	return out, nil
}

// Chain tries its discoverers in order and returns the GPUs of the first
// that works (returns no error). It never fails: errors, and panics, are
// logged and the result is then zero GPUs.
type Chain struct {
	Discoverers []Discoverer
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Default is the agent's discoverer: NVML, then nvidia-smi.
func Default(logger *slog.Logger) Chain {
	return Chain{Discoverers: []Discoverer{NVML{}, NvidiaSMI{}}, Logger: logger}
}

// Discover implements [Discoverer]; its error is always nil.
func (c Chain) Discover(ctx context.Context) ([]*wharfv1.GPUDevice, error) {
	log := c.Logger
	if log == nil {
		log = slog.Default()
	}
	for _, d := range c.Discoverers {
		gpus, err := safeDiscover(ctx, d)
		if err == nil {
			log.Info("gpu discovery", "discoverer", fmt.Sprintf("%T", d), "gpus", len(gpus))
			return gpus, nil
		}
		level := slog.LevelWarn
		if errors.Is(err, ErrUnavailable) {
			level = slog.LevelDebug
		}
		log.Log(ctx, level, "gpu discovery failed", "discoverer", fmt.Sprintf("%T", d), "err", err)
	}
	log.Info("gpu discovery: no GPUs")
	return nil, nil
}

func safeDiscover(ctx context.Context, d Discoverer) (gpus []*wharfv1.GPUDevice, err error) {
	defer func() {
		if p := recover(); p != nil {
			gpus, err = nil, fmt.Errorf("gpu: %T panicked: %v", d, p)
		}
	}()
	return d.Discover(ctx)
}

// NormalizeBusID returns a PCI bus id as sysfs names it: lowercase, with a
// 4-digit domain ("00000000:3B:00.0" -> "0000:3b:00.0").
func NormalizeBusID(id string) string {
	id = strings.ToLower(strings.TrimSpace(id))
	if dom, rest, ok := strings.Cut(id, ":"); ok && len(dom) > 4 && strings.Trim(dom[:len(dom)-4], "0") == "" {
		id = dom[len(dom)-4:] + ":" + rest
	}
	return id
}

// numaNode reads /sys/bus/pci/devices/<bus id>/numa_node under sysfsRoot;
// -1 when the platform reports none.
func numaNode(sysfsRoot, busID string) int32 {
	if sysfsRoot == "" {
		sysfsRoot = "/sys"
	}
	b, err := os.ReadFile(filepath.Join(sysfsRoot, "bus", "pci", "devices", busID, "numa_node"))
	if err != nil {
		return -1
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || n < 0 {
		return -1
	}
	return int32(n)
}
