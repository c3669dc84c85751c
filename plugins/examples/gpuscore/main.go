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
//
// The code is in package scorer; this command only registers it, so that
// the scheduler benchmark can also compile the same code in natively.
package main

import (
	"github.com/wharfhq/wharf/plugins/examples/gpuscore/scorer"
	"github.com/wharfhq/wharf/sdk/plugin"
)

func init() { plugin.Register(scorer.Info, scorer.New()) }

func main() {}
