package apiserver_test

import (
	"fmt"
	"sync"
	"testing"

	"connectrpc.com/connect"
	"google.golang.org/protobuf/proto"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/daemon/apiserver"
	"github.com/wharfhq/wharf/daemon/server"
	"github.com/wharfhq/wharf/testing/wharftest"
)

func TestNodePodCIDR(t *testing.T) {
	t.Parallel()
	srv := wharftest.Start(t, wharftest.WithConfig(func(c *server.Config) {
		c.APIOptions = append(c.APIOptions, apiserver.WithClusterCIDR("10.70.0.0/22", 24))
	}))
	nodes := srv.Client().Nodes()
	node := func(name, cidr string) *wharfv1.Node {
		return &wharfv1.Node{Metadata: &wharfv1.ObjectMeta{Name: name}, Spec: &wharfv1.NodeSpec{PodCidr: cidr}}
	}
	// Concurrent registrations get distinct blocks.
	var wg sync.WaitGroup
	got := make([]string, 3)
	for i := range got {
		wg.Go(func() {
			n, err := nodes.Create(ctx(t), node(fmt.Sprintf("n%d", i), ""))
			if err != nil {
				t.Error(err)
				return
			}
			got[i] = n.GetSpec().GetPodCidr()
			if c := n.GetSpec().GetPodCidrs(); len(c) != 1 || c[0] != got[i] {
				t.Errorf("podCIDRs = %v", c)
			}
		})
	}
	wg.Wait()
	seen := map[string]bool{}
	for _, c := range got {
		if seen[c] || c == "" {
			t.Fatalf("pod CIDRs %v: want three distinct blocks", got)
		}
		seen[c] = true
	}
	// A node that brings its own keeps it.
	own, err := nodes.Create(ctx(t), node("own", "10.99.1.0/24"))
	if err != nil || own.GetSpec().GetPodCidr() != "10.99.1.0/24" {
		t.Fatalf("node with its own podCIDR: %v, %v", own.GetSpec(), err)
	}
	// The last free block, then none.
	last, err := nodes.Create(ctx(t), node("last", ""))
	if err != nil || seen[last.GetSpec().GetPodCidr()] {
		t.Fatalf("fourth node: %v, %v", last.GetSpec(), err)
	}
	if _, err := nodes.Create(ctx(t), node("full", "")); code(err) != connect.CodeResourceExhausted {
		t.Errorf("fifth node in a /22: %v, want ResourceExhausted", err)
	}
	// An update that leaves podCIDR out keeps it; one that changes it fails.
	n0, _ := nodes.Get(ctx(t), "", "n0")
	upd := proto.Clone(n0).(*wharfv1.Node)
	upd.Spec.PodCidr, upd.Spec.PodCidrs = "", nil
	upd.Metadata.Labels = map[string]string{"team": "ml"}
	out, err := nodes.Update(ctx(t), upd)
	if err != nil || out.GetSpec().GetPodCidr() != n0.GetSpec().GetPodCidr() {
		t.Errorf("an update without podCIDR: %v, %v; want it kept", out.GetSpec(), err)
	}
	upd = proto.Clone(out).(*wharfv1.Node)
	upd.Spec.PodCidr = "10.70.3.0/24"
	if _, err := nodes.Update(ctx(t), upd); code(err) != connect.CodeInvalidArgument {
		t.Errorf("changing podCIDR: %v, want InvalidArgument", err)
	}
}
