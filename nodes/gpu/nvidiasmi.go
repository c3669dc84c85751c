package gpu

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"os/exec"
	"strconv"
	"strings"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// NvidiaSMIArgs are the arguments NvidiaSMI runs nvidia-smi with.
var NvidiaSMIArgs = []string{
	"--query-gpu=index,uuid,name,memory.total,driver_version,pci.bus_id",
	"--format=csv,noheader,nounits",
}

// NvidiaSMI discovers GPUs by running nvidia-smi and parsing its CSV; the
// NUMA node comes from sysfs.
type NvidiaSMI struct {
	// Path is the nvidia-smi to run (default: "nvidia-smi" on PATH).
	Path string
	// SysfsRoot is where to read NUMA nodes (default "/sys").
	SysfsRoot string
}

// Discover implements [Discoverer].
func (n NvidiaSMI) Discover(ctx context.Context) ([]*wharfv1.GPUDevice, error) {
	bin := n.Path
	if bin == "" {
		bin = "nvidia-smi"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, fmt.Errorf("gpu: %w: %w", ErrUnavailable, err)
	}
	var stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, path, NvidiaSMIArgs...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("gpu: %s: %w: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	return parseNvidiaSMI(out, n.SysfsRoot)
}

// parseNvidiaSMI parses the CSV of NvidiaSMIArgs.
func parseNvidiaSMI(out []byte, sysfsRoot string) ([]*wharfv1.GPUDevice, error) {
	r := csv.NewReader(bytes.NewReader(out))
	r.TrimLeadingSpace = true
	r.FieldsPerRecord = 6
	recs, err := r.ReadAll()
	if err != nil {
		return nil, fmt.Errorf("gpu: nvidia-smi output: %w", err)
	}
	gpus := make([]*wharfv1.GPUDevice, 0, len(recs))
	for _, rec := range recs {
		for i := range rec {
			rec[i] = strings.TrimSpace(rec[i])
		}
		idx, err := strconv.Atoi(rec[0])
		if err != nil {
			return nil, fmt.Errorf("gpu: nvidia-smi index %q: %w", rec[0], err)
		}
		if rec[1] == "" {
			return nil, errors.New("gpu: nvidia-smi: a GPU without a UUID")
		}
		// "[N/A]" (or a value with units, if nounits was ignored) is 0.
		mem, _ := strconv.ParseInt(strings.TrimSuffix(rec[3], " MiB"), 10, 64)
		bus := NormalizeBusID(rec[5])
		gpus = append(gpus, &wharfv1.GPUDevice{
			Index:         int32(idx),
			Uuid:          rec[1],
			Model:         rec[2],
			MemoryMib:     mem,
			DriverVersion: rec[4],
			NumaNode:      numaNode(sysfsRoot, bus),
			PciBusId:      bus,
		})
	}
	return gpus, nil
}
