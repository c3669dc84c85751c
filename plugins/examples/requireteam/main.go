// Command requireteam is an admission plugin (admission.validate): it
// refuses pods without a team label.
//
// Config (optional): {"label": "team", "teams": ["ml", "web"]}: the label
// every pod must carry (default "team") and, when given, the values it may
// take.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin"
)

var info = plugin.Info{
	Name:         "require-team",
	Version:      "1.0.0",
	Description:  "refuses pods without a team label",
	ConfigSchema: `{"type":"object","properties":{"label":{"type":"string"},"teams":{"type":"array","items":{"type":"string"}}},"additionalProperties":false}`,
}

type config struct {
	Label string   `json:"label"`
	Teams []string `json:"teams"`
}

type requireTeam struct{ cfg config }

func newPlugin() *requireTeam { return &requireTeam{cfg: config{Label: "team"}} }

func init() { plugin.Register(info, newPlugin()) }

func main() {} // required by Go, never called

func (r *requireTeam) Configure(raw []byte) error {
	c := r.cfg // the defaults
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return fmt.Errorf("%v; want {\"label\": \"team\", \"teams\": [...]}", err)
	}
	if c.Label == "" {
		return errors.New("label is empty; name the label every pod must carry")
	}
	r.cfg = c
	return nil
}

// Validate returns nil to allow the request, or an error whose text tells
// the user what is wrong and what to do.
func (r *requireTeam) Validate(req *plugin.AdmissionRequest) error {
	pod, ok := req.Object.(*wharfv1.Pod)
	if !ok {
		return nil // another kind, or a DELETE: not ours
	}
	if old, ok := req.OldObject.(*wharfv1.Pod); ok && old.GetMetadata().GetLabels()[r.cfg.Label] == "" {
		return nil // a pod from before the rule: let it be updated and bound
	}
	team := pod.GetMetadata().GetLabels()[r.cfg.Label]
	switch {
	case team == "":
		return fmt.Errorf("pod %q has no %q label; add one naming the team that owns it", req.Name, r.cfg.Label)
	case len(r.cfg.Teams) > 0 && !slices.Contains(r.cfg.Teams, team):
		return fmt.Errorf("pod %q: team %q is not one of %s", req.Name, team, strings.Join(r.cfg.Teams, ", "))
	}
	return nil
}
