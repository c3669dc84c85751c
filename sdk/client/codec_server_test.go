package client_test

import (
	"context"
	"strings"
	"testing"

	"connectrpc.com/connect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/testing/wharftest"
)

// The client's encoder does not check strings for UTF-8 (protobuf-go's
// does); the server does, at its door, so nothing that is not UTF-8 is
// stored, and what clients decode without the check came through it.
func TestServerRefusesInvalidUTF8(t *testing.T) {
	t.Parallel()
	c := wharftest.Start(t).Client()
	ctx := context.Background()
	bad := &wharfv1.Pod{
		Metadata: &wharfv1.ObjectMeta{Name: "bad", Labels: map[string]string{"app": "\xff"}},
		Spec:     &wharfv1.PodSpec{Containers: []*wharfv1.Container{{Name: "c", Image: "busybox:1"}}},
	}
	_, err := c.Pods().Create(ctx, bad)
	if connect.CodeOf(err) != connect.CodeInvalidArgument || !strings.Contains(err.Error(), "UTF-8") {
		t.Fatalf("create with a label that is not UTF-8: %v; want InvalidArgument naming UTF-8", err)
	}
	if _, err := c.Pods().Get(ctx, "default", "bad"); connect.CodeOf(err) != connect.CodeNotFound {
		t.Fatalf("get after the refused create: %v; want NotFound", err)
	}
}
