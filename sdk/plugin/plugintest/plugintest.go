// Package plugintest lets plugin authors test a plugin written with
// sdk/plugin two ways, with the same API:
//
//   - New runs the plugin in-process, through the SDK's own encoding and
//     decoding: fast, debuggable, and it catches what would go wrong on the
//     wire (an object that does not encode, a score out of range).
//   - Load runs the built .wasm (see Build) in a small WebAssembly host:
//     the module's exports, its memory protocol and its metadata, as the
//     Wharf server would see them (without the server's pools, limits and
//     instrumentation).
//
// A test typically does both:
//
//	func TestScorer(t *testing.T) {
//		for _, p := range []*plugintest.Plugin{
//			plugintest.New(t, info, newPlugin()),
//			plugintest.Load(t, plugintest.Build(t, ".")),
//		} {
//			p.SetNodes(node("a"), node("b"))
//			scores, _, err := p.Score(pod)
//			...
//		}
//	}
//
// Anyone may import it; it is test support and imports package testing.
package plugintest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin"
	"github.com/wharfhq/wharf/sdk/plugin/abi"
	"github.com/wharfhq/wharf/sdk/plugin/internal/hook"
	"github.com/wharfhq/wharf/sdk/quantity"
)

// caller is a plugin at the level of the ABI.
type caller interface {
	call(export string, req []byte) ([]byte, error)
	metadata() ([]byte, error)
}

// Plugin is a plugin under test, in-process (New) or loaded from a .wasm
// (Load). Its methods fail the test on errors of the harness; errors of
// the plugin are returned.
type Plugin struct {
	t     testing.TB
	c     caller
	nodes []*wharfv1.Node
}

type inProcess struct{ g hook.Guest }

func (p inProcess) call(export string, req []byte) ([]byte, error) { return p.g.Call(export, req), nil }
func (p inProcess) metadata() ([]byte, error)                      { return p.g.Metadata(), nil }

// New returns the plugin info and impl describe, run in-process.
func New(t testing.TB, info plugin.Info, impl any) *Plugin {
	t.Helper()
	g, err := hook.New(info, impl)
	if err != nil {
		t.Fatalf("plugintest: %v", err)
	}
	return &Plugin{t: t, c: inProcess{g}}
}

// Metadata returns what the plugin says about itself.
func (p *Plugin) Metadata() *pluginv1.PluginMetadata {
	p.t.Helper()
	b, err := p.c.metadata()
	if err != nil {
		p.t.Fatalf("plugintest: metadata: %v", err)
	}
	md := &pluginv1.PluginMetadata{}
	if err := proto.Unmarshal(b, md); err != nil {
		p.t.Fatalf("plugintest: metadata: %v", err)
	}
	if err := abi.ValidateMetadata(md); err != nil {
		p.t.Fatalf("plugintest: %v", err)
	}
	return md
}

// roundTrip sends a request and decodes the response; a non-empty error
// field is returned as an error.
func (p *Plugin) roundTrip(export string, req, resp proto.Message) error {
	p.t.Helper()
	b, err := proto.Marshal(req)
	if err != nil {
		p.t.Fatalf("plugintest: encode %T: %v", req, err)
	}
	out, err := p.c.call(export, b)
	if err != nil {
		return err
	}
	if err := proto.Unmarshal(out, resp); err != nil {
		p.t.Fatalf("plugintest: %s answered bytes that are not a %T: %v", export, resp, err)
	}
	if e, ok := resp.(interface{ GetError() string }); ok && e.GetError() != "" {
		return fmt.Errorf("plugin error: %s", e.GetError())
	}
	return nil
}

// Configure hands the plugin its config (JSON), as the host does before
// any other call. The error is the plugin's refusal.
func (p *Plugin) Configure(configJSON string) error {
	p.t.Helper()
	return p.roundTrip(abi.ExportConfigure, &pluginv1.ConfigureRequest{Name: "test", Config: []byte(configJSON)}, &pluginv1.ConfigureResponse{})
}

// SetNodes replaces the nodes the plugin knows (ids are positions).
// Allocatable is parsed from status.allocatable (else capacity); pods
// request nothing unless requested says so (node name -> resources).
func (p *Plugin) SetNodes(nodes ...*wharfv1.Node) {
	p.SetNodesWithUsage(nil, nodes...)
}

// Usage is what a node's pods take: requests in the ABI's units, and the
// indices of allocated GPUs.
type Usage struct {
	Requested     map[string]int64
	AllocatedGPUs []int32
}

// SetNodesWithUsage is SetNodes with what each node's pods take.
func (p *Plugin) SetNodesWithUsage(usage map[string]Usage, nodes ...*wharfv1.Node) {
	p.t.Helper()
	up := &pluginv1.NodeUpdate{Reset_: true}
	for i, n := range nodes {
		alloc := n.GetStatus().GetAllocatable()
		if len(alloc) == 0 {
			alloc = n.GetStatus().GetCapacity()
		}
		u := usage[n.GetMetadata().GetName()]
		up.Upserts = append(up.Upserts, &pluginv1.SchedulerNode{
			Id: uint32(i), Node: n, Allocatable: parseResources(p.t, alloc),
			Requested: u.Requested, AllocatedGpus: u.AllocatedGPUs,
		})
	}
	if err := p.roundTrip(abi.ExportNodes, up, &pluginv1.NodeUpdateResponse{}); err != nil {
		p.t.Fatalf("plugintest: node update: %v", err)
	}
	p.nodes = nodes
}

// Verdict is Filter's answer for one node.
type Verdict struct {
	Node         string
	Rejected     bool
	Unresolvable bool
	Reasons      []string
}

// Filter runs scheduler.filter for pod over every node set with SetNodes.
func (p *Plugin) Filter(pod *wharfv1.Pod) ([]Verdict, error) {
	p.t.Helper()
	resp := &pluginv1.FilterResponse{}
	if err := p.roundTrip(abi.ExportFilter, &pluginv1.FilterRequest{Pod: pod, Nodes: p.ids(), PodRequests: PodRequests(p.t, pod)}, resp); err != nil {
		return nil, err
	}
	out := make([]Verdict, len(p.nodes))
	for i, n := range p.nodes {
		out[i].Node = n.GetMetadata().GetName()
	}
	for _, r := range resp.GetRejected() {
		if int(r.GetIndex()) >= len(out) {
			p.t.Fatalf("plugintest: filter rejected node #%d of %d", r.GetIndex(), len(out))
		}
		v := &out[r.GetIndex()]
		v.Rejected, v.Unresolvable, v.Reasons = true, r.GetUnresolvable(), r.GetReasons()
	}
	return out, nil
}

// Score runs scheduler.score for pod over every node set with SetNodes.
func (p *Plugin) Score(pod *wharfv1.Pod) (scores []int64, skip bool, err error) {
	p.t.Helper()
	resp := &pluginv1.ScoreResponse{}
	if err := p.roundTrip(abi.ExportScore, &pluginv1.ScoreRequest{Pod: pod, Nodes: p.ids(), PodRequests: PodRequests(p.t, pod)}, resp); err != nil {
		return nil, false, err
	}
	if resp.GetSkip() {
		return make([]int64, len(p.nodes)), true, nil
	}
	if len(resp.GetScores()) != len(p.nodes) {
		p.t.Fatalf("plugintest: %d scores for %d nodes", len(resp.GetScores()), len(p.nodes))
	}
	for i, s := range resp.GetScores() {
		if s < plugin.MinScore || s > plugin.MaxScore {
			p.t.Fatalf("plugintest: score %d for node %d is outside [0, 100]", s, i)
		}
	}
	return resp.GetScores(), false, nil
}

func (p *Plugin) ids() []uint32 {
	ids := make([]uint32, len(p.nodes))
	for i := range ids {
		ids[i] = uint32(i)
	}
	return ids
}

// Validate runs admission.validate. op is CREATE, UPDATE or DELETE; old
// may be nil.
func (p *Plugin) Validate(op string, obj, old proto.Message) (*pluginv1.AdmissionResponse, error) {
	p.t.Helper()
	resp := &pluginv1.AdmissionResponse{}
	return resp, p.roundTrip(abi.ExportValidate, p.admissionRequest(op, obj, old), resp)
}

// Mutate runs admission.mutate and returns the object as changed (obj
// itself when the plugin changed nothing).
func (p *Plugin) Mutate(op string, obj, old proto.Message) (proto.Message, *pluginv1.AdmissionResponse, error) {
	p.t.Helper()
	resp := &pluginv1.AdmissionResponse{}
	if err := p.roundTrip(abi.ExportMutate, p.admissionRequest(op, obj, old), resp); err != nil {
		return nil, nil, err
	}
	if len(resp.GetPatchedObject()) == 0 {
		return obj, resp, nil
	}
	out := obj.ProtoReflect().New().Interface()
	if err := proto.Unmarshal(resp.GetPatchedObject(), out); err != nil {
		p.t.Fatalf("plugintest: patched_object is not a %T: %v", obj, err)
	}
	return out, resp, nil
}

func (p *Plugin) admissionRequest(op string, obj, old proto.Message) *pluginv1.AdmissionRequest {
	p.t.Helper()
	req := &pluginv1.AdmissionRequest{User: &pluginv1.UserInfo{Name: "test"}}
	switch strings.ToUpper(op) {
	case "CREATE":
		req.Operation = pluginv1.Operation_OPERATION_CREATE
	case "UPDATE":
		req.Operation = pluginv1.Operation_OPERATION_UPDATE
	case "DELETE":
		req.Operation = pluginv1.Operation_OPERATION_DELETE
	default:
		p.t.Fatalf("plugintest: operation %q; want CREATE, UPDATE or DELETE", op)
	}
	for _, m := range []proto.Message{obj, old} {
		if m == nil {
			continue
		}
		k, ok := kindOf(m)
		if !ok {
			p.t.Fatalf("plugintest: %T is not a wharf.v1 kind", m)
		}
		req.Kind = k
		if mo, ok := m.(interface{ GetMetadata() *wharfv1.ObjectMeta }); ok {
			req.Namespace, req.Name = mo.GetMetadata().GetNamespace(), mo.GetMetadata().GetName()
		}
	}
	var err error
	if obj != nil {
		if req.Object, err = (proto.MarshalOptions{Deterministic: true}).Marshal(obj); err != nil {
			p.t.Fatal(err)
		}
	}
	if old != nil {
		if req.OldObject, err = (proto.MarshalOptions{Deterministic: true}).Marshal(old); err != nil {
			p.t.Fatal(err)
		}
	}
	return req
}

// Reconcile runs controller.reconcile for one object (nil: deleted, then
// kind, namespace and name come from the arguments).
func (p *Plugin) Reconcile(kind, namespace, name string, obj proto.Message, now time.Time) (*pluginv1.ReconcileResponse, error) {
	p.t.Helper()
	req := &pluginv1.ReconcileRequest{Kind: kind, Namespace: namespace, Name: name, Now: timestamppb.New(now)}
	if obj != nil {
		b, err := proto.Marshal(obj)
		if err != nil {
			p.t.Fatal(err)
		}
		req.Object = b
	}
	resp := &pluginv1.ReconcileResponse{}
	return resp, p.roundTrip(abi.ExportReconcile, req, resp)
}

func kindOf(m proto.Message) (string, bool) {
	name := m.ProtoReflect().Descriptor().FullName()
	for _, k := range wharfv1.Kinds {
		if k.New().ProtoReflect().Descriptor().FullName() == name {
			return k.Kind, true
		}
	}
	return "", false
}

// parseResources turns quantities into the ABI's integers: cpu in
// millicores, the rest in whole units.
func parseResources(t testing.TB, list map[string]string) map[string]int64 {
	t.Helper()
	out := make(map[string]int64, len(list))
	for name, s := range list {
		q, err := quantity.Parse(s)
		if err != nil {
			t.Fatalf("plugintest: %s %q: %v", name, s, err)
		}
		if name == "cpu" {
			out[name] = q.MilliValue()
		} else {
			out[name] = q.Value()
		}
	}
	return out
}

// PodRequests computes what the host sends as a pod's requests: the sum
// over containers of requests (limits where a request is missing), raised
// to the largest init container, and "pods": 1.
func PodRequests(t testing.TB, pod *wharfv1.Pod) map[string]int64 {
	t.Helper()
	sum := map[string]int64{}
	one := func(c *wharfv1.Container) map[string]int64 {
		r := parseResources(t, c.GetResources().GetRequests())
		for name, v := range parseResources(t, c.GetResources().GetLimits()) {
			if _, ok := r[name]; !ok {
				r[name] = v
			}
		}
		return r
	}
	for _, c := range pod.GetSpec().GetContainers() {
		for k, v := range one(c) {
			sum[k] += v
		}
	}
	for _, c := range pod.GetSpec().GetInitContainers() {
		for k, v := range one(c) {
			sum[k] = max(sum[k], v)
		}
	}
	sum["pods"] = 1
	return sum
}
