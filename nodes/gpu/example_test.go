package gpu_test

import (
	"fmt"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/nodes/gpu"
)

func ExampleLabels() {
	gpus := []*wharfv1.GPUDevice{
		{Index: 0, Uuid: "GPU-a", Model: "NVIDIA H100 80GB HBM3", MemoryMib: 81559, NumaNode: 0},
		{Index: 1, Uuid: "GPU-b", Model: "NVIDIA H100 80GB HBM3", MemoryMib: 81559, NumaNode: 1},
	}
	fmt.Println(gpu.Capacity(gpus))
	fmt.Println(gpu.Labels(gpus))
	// Output:
	// map[nvidia.com/gpu:2]
	// map[nvidia.com/gpu.count:2 nvidia.com/gpu.memory:81559 nvidia.com/gpu.product:NVIDIA-H100-80GB-HBM3]
}
