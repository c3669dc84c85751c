//go:build !cgo || !linux

package gpu

import (
	"context"
	"fmt"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

func nvmlDiscover(context.Context, NVML) ([]*wharfv1.GPUDevice, error) {
	return nil, fmt.Errorf("gpu: nvml: %w: built without cgo", ErrUnavailable)
}
