package testimage_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/wharfhq/wharf/testing/testimage"
)

func TestMain(m *testing.M) {
	code := m.Run()
	testimage.Cleanup()
	os.Exit(code)
}

// TestBusyArchive checks the archive is an OCI image layout whose index
// names the image as containerd's Import reads it.
func TestBusyArchive(t *testing.T) {
	t.Parallel()
	img := testimage.Busy(t)
	f, err := img.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	files := map[string][]byte{}
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag == tar.TypeReg && !strings.HasPrefix(h.Name, "blobs/") {
			files[h.Name], _ = io.ReadAll(tr)
		}
	}
	if !strings.Contains(string(files["oci-layout"]), `"imageLayoutVersion"`) {
		t.Errorf("oci-layout = %q", files["oci-layout"])
	}
	var index struct {
		Manifests []struct {
			Digest      string            `json:"digest"`
			Annotations map[string]string `json:"annotations"`
		} `json:"manifests"`
	}
	if err := json.Unmarshal(files["index.json"], &index); err != nil {
		t.Fatalf("index.json: %v", err)
	}
	if len(index.Manifests) != 1 {
		t.Fatalf("index has %d manifests", len(index.Manifests))
	}
	m := index.Manifests[0]
	if m.Digest != img.Digest || m.Annotations["io.containerd.image.name"] != testimage.BusyName ||
		m.Annotations["org.opencontainers.image.ref.name"] != "latest" {
		t.Errorf("index entry = %+v, want digest %s name %s", m, img.Digest, testimage.BusyName)
	}
	cfg, err := img.Image.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Config.Entrypoint) != 1 || cfg.Config.Entrypoint[0] != "/busy" || cfg.OS != "linux" {
		t.Errorf("config = %+v", cfg.Config)
	}
}

// TestBusyProgram runs the built busy binary on the host.
func TestBusyProgram(t *testing.T) {
	t.Parallel()
	img := testimage.Busy(t)
	bin := img.Binary
	file := filepath.Join(t.TempDir(), "f")
	cmd := exec.Command(bin, "echo=out", "echoerr=err", "write="+file+"=hello", "cat="+file, "lines=2", "exit=4")
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 4 {
		t.Fatalf("run: %v, want exit status 4", err)
	}
	if want := "out\nhello\nline 1\nline 2\n"; stdout.String() != want {
		t.Errorf("stdout = %q, want %q", stdout.String(), want)
	}
	if stderr.String() != "err\n" {
		t.Errorf("stderr = %q", stderr.String())
	}
	if err := exec.Command(bin, "exists=/no/such/file").Run(); !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Errorf("exists on a missing file: %v, want exit status 3", err)
	}
}

func TestBuildNeedsOptions(t *testing.T) {
	t.Parallel()
	if _, err := testimage.Build(context.Background(), testimage.BuildOptions{Package: testimage.BusyPackage}); err == nil {
		t.Error("Build without Name and Dir succeeded")
	}
}
