package gpu

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// ResourceName is the extended resource pods request GPUs by.
const ResourceName = "nvidia.com/gpu"

// Node labels, named as NVIDIA's GPU feature discovery names them.
const (
	LabelProduct = "nvidia.com/gpu.product"
	LabelMemory  = "nvidia.com/gpu.memory"
	LabelCount   = "nvidia.com/gpu.count"
)

// Capacity returns the node capacity entry for gpus: {"nvidia.com/gpu":
// "N"}, or nil for no GPUs.
func Capacity(gpus []*wharfv1.GPUDevice) map[string]string {
	if len(gpus) == 0 {
		return nil
	}
	return map[string]string{ResourceName: strconv.Itoa(len(gpus))}
}

// Labels returns the node labels for gpus, nil for none. Product and memory
// describe the first GPU (index order), as GPU feature discovery does; the
// product is the model with spaces turned into '-' ("NVIDIA H100 80GB HBM3"
// -> "NVIDIA-H100-80GB-HBM3"), made a valid label value; memory is in MiB.
func Labels(gpus []*wharfv1.GPUDevice) map[string]string {
	if len(gpus) == 0 {
		return nil
	}
	first := gpus[0]
	for _, g := range gpus[1:] {
		if g.GetIndex() < first.GetIndex() {
			first = g
		}
	}
	return map[string]string{
		LabelProduct: LabelValue(first.GetModel()),
		LabelMemory:  strconv.FormatInt(first.GetMemoryMib(), 10),
		LabelCount:   strconv.Itoa(len(gpus)),
	}
}

// LabelValue makes s a valid label value: spaces and other characters
// outside [A-Za-z0-9_.-] become '-', at most 63 characters, starting and
// ending with an alphanumeric.
func LabelValue(s string) string {
	b := []byte(strings.TrimSpace(s))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.') {
			b[i] = '-'
		}
	}
	if len(b) > 63 {
		b = b[:63]
	}
	isAlnum := func(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' }
	for len(b) > 0 && !isAlnum(b[0]) {
		b = b[1:]
	}
	for len(b) > 0 && !isAlnum(b[len(b)-1]) {
		b = b[:len(b)-1]
	}
	return string(b)
}

// ErrInvalidRequest: a GPU count that is not a non-negative whole number.
var ErrInvalidRequest = errors.New("invalid GPU request")

// Request returns how many GPUs a container asks for: its nvidia.com/gpu
// limit, or request when it has no limit (for extended resources the two
// must be equal). A value that is not a whole number is an error.
func Request(c *wharfv1.Container) (int, error) {
	v, ok := c.GetResources().GetLimits()[ResourceName]
	if !ok {
		v, ok = c.GetResources().GetRequests()[ResourceName]
	}
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || n < 0 {
		return 0, fmt.Errorf("gpu: container %q: %s %q: %w", c.GetName(), ResourceName, v, ErrInvalidRequest)
	}
	return n, nil
}
