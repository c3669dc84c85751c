package framework

// Resource names with a dedicated field in Resource.
const (
	ResourceCPU    = "cpu"
	ResourceMemory = "memory"
	ResourcePods   = "pods"
	ResourceGPU    = "nvidia.com/gpu"
)

// GPU attribute annotations on a pod. They narrow which devices count for
// the pod's nvidia.com/gpu request; the GPUFit plugin filters on them and
// the framework allocates matching devices on Reserve.
const (
	// AnnotationGPUMinMemoryMiB is the least memory, in MiB, every GPU given
	// to the pod must have: "40000".
	AnnotationGPUMinMemoryMiB = "gpu.wharf.dev/min-memory-mib"
	// AnnotationGPUModels lists the acceptable GPU models, comma-separated,
	// as the node agent reports them (NodeStatus.gpus[].model, the output of
	// nvidia-smi): "NVIDIA H100 80GB HBM3,NVIDIA A100-SXM4-80GB". Matching
	// ignores case and surrounding spaces.
	AnnotationGPUModels = "gpu.wharf.dev/models"
	// AnnotationGPUDevices holds the device indices the scheduler allocated
	// to a bound pod, comma-separated: "0,1". The binder writes it; the
	// snapshot reads it back so device accounting survives a restart.
	AnnotationGPUDevices = "gpu.wharf.dev/devices"
)

// Node labels the node agent sets, in the names NVIDIA's GPU feature
// discovery uses, so plain nodeSelector and node affinity can select GPUs.
const (
	LabelGPUProduct = "nvidia.com/gpu.product" // "NVIDIA-H100-80GB-HBM3"
	LabelGPUMemory  = "nvidia.com/gpu.memory"  // MiB per device: "81559"
	LabelGPUCount   = "nvidia.com/gpu.count"   // "8"
)

// TaintNodeUnschedulable is the taint a pod tolerates to land on a cordoned
// (unschedulable) node, as in Kubernetes.
const TaintNodeUnschedulable = "node.kubernetes.io/unschedulable"

// Defaults Kubernetes uses for pods that request no cpu or memory, so that
// scoring still sees them (they are not used for fitting).
const (
	DefaultMilliCPURequest int64 = 100               // 0.1 core
	DefaultMemoryRequest   int64 = 200 * 1024 * 1024 // 200 MiB
)

// DefaultMaxPods is the pod capacity assumed for a node that does not report
// "pods" (the kubelet's default).
const DefaultMaxPods int64 = 110
