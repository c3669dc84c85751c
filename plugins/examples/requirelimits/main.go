// Command requirelimits is an example admission plugin
// (admission.validate): it refuses pods whose containers have no cpu and
// memory limits, and pods that run images tagged :latest or not tagged at
// all (which change under you).
//
// Config (optional): {"resources": ["cpu", "memory"], "allowLatest": false}.
package main

import (
	"encoding/json"
	"fmt"
	"strings"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin"
)

var info = plugin.Info{
	Name:         "require-limits",
	Version:      "1.0.0",
	Description:  "requires resource limits on every container and forbids :latest images",
	ConfigSchema: `{"type":"object","properties":{"resources":{"type":"array","items":{"type":"string"}},"allowLatest":{"type":"boolean"}},"additionalProperties":false}`,
}

type config struct {
	Resources   []string `json:"resources"`
	AllowLatest bool     `json:"allowLatest"`
}

type requireLimits struct{ cfg config }

func newPlugin() *requireLimits {
	return &requireLimits{cfg: config{Resources: []string{"cpu", "memory"}}}
}

func init() { plugin.Register(info, newPlugin()) }

func main() {}

func (r *requireLimits) Configure(raw []byte) error {
	c := r.cfg
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return fmt.Errorf("config: %v; want {\"resources\": [\"cpu\", \"memory\"], \"allowLatest\": false}", err)
	}
	r.cfg = c
	return nil
}

func (r *requireLimits) Validate(req *plugin.AdmissionRequest) error {
	pod, ok := req.Object.(*wharfv1.Pod)
	if !ok {
		return nil
	}
	var probs []string
	for _, list := range [][]*wharfv1.Container{pod.GetSpec().GetInitContainers(), pod.GetSpec().GetContainers()} {
		for _, c := range list {
			var missing []string
			for _, res := range r.cfg.Resources {
				if _, ok := c.GetResources().GetLimits()[res]; !ok {
					missing = append(missing, res)
				}
			}
			if len(missing) > 0 {
				probs = append(probs, fmt.Sprintf("container %q has no %s limit (set resources.limits)", c.GetName(), strings.Join(missing, " or ")))
			}
			if !r.cfg.AllowLatest && floating(c.GetImage()) {
				probs = append(probs, fmt.Sprintf("container %q uses image %q, which floats; pin a version tag or a digest", c.GetName(), c.GetImage()))
			}
		}
	}
	if len(probs) > 0 {
		return fmt.Errorf("%s", strings.Join(probs, "; "))
	}
	return nil
}

// floating reports whether an image is :latest or untagged (and not pinned
// by digest).
func floating(image string) bool {
	if strings.Contains(image, "@") {
		return false
	}
	name := image
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		name = name[i+1:]
	}
	i := strings.LastIndexByte(name, ':')
	return i < 0 || name[i+1:] == "latest"
}
