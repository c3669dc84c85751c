package plugins

import (
	"context"
	"slices"
	"strings"
	"testing"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/scheduler/framework"
)

func nodeInfos(t *testing.T, nodes ...*wharfv1.Node) []*framework.NodeInfo {
	t.Helper()
	out := make([]*framework.NodeInfo, len(nodes))
	for i, n := range nodes {
		ni, err := framework.NewNodeInfo(n)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = ni
	}
	return out
}

// runFilter runs PreFilter (when the plugin has one) and Filter, and
// returns "" for a fitting node, else "Code: reasons".
func runFilter(t *testing.T, p framework.FilterPlugin, pod *wharfv1.Pod, nodes ...*framework.NodeInfo) []string {
	t.Helper()
	pi, err := framework.NewPodInfo(pod)
	if err != nil {
		t.Fatal(err)
	}
	ctx, state := context.Background(), framework.NewCycleState()
	if pf, ok := p.(framework.PreFilterPlugin); ok {
		if _, st := pf.PreFilter(ctx, state, pi); st.Code() == framework.Skip {
			return make([]string, len(nodes))
		} else if !st.IsSuccess() {
			t.Fatalf("PreFilter: %v", st)
		}
	}
	out := make([]framework.Status, len(nodes))
	p.Filter(ctx, state, pi, nodes, out)
	got := make([]string, len(nodes))
	for i, st := range out {
		if !st.IsSuccess() {
			got[i] = st.Code().String() + ": " + st.Message()
		}
	}
	return got
}

// runScore runs Score and NormalizeScore; nil for Skip.
func runScore(t *testing.T, p framework.ScorePlugin, pod *wharfv1.Pod, nodes ...*framework.NodeInfo) []int64 {
	t.Helper()
	pi, err := framework.NewPodInfo(pod)
	if err != nil {
		t.Fatal(err)
	}
	ctx, state := context.Background(), framework.NewCycleState()
	scores := make([]int64, len(nodes))
	st := p.Score(ctx, state, pi, nodes, scores)
	if st.Code() == framework.Skip {
		return nil
	}
	if !st.IsSuccess() {
		t.Fatalf("Score: %v", st)
	}
	if n, ok := p.(framework.NormalizeScorer); ok {
		if st := n.NormalizeScore(ctx, state, pi, nodes, scores); !st.IsSuccess() {
			t.Fatalf("NormalizeScore: %v", st)
		}
	}
	return scores
}

func checkFilter(t *testing.T, got, want []string) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("filter:\n got %q\nwant %q", got, want)
	}
}

const (
	unres = "UnschedulableAndUnresolvable: "
	unsch = "Unschedulable: "
)

func mustContain(t *testing.T, s, sub string) {
	t.Helper()
	if !strings.Contains(s, sub) {
		t.Errorf("%q lacks %q", s, sub)
	}
}
