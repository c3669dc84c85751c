package plugin

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// Pod is the pod being scheduled. Nothing of it is decoded until a method
// asks: Request, Label and Annotation read one request, label or
// annotation without decoding the others, Name, Namespace, Labels and
// Annotations decode the pod's metadata by hand (once per call), and
// Object decodes the whole pod, which costs tens of microseconds inside
// WebAssembly. A plugin that has no opinion on most pods (a PodSelector)
// then pays for almost nothing on them, and one that reads an annotation
// or two does not fill maps with the others.
//
// A Pod and what its methods return are valid during the call it was
// passed to; do not keep them, and treat the maps as read-only.
type Pod struct {
	raw      []byte   // the wharf.v1.Pod, encoded, in the request
	requests [][]byte // the pod_requests entries, encoded

	metaDecoded         bool // name to annotations
	name, namespace     string
	labels, annotations map[string]string
	reqs                map[string]int64 // decoded, or NewPod's
	reqsDecoded         bool
	// The last Request: the SDK and the plugin ask for the same resource
	// several times a call (the plugin's podResources, then its own code).
	lastReq    string
	lastReqVal int64
	lastReqOK  bool
	obj        *wharfv1.Pod
	err        error // the first decoding error

	// seen are strings Label and Annotation returned before, kept across
	// calls: pods of one workload carry the same values, and returning the
	// string from before does not allocate.
	seen     [4]string
	seenNext int
}

// reset makes p the pod of a new request, keeping its maps and seen for
// reuse. Field by field: assigning a whole Pod clears it through the
// runtime, code that a scheduling call would find cold.
func (p *Pod) reset() {
	p.raw = nil
	p.requests = p.requests[:0]
	p.metaDecoded, p.reqsDecoded, p.lastReqOK = false, false, false
	p.name, p.namespace = "", ""
	p.obj, p.err = nil, nil
}

// Name is the pod's metadata.name.
func (p *Pod) Name() string { p.decodeMeta(); return p.name }

// Namespace is the pod's metadata.namespace.
func (p *Pod) Namespace() string { p.decodeMeta(); return p.namespace }

// Labels are the pod's metadata.labels.
func (p *Pod) Labels() map[string]string { p.decodeMeta(); return p.labels }

// Annotations are the pod's metadata.annotations.
func (p *Pod) Annotations() map[string]string { p.decodeMeta(); return p.annotations }

// Label returns one of the pod's labels, without decoding the others.
func (p *Pod) Label(key string) (string, bool) { return p.metaEntry(9, p.labels, key) }

// Annotation returns one of the pod's annotations, without decoding the
// others.
func (p *Pod) Annotation(key string) (string, bool) { return p.metaEntry(10, p.annotations, key) }

// metaEntry looks key up in decoded if the metadata is decoded, else in
// field num (labels 9, annotations 10) of the encoded metadata.
func (p *Pod) metaEntry(num protowire.Number, decoded map[string]string, key string) (string, bool) {
	if p.metaDecoded {
		v, ok := decoded[key]
		return v, ok
	}
	if p.raw == nil {
		return "", false
	}
	v, ok, err := podMetaEntry(p.raw, num, key)
	if err != nil {
		p.fail(err)
		return "", false
	}
	if !ok {
		return "", false
	}
	for _, s := range p.seen {
		if s == string(v) {
			return s, true
		}
	}
	s := string(v)
	p.seen[p.seenNext] = s
	p.seenNext = (p.seenNext + 1) % len(p.seen)
	return s, true
}

// Request returns one of the pod's requests parsed to an integer: "cpu" in
// millicores, "memory" in bytes, "pods" (1) and extended resources such as
// "nvidia.com/gpu" as counts; 0 when the pod does not request it.
func (p *Pod) Request(resource string) int64 {
	if p.reqsDecoded {
		return p.reqs[resource]
	}
	if p.lastReqOK && p.lastReq == resource {
		return p.lastReqVal
	}
	var v int64
	for _, e := range p.requests {
		k, x, err := int64Entry(e)
		if err != nil {
			p.fail(err)
			return 0
		}
		if string(k) == resource {
			v = x // the last entry wins, as in protobuf
		}
	}
	p.lastReq, p.lastReqVal, p.lastReqOK = resource, v, true
	return v
}

// Requests returns every request of the pod, as Request does one.
func (p *Pod) Requests() map[string]int64 {
	if p.reqsDecoded {
		return p.reqs
	}
	if p.reqs == nil {
		p.reqs = make(map[string]int64, len(p.requests))
	}
	clear(p.reqs)
	for _, e := range p.requests {
		k, v, err := int64Entry(e)
		if err != nil {
			p.fail(err)
			break
		}
		p.reqs[string(k)] = v
	}
	p.reqsDecoded = true
	return p.reqs
}

// Object returns the whole pod, decoding it on first use. It returns an
// empty pod if the bytes cannot be decoded (the host sent them, so that
// would be a host bug; the call then fails).
func (p *Pod) Object() *wharfv1.Pod {
	if p.obj == nil {
		p.obj = &wharfv1.Pod{}
		p.fail(proto.Unmarshal(p.raw, p.obj))
	}
	return p.obj
}

func (p *Pod) decodeMeta() {
	if p.metaDecoded {
		return
	}
	p.metaDecoded = true
	if p.labels == nil {
		p.labels, p.annotations = map[string]string{}, map[string]string{}
	}
	clear(p.labels) // the maps are reused from call to call
	clear(p.annotations)
	if p.raw != nil {
		p.fail(decodePodMeta(p.raw, p))
	}
}

func (p *Pod) fail(err error) {
	if p.err == nil && err != nil {
		p.err = fmt.Errorf("the pod's encoding: %w (host bug)", err)
	}
}

// NewPod returns a Pod for obj and its requests, for tests that call a
// Filter or Scorer directly (and for a plugin compiled into the host).
// Object returns obj itself.
func NewPod(obj *wharfv1.Pod, requests map[string]int64) *Pod {
	return &Pod{
		metaDecoded: true,
		namespace:   obj.GetMetadata().GetNamespace(),
		name:        obj.GetMetadata().GetName(),
		labels:      obj.GetMetadata().GetLabels(),
		annotations: obj.GetMetadata().GetAnnotations(),
		reqs:        requests,
		reqsDecoded: true,
		obj:         obj,
	}
}

// Node is a node as the host last sent it. The SDK keeps every node the
// host sent; Filter and Score see the candidates.
//
// Every pod placed on a node, or gone from it, makes a new version of the
// node with new Requested and AllocatedGPUs: the host sends only those
// (docs/abi.md), and the new version shares Node and Allocatable with the
// one it replaces (the same pointer and map), which is how a plugin can
// tell that they did not change. Treat them as read-only.
type Node struct {
	// ID is the host's reference for the node.
	ID uint32
	*wharfv1.Node
	// Allocatable and Requested are what the node offers and what its
	// pods take, in the units of Pod.Request.
	Allocatable Resources
	Requested   Resources
	// AllocatedGPUs are the indices of the node's GPUs given to pods.
	AllocatedGPUs []int32
	// Scratch is the plugin's: keep what you derive from the node here
	// (parsed labels, a summary of its GPUs). It starts nil and is dropped
	// when the host sends a new version of the node.
	Scratch any
}

// Free returns what is left of a resource on the node.
func (n *Node) Free(resource string) int64 {
	return n.Allocatable.Get(resource) - n.Requested.Get(resource)
}

// Verdict is Filter's answer for one node; the zero Verdict means the node
// fits.
type Verdict struct {
	Rejected bool
	// Unresolvable: no change to other pods would make the node fit (a
	// label, a taint, a GPU model); otherwise it might (resources).
	Unresolvable bool
	// Reasons are what a user reads in `wharf explain`.
	Reasons []string
}

// Reject returns a verdict that rejects a node for reasons that may
// change (e.g. not enough free GPU memory).
func Reject(reasons ...string) Verdict { return Verdict{Rejected: true, Reasons: reasons} }

// RejectUnresolvable returns a verdict that rejects a node for good (e.g.
// the wrong GPU model).
func RejectUnresolvable(reasons ...string) Verdict {
	return Verdict{Rejected: true, Unresolvable: true, Reasons: reasons}
}

// Filter says which nodes can run a pod (scheduler.filter).
type Filter interface {
	// Filter writes a verdict for nodes[i] into out[i]; out arrives all
	// zero (every node fits). An error is a failure of the plugin.
	Filter(pod *Pod, nodes []*Node, out []Verdict) error
}

// Scorer ranks the nodes that can run a pod (scheduler.score).
type Scorer interface {
	// Score writes a score from 0 to 100 (higher is better) for nodes[i]
	// into scores[i]. Return ErrSkip to have no opinion on the pod; any
	// other error is a failure of the plugin.
	Score(pod *Pod, nodes []*Node, scores []int64) error
}

// IDScorer is implemented by a Scorer that scores candidates by id: the
// SDK then calls ScoreIDs instead of Score, with the candidates' Node.IDs,
// without looking up a *Node for each. A plugin that keeps what it scores
// by in slices indexed by id, filled by PrepareNode (NodePreparer), reads
// one entry per candidate; inside WebAssembly that is several times
// cheaper than following pointers from each Node to what was derived from
// it, and a score call is mostly that, over hundreds of candidates.
//
// Every id is of a node the SDK holds and has called PrepareNode with, in
// its current version. ids are valid during the call (inside WebAssembly
// they are the request's own bytes): do not keep or change them. Score
// must still work (plugintest and a plugin compiled into a host call it).
type IDScorer interface {
	Scorer
	ScoreIDs(pod *Pod, ids []uint32, scores []int64) error
}

// IDByteScorer is implemented by an IDScorer that can write its scores as
// bytes: the SDK then calls ScoreIDBytes instead of ScoreIDs, with out in
// the call's response, where every score from 0 to 100 is the one byte it
// encodes to. A call over hundreds of candidates then skips a pass to
// encode them and the 8 bytes each of a []int64.
//
// ScoreIDBytes writes a score from 0 to 100 for ids[i] into out[i]; out
// arrives all zero. ErrSkip and errors are as for Score. ScoreIDs must
// still work (plugintest and a plugin compiled into a host call it).
type IDByteScorer interface {
	IDScorer
	ScoreIDBytes(pod *Pod, ids []uint32, out []byte) error
}

// NodePreparer is implemented by a Filter or Scorer that derives data from
// each node (into Node.Scratch) once per version of the node: the SDK calls
// PrepareNode when the host sends the node, outside any scheduling call's
// deadline, so the first pod after a burst of node changes is not slow.
type NodePreparer interface {
	PrepareNode(n *Node)
}

// PodSelector is implemented by a Filter or Scorer that deals with some
// pods only (pods that ask for GPUs, say). The SDK asks it about each pod
// first: for a pod it does not select, a filter call accepts every node
// and a score call has no opinion (as with ErrSkip), without the SDK
// looking up the candidate nodes, which for a call over hundreds of nodes
// is most of its cost inside WebAssembly.
type PodSelector interface {
	SelectsPod(pod *Pod) bool
}

// ErrSkip is what a Scorer returns to have no opinion on a pod.
var ErrSkip = errors.New("skip")

// Scores must be in [MinScore, MaxScore].
const (
	MinScore = 0
	MaxScore = 100
)
