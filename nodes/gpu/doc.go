// Package gpu finds a node's NVIDIA GPUs, hands them to pods and makes them
// visible in containers.
//
//   - Discovery: a [Discoverer] returns the GPUs as the API describes them
//     (wharfv1.GPUDevice). [NVML] asks the driver library, loaded at run time
//     (a node without libnvidia-ml.so simply has no GPUs; without cgo the
//     binary has no NVML at all); [NvidiaSMI] parses nvidia-smi's CSV; [Fake]
//     serves tests; [Chain] tries several and never fails the agent.
//   - Node facts: [Capacity] (nvidia.com/gpu) and [Labels]
//     (nvidia.com/gpu.product, .memory, .count, as NVIDIA's GPU feature
//     discovery names them).
//   - Allocation: an [Allocator] gives each pod's containers specific
//     devices, preferring devices on one NUMA node, and records every
//     allocation in a checkpoint file before returning it, so a restarted
//     agent never hands out a device twice.
//   - Injection: an [Injector] sets NVIDIA_VISIBLE_DEVICES and applies the
//     CDI device edits (device nodes, mounts, env, hooks) of the allocated
//     devices to a container's OCI spec when a CDI spec for nvidia.com/gpu
//     exists.
//
// Only packages under nodes/ and cmd/wharf may import it.
package gpu
