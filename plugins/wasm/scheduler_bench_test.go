package wasm_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/plugins/wasm"
	"github.com/wharfhq/wharf/sdk/plugin/abi"
	"github.com/wharfhq/wharf/testing/cputime"
)

func plainPod(b testing.TB) *wasm.Pod {
	pod := &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: "web", Namespace: "default"},
		Spec: &wharfv1.PodSpec{Containers: []*wharfv1.Container{{Name: "main", Image: "web:1.0",
			Resources: &wharfv1.ResourceRequirements{Requests: map[string]string{"cpu": "100m", "memory": "64Mi"}}}}},
	}
	p, err := wasm.EncodePod(pod, map[string]int64{"cpu": 100, "memory": 64 << 20, "pods": 1})
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// BenchmarkScoreInScheduler is a score call as the scheduler makes it:
// between two calls a pod was placed, so one node's accounting changed
// (the update rides in the call), and with cache=cold the scheduler's own
// work between calls has pushed the guest's code and data out of the
// processor's caches (emulated by writing 32 MiB). call-ns/op is the call
// alone. In the scheduler the cold figure is the one that counts: a call
// costs several times what it costs in a loop. Run the cold case with
// -benchtime 2000x or so: each iteration writes the 32 MiB.
func BenchmarkScoreInScheduler(b *testing.B) {
	for _, kind := range []string{"gpu", "plain"} {
		for _, cache := range []string{"warm", "cold"} {
			b.Run(fmt.Sprintf("pod=%s/cache=%s", kind, cache), func(b *testing.B) {
				const nodes = 5000
				m := loadGPUScore(b, "instrumented", nodes)
				pod, cand := gpuPod(b), 750
				if kind == "plain" {
					pod, cand = plainPod(b), 500
				}
				settle(b, m, pod, nodes)
				scores := make([]int64, cand)
				ctx := context.Background()
				idl := ids(cand)
				objs := make([][]byte, nodes)
				for i := range objs {
					n := gpuNode(i)
					objs[i], _ = proto.MarshalOptions{Deterministic: true}.Marshal(&pluginv1.SchedulerNode{Node: n.GetNode(), Allocatable: n.GetAllocatable()})
				}
				flush := flusher(cache)
				defer cputime.LockThread()()
				b.ResetTimer()
				var took time.Duration
				for i := range b.N {
					id := (i * 7919) % nodes
					acct, _ := proto.Marshal(&pluginv1.SchedulerNode{Requested: map[string]int64{"cpu": int64(i), "nvidia.com/gpu": int64(i % 8)}})
					m.UpdateEncodedNodes([]wasm.EncodedNode{{ID: uint32(id), Object: objs[id], Accounting: acct}}, nil)
					for j := range idl {
						idl[j] = uint32((j*13 + i) % nodes)
					}
					flush()
					start := time.Now()
					if _, err := m.Score(ctx, pod, idl, scores); err != nil {
						b.Fatal(err)
					}
					took += time.Since(start)
				}
				b.ReportMetric(float64(took.Nanoseconds())/float64(b.N), "call-ns/op")
			})
		}
	}
}

// flusher returns what pushes the caller's code and data out of the
// processor's caches before each call, as the scheduler's own work
// between two calls does, for cache "cold" (it writes 32 MiB); for "warm",
// nothing.
func flusher(cache string) func() {
	if cache != "cold" {
		return func() {}
	}
	buf := make([]byte, 32<<20)
	return func() {
		for j := 0; j < len(buf); j += 64 {
			buf[j]++
		}
	}
}

// BenchmarkScoreHostPath is BenchmarkScoreInScheduler's call with a
// hand-written module that answers at once (ScoreResponse{skip: true}):
// what the host and wazero cost per call, encoding the pod and 750 node
// ids included, without a guest's runtime. Against the Go scorer's cold
// figure it says how much of a call is the guest's.
func BenchmarkScoreHostPath(b *testing.B) {
	for _, cache := range []string{"warm", "cold"} {
		b.Run("cache="+cache, func(b *testing.B) {
			spec := modSpec{
				memPages: 2,
				funcs: []fn{
					{name: abi.ExportMarker},
					{name: abi.ExportAlloc, params: []byte{i32}, results: []byte{i32}, body: i32c(1024)},
					{name: abi.ExportScore, params: []byte{i32, i32}, results: []byte{i64}, body: packed(8192, 2)},
					{name: abi.ExportNodes, params: []byte{i32, i32}, results: []byte{i64}, body: i64c(0)},
				},
				data:    map[uint32][]byte{8192: {0x10, 0x01}}, // skip: true
				section: `{"name":"skip","version":"1","abiVersion":3,"extensionPoints":["scheduler.score"]}`,
			}
			m, err := newEngine(b).Load(context.Background(), spec.bytes(), wasm.Config{Name: "skip", MaxInstances: 1})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close(context.Background())
			pod, idl := gpuPod(b), ids(750)
			scores := make([]int64, len(idl))
			flush := flusher(cache)
			defer cputime.LockThread()()
			b.ResetTimer()
			var took time.Duration
			for range b.N {
				flush()
				start := time.Now()
				if skip, err := m.Score(context.Background(), pod, idl, scores); err != nil || !skip {
					b.Fatal(skip, err)
				}
				took += time.Since(start)
			}
			b.ReportMetric(float64(took.Nanoseconds())/float64(b.N), "call-ns/op")
		})
	}
}

// BenchmarkNodeUpsert is what a node object costs an instance of the GPU
// scorer when it arrives (a new node, or one whose labels, taints or GPUs
// changed): the host's encoding and sending, the SDK's decoding and the
// plugin's PrepareNode, in batches of 1,000 through SyncNodes.
// ns/node is the figure.
func BenchmarkNodeUpsert(b *testing.B) {
	const nodes = 1000
	m := loadGPUScore(b, "instrumented", nodes)
	settle(b, m, gpuPod(b), nodes)
	ctx := context.Background()
	ups := make([]*pluginv1.SchedulerNode, nodes)
	defer cputime.LockThread()()
	b.ResetTimer()
	var took time.Duration
	for i := range b.N {
		for j := range ups {
			n := gpuNode(j)
			n.Node.Metadata.Labels["round"] = fmt.Sprint(i) // a new object: all of it goes
			ups[j] = n
		}
		start := time.Now()
		if err := m.UpdateNodes(ups, nil); err != nil {
			b.Fatal(err)
		}
		if err := m.SyncNodes(ctx); err != nil {
			b.Fatal(err)
		}
		took += time.Since(start)
	}
	b.ReportMetric(float64(took.Nanoseconds())/float64(b.N*nodes), "ns/node")
}
