//go:build cgo && linux

package gpu

import (
	"context"
	"fmt"

	"github.com/NVIDIA/go-nvml/pkg/nvml"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

func nvmlDiscover(_ context.Context, n NVML) ([]*wharfv1.GPUDevice, error) {
	var opts []nvml.LibraryOption
	if n.LibraryPath != "" {
		opts = append(opts, nvml.WithLibraryPath(n.LibraryPath))
	}
	lib := nvml.New(opts...)
	if ret := lib.Init(); ret != nvml.SUCCESS {
		if ret == nvml.ERROR_LIBRARY_NOT_FOUND || ret == nvml.ERROR_DRIVER_NOT_LOADED {
			return nil, fmt.Errorf("gpu: nvml: %w: %v", ErrUnavailable, ret)
		}
		return nil, fmt.Errorf("gpu: nvml init: %v", ret)
	}
	defer lib.Shutdown()
	driver, ret := lib.SystemGetDriverVersion()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("gpu: nvml driver version: %v", ret)
	}
	count, ret := lib.DeviceGetCount()
	if ret != nvml.SUCCESS {
		return nil, fmt.Errorf("gpu: nvml device count: %v", ret)
	}
	out := make([]*wharfv1.GPUDevice, 0, count)
	for i := 0; i < count; i++ {
		dev, ret := lib.DeviceGetHandleByIndex(i)
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("gpu: nvml device %d: %v", i, ret)
		}
		uuid, ret := dev.GetUUID()
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("gpu: nvml device %d uuid: %v", i, ret)
		}
		name, ret := dev.GetName()
		if ret != nvml.SUCCESS {
			return nil, fmt.Errorf("gpu: nvml device %d name: %v", i, ret)
		}
		var memMiB int64
		if mem, ret := dev.GetMemoryInfo(); ret == nvml.SUCCESS {
			memMiB = int64(mem.Total >> 20)
		}
		var busID string
		if pci, ret := dev.GetPciInfo(); ret == nvml.SUCCESS {
			busID = NormalizeBusID(cString(pci.BusId[:]))
		}
		out = append(out, &wharfv1.GPUDevice{
			Index:         int32(i),
			Uuid:          uuid,
			Model:         name,
			MemoryMib:     memMiB,
			DriverVersion: driver,
			NumaNode:      numaNode(n.SysfsRoot, busID),
			PciBusId:      busID,
		})
	}
	return out, nil
}

func cString(b []uint8) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}
