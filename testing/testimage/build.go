package testimage

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// BuildOptions says what [Build] builds.
type BuildOptions struct {
	// Package is the Go package to build: an import path ("./cmd/x" is
	// resolved from the current directory, as go build does).
	Package string
	// Name is the image reference written into the archive; required.
	Name string
	// Dir is where the binary and the archive are written; required.
	Dir string
	// Env is the image's environment, VAR=value; PATH is always set.
	Env []string
	// Entrypoint defaults to the binary, placed at /<base name of Package>.
	Entrypoint []string
	// Cmd is the image's default arguments.
	Cmd []string
	// Files are extra files for the image, path in the image -> content.
	Files map[string][]byte
}

// Build compiles a static binary of opts.Package and packs it, with opts's
// config, as an OCI image layout tarball in opts.Dir.
func Build(ctx context.Context, opts BuildOptions) (Image, error) {
	if opts.Name == "" || opts.Dir == "" || opts.Package == "" {
		return Image{}, errors.New("testimage: Build needs Package, Name and Dir")
	}
	bin := path.Base(opts.Package)
	binPath := filepath.Join(opts.Dir, bin)
	if err := goBuild(ctx, opts.Package, binPath); err != nil {
		return Image{}, err
	}
	exe, err := os.ReadFile(binPath)
	if err != nil {
		return Image{}, fmt.Errorf("testimage: %w", err)
	}
	files := map[string][]byte{}
	for p, b := range opts.Files {
		files[p] = b
	}
	files["/"+bin] = exe
	entry := opts.Entrypoint
	if entry == nil {
		entry = []string{"/" + bin}
	}
	env := append([]string{"PATH=/usr/local/bin:/usr/bin:/bin"}, opts.Env...)
	img, err := NewImage(files, v1.Config{Entrypoint: entry, Cmd: opts.Cmd, Env: env})
	if err != nil {
		return Image{}, err
	}
	archive := filepath.Join(opts.Dir, bin+".oci.tar")
	if err := WriteArchive(img, opts.Name, archive); err != nil {
		return Image{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return Image{}, fmt.Errorf("testimage: digest: %w", err)
	}
	return Image{Name: opts.Name, Archive: archive, Binary: binPath, Digest: d.String(), Image: img}, nil
}

func goBuild(ctx context.Context, pkg, out string) error {
	gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(gobin); err != nil {
		if gobin, err = exec.LookPath("go"); err != nil {
			return errors.New("testimage: the go tool is not on PATH nor in GOROOT/bin")
		}
	}
	cmd := exec.CommandContext(ctx, gobin, "build", "-trimpath", "-ldflags=-s -w", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+runtime.GOARCH)
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("testimage: go build %s: %w\n%s", pkg, err, b)
	}
	return nil
}

// NewImage returns a single-layer linux/GOARCH OCI image holding files
// (path in the image -> content; a file whose content starts with "\x7fELF"
// or "#!" is executable, mode 0755, others 0644) and the given config.
func NewImage(files map[string][]byte, cfg v1.Config) (v1.Image, error) {
	layerTar, err := tarFiles(files)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerTar)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("testimage: layer: %w", err)
	}
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.ConfigFile(img, &v1.ConfigFile{
		Architecture: runtime.GOARCH,
		OS:           "linux",
		Config:       cfg,
		RootFS:       v1.RootFS{Type: "layers"},
	})
	if err != nil {
		return nil, fmt.Errorf("testimage: config: %w", err)
	}
	img, err = mutate.AppendLayers(img, layer)
	if err != nil {
		return nil, fmt.Errorf("testimage: append layer: %w", err)
	}
	return img, nil
}

func tarFiles(files map[string][]byte) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	dirs := map[string]bool{}
	names := make([]string, 0, len(files))
	for p := range files {
		names = append(names, p)
	}
	// Deterministic order keeps the digest stable across builds.
	sort.Strings(names)
	for _, p := range names {
		name := strings.TrimPrefix(path.Clean("/"+p), "/")
		for d := path.Dir(name); d != "." && !dirs[d]; d = path.Dir(d) {
			dirs[d] = true
			if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: 0o755}); err != nil {
				return nil, err
			}
		}
		b := files[p]
		mode := int64(0o644)
		if bytes.HasPrefix(b, []byte("\x7fELF")) || bytes.HasPrefix(b, []byte("#!")) {
			mode = 0o755
		}
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode, Size: int64(len(b))}); err != nil {
			return nil, err
		}
		if _, err := tw.Write(b); err != nil {
			return nil, err
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// WriteArchive writes img as an OCI image layout tarball at path, its index
// entry annotated with name (io.containerd.image.name, which containerd's
// Import uses as the image name, and org.opencontainers.image.ref.name).
func WriteArchive(img v1.Image, name, path string) error {
	dir, err := os.MkdirTemp(filepath.Dir(path), ".layout-")
	if err != nil {
		return fmt.Errorf("testimage: %w", err)
	}
	defer os.RemoveAll(dir)
	lp, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("testimage: layout: %w", err)
	}
	tag := name
	if i := strings.LastIndex(name, ":"); i > strings.LastIndex(name, "/") {
		tag = name[i+1:]
	}
	if err := lp.AppendImage(img, layout.WithAnnotations(map[string]string{
		"io.containerd.image.name":          name,
		"org.opencontainers.image.ref.name": tag,
	})); err != nil {
		return fmt.Errorf("testimage: layout: %w", err)
	}
	return tarDir(dir, path)
}

// tarDir writes the regular files under dir into a tarball at out.
func tarDir(dir, out string) error {
	f, err := os.Create(out)
	if err != nil {
		return fmt.Errorf("testimage: %w", err)
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("testimage: write %s: %w", out, err)
	}
	return nil
}
