package framework_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
	st "github.com/wharfhq/wharf/daemon/scheduler/internal/schedtest"
	"github.com/wharfhq/wharf/sdk/quantity"
)

func TestNewPodInfoRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name          string
		pod           *wharfv1.Pod
		cpu, mem, gpu int64
		nzCPU, nzMem  int64
		scalars       []string
		schedulerName string
	}{
		{"empty", st.Pod("p"), 0, 0, 0, 100, 200 << 20, nil, "default-scheduler"},
		{"one", st.Pod("p", st.Requests("cpu", "500m", "memory", "1Gi")), 500, 1 << 30, 0, 500, 1 << 30, nil, "default-scheduler"},
		{"sum", st.Pod("p", st.Requests("cpu", "1"), st.Container("cpu", "1500m", "memory", "1G")), 2500, 1e9, 0, 2500, 200<<20 + 1e9, nil, "default-scheduler"},
		{"init_max", st.Pod("p", st.Requests("cpu", "1"), st.InitContainer("cpu", "3"), st.InitContainer("memory", "2Gi")), 3000, 2 << 30, 0, 3000, 2 << 30, nil, "default-scheduler"},
		{"limit_as_request", st.Pod("p", st.Limits("cpu", "2", "nvidia.com/gpu", "1"), st.Requests("memory", "1Mi")), 2000, 1 << 20, 1, 2000, 1 << 20, nil, "default-scheduler"},
		{"extended", st.Pod("p", st.Requests("example.com/b", "2", "example.com/a", "1", "hugepages-2Mi", "0")), 0, 0, 0, 100, 200 << 20, []string{"example.com/a", "example.com/b"}, "default-scheduler"},
		{"scheduler_name", st.Pod("p", st.SchedulerName("gpu")), 0, 0, 0, 100, 200 << 20, nil, "gpu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			pi, err := framework.NewPodInfo(tt.pod)
			if err != nil {
				t.Fatal(err)
			}
			r := pi.Requests
			if r.MilliCPU != tt.cpu || r.Memory != tt.mem || r.GPU != tt.gpu || r.Pods != 1 {
				t.Errorf("requests = %+v, want cpu %d mem %d gpu %d pods 1", r, tt.cpu, tt.mem, tt.gpu)
			}
			if pi.NonZeroMilliCPU != tt.nzCPU || pi.NonZeroMemory != tt.nzMem {
				t.Errorf("non-zero = %d, %d, want %d, %d", pi.NonZeroMilliCPU, pi.NonZeroMemory, tt.nzCPU, tt.nzMem)
			}
			if !slices.Equal(pi.ScalarNames, tt.scalars) {
				t.Errorf("scalar names = %v, want %v", pi.ScalarNames, tt.scalars)
			}
			if pi.SchedulerName != tt.schedulerName || pi.Key != "default/p" {
				t.Errorf("scheduler %q key %q", pi.SchedulerName, pi.Key)
			}
		})
	}
}

func TestNewPodInfoErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		pod  *wharfv1.Pod
		want string
	}{
		{"bad_quantity", st.Pod("p", st.Requests("cpu", "1x")), `spec.containers[0].resources.requests["cpu"]: invalid quantity "1x"`},
		{"negative", st.Pod("p", st.Container("memory", "-1Gi")), `spec.containers[1].resources.requests["memory"]: "-1Gi" is negative`},
		{"bad_init", st.Pod("p", st.InitContainer("cpu", "lots")), `spec.initContainers[0].resources.requests["cpu"]`},
		{"bad_limit", st.Pod("p", st.Limits("cpu", "?")), `spec.containers[0].resources.limits["cpu"]`},
		{"bad_operator", st.Pod("p", st.RequiredTerm(st.Req("a", "Near", "b"))),
			`spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms[0].matchExpressions[0].operator: unknown operator "Near"; want In, NotIn, Exists, DoesNotExist, Gt or Lt`},
		{"gt_not_int", st.Pod("p", st.RequiredTerm(st.Req("a", "Exists"), st.Req("a", "Gt", "x"))), `matchExpressions[1].values[0]: "x" is not an integer`},
		{"in_no_values", st.Pod("p", st.RequiredTerm(st.Req("a", "In"))), "In needs at least one value"},
		{"exists_values", st.Pod("p", st.RequiredTerm(st.Req("a", "Exists", "b"))), "must be empty with Exists"},
		{"bad_field", st.Pod("p", st.RequiredFieldTerm(st.Req("metadata.uid", "In", "b"))), `matchFields[0].key: "metadata.uid" is not supported`},
		{"pref_weight", st.Pod("p", st.PreferredTerm(0, st.Req("a", "Exists"))), "preferredDuringSchedulingIgnoredDuringExecution[0].weight: 0 is out of range"},
		{"toleration_op", st.Pod("p", st.Toleration("a", "Like", "", "")), `spec.tolerations[0].operator: unknown operator "Like"`},
		{"toleration_effect", st.Pod("p", st.Toleration("a", "Exists", "", "Never")), `spec.tolerations[0].effect: unknown effect "Never"`},
		{"gpu_memory", st.Pod("p", st.Requests("nvidia.com/gpu", "1"), st.Annotation(framework.AnnotationGPUMinMemoryMiB, "40GB")),
			`metadata.annotations["gpu.wharf.dev/min-memory-mib"]: "40GB" is not a whole number of MiB`},
		{"gpu_models_empty", st.Pod("p", st.Requests("nvidia.com/gpu", "1"), st.Annotation(framework.AnnotationGPUModels, " , ")), `gpu.wharf.dev/models"]: empty`},
		{"gpu_attrs_without_gpus", st.Pod("p", st.Annotation(framework.AnnotationGPUModels, "Tesla T4")), "requests no nvidia.com/gpu"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := framework.NewPodInfo(tt.pod)
			if err == nil {
				t.Fatalf("no error, want %q", tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q lacks %q", err, tt.want)
			}
		})
	}
	_, err := framework.NewPodInfo(st.Pod("p", st.Requests("cpu", "1x")))
	if !errors.Is(err, quantity.ErrInvalid) {
		t.Errorf("bad quantity error %v does not wrap quantity.ErrInvalid", err)
	}
}
