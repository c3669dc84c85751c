// Command gpuscore is an example scheduling plugin: it keeps GPU pods off
// nodes without enough free GPUs of a wanted model (scheduler.filter) and
// ranks the rest (scheduler.score) by whether their GPU model matches and
// by how full their GPU memory would be (bin-packing, so that whole GPU
// nodes stay free for large jobs).
//
// A pod asks for GPUs with the resource nvidia.com/gpu and may name the
// models it wants in the annotation gpu.wharf.dev/models
// ("NVIDIA H100 80GB HBM3,NVIDIA A100-SXM4-80GB"). Pods without GPUs are
// not its business: it accepts every node and skips scoring.
//
// Config (all optional): {"modelWeight": 60, "binpackWeight": 40}, each 0
// to 100 and together at most 100.
package main

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/wharfhq/wharf/sdk/plugin"
)

const (
	resourceGPU     = "nvidia.com/gpu"
	annotationModel = "gpu.wharf.dev/models"
)

var info = plugin.Info{
	Name:         "gpu-score",
	Version:      "1.0.0",
	Description:  "prefers nodes with the GPU model a pod names and bin-packs GPU memory",
	ConfigSchema: `{"type":"object","properties":{"modelWeight":{"type":"integer","minimum":0,"maximum":100},"binpackWeight":{"type":"integer","minimum":0,"maximum":100}},"additionalProperties":false}`,
}

type config struct {
	ModelWeight   int64 `json:"modelWeight"`
	BinpackWeight int64 `json:"binpackWeight"`
}

type gpuScore struct {
	cfg config
}

func newPlugin() *gpuScore { return &gpuScore{cfg: config{ModelWeight: 60, BinpackWeight: 40}} }

func init() { plugin.Register(info, newPlugin()) }

func main() {}

func (g *gpuScore) Configure(raw []byte) error {
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

// Models are compared as small integers: each model name (lowercased) gets
// an id the first time the plugin sees it. Scoring touches every candidate
// node for every pod, and inside WebAssembly every string comparison
// counts.
var modelIDs = map[string]int{}

func modelID(name string) int {
	name = strings.ToLower(strings.TrimSpace(name))
	id, ok := modelIDs[name]
	if !ok {
		id = len(modelIDs)
		modelIDs[name] = id
	}
	return id
}

// wantedModels returns the ids of the models a pod names; nil for any.
func wantedModels(pod *plugin.Pod) []int {
	s, ok := pod.Annotations[annotationModel]
	if !ok {
		return nil
	}
	var out []int
	for m := range strings.SplitSeq(s, ",") {
		if strings.TrimSpace(m) != "" {
			out = append(out, modelID(m))
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
func (g *gpuScore) PrepareNode(n *plugin.Node) { summarize(n) }

func summarize(n *plugin.Node) *summary {
	if s, ok := n.Scratch.(*summary); ok {
		return s
	}
	s := &summary{all: group{model: -1}}
	byModel := map[int][]int64{}
	var all []int64
	for _, d := range n.GetStatus().GetGpus() {
		s.totalMiB += d.GetMemoryMib()
		if slices.Contains(n.AllocatedGPUs, d.GetIndex()) {
			s.usedMiB += d.GetMemoryMib()
			continue
		}
		id := modelID(d.GetModel())
		byModel[id] = append(byModel[id], d.GetMemoryMib())
		all = append(all, d.GetMemoryMib())
	}
	s.all.add(all)
	for id, mem := range byModel {
		g := group{model: id}
		g.add(mem)
		s.groups = append(s.groups, g)
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

func (g *gpuScore) Filter(pod *plugin.Pod, nodes []*plugin.Node, out []plugin.Verdict) error {
	want := pod.Requests[resourceGPU]
	if want == 0 {
		return nil
	}
	models := wantedModels(pod)
	// Verdicts repeat across nodes: make each once per call (the SDK also
	// encodes a repeated verdict once).
	noGPUs := plugin.RejectUnresolvable("node has no GPUs")
	verdicts := map[int64]plugin.Verdict{}
	for i, n := range nodes {
		s, ok := n.Scratch.(*summary)
		if !ok {
			s = summarize(n)
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

func (g *gpuScore) Score(pod *plugin.Pod, nodes []*plugin.Node, scores []int64) error {
	want := pod.Requests[resourceGPU]
	if want == 0 {
		return plugin.ErrSkip
	}
	models := wantedModels(pod)
	for i, n := range nodes {
		s, ok := n.Scratch.(*summary)
		if !ok {
			s = summarize(n)
		}
		if s.totalMiB == 0 {
			continue
		}
		var score, count, mem int64
		if len(models) == 1 && len(s.groups) == 1 {
			// The common case, inline: one model wanted, one on the node.
			if g0 := &s.groups[0]; g0.model == models[0] {
				count = int64(len(g0.prefix) - 1)
				mem = g0.prefix[min(want, count)]
			}
		} else {
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
