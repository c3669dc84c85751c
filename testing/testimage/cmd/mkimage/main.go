// Command mkimage builds an OCI image archive from a main package of this
// module (a static binary in a single-layer image) for `wharf up
// --import-image`: the demo image of the README tour is made with
//
//	go run ./testing/testimage/cmd/mkimage -pkg ./examples/hello -name wharf.local/hello:latest -o bin/hello.oci.tar
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/wharfhq/wharf/testing/testimage"
)

func main() {
	pkg := flag.String("pkg", "", "the main package to build, e.g. ./examples/hello")
	name := flag.String("name", "", "the image reference, e.g. wharf.local/hello:latest")
	out := flag.String("o", "", "the archive to write")
	flag.Parse()
	if *pkg == "" || *name == "" || *out == "" {
		fmt.Fprintln(os.Stderr, "usage: mkimage -pkg PACKAGE -name IMAGE -o ARCHIVE")
		os.Exit(2)
	}
	if err := run(*pkg, *name, *out); err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}

func run(pkg, name, out string) error {
	dir, err := os.MkdirTemp("", "mkimage-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	img, err := testimage.Build(context.Background(), testimage.BuildOptions{Package: pkg, Name: name, Dir: dir})
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	src, err := os.Open(img.Archive)
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := os.Create(out)
	if err != nil {
		return err
	}
	if _, err := io.Copy(dst, src); err != nil {
		dst.Close()
		return err
	}
	if err := dst.Close(); err != nil {
		return err
	}
	fmt.Printf("%s: %s (%s)\n", out, name, img.Digest)
	return nil
}
