// Package testimage builds small OCI images from static Go programs, so tests
// can run real containers without a registry or network access.
//
// A test calls [Busy] for the image that carries the busy program
// (testing/testimage/cmd/busy, which sleeps, exits with a code, prints,
// allocates memory, serves HTTP, prints env and files, as its arguments say),
// or [Build] for an image of any main package of this module. Images come as
// an OCI image layout tarball that containerd's client Import takes, and as a
// v1.Image for tests that push to a registry on loopback.
//
// Only tests and test harnesses may import this package.
//
// # Notes
//
// Building runs `go build` with CGO_ENABLED=0 for linux/GOARCH, so the go
// tool must be on PATH (or in GOROOT/bin). [Busy] builds once per test binary
// into a temporary directory; a TestMain that wants that directory removed
// calls [Cleanup] after m.Run.
package testimage

import (
	"context"
	"os"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BusyPackage is the import path of the busy program.
const BusyPackage = "github.com/wharfhq/wharf/testing/testimage/cmd/busy"

// BusyName is the image name [Busy] gives its image.
const BusyName = "wharf.test/busy:latest"

// Image is an image built by this package.
type Image struct {
	// Name is the image reference the archive carries, e.g.
	// "wharf.test/busy:latest".
	Name string
	// Archive is the path of the OCI image layout tarball.
	Archive string
	// Binary is the path of the static binary on the host.
	Binary string
	// Digest is the manifest digest, "sha256:...".
	Digest string
	// Image is the image itself, for pushing to a registry.
	Image v1.Image
}

// Open opens the archive for reading.
func (i Image) Open() (*os.File, error) { return os.Open(i.Archive) }

var busy struct {
	once sync.Once
	dir  string
	img  Image
	err  error
}

// Busy returns the busy image, building it on first use in this process. It
// fails the test if the build fails.
func Busy(t testing.TB) Image {
	t.Helper()
	busy.once.Do(func() {
		busy.dir, busy.err = os.MkdirTemp("", "wharf-testimage-")
		if busy.err != nil {
			return
		}
		busy.img, busy.err = Build(context.Background(), BuildOptions{
			Package: BusyPackage,
			Name:    BusyName,
			Dir:     busy.dir,
		})
	})
	if busy.err != nil {
		t.Fatalf("testimage: build busy image: %v", busy.err)
	}
	return busy.img
}

// Cleanup removes what [Busy] built. Call it from TestMain after m.Run; a
// later [Busy] in the same process fails.
func Cleanup() {
	if busy.dir != "" {
		os.RemoveAll(busy.dir)
	}
}
