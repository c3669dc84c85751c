// Command hostile is a Go plugin that misbehaves on demand, for the host's
// tests: a pod's annotation "hostile" picks how.
//
//	loop   for {} (no calls, no allocation)
//	spin   a loop that calls functions
//	grow   allocate until memory runs out
//	panic  panic (the SDK turns it into an error reply)
//	exit   os.Exit(3)
//	fail   return plugin.Fail(...)
//	hoard  keep 16 MiB (a plugin's nodes, say), once
//	litter allocate 32 KiB that the next call drops (garbage, not a leak)
package main

import (
	"errors"
	"os"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/sdk/plugin"
)

type hostile struct{}

var (
	sink  [][]byte
	hoard [][]byte
	last  []byte
)

//go:noinline
func step(i int) int { return i*7 + 1 }

func (hostile) Validate(req *plugin.AdmissionRequest) error {
	switch annotation(req) {
	case "loop":
		for {
		}
	case "spin":
		i := 0
		for {
			i = step(i)
		}
	case "grow":
		for {
			sink = append(sink, make([]byte, 16<<20))
		}
	case "panic":
		panic("hostile plugin panics")
	case "exit":
		os.Exit(3)
	case "fail":
		return plugin.Fail(errors.New("hostile plugin fails"))
	case "hoard":
		for len(hoard) < 1024 {
			hoard = append(hoard, make([]byte, 16<<10))
		}
	case "litter":
		last = make([]byte, 32<<10)
	}
	return nil
}

func annotation(req *plugin.AdmissionRequest) string {
	if p, ok := req.Object.(*wharfv1.Pod); ok {
		return p.GetMetadata().GetAnnotations()["hostile"]
	}
	return ""
}

func init() { plugin.Register(plugin.Info{Name: "hostile", Version: "1"}, hostile{}) }

func main() {}
