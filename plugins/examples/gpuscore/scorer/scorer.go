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
}

type config struct {
	ModelWeight   int64 `json:"modelWeight"`
	BinpackWeight int64 `json:"binpackWeight"`
}

// GPUScore is the plugin: a plugin.Filter, plugin.Scorer,
// plugin.PodSelector, plugin.NodePreparer and plugin.Configurer. Like any plugin it is not
// safe for concurrent use (the host runs each instance single-threaded).
type GPUScore struct {
	cfg config
	// Models are compared as small integers: each model name
	// (lowercased) gets an id the first time the plugin sees it. Scoring
	// touches every candidate node for every pod, and inside WebAssembly
	// every string comparison counts.
	models map[string]int
	raw    map[string]int // the same by name as sent, not normalized
}

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
func (g *GPUScore) wantedModels(pod *plugin.Pod) []int {
	s, ok := pod.Annotations[AnnotationModels]
	if !ok {
		return nil
	}
	var out []int
	for m := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(m) != "" {
			out = append(out, g.modelID(m))
		}
	}
	return out
}

// summary is what the plugin derives from a node once per version of the
// node (kept in Node.Scratch): its free GPUs by model, and its GPU memory.
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

// PrepareNode summarizes each node when the host sends it, so that
// scoring only reads summaries.
func (g *GPUScore) PrepareNode(n *plugin.Node) { g.summarize(n) }

// noGPUs is the summary of every node without GPUs.
var noGPUs = &summary{all: group{model: -1, prefix: []int64{0}}}

// summarize runs once per version of a node, and every pod placed on a
// node makes a new version: it allocates little, and only groups by model
// with a map when a node has free devices of more than one model.
func (g *GPUScore) summarize(n *plugin.Node) *summary {
	if s, ok := n.Scratch.(*summary); ok {
		return s
	}
	gpus := n.GetStatus().GetGpus()
	if len(gpus) == 0 {
		n.Scratch = noGPUs
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
	n.Scratch = s
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
func (g *GPUScore) SelectsPod(pod *plugin.Pod) bool { return pod.Requests[resourceGPU] > 0 }

// Filter implements plugin.Filter.
func (g *GPUScore) Filter(pod *plugin.Pod, nodes []*plugin.Node, out []plugin.Verdict) error {
	want := pod.Requests[resourceGPU]
	if want == 0 {
		return nil
	}
	models := g.wantedModels(pod)
	// Verdicts repeat across nodes: make each once per call (the SDK also
	// encodes a repeated verdict once).
	noGPUs := plugin.RejectUnresolvable("node has no GPUs")
	verdicts := map[int64]plugin.Verdict{}
	for i, n := range nodes {
		s, ok := n.Scratch.(*summary)
		if !ok {
			s = g.summarize(n)
		}
		if s.totalMiB == 0 && len(n.GetStatus().GetGpus()) == 0 {
			out[i] = noGPUs
			continue
		}
		free, _ := s.fit(models, want)
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

// Score implements plugin.Scorer.
func (g *GPUScore) Score(pod *plugin.Pod, nodes []*plugin.Node, scores []int64) error {
	want := pod.Requests[resourceGPU]
	if want == 0 {
		return plugin.ErrSkip
	}
	models := g.wantedModels(pod)
	for i, n := range nodes {
		s, ok := n.Scratch.(*summary)
		if !ok {
			s = g.summarize(n)
		}
		if s.totalMiB == 0 {
			continue
		}
		// The common cases inline (a call per node counts inside
		// WebAssembly): any model, or one model wanted and one on the node.
		var score, count, mem int64
		switch {
		case len(models) == 0:
			count = int64(len(s.all.prefix) - 1)
			mem = s.all.prefix[min(want, count)]
		case len(models) == 1 && len(s.groups) == 1:
			if g0 := &s.groups[0]; g0.model == models[0] {
				count = int64(len(g0.prefix) - 1)
				mem = g0.prefix[min(want, count)]
			}
		default:
			count, mem = s.fit(models, want)
		}
		if len(models) > 0 && count >= want {
			score += g.cfg.ModelWeight
		}
		// Bin-pack: the share of the node's GPU memory in use once the pod
		// takes its devices (the smallest free ones, as the host does).
		used := min(s.usedMiB+mem, s.totalMiB)
		score += g.cfg.BinpackWeight * used / s.totalMiB
		scores[i] = min(score, plugin.MaxScore)
	}
	return nil
}
