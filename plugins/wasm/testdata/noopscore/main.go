// Command noopscore scores every node 0: the SDK's and host's cost alone.
package main

import "github.com/wharfhq/wharf/sdk/plugin"

type noop struct{}

func (noop) Score(pod *plugin.Pod, nodes []*plugin.Node, scores []int64) error { return nil }

func (noop) Filter(pod *plugin.Pod, nodes []*plugin.Node, out []plugin.Verdict) error { return nil }

func init() { plugin.Register(plugin.Info{Name: "noop", Version: "1"}, noop{}) }

func main() {}
