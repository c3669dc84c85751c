package plugin

import (
	"bytes"
	"errors"
	"fmt"
	"runtime/debug"

	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin/abi"
	"github.com/wharfhq/wharf/sdk/plugin/internal/hook"
)

// guest is a registered plugin at the level of the ABI: request bytes in,
// response bytes out, for each export. The wasip1 exports and plugintest
// both call it, so a plugin tested in-process goes through the same
// decoding and encoding as in the host.
type guest struct {
	info Info
	impl any
	md   *pluginv1.PluginMetadata
	// impl as each interface it may implement, asserted once: a type
	// assertion per call is a lookup in the runtime's itab table, code
	// and data that a scheduling call finds cold.
	filterer   Filter
	scorer     Scorer
	idScorer   IDScorer
	byteScorer IDByteScorer
	selector   PodSelector
	preparer   NodePreparer

	// nodes by id, as the host sent them (scheduler plugins), and a bit
	// per id set where nodes has one: a call checks its candidates there,
	// in a few cache lines rather than a pointer each.
	nodes   []*Node
	present []uint64
	held    int      // nodes in nodes: when len(nodes), there is no gap
	upserts []*Node  // scratch for applyNodes
	removed []uint32 // scratch for applyNodes
	// buffers reused across calls: the guest is single-threaded.
	pod      Pod
	fields   schedFields // of the request
	ids      []uint32    // the call's candidates: in idBuf, or a view of the request
	idBuf    []uint32
	cand     []*Node
	verdicts []Verdict
	scores   []int64
	out      []byte
	enc      verdictEncoder
}

func newGuest(info Info, impl any) (*guest, error) {
	md, err := metadataOf(info, impl)
	if err != nil {
		return nil, err
	}
	g := &guest{info: info, impl: impl, md: md}
	g.filterer, _ = impl.(Filter)
	g.scorer, _ = impl.(Scorer)
	g.idScorer, _ = impl.(IDScorer)
	g.byteScorer, _ = impl.(IDByteScorer)
	g.selector, _ = impl.(PodSelector)
	g.preparer, _ = impl.(NodePreparer)
	return g, nil
}

func init() {
	// The protobuf runtime builds each message type's tables on first use;
	// inside WebAssembly that takes milliseconds. Build them now, while the
	// host starts the instance, not during the first call's deadline.
	for _, k := range wharfv1.Kinds {
		_ = proto.Unmarshal(nil, k.New())
	}
	for _, m := range []proto.Message{&pluginv1.AdmissionRequest{}, &pluginv1.ReconcileRequest{}, &pluginv1.ConfigureRequest{}} {
		_ = proto.Unmarshal(nil, m)
	}
	_, _ = proto.Marshal(&pluginv1.AdmissionResponse{Allowed: true})
	_, _ = proto.Marshal(&pluginv1.ReconcileResponse{Actions: []*pluginv1.Action{{}}})
	hook.New = func(info, impl any) (hook.Guest, error) {
		i, ok := info.(Info)
		if !ok {
			return nil, fmt.Errorf("plugin: info is %T, not plugin.Info", info)
		}
		return newGuest(i, impl)
	}
}

// Metadata returns PluginMetadata as protobuf (wharf_metadata).
func (g *guest) Metadata() []byte {
	b, _ := proto.Marshal(g.md)
	return b
}

// Call runs one export on a request and returns the response bytes. A
// panic in the plugin becomes the response's error.
func (g *guest) Call(export string, req []byte) (resp []byte) {
	defer func() {
		if r := recover(); r != nil {
			resp = errorResponse(export, fmt.Sprintf("panic: %v\n%s", r, debug.Stack()))
		}
	}()
	switch export {
	case abi.ExportConfigure:
		return g.configure(req)
	case abi.ExportNodes:
		return g.updateNodes(req)
	case abi.ExportFilter:
		return g.filter(req)
	case abi.ExportScore:
		return g.score(req)
	case abi.ExportMutate:
		return g.admit(req, true)
	case abi.ExportValidate:
		return g.admit(req, false)
	case abi.ExportReconcile:
		return g.reconcile(req)
	}
	return errorResponse(export, "unknown export "+export)
}

// errorResponse encodes a response of export's type with only error set.
// Every response message has error as field 15, so one encoding serves.
func errorResponse(_ string, msg string) []byte {
	b, _ := proto.Marshal(&pluginv1.ConfigureResponse{Error: msg})
	return b
}

func marshal(export string, m proto.Message) []byte {
	b, err := proto.Marshal(m)
	if err != nil {
		return errorResponse(export, "encode the response: "+err.Error())
	}
	return b
}

// setMemoryLimit adapts the garbage collector to the instance's memory
// cap; it does nothing outside WebAssembly (plugintest runs plugins in
// the test's process).
var setMemoryLimit = func(uint64) {}

func (g *guest) configure(b []byte) []byte {
	req := &pluginv1.ConfigureRequest{}
	if err := proto.Unmarshal(b, req); err != nil {
		return errorResponse(abi.ExportConfigure, "decode ConfigureRequest: "+err.Error())
	}
	if limit := req.GetMemoryLimitBytes(); limit > 0 {
		setMemoryLimit(limit)
	}
	c, ok := g.impl.(Configurer)
	if !ok {
		if cfg := string(req.GetConfig()); cfg != "" && cfg != "{}" && cfg != "null" {
			return marshal(abi.ExportConfigure, &pluginv1.ConfigureResponse{Error: g.md.GetName() + " takes no config; remove spec.config"})
		}
		return nil
	}
	if err := c.Configure(req.GetConfig()); err != nil {
		return marshal(abi.ExportConfigure, &pluginv1.ConfigureResponse{Error: err.Error()})
	}
	return nil
}

func (g *guest) updateNodes(b []byte) []byte {
	if err := g.applyNodes(b); err != nil {
		return errorResponse(abi.ExportNodes, err.Error())
	}
	return nil
}

// applyNodes applies a NodeUpdate. When it is malformed, none of its
// upserts, accounting and removals are applied (a reset, which comes
// first, is): the host sends it again.
func (g *guest) applyNodes(b []byte) error {
	if ok, err := g.applyAccounting(b); ok {
		return err
	}
	upserts, removed := g.upserts[:0], g.removed[:0]
	err := walk(b, func(f field) error {
		switch {
		case f.num == 1 && !f.bytes:
			if f.x != 0 {
				clear(g.nodes)
				g.nodes = g.nodes[:0]
				clear(g.present)
				g.held = 0
			}
		case f.num == 2 && f.bytes:
			n, err := decodeSchedulerNode(f.v)
			if err != nil {
				return err
			}
			upserts = append(upserts, n)
		case f.num == 3 && f.bytes:
			for v := f.v; len(v) > 0; {
				id, k := consumeVarint(v)
				if k < 0 {
					return errWire
				}
				v = v[k:]
				removed = append(removed, uint32(id))
			}
		case f.num == 4 && f.bytes:
			n, err := g.accounted(f.v)
			if err != nil {
				return err
			}
			upserts = append(upserts, n)
		}
		return nil
	})
	g.upserts, g.removed = upserts[:0], removed[:0]
	defer clear(upserts)
	if err != nil {
		return fmt.Errorf("NodeUpdate: %w", err)
	}
	for _, id := range removed {
		if int(id) < len(g.nodes) {
			if g.nodes[id] != nil {
				g.held--
			}
			g.nodes[id] = nil
			g.present[id>>6] &^= 1 << (id & 63)
		}
	}
	prep := g.preparer
	for _, n := range upserts {
		id := int(n.ID)
		if id >= len(g.nodes) {
			g.nodes = append(g.nodes, make([]*Node, id+1-len(g.nodes))...)
			if words := (len(g.nodes) + 63) / 64; words > len(g.present) {
				g.present = append(g.present, make([]uint64, words-len(g.present))...)
			}
		}
		if g.nodes[id] == nil {
			g.held++
		}
		g.nodes[id] = n
		g.present[id>>6] |= 1 << (id & 63)
		if prep != nil {
			prep.PrepareNode(n)
		}
	}
	clear(upserts)
	g.upserts = upserts[:0]
	return nil
}

// applyAccounting is applyNodes for the update that comes with most
// scheduling calls: the accounting of the nodes pods were placed on (or
// left), and nothing else. ok is false, and nothing done, for any other
// update. When one accounting is malformed none is applied, as in
// applyNodes.
func (g *guest) applyAccounting(b []byte) (ok bool, err error) {
	for rest := b; len(rest) > 0; {
		if len(rest) < 2 || rest[0] != 4<<3|byte(protowire.BytesType) {
			return false, nil
		}
		_, l := consumeBytes(rest[1:])
		if l < 0 {
			return false, nil
		}
		rest = rest[1+l:]
	}
	if len(b) == 0 {
		return false, nil
	}
	ups := g.upserts[:0]
	for rest := b; len(rest) > 0; {
		v, l := consumeBytes(rest[1:])
		rest = rest[1+l:]
		n, err := g.accounted(v)
		if err != nil {
			clear(ups)
			return true, fmt.Errorf("NodeUpdate: %w", err)
		}
		ups = append(ups, n)
	}
	for _, n := range ups {
		g.nodes[n.ID] = n // present already
		if g.preparer != nil {
			g.preparer.PrepareNode(n)
		}
	}
	clear(ups)
	g.upserts = ups[:0]
	return true, nil
}

// accounted decodes a NodeAccounting (a pod placed on the node, or gone)
// into a new version of the node, with the object and allocatable the
// current one has. It comes with most scheduling calls: one allocation.
func (g *guest) accounted(v []byte) (*Node, error) {
	a := &accountedNode{}
	n := &a.Node
	id, err := decodeAccounting(v, n, a.enc[:], a.gpus[:])
	if err != nil {
		return nil, err
	}
	prev := g.node(id)
	if prev == nil {
		return nil, fmt.Errorf("accounting for node id %d, which the host never sent (host bug)", id)
	}
	n.ID, n.Node, n.Allocatable = id, prev.Node, prev.Allocatable
	return n, nil
}

// accountedNode is a node's new version after a pod was placed on it (or
// left), with room for its accounting, so that it takes one allocation.
type accountedNode struct {
	Node
	// The NodeAccounting's encoding, which Requested reads: 96 bytes
	// hold the usual four resources (cpu, memory, pods, a GPU resource;
	// about 60 bytes) with the id and eight GPU indices.
	enc  [96]byte
	gpus [8]int32 // AllocatedGPUs
}

// node returns the node with id, nil when there is none.
func (g *guest) node(id uint32) *Node {
	if int(id) < len(g.nodes) {
		return g.nodes[id]
	}
	return nil
}

// candidates resolves node ids to the nodes the host sent.
func (g *guest) candidates(ids []uint32) ([]*Node, error) {
	if cap(g.cand) < len(ids) {
		g.cand = make([]*Node, len(ids))
	}
	cand := g.cand[:len(ids)]
	nodes := g.nodes
	for i, id := range ids {
		if int(id) >= len(nodes) || nodes[id] == nil {
			return nil, unknownNode(id)
		}
		cand[i] = nodes[id]
	}
	return cand, nil
}

func unknownNode(id uint32) error {
	return fmt.Errorf("node id %d is unknown: the host never sent it (host bug)", id)
}

// schedRequest decodes a FilterRequest or ScoreRequest into g.pod and
// g.ids (checked to be of nodes the guest holds when check is set), after
// applying the node updates it carries; selected is false when the plugin
// is a PodSelector that does not select the pod.
func (g *guest) schedRequest(b []byte, check bool) (selected bool, err error) {
	p := &g.pod
	p.reset()
	g.fields.reset()
	if err := decodeSchedRequest(b, p, &g.fields); err != nil {
		return false, err
	}
	for _, up := range g.fields.updates {
		if err := g.applyNodes(up); err != nil {
			return false, fmt.Errorf("node_update: %w", err)
		}
	}
	if !g.selects(p) {
		return false, p.err
	}
	if len(g.fields.ids) == 1 {
		g.ids = idsOf(g.fields.ids[0], g.idBuf)
		if !viewsIDs {
			g.idBuf = g.ids[:0]
		}
	} else { // the ids in several fields (or none): concatenated
		ids := g.idBuf[:0]
		for _, f := range g.fields.ids {
			ids = appendIDs(ids, f)
		}
		g.ids, g.idBuf = ids, ids[:0]
	}
	if check {
		return true, g.checkIDs(g.ids)
	}
	return true, nil
}

// checkIDs checks that every id is of a node the guest holds.
func (g *guest) checkIDs(ids []uint32) error {
	if n := uint32(len(g.nodes)); g.held == len(g.nodes) && n < 1<<31 {
		// No gap: every id below n is held. (id-n)&^id has its top bit
		// set exactly when id < n (for n and ids below 2^31, and an id of
		// 2^31 or more has its own top bit set), so the bits of all ids
		// ANDed together say whether all are; eight at a time, with no
		// branch but the loop's.
		all := ^uint32(0)
		rest := ids
		for ; len(rest) >= 8; rest = rest[8:] {
			a := (*[8]uint32)(rest)
			all &= (a[0] - n) &^ a[0] & (a[1] - n) &^ a[1] & (a[2] - n) &^ a[2] & (a[3] - n) &^ a[3] &
				(a[4] - n) &^ a[4] & (a[5] - n) &^ a[5] & (a[6] - n) &^ a[6] & (a[7] - n) &^ a[7]
		}
		for _, id := range rest {
			all &= (id - n) &^ id
		}
		if all>>31 != 0 {
			return nil
		}
	}
	present := g.present
	for _, id := range ids {
		if w := int(id >> 6); w >= len(present) || present[w]&(1<<(id&63)) == 0 {
			return unknownNode(id)
		}
	}
	return nil
}

// selects reports whether the plugin has an opinion on p: it requests one
// of Info.PodResources (when there are any), and the plugin's PodSelector
// (if it is one) selects it.
func (g *guest) selects(p *Pod) bool {
	if rs := g.info.PodResources; len(rs) > 0 {
		requested := false
		for _, r := range rs {
			if p.Request(r) != 0 {
				requested = true
				break
			}
		}
		if !requested {
			return false
		}
	}
	return g.selector == nil || g.selector.SelectsPod(p)
}

func (g *guest) filter(b []byte) []byte {
	f := g.filterer
	if f == nil {
		return errorResponse(abi.ExportFilter, g.md.GetName()+" does not implement scheduler.filter")
	}
	selected, err := g.schedRequest(b, false)
	if err != nil {
		return errorResponse(abi.ExportFilter, "FilterRequest: "+err.Error())
	}
	if !selected {
		return nil // every node fits
	}
	nodes, err := g.candidates(g.ids)
	if err != nil {
		return errorResponse(abi.ExportFilter, "FilterRequest: "+err.Error())
	}
	if cap(g.verdicts) < len(nodes) {
		g.verdicts = make([]Verdict, len(nodes))
	}
	out := g.verdicts[:len(nodes)]
	clear(out)
	err = f.Filter(&g.pod, nodes, out)
	if g.pod.err != nil { // the plugin saw a pod it could not decode
		err = g.pod.err
	}
	if err != nil {
		return errorResponse(abi.ExportFilter, err.Error())
	}
	g.out = g.out[:0]
	fallback := "rejected by plugin " + g.md.GetName()
	g.enc.reset()
	for i := range out {
		if out[i].Rejected {
			g.out = g.enc.append(g.out, i, &out[i], fallback)
		}
	}
	clear(out) // drop the reasons for the garbage collector
	return g.out
}

// skipResponse is ScoreResponse{Skip: true}.
var skipResponse = protowire.AppendVarint(protowire.AppendTag(nil, 2, protowire.VarintType), 1)

func (g *guest) score(b []byte) []byte {
	s, is := g.scorer, g.idScorer
	if s == nil {
		return errorResponse(abi.ExportScore, g.md.GetName()+" does not implement scheduler.score")
	}
	byID := is != nil
	selected, err := g.schedRequest(b, byID) // ids checked here for an IDScorer
	if err != nil {
		return errorResponse(abi.ExportScore, "ScoreRequest: "+err.Error())
	}
	if !selected {
		return skipResponse
	}
	ids := g.ids
	if bs := g.byteScorer; bs != nil {
		return g.scoreBytes(bs, ids)
	}
	if cap(g.scores) < len(ids) {
		g.scores = make([]int64, len(ids))
	}
	scores := g.scores[:len(ids)]
	clear(scores)
	if byID {
		err = is.ScoreIDs(&g.pod, ids, scores)
	} else {
		nodes, cerr := g.candidates(ids)
		if cerr != nil {
			return errorResponse(abi.ExportScore, "ScoreRequest: "+cerr.Error())
		}
		err = s.Score(&g.pod, nodes, scores)
	}
	if resp := g.scoreFailed(err); resp != nil {
		return resp
	}
	var bad int
	if g.out, bad = appendScores(g.out[:0], scores); bad >= 0 {
		return g.badScore(scores[bad], ids[bad])
	}
	return g.out
}

// scoreFailed is the response to a score call whose scorer returned err
// (nil: none, send the scores).
func (g *guest) scoreFailed(err error) []byte {
	if g.pod.err != nil { // the plugin saw a pod it could not decode
		err = g.pod.err
	}
	switch {
	case err == nil:
		return nil
	case err == ErrSkip || errors.Is(err, ErrSkip):
		return skipResponse
	}
	return errorResponse(abi.ExportScore, err.Error())
}

// badScore is the response to a score call that gave node id a score
// outside [MinScore, MaxScore].
func (g *guest) badScore(score int64, id uint32) []byte {
	return errorResponse(abi.ExportScore, fmt.Sprintf("score %d for node %q is outside [%d, %d]", score, g.nodes[id].GetMetadata().GetName(), MinScore, MaxScore))
}

// scoreBytes is score for an IDByteScorer: the scores go straight into
// the response.
func (g *guest) scoreBytes(bs IDByteScorer, ids []uint32) []byte {
	out := protowire.AppendTag(g.out[:0], 1, protowire.BytesType)
	out = protowire.AppendVarint(out, uint64(len(ids)))
	n := len(out)
	out = append(out, make([]byte, len(ids))...)
	g.out = out
	dst := out[n : n+len(ids)]
	if resp := g.scoreFailed(bs.ScoreIDBytes(&g.pod, ids, dst)); resp != nil {
		return resp
	}
	if bad := overMaxScore(dst); bad >= 0 {
		return g.badScore(int64(dst[bad]), ids[bad])
	}
	return out
}

func (g *guest) admit(b []byte, mutate bool) []byte {
	export := abi.ExportValidate
	if mutate {
		export = abi.ExportMutate
	}
	var m Mutator
	var v Validator
	var ok bool
	if mutate {
		m, ok = g.impl.(Mutator)
	} else {
		v, ok = g.impl.(Validator)
	}
	if !ok {
		return errorResponse(export, g.md.GetName()+" does not implement "+export)
	}
	wire := &pluginv1.AdmissionRequest{}
	if err := proto.Unmarshal(b, wire); err != nil {
		return errorResponse(export, "decode AdmissionRequest: "+err.Error())
	}
	req := &AdmissionRequest{
		Operation: opName(wire.GetOperation()),
		Kind:      wire.GetKind(),
		Namespace: wire.GetNamespace(),
		Name:      wire.GetName(),
		User:      UserInfo{Name: wire.GetUser().GetName(), Groups: wire.GetUser().GetGroups()},
		DryRun:    wire.GetDryRun(),
	}
	var err error
	if req.Object, err = decodeObject(req.Kind, wire.GetObject()); err != nil {
		return errorResponse(export, "decode object: "+err.Error())
	}
	if req.OldObject, err = decodeObject(req.Kind, wire.GetOldObject()); err != nil {
		return errorResponse(export, "decode old object: "+err.Error())
	}
	if mutate {
		err = m.Mutate(req)
	} else {
		err = v.Validate(req)
	}
	resp := &pluginv1.AdmissionResponse{Allowed: err == nil, Warnings: req.warnings}
	switch {
	case errors.Is(err, ErrFailed):
		return errorResponse(export, err.Error())
	case err != nil:
		resp.Reason = err.Error()
	case mutate && req.Object != nil:
		// The host sends objects deterministically encoded: the same
		// encoding of the result means no change (cheaper inside
		// WebAssembly than cloning and comparing the object).
		p, merr := proto.MarshalOptions{Deterministic: true}.Marshal(req.Object)
		if merr != nil {
			return errorResponse(export, "encode the changed object: "+merr.Error())
		}
		if !bytes.Equal(p, wire.GetObject()) {
			resp.PatchedObject = p
		}
	}
	return marshal(export, resp)
}

func opName(op pluginv1.Operation) string {
	switch op {
	case pluginv1.Operation_OPERATION_CREATE:
		return "CREATE"
	case pluginv1.Operation_OPERATION_UPDATE:
		return "UPDATE"
	case pluginv1.Operation_OPERATION_DELETE:
		return "DELETE"
	}
	return ""
}

// decodeObject decodes a wharf.v1 message of kind; nil for no bytes.
func decodeObject(kind string, b []byte) (proto.Message, error) {
	if len(b) == 0 {
		return nil, nil
	}
	obj := newObject(kind)
	if obj == nil {
		return nil, fmt.Errorf("kind %q is unknown to this SDK; rebuild the plugin with a newer SDK", kind)
	}
	if err := proto.Unmarshal(b, obj); err != nil {
		return nil, err
	}
	return obj, nil
}

func (g *guest) reconcile(b []byte) []byte {
	r, ok := g.impl.(Reconciler)
	if !ok {
		return errorResponse(abi.ExportReconcile, g.md.GetName()+" does not implement controller.reconcile")
	}
	wire := &pluginv1.ReconcileRequest{}
	if err := proto.Unmarshal(b, wire); err != nil {
		return errorResponse(abi.ExportReconcile, "decode ReconcileRequest: "+err.Error())
	}
	obj, err := decodeObject(wire.GetKind(), wire.GetObject())
	if err != nil {
		return errorResponse(abi.ExportReconcile, "decode object: "+err.Error())
	}
	res, err := r.Reconcile(&ReconcileRequest{
		Kind: wire.GetKind(), Namespace: wire.GetNamespace(), Name: wire.GetName(),
		Object: obj, Now: wire.GetNow().AsTime(),
	})
	if err != nil {
		return errorResponse(abi.ExportReconcile, err.Error())
	}
	resp := &pluginv1.ReconcileResponse{RequeueAfterMs: res.RequeueAfter.Milliseconds()}
	for i, a := range res.Actions {
		wa := &pluginv1.Action{
			Type: a.Type, Kind: a.Kind, Namespace: a.Namespace, Name: a.Name,
			ResourceVersion: a.ResourceVersion, GracePeriodSeconds: a.GracePeriodSeconds,
		}
		if a.Object != nil {
			if wa.Object, err = proto.Marshal(a.Object); err != nil {
				return errorResponse(abi.ExportReconcile, fmt.Sprintf("action %d: encode object: %v", i, err))
			}
		}
		if wa.Kind == "" {
			return errorResponse(abi.ExportReconcile, fmt.Sprintf("action %d names no kind; make actions with plugin.Create, Update, UpdateStatus or Delete", i))
		}
		resp.Actions = append(resp.Actions, wa)
	}
	return marshal(abi.ExportReconcile, resp)
}
