package plugintest

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
)

// builds memoizes Build per package within a test binary.
var builds sync.Map // pkg -> *buildResult

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// Build compiles the Go package pkg (an import path or a directory such as
// "." or "./plugins/examples/gpuscore") to a WebAssembly plugin with
//
//	GOOS=wasip1 GOARCH=wasm go build -buildmode=c-shared -trimpath -ldflags=-s\ -w
//
// and returns the .wasm file's path. The result is cached under
// os.TempDir(), keyed by a hash of the Go toolchain version and of every
// source file of the package and its dependencies inside the same module,
// so unchanged plugins are not rebuilt across test runs; within one test
// binary each package is built once. Build fails the test when the build
// fails.
func Build(t testing.TB, pkg string) string {
	t.Helper()
	v, _ := builds.LoadOrStore(pkg, &buildResult{})
	r := v.(*buildResult)
	r.once.Do(func() { r.path, r.err = build(pkg) })
	if r.err != nil {
		t.Fatalf("plugintest: build %s: %v", pkg, r.err)
	}
	return r.path
}

type listedPackage struct {
	ImportPath string
	Dir        string
	GoFiles    []string
	Module     *struct{ Path, Dir string }
	Standard   bool
}

func wasmEnv() []string {
	return append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
}

func build(pkg string) (string, error) {
	key, err := sourceKey(pkg)
	if err != nil {
		return "", err
	}
	dir := filepath.Join(os.TempDir(), "wharf-plugintest")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	out := filepath.Join(dir, key+".wasm")
	if _, err := os.Stat(out); err == nil {
		return out, nil
	}
	tmp, err := os.CreateTemp(dir, "build-*.wasm")
	if err != nil {
		return "", err
	}
	tmp.Close()
	defer os.Remove(tmp.Name())
	cmd := exec.Command("go", "build", "-buildmode=c-shared", "-trimpath", "-ldflags=-s -w", "-o", tmp.Name(), pkg)
	cmd.Env = wasmEnv()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%v\n%s", err, stderr.String())
	}
	// Rename is atomic: concurrent test binaries never see half a file.
	if err := os.Rename(tmp.Name(), out); err != nil {
		return "", err
	}
	return out, nil
}

// sourceKey hashes the toolchain and the sources of pkg and its
// dependencies in the main module (other modules are pinned by go.sum,
// which is hashed too).
func sourceKey(pkg string) (string, error) {
	cmd := exec.Command("go", "list", "-deps", "-json=ImportPath,Dir,GoFiles,Module,Standard", pkg)
	cmd.Env = wasmEnv()
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("go list %s: %v\n%s", pkg, err, stderr.String())
	}
	h := sha256.New()
	fmt.Fprintln(h, runtime.Version(), pkg)
	dec := json.NewDecoder(&stdout)
	var files []string
	var modDirs = map[string]bool{}
	var mainMod string
	var pkgs []listedPackage
	for {
		var p listedPackage
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			return "", err
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) > 0 && pkgs[len(pkgs)-1].Module != nil {
		mainMod = pkgs[len(pkgs)-1].Module.Path
	}
	for _, p := range pkgs {
		if p.Standard || p.Module == nil {
			continue
		}
		if p.Module.Path != mainMod {
			fmt.Fprintln(h, p.ImportPath, p.Module.Path)
			continue
		}
		modDirs[p.Module.Dir] = true
		for _, f := range p.GoFiles {
			files = append(files, filepath.Join(p.Dir, f))
		}
	}
	for d := range modDirs {
		files = append(files, filepath.Join(d, "go.sum"), filepath.Join(d, "go.mod"))
	}
	sort.Strings(files)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil && !os.IsNotExist(err) {
			return "", err
		}
		fmt.Fprintln(h, strings.TrimPrefix(f, "/"), len(b))
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))[:32], nil
}
