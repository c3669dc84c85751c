// Command preferzone is a scheduling plugin (scheduler.score): it prefers
// nodes in the zones its config names, best first.
//
// Config: {"zones": ["zone-b", "zone-c"], "label": "topology.kubernetes.io/zone"}
// (label is optional; that is its default).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"github.com/wharfhq/wharf/sdk/plugin"
)

var info = plugin.Info{
	Name:         "prefer-zone",
	Version:      "1.0.0",
	Description:  "prefers nodes in the zones the config names, best first",
	ConfigSchema: `{"type":"object","required":["zones"],"properties":{"zones":{"type":"array","items":{"type":"string"}},"label":{"type":"string"}},"additionalProperties":false}`,
}

type config struct {
	Zones []string `json:"zones"`
	Label string   `json:"label"`
}

type preferZone struct{ cfg config }

func newPlugin() *preferZone {
	return &preferZone{cfg: config{Label: "topology.kubernetes.io/zone"}}
}

func init() { plugin.Register(info, newPlugin()) }

func main() {} // required by Go, never called

// Configure checks the config once, when the server loads the plugin: a
// mistake fails the install, not every scheduling cycle.
func (p *preferZone) Configure(raw []byte) error {
	c := p.cfg // the defaults
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("%v; want {\"zones\": [\"zone-a\", ...], \"label\": \"...\"}", err)
	}
	if len(c.Zones) == 0 {
		return errors.New("zones is empty; name the zones to prefer, best first")
	}
	if c.Label == "" {
		return errors.New("label is empty; name the node label that holds the zone")
	}
	p.cfg = c
	fmt.Printf("preferring zones %v (node label %s)\n", c.Zones, c.Label) // the server's log
	return nil
}

// Score gives nodes in the first zone 100, in the next ones less, and
// nodes in no listed zone 0.
func (p *preferZone) Score(pod *plugin.Pod, nodes []*plugin.Node, scores []int64) error {
	n := int64(len(p.cfg.Zones))
	for i, node := range nodes {
		zone := node.GetMetadata().GetLabels()[p.cfg.Label]
		if rank := slices.Index(p.cfg.Zones, zone); rank >= 0 {
			scores[i] = plugin.MaxScore * (n - int64(rank)) / n
		}
	}
	return nil
}
