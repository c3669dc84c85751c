// Package scorer is the example GPU-aware scheduling plugin's code (the
// command plugins/examples/gpuscore registers it in its WebAssembly
// module). It keeps GPU pods off nodes without enough free GPUs of a
// wanted model (scheduler.filter) and ranks the rest (scheduler.score) by
// whether their GPU model matches and by how full their GPU memory would
// be (bin-packing, so that whole GPU nodes stay free for large jobs).
//
// It is a package of its own, not part of package main, so that the
// scheduler benchmark (wharf bench schedule --score-plugin) can run the
// same Go code compiled into the scheduler, next to the module.
//
// A pod asks for GPUs with the resource nvidia.com/gpu and may name the
// models it wants in the annotation gpu.wharf.dev/models
// ("NVIDIA H100 80GB HBM3,NVIDIA A100-SXM4-80GB"). Pods without GPUs are
// not its business: it accepts every node and skips scoring.
//
// Config (all optional): {"modelWeight": 60, "binpackWeight": 40}, each 0
// to 100 and together at most 100.
package scorer

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin"
)

const (
	resourceGPU = "nvidia.com/gpu"
	// AnnotationModels names the GPU models a pod wants, comma-separated.
	AnnotationModels = "gpu.wharf.dev/models"
)

// Info is the plugin's metadata.
var Info = plugin.Info{
	Name:         "gpu-score",
	Version:      "1.0.0",
	Description:  "prefers nodes with the GPU model a pod names and bin-packs GPU memory",
	ConfigSchema: `{"type":"object","properties":{"modelWeight":{"type":"integer","minimum":0,"maximum":100},"binpackWeight":{"type":"integer","minimum":0,"maximum":100}},"additionalProperties":false}`,
	// Pods without GPUs are not its business: the host need not call it.
	PodResources: []string{resourceGPU},
}

type config struct {
	ModelWeight   int64 `json:"modelWeight"`
	BinpackWeight int64 `json:"binpackWeight"`
}

// GPUScore is the plugin: a plugin.Filter, plugin.Scorer (and
// plugin.IDScorer, plugin.IDByteScorer), plugin.PodSelector,
// plugin.NodePreparer and plugin.Configurer. Like any plugin it is not
// safe for concurrent use (the host runs each instance single-threaded).
type GPUScore struct {
	cfg config
	// Models are compared as small integers: each model name
	// (lowercased) gets an id the first time the plugin sees it. Scoring
	// touches every candidate node for every pod, and inside WebAssembly
	// every string comparison counts.
	models map[string]int
	raw    map[string]int // the same by name as sent, not normalized

	// What scoring reads of each node, by node id (see flatNode and
	// hotNode), and what it is derived from. A score call reads one hot
	// entry per candidate: no pointers to follow, no interfaces, no maps.
	flat []flatNode
	hot  []hotNode
	devs []devices
	slow []*summary // the nodes whose flat entry says see here

	// The last pod's wanted models, by annotation value.
	lastAnn    string
	lastModels []int
	haveLast   bool
	ids        []uint32 // scratch for Score
	bytes      []byte   // scratch for ScoreIDs

	// The pod classes seen lately (see podClass), at most maxClasses,
	// and the last one scored.
	classes   []*podClass
	lastClass *podClass
	calls     int // score calls, to find the least recently used class
	built     int // calls when a table was last made; 0: never
}

// podClass is what a pod's scores depend on besides the nodes: how many
// GPUs it wants and which models (its annotation, as sent). The pods of a
// workload share one. A class seen a second time gets a table of every
// node's score for it, which PrepareNode keeps up to date: scoring a pod
// of it then reads one byte per candidate, from a few kilobytes that stay
// in the processor's caches, rather than a hot entry and a branch or two
// (inside WebAssembly, a trip through the function's dispatch loop).
type podClass struct {
	want   int64
	ann    string
	models []int   // the annotation's, as wantedModels has them
	table  []uint8 // by node id, as long as hot; nil until seen twice
	seen   int
	used   int // GPUScore.calls when last scored
}

// maxClasses bounds the classes kept: each table costs PrepareNode a
// score and a byte per node.
const maxClasses = 16

// buildEvery is the fewest calls between two tables made: making one
// scores every node, ten times a call's work over 500 candidates, and
// pods of more classes than maxClasses, in turn, would have tables made
// and dropped all the time.
const buildEvery = 64

// New returns the plugin with its default config.
func New() *GPUScore {
	return &GPUScore{cfg: config{ModelWeight: 60, BinpackWeight: 40}, models: map[string]int{}, raw: map[string]int{}}
}

// Configure implements plugin.Configurer.
func (g *GPUScore) Configure(raw []byte) error {
	c := g.cfg
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return fmt.Errorf("config: %v; want {\"modelWeight\": 0-100, \"binpackWeight\": 0-100}", err)
	}
	if c.ModelWeight < 0 || c.BinpackWeight < 0 || c.ModelWeight+c.BinpackWeight > 100 {
		return fmt.Errorf("config: modelWeight (%d) and binpackWeight (%d) must be 0 or more and add up to at most 100", c.ModelWeight, c.BinpackWeight)
	}
	g.cfg = c
	// Entries made with the old weights (their classes' tables too, as
	// PrepareNode does each node's).
	for _, f := range g.flat {
		if f.node != nil {
			g.PrepareNode(f.node)
		}
	}
	return nil
}

func (g *GPUScore) modelID(name string) int {
	if id, ok := g.raw[name]; ok {
		return id
	}
	norm := strings.ToLower(strings.TrimSpace(name))
	id, ok := g.models[norm]
	if !ok {
		id = len(g.models)
		g.models[norm] = id
	}
	g.raw[name] = id
	return id
}

// wantedModels returns the ids of the models a pod names; nil for any.
// Pods of a workload name the same models: the last answer is kept.
func (g *GPUScore) wantedModels(pod *plugin.Pod) []int {
	s, ok := pod.Annotation(AnnotationModels)
	if !ok {
		return nil
	}
	if g.haveLast && s == g.lastAnn {
		return g.lastModels
	}
	var out []int
	for m := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(m) != "" {
			out = append(out, g.modelID(m))
		}
	}
	g.lastAnn, g.lastModels, g.haveLast = s, out, true
	return out
}

// flatNode is what scoring reads of a node, in one small struct with no
// pointers to follow: its GPU memory in total and in use, and its free
// devices: how many, their model when they share one, and prefix[k], the
// memory of the k smallest. A node with free devices of several models,
// or more than flatGPUs of them, is scored from its summary in
// GPUScore.slow (model is slowModels). What a score call reads of the
// common nodes is apart, in a hotNode.
type flatNode struct {
	model    int32 // of every free device; -1: none is free
	free     int32
	totalMiB int64
	usedMiB  int64
	prefix   [flatGPUs + 1]int64
	node     *plugin.Node // the version it was derived from
}

// hotNode is what a score call reads of a node: the node's score for a
// pod that wants w GPUs (w up to flatGPUs) of any model, any[w], and of
// the model its free devices share, match[w], so that scoring a node is
// one lookup. It is 24 bytes, apart from the rest of the flat entry, so
// that the entries of thousands of nodes stay in the processor's caches:
// a score call reads hundreds of them at random, and a cache miss costs
// more than the rest of the work.
type hotNode struct {
	model int32 // as flatNode.model
	any   [flatGPUs + 1]uint8
	match [flatGPUs + 1]uint8
}

const (
	flatGPUs   = 8
	slowModels = -2
)

// devices are a node object's GPUs as scoring needs them, derived once
// per node object: a node's versions made by pods placed on it share the
// object (see plugin.Node).
type devices struct {
	node     *wharfv1.Node
	model    []int
	memMiB   []int64
	index    []int32
	totalMiB int64
}

// summary is a node's free GPUs by model, and its GPU memory: what
// scoring reads of a node whose flat entry does not suffice.
type summary struct {
	groups   []group // free devices by model
	all      group   // every free device (model -1)
	totalMiB int64
	usedMiB  int64
}

// group holds free devices of one model: prefix[k] is the memory of its k
// smallest devices, so taking k of them costs one lookup.
type group struct {
	model  int
	prefix []int64
}

func (g *group) add(memMiB []int64) {
	slices.Sort(memMiB)
	g.prefix = make([]int64, len(memMiB)+1)
	for i, m := range memMiB {
		g.prefix[i+1] = g.prefix[i] + m
	}
}

func (g *group) free() int64 { return int64(len(g.prefix) - 1) }

// PrepareNode derives what scoring reads of each node (its flat entry)
// when the host sends it, so that scoring only reads. A pod placed on a
// node makes a new version of it with the same node object: the devices
// derived from that object are kept, and only what is free is worked out
// again, without allocating.
func (g *GPUScore) PrepareNode(n *plugin.Node) {
	id := int(n.ID)
	if id >= len(g.flat) {
		g.flat = append(g.flat, make([]flatNode, id+1-len(g.flat))...)
		g.hot = append(g.hot, make([]hotNode, id+1-len(g.hot))...)
		g.devs = append(g.devs, make([]devices, id+1-len(g.devs))...)
		g.slow = append(g.slow, make([]*summary, id+1-len(g.slow))...)
		for _, c := range g.classes {
			if c.table != nil {
				c.table = append(c.table, make([]uint8, len(g.hot)-len(c.table))...)
			}
		}
	}
	d := &g.devs[id]
	if d.node != n.Node || d.node == nil {
		g.deriveDevices(d, n.Node)
	}
	f := &g.flat[id]
	*f = flatNode{totalMiB: d.totalMiB, model: -1, node: n}
	g.slow[id] = nil
	h := &g.hot[id]
	*h = hotNode{}
	g.prepareFlat(f, h, d, n)
	h.model = f.model
	if f.model == slowModels {
		g.slow[id] = g.summarize(n)
	}
	for _, c := range g.classes {
		if c.table != nil {
			c.table[id] = uint8(g.scoreNode(n.ID, c.models, c.want))
		}
	}
}

// prepareFlat fills f and h (but h.model) from the node's devices d and
// its version n.
func (g *GPUScore) prepareFlat(f *flatNode, h *hotNode, d *devices, n *plugin.Node) {
	if len(d.model) == 0 {
		return
	}
	// Allocated devices by position, through a bit mask for the usual
	// indices (0 to 63).
	var mask uint64
	var big []int32
	for _, a := range n.AllocatedGPUs {
		if a >= 0 && a < 64 {
			mask |= 1 << a
		} else {
			big = append(big, a)
		}
	}
	var free [flatGPUs]int64
	for i, m := range d.model {
		ix := d.index[i]
		if (ix >= 0 && ix < 64 && mask&(1<<ix) != 0) || ((ix < 0 || ix >= 64) && slices.Contains(big, ix)) {
			f.usedMiB += d.memMiB[i]
			continue
		}
		switch {
		case f.free >= flatGPUs:
			f.model = slowModels
		case f.model == -1 || f.model == int32(m):
			f.model = int32(m)
			free[f.free] = d.memMiB[i]
		default:
			f.model = slowModels
			free[f.free] = d.memMiB[i]
		}
		f.free++
	}
	if f.model == slowModels {
		return
	}
	// Insertion sort: at most flatGPUs values, usually all equal.
	fr := free[:f.free]
	for i := 1; i < len(fr); i++ {
		for j := i; j > 0 && fr[j] < fr[j-1]; j-- {
			fr[j], fr[j-1] = fr[j-1], fr[j]
		}
	}
	for i, m := range fr {
		f.prefix[i+1] = f.prefix[i] + m
	}
	if f.totalMiB == 0 {
		return // scores 0
	}
	for w := range int64(flatGPUs + 1) {
		// Bin-pack: the share of the node's GPU memory in use once the pod
		// takes its devices (the smallest free ones, as the host does).
		k := min(w, int64(f.free))
		used := min(f.usedMiB+f.prefix[k], f.totalMiB)
		binpack := g.cfg.BinpackWeight * used / f.totalMiB
		h.any[w] = uint8(binpack)
		if int64(f.free) >= w {
			binpack += g.cfg.ModelWeight
		}
		h.match[w] = uint8(min(binpack, plugin.MaxScore))
	}
}

func (g *GPUScore) deriveDevices(d *devices, node *wharfv1.Node) {
	gpus := node.GetStatus().GetGpus()
	*d = devices{node: node, model: make([]int, len(gpus)), memMiB: make([]int64, len(gpus)), index: make([]int32, len(gpus))}
	lastModel, lastID := "", -1 // a node's GPUs are usually of one model
	for i, dev := range gpus {
		if m := dev.GetModel(); lastID < 0 || m != lastModel {
			lastModel, lastID = m, g.modelID(m)
		}
		d.model[i] = lastID
		d.memMiB[i] = dev.GetMemoryMib()
		d.index[i] = dev.GetIndex()
		d.totalMiB += dev.GetMemoryMib()
	}
}

// prepared returns n's flat entry, deriving it first if it is of another
// version of the node (Score and Filter called without PrepareNode, as a
// test may).
func (g *GPUScore) prepared(n *plugin.Node) *flatNode {
	if int(n.ID) >= len(g.flat) || g.flat[n.ID].node != n {
		g.PrepareNode(n)
	}
	return &g.flat[n.ID]
}

// noGPUs is the summary of every node without GPUs.
var noGPUs = &summary{all: group{model: -1, prefix: []int64{0}}}

// summarize is the general form of a node's flat entry, for the nodes
// whose free devices are of several models or too many for it; it groups
// them by model with a map.
func (g *GPUScore) summarize(n *plugin.Node) *summary {
	gpus := n.GetStatus().GetGpus()
	if len(gpus) == 0 {
		return noGPUs
	}
	s := &summary{all: group{model: -1}}
	all := make([]int64, 0, len(gpus))
	model, models := -1, 1
	for _, d := range gpus {
		s.totalMiB += d.GetMemoryMib()
		if slices.Contains(n.AllocatedGPUs, d.GetIndex()) {
			s.usedMiB += d.GetMemoryMib()
			continue
		}
		switch id := g.modelID(d.GetModel()); {
		case model == -1:
			model = id
		case id != model:
			models++
		}
		all = append(all, d.GetMemoryMib())
	}
	s.all.add(all)
	switch {
	case len(all) == 0:
	case models == 1:
		s.groups = []group{{model: model, prefix: s.all.prefix}}
	default:
		byModel := map[int][]int64{}
		for _, d := range gpus {
			if !slices.Contains(n.AllocatedGPUs, d.GetIndex()) {
				id := g.modelID(d.GetModel())
				byModel[id] = append(byModel[id], d.GetMemoryMib())
			}
		}
		for id, mem := range byModel {
			gr := group{model: id}
			gr.add(mem)
			s.groups = append(s.groups, gr)
		}
	}
	return s
}

// fit returns how many free devices are of a wanted model (any, for no
// models), and the memory of the smallest want of them.
func (s *summary) fit(models []int, want int64) (count, memMiB int64) {
	if len(models) == 0 {
		return s.all.free(), s.all.prefix[min(want, s.all.free())]
	}
	var match *group
	for i := range s.groups {
		for _, m := range models {
			if s.groups[i].model != m {
				continue
			}
			if match != nil {
				return s.fitSlow(models, want)
			}
			match = &s.groups[i]
		}
	}
	if match == nil {
		return 0, 0
	}
	return match.free(), match.prefix[min(want, match.free())]
}

// fitSlow is fit for a node with free devices of several wanted models.
func (s *summary) fitSlow(models []int, want int64) (count, memMiB int64) {
	var mem []int64
	for _, g := range s.groups {
		if slices.Contains(models, g.model) {
			for k := 1; k < len(g.prefix); k++ {
				mem = append(mem, g.prefix[k]-g.prefix[k-1])
			}
		}
	}
	slices.Sort(mem)
	for i, m := range mem {
		if int64(i) < want {
			memMiB += m
		}
	}
	return int64(len(mem)), memMiB
}

// SelectsPod implements plugin.PodSelector: pods without GPUs are not the
// plugin's business, and the SDK answers for it without looking at the
// nodes.
func (g *GPUScore) SelectsPod(pod *plugin.Pod) bool { return pod.Request(resourceGPU) > 0 }

// Filter implements plugin.Filter.
func (g *GPUScore) Filter(pod *plugin.Pod, nodes []*plugin.Node, out []plugin.Verdict) error {
	want := pod.Request(resourceGPU)
	if want == 0 {
		return nil
	}
	models := g.wantedModels(pod)
	// Verdicts repeat across nodes: make each once per call (the SDK also
	// encodes a repeated verdict once).
	noGPUs := plugin.RejectUnresolvable("node has no GPUs")
	verdicts := map[int64]plugin.Verdict{}
	for i, n := range nodes {
		f := g.prepared(n)
		if f.totalMiB == 0 && len(n.GetStatus().GetGpus()) == 0 {
			out[i] = noGPUs
			continue
		}
		free, _ := g.fit(n.ID, f, models, want)
		if free >= want {
			continue
		}
		v, ok := verdicts[free]
		if !ok {
			if len(models) > 0 {
				v = plugin.Reject(fmt.Sprintf("%d free GPU(s) of the wanted model, pod wants %d", free, want))
			} else {
				v = plugin.Reject(fmt.Sprintf("%d free GPU(s), pod wants %d", free, want))
			}
			verdicts[free] = v
		}
		out[i] = v
	}
	return nil
}

// fit returns how many free devices of node id (flat entry f) are of a
// wanted model (any, for no models), and the memory of the smallest want
// of them.
func (g *GPUScore) fit(id uint32, f *flatNode, models []int, want int64) (count, memMiB int64) {
	switch {
	case f.model == slowModels:
		return g.slow[id].fit(models, want)
	case len(models) == 0 || slices.Contains(models, int(f.model)):
		free := int64(f.free)
		return free, f.prefix[min(want, free)]
	}
	return 0, 0
}

// Score implements plugin.Scorer.
func (g *GPUScore) Score(pod *plugin.Pod, nodes []*plugin.Node, scores []int64) error {
	ids := g.ids[:0]
	for _, n := range nodes {
		g.prepared(n)
		ids = append(ids, n.ID)
	}
	g.ids = ids
	return g.ScoreIDs(pod, ids, scores)
}

// ScoreIDs implements plugin.IDScorer: ScoreIDBytes, widened.
func (g *GPUScore) ScoreIDs(pod *plugin.Pod, ids []uint32, scores []int64) error {
	if cap(g.bytes) < len(ids) {
		g.bytes = make([]byte, len(ids))
	}
	out := g.bytes[:len(ids)]
	if err := g.ScoreIDBytes(pod, ids, out); err != nil {
		return err
	}
	for i, v := range out {
		scores[i] = int64(v)
	}
	return nil
}

// ScoreIDBytes implements plugin.IDByteScorer: Score over the candidates'
// entries in their class's table, or else their hot entries, into the
// response.
func (g *GPUScore) ScoreIDBytes(pod *plugin.Pod, ids []uint32, out []byte) error {
	want := pod.Request(resourceGPU)
	if want == 0 {
		return plugin.ErrSkip
	}
	c := g.class(pod, want)
	if t := c.table; t != nil {
		out := out[:len(ids)]
		for i, id := range ids {
			out[i] = t[id]
		}
		return nil
	}
	models := c.models
	// No model wanted, or one, is the common case: a lookup in the node's
	// hot entry, no call, no division, and no branch but the loop's (each
	// branch taken inside Go's WebAssembly is a jump through the
	// function's dispatch loop). Nodes that need their summary are rare:
	// the first pass notes whether there are any, the second scores them.
	w := min(want, flatGPUs)
	hot := g.hot
	slow := false
	switch len(models) {
	case 0:
		for i, id := range ids {
			h := &hot[id]
			slow = slow || h.model == slowModels
			out[i] = h.any[w]
		}
	case 1:
		one := int32(models[0])
		if want <= flatGPUs {
			out := out[:len(ids)]
			for i, id := range ids {
				h := &hot[id]
				m := h.model
				v := h.match[w]
				if m != one {
					v = h.any[0] // no device of the model free
				}
				if m == slowModels {
					slow = true
				}
				out[i] = v
			}
		} else {
			// Wanting more than a flat node can have: no model weight.
			for i, id := range ids {
				h := &hot[id]
				slow = slow || h.model == slowModels
				v := h.any[w]
				if h.model != one {
					v = h.any[0]
				}
				out[i] = v
			}
		}
	default:
		for i, id := range ids {
			out[i] = uint8(g.scoreSlow(id, models, want))
		}
		return nil
	}
	if slow {
		for i, id := range ids {
			if hot[id].model == slowModels {
				out[i] = uint8(g.scoreSlow(id, models, want))
			}
		}
	}
	return nil
}

// class returns the class of a pod that wants want GPUs, making its
// table when the class comes a second time (and no other table was made
// in the last buildEvery calls).
func (g *GPUScore) class(pod *plugin.Pod, want int64) *podClass {
	g.calls++
	ann, _ := pod.Annotation(AnnotationModels)
	c := g.lastClass
	if c == nil || c.want != want || c.ann != ann {
		c = nil
		for _, k := range g.classes {
			if k.want == want && k.ann == ann {
				c = k
				break
			}
		}
		if c == nil {
			c = g.addClass(want, ann, g.wantedModels(pod))
		}
		g.lastClass = c
	}
	c.used = g.calls
	if c.table == nil {
		if c.seen++; c.seen >= 2 && (g.built == 0 || g.calls-g.built >= buildEvery) {
			g.built = g.calls
			c.table = make([]uint8, len(g.hot))
			for id := range c.table {
				c.table[id] = uint8(g.scoreNode(uint32(id), c.models, c.want))
			}
		}
	}
	return c
}

// addClass adds a class, in the place of the least recently used one
// when there are maxClasses.
func (g *GPUScore) addClass(want int64, ann string, models []int) *podClass {
	c := &podClass{want: want, ann: strings.Clone(ann), models: models}
	if len(g.classes) < maxClasses {
		g.classes = append(g.classes, c)
		return c
	}
	lru := 0
	for i, k := range g.classes {
		if k.used < g.classes[lru].used {
			lru = i
		}
	}
	g.classes[lru] = c
	return c
}

// scoreNode scores node id for a pod that wants want GPUs of models (any,
// for none): what ScoreIDBytes computes for one candidate without a
// table (its loops take the cases apart once per call, not per node).
func (g *GPUScore) scoreNode(id uint32, models []int, want int64) int64 {
	h := &g.hot[id]
	if h.model == slowModels || len(models) > 1 {
		return g.scoreSlow(id, models, want)
	}
	w := min(want, flatGPUs)
	switch {
	case len(models) == 0:
		return int64(h.any[w])
	case h.model != int32(models[0]):
		return int64(h.any[0]) // no device of the model free
	case want <= flatGPUs:
		return int64(h.match[w])
	}
	return int64(h.any[w]) // more than a flat node can have: no model weight
}

// scoreSlow scores a node whose flat entry does not suffice, or for a pod
// that wants several models.
func (g *GPUScore) scoreSlow(id uint32, models []int, want int64) int64 {
	f := &g.flat[id]
	if f.totalMiB == 0 {
		return 0
	}
	count, mem := g.fit(id, f, models, want)
	var score int64
	if len(models) > 0 && count >= want {
		score += g.cfg.ModelWeight
	}
	used := min(f.usedMiB+mem, f.totalMiB)
	score += g.cfg.BinpackWeight * used / f.totalMiB
	return min(score, plugin.MaxScore)
}
