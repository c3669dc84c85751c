package runtime

import (
	"context"
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"time"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/containerd/errdefs"
	"github.com/distribution/reference"
)

// NormalizeImage returns the full form of an image reference, as images are
// stored: "busybox" -> "docker.io/library/busybox:latest".
func NormalizeImage(ref string) (string, error) {
	named, err := reference.ParseDockerRef(ref)
	if err != nil {
		return "", fmt.Errorf("runtime: image %q: %w: %w", ref, ErrInvalidSpec, err)
	}
	return named.String(), nil
}

// ImportImage implements [Runtime].
func (r *Containerd) ImportImage(ctx context.Context, archive io.Reader) ([]Image, error) {
	ctx = r.ns(ctx)
	imgs, err := r.client.Import(ctx, archive)
	if err != nil {
		return nil, fmt.Errorf("runtime: import image: %w", err)
	}
	out := make([]Image, 0, len(imgs))
	for _, img := range imgs {
		i := containerd.NewImage(r.client, img)
		if err := r.unpack(ctx, i); err != nil {
			return nil, err
		}
		out = append(out, toImage(ctx, i))
	}
	return out, nil
}

// PullImage implements [Runtime].
func (r *Containerd) PullImage(ctx context.Context, ref string, opts PullOptions) (Image, error) {
	ctx = r.ns(ctx)
	name, err := NormalizeImage(ref)
	if err != nil {
		return Image{}, fmt.Errorf("%w: %w", ErrImagePull, err)
	}
	hostOpts := []docker.RegistryOpt{docker.WithPlainHTTP(r.plainHTTP)}
	if opts.Credentials != nil {
		hostOpts = append(hostOpts, docker.WithAuthorizer(docker.NewDockerAuthorizer(
			docker.WithAuthCreds(opts.Credentials))))
	}
	resolver := docker.NewResolver(docker.ResolverOptions{Hosts: docker.ConfigureDefaultRegistries(hostOpts...)})
	img, err := r.client.Pull(ctx, name,
		containerd.WithResolver(resolver),
		containerd.WithPullUnpack,
		containerd.WithPullSnapshotter(r.cfg.Snapshotter))
	if err != nil {
		return Image{}, fmt.Errorf("runtime: pull %s: %w: %w", name, ErrImagePull, err)
	}
	return toImage(ctx, img), nil
}

// plainHTTP reports whether a registry host is pulled over plain HTTP.
func (r *Containerd) plainHTTP(host string) (bool, error) {
	if slices.Contains(r.cfg.InsecureRegistries, host) {
		return true, nil
	}
	h := host
	if hh, _, err := net.SplitHostPort(host); err == nil {
		h = hh
	}
	h = strings.Trim(h, "[]")
	if h == "localhost" {
		return true, nil
	}
	ip := net.ParseIP(h)
	return ip != nil && ip.IsLoopback(), nil
}

// GetImage implements [Runtime]. An image that is present but not unpacked
// (a pull interrupted after its content was fetched) is unpacked.
func (r *Containerd) GetImage(ctx context.Context, ref string) (Image, error) {
	ctx = r.ns(ctx)
	i, err := r.image(ctx, ref)
	if err != nil {
		return Image{}, err
	}
	return toImage(ctx, i), nil
}

func (r *Containerd) image(ctx context.Context, ref string) (containerd.Image, error) {
	name, err := NormalizeImage(ref)
	if err != nil {
		return nil, err
	}
	i, err := r.client.GetImage(ctx, name)
	if err != nil {
		return nil, fmt.Errorf("runtime: image %s: %w", name, err)
	}
	if at, ok := r.unpacked.Load(i.Target().Digest); ok && time.Since(at.(time.Time)) < unpackedFor {
		return i, nil
	}
	if err := r.unpack(ctx, i); err != nil {
		return nil, err
	}
	return i, nil
}

// unpackedFor is how long an image seen unpacked is taken to be. Asking
// the snapshotter reads the image's manifest and config and costs a few
// milliseconds of each container create; an image removed meanwhile shows
// as a failed create, which asks again (see CreateContainer).
const unpackedFor = 30 * time.Second

func (r *Containerd) unpack(ctx context.Context, i containerd.Image) error {
	ok, err := i.IsUnpacked(ctx, r.cfg.Snapshotter)
	if err != nil || !ok {
		if err := i.Unpack(ctx, r.cfg.Snapshotter); err != nil && !errdefs.IsAlreadyExists(err) {
			return fmt.Errorf("runtime: unpack %s: %w", i.Name(), err)
		}
	}
	r.unpacked.Store(i.Target().Digest, time.Now())
	return nil
}

func toImage(ctx context.Context, i containerd.Image) Image {
	img := Image{Name: i.Name(), Digest: i.Target().Digest.String()}
	// The size is informational; a failure to sum it is not the caller's.
	img.Size, _ = i.Size(ctx)
	return img
}
