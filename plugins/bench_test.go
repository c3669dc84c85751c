package plugins_test

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"testing"
	"time"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/apiserver"
)

// BenchmarkAdmission is the latency one admission plugin adds to a create:
// the example validator and mutator called as the API server calls them,
// for a typical pod. The last line is JSON with p50 and p99 per plugin.
func BenchmarkAdmission(b *testing.B) {
	s := startServer(b)
	s.install(b, "require-limits", example(b, "requirelimits"), nil)
	s.install(b, "defaults", example(b, "defaults"), &wharfv1.PluginSpec{Config: config(b, map[string]any{
		"labels": map[string]any{"team": "platform"},
	})})
	adm := s.Host.Admission()
	ctx := context.Background()
	newReq := func() *apiserver.AdmissionRequest {
		p := pod("web", true, "nginx:1.27", map[string]string{"owner": "team-a"})
		p.Metadata.Labels = map[string]string{"app": "web", "tier": "frontend"}
		return &apiserver.AdmissionRequest{Operation: apiserver.OpCreate, Kind: "Pod", Namespace: "default", Name: "web", Object: p}
	}
	result := map[string]float64{}
	for _, point := range []string{"validate", "mutate"} {
		n := max(b.N, 2000)
		lat := make([]time.Duration, 0, n)
		for i := range n + 100 {
			req := newReq()
			start := time.Now()
			var err error
			if point == "validate" {
				err = adm.Validate(ctx, req)
			} else {
				err = adm.Admit(ctx, req)
			}
			if err != nil {
				b.Fatal(err)
			}
			if i >= 100 { // warm-up
				lat = append(lat, time.Since(start))
			}
		}
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		result[point+"_p50_us"] = float64(lat[len(lat)/2].Nanoseconds()) / 1e3
		result[point+"_p99_us"] = float64(lat[len(lat)*99/100].Nanoseconds()) / 1e3
	}
	line, _ := json.Marshal(result)
	fmt.Println(string(line))
}
