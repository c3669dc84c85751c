package wasm_test

import (
	"testing"

	"google.golang.org/protobuf/proto"

	pluginv1 "github.com/wharfhq/wharf/api/wharf/plugin/v1"
	"github.com/wharfhq/wharf/plugins/wasm"
)

// FuzzDecodeFilterResponse: the hand-written decoder never panics, and on
// what proto.Unmarshal accepts it agrees with it.
func FuzzDecodeFilterResponse(f *testing.F) {
	seed, _ := proto.Marshal(&pluginv1.FilterResponse{Rejected: []*pluginv1.NodeVerdict{
		{Index: 1, Reasons: []string{"a", "b"}}, {Index: 2, Unresolvable: true, Reasons: []string{"a", "b"}}, {Index: 3},
	}})
	f.Add(seed, 4)
	f.Add([]byte{0x0a, 0x02, 0x08, 0x09}, 4)
	f.Add([]byte{0x7a, 0x03, 'b', 'a', 'd'}, 1)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > 1<<20 {
			return
		}
		got, err := wasm.DecodeRejections(b, n)
		want := &pluginv1.FilterResponse{}
		if err != nil || proto.Unmarshal(b, want) != nil || want.GetError() != "" {
			return
		}
		if len(got) != len(want.GetRejected()) {
			t.Fatalf("%d rejections; proto says %d", len(got), len(want.GetRejected()))
		}
		for i, r := range want.GetRejected() {
			g := got[i]
			if g.Index != int(r.GetIndex()) || g.Unresolvable != r.GetUnresolvable() || len(g.Reasons) != len(r.GetReasons()) {
				t.Fatalf("entry %d: %+v; proto says %v", i, g, r)
			}
			for j := range g.Reasons {
				if g.Reasons[j] != r.GetReasons()[j] {
					t.Fatalf("entry %d reason %d: %q; proto says %q", i, j, g.Reasons[j], r.GetReasons()[j])
				}
			}
		}
	})
}

func FuzzDecodeScoreResponse(f *testing.F) {
	seed, _ := proto.Marshal(&pluginv1.ScoreResponse{Scores: []int64{0, 50, 100}})
	f.Add(seed, 3)
	skip, _ := proto.Marshal(&pluginv1.ScoreResponse{Skip: true})
	f.Add(skip, 2)
	f.Fuzz(func(t *testing.T, b []byte, n int) {
		if n < 0 || n > 1<<16 {
			return
		}
		scores := make([]int64, n)
		skip, err := wasm.DecodeScores(b, scores)
		if err == nil && !skip {
			for i, s := range scores {
				if s < 0 || s > 100 {
					t.Fatalf("score %d of node #%d accepted; want it refused", s, i)
				}
			}
		}
		want := &pluginv1.ScoreResponse{}
		if err != nil || proto.Unmarshal(b, want) != nil {
			return
		}
		if skip != want.GetSkip() {
			t.Fatalf("skip %v; proto says %v", skip, want.GetSkip())
		}
		if !skip {
			for i, s := range want.GetScores() {
				if scores[i] != s {
					t.Fatalf("score %d: %d; proto says %d", i, scores[i], s)
				}
			}
		}
	})
}
