package agent_test

import (
	"io"
	"log"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

func TestImagePull(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.startAgent(t)
	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	ref := host + "/wharf/busy:v1"
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Write(tag, e.img.Image); err != nil {
		t.Fatalf("push: %v", err)
	}

	t.Run("from_registry", func(t *testing.T) {
		t.Parallel()
		p := e.pod("pulled", "sleep")
		p.Spec.Containers[0].Image = ref
		p.Spec.Containers[0].ImagePullPolicy = "IfNotPresent"
		e.create(t, p)
		got := e.waitPod(t, "pulled", "Ready", ready)
		if id := cs(got, "c").GetImageId(); id != e.img.Digest {
			t.Errorf("imageID %q, want %q", id, e.img.Digest)
		}
		e.waitEvent(t, "pulled", "Pulling", ref)
		e.waitEvent(t, "pulled", "Pulled", "Successfully pulled image")
	})
	t.Run("always", func(t *testing.T) {
		t.Parallel()
		p := e.pod("always", "sleep")
		p.Spec.Containers[0].Image = host + "/wharf/busy:latest-always"
		p.Spec.Containers[0].ImagePullPolicy = "Always"
		if err := remote.Write(mustTag(t, p.Spec.Containers[0].Image), e.img.Image); err != nil {
			t.Fatal(err)
		}
		e.create(t, p)
		e.waitPod(t, "always", "Ready", ready)
		e.waitEvent(t, "always", "Pulled", "Successfully pulled image")
	})
	t.Run("pull_failure_backs_off", func(t *testing.T) {
		t.Parallel()
		p := e.pod("no-such-image", "sleep")
		p.Spec.Containers[0].Image = host + "/wharf/nope:v1"
		p.Spec.Containers[0].ImagePullPolicy = "IfNotPresent"
		e.create(t, p)
		e.waitPod(t, "no-such-image", "ErrImagePull", func(p *wharfv1.Pod) bool {
			w := cs(p, "c").GetState().GetWaiting()
			return w.GetReason() == "ErrImagePull" && strings.Contains(w.GetMessage(), "nope")
		})
		got := e.waitPod(t, "no-such-image", "ImagePullBackOff", func(p *wharfv1.Pod) bool {
			return cs(p, "c").GetState().GetWaiting().GetReason() == "ImagePullBackOff"
		})
		if got.GetStatus().GetPhase() != "Pending" {
			t.Errorf("phase %q, want Pending", got.GetStatus().GetPhase())
		}
		e.waitEvent(t, "no-such-image", "Failed", "Failed to pull image")
	})
	t.Run("never_not_present", func(t *testing.T) {
		t.Parallel()
		p := e.pod("never", "sleep")
		p.Spec.Containers[0].Image = "wharf.test/absent:v1"
		e.create(t, p)
		e.waitPod(t, "never", "ErrImageNeverPull", func(p *wharfv1.Pod) bool {
			return cs(p, "c").GetState().GetWaiting().GetReason() == "ErrImageNeverPull"
		})
	})
}

func mustTag(t *testing.T, ref string) name.Tag {
	tag, err := name.NewTag(ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	return tag
}
