// Command podttl is an example controller plugin (controller.reconcile):
// it deletes pods that finished (Succeeded or Failed) once they have been
// finished for a while, so that finished jobs do not pile up.
//
// Config: {"ttlSeconds": 300}. A pod's annotation
// ttl.wharf.dev/seconds-after-finished overrides it.
package main

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin"
)

const annotationTTL = "ttl.wharf.dev/seconds-after-finished"

var info = plugin.Info{
	Name:         "pod-ttl",
	Version:      "1.0.0",
	Description:  "deletes finished pods after a TTL",
	ConfigSchema: `{"type":"object","properties":{"ttlSeconds":{"type":"integer","minimum":0}},"additionalProperties":false}`,
	Watches:      []plugin.Watch{{Kind: "Pod"}},
}

type config struct {
	TTLSeconds int64 `json:"ttlSeconds"`
}

type podTTL struct{ cfg config }

func newPlugin() *podTTL { return &podTTL{cfg: config{TTLSeconds: 300}} }

func init() { plugin.Register(info, newPlugin()) }

func main() {}

func (p *podTTL) Configure(raw []byte) error {
	c := p.cfg
	d := json.NewDecoder(strings.NewReader(string(raw)))
	d.DisallowUnknownFields()
	if err := d.Decode(&c); err != nil {
		return fmt.Errorf("config: %v; want {\"ttlSeconds\": N}", err)
	}
	if c.TTLSeconds < 0 {
		return fmt.Errorf("config: ttlSeconds %d is negative", c.TTLSeconds)
	}
	p.cfg = c
	return nil
}

func (p *podTTL) Reconcile(req *plugin.ReconcileRequest) (plugin.Result, error) {
	pod, ok := req.Object.(*wharfv1.Pod)
	if !ok || pod.GetMetadata().GetDeletionTimestamp() != nil {
		return plugin.Result{}, nil
	}
	phase := pod.GetStatus().GetPhase()
	if phase != "Succeeded" && phase != "Failed" {
		return plugin.Result{}, nil
	}
	ttl := time.Duration(p.cfg.TTLSeconds) * time.Second
	if s, ok := pod.GetMetadata().GetAnnotations()[annotationTTL]; ok {
		if v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64); err == nil && v >= 0 {
			ttl = time.Duration(v) * time.Second
		}
	}
	finished := finishedAt(pod)
	if left := finished.Add(ttl).Sub(req.Now); left > 0 {
		return plugin.Result{RequeueAfter: left}, nil
	}
	return plugin.Result{Actions: []plugin.Action{plugin.Delete(pod)}}, nil
}

// finishedAt is when the last container finished, else when the pod was
// created.
func finishedAt(pod *wharfv1.Pod) time.Time {
	var t time.Time
	for _, cs := range pod.GetStatus().GetContainerStatuses() {
		if f := cs.GetState().GetTerminated().GetFinishedAt(); f != nil && f.AsTime().After(t) {
			t = f.AsTime()
		}
	}
	if t.IsZero() {
		t = pod.GetMetadata().GetCreationTimestamp().AsTime()
	}
	return t
}
