package runtime

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"strings"

	containerd "github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
)

// CPU shares and CFS period, as kubelet computes them.
const (
	minShares      = 2
	sharesPerCPU   = 1024
	cfsPeriod      = 100000
	minCFSQuota    = 1000
	resourceCPU    = "cpu"
	resourceMemory = "memory"
)

// specOpts turns cfg into the OCI spec options of container id.
func (r *Containerd) specOpts(ctx context.Context, cfg ContainerConfig, img containerd.Image, id string, mounts []specs.Mount) ([]oci.SpecOpts, error) {
	c, pod := cfg.Container, cfg.Pod
	opts := []oci.SpecOpts{oci.WithImageConfigArgs(img, c.GetArgs())}
	if len(c.GetCommand()) > 0 {
		opts = append(opts, oci.WithProcessArgs(append(append([]string{}, c.GetCommand()...), c.GetArgs()...)...))
	}
	if c.GetWorkingDir() != "" {
		opts = append(opts, oci.WithProcessCwd(c.GetWorkingDir()))
	}
	env, err := containerEnv(pod, c)
	if err != nil {
		return nil, err
	}
	if env = append(env, cfg.Env...); len(env) > 0 {
		opts = append(opts, oci.WithEnv(env))
	}

	// Namespaces. Without a netns path the container shares the host's
	// network (and so its hostname and /etc/hosts, /etc/resolv.conf).
	if cfg.NetNSPath == "" {
		opts = append(opts,
			oci.WithHostNamespace(specs.NetworkNamespace),
			oci.WithHostNamespace(specs.UTSNamespace),
			oci.WithHostHostsFile,
			oci.WithHostResolvconf)
	} else {
		opts = append(opts,
			oci.WithLinuxNamespace(specs.LinuxNamespace{Type: specs.NetworkNamespace, Path: cfg.NetNSPath}),
			oci.WithHostname(podHostname(pod)),
			oci.WithHostResolvconf)
	}

	res, err := resourceOpts(c.GetResources())
	if err != nil {
		return nil, err
	}
	opts = append(opts, res...)
	opts = append(opts, oci.WithCgroup(r.cgroupPath(id)))
	if len(mounts) > 0 {
		opts = append(opts, oci.WithMounts(mounts))
	}
	sec, err := securityOpts(ctx, pod.GetSpec().GetSecurityContext(), c.GetSecurityContext(), img)
	if err != nil {
		return nil, err
	}
	opts = append(opts, sec...)
	return append(opts, cfg.SpecOpts...), nil
}

func (r *Containerd) cgroupPath(id string) string {
	return path.Join(r.cfg.CgroupParent, id)
}

func podHostname(pod *wharfv1.Pod) string {
	h := pod.GetSpec().GetHostname()
	if h == "" {
		h = pod.GetMetadata().GetName()
	}
	if len(h) > 63 {
		h = strings.TrimRight(h[:63], "-.")
	}
	return h
}

// resourceOpts maps requests and limits to cgroup settings: cpu request ->
// shares (1024 a CPU, 2 when none), cpu limit -> CFS quota over a 100ms
// period, memory limit -> memory limit. A cpu limit without a request
// counts as the request, as in Kubernetes.
func resourceOpts(rr *wharfv1.ResourceRequirements) ([]oci.SpecOpts, error) {
	var opts []oci.SpecOpts
	req, lim := rr.GetRequests(), rr.GetLimits()
	cpuReq, ok := req[resourceCPU]
	if !ok {
		cpuReq = lim[resourceCPU]
	}
	shares := uint64(minShares)
	if cpuReq != "" {
		m, err := milliValue(cpuReq)
		if err != nil {
			return nil, fmt.Errorf("runtime: cpu request: %w: %w", ErrInvalidSpec, err)
		}
		shares = max(uint64(m)*sharesPerCPU/1000, minShares)
	}
	opts = append(opts, oci.WithCPUShares(shares))
	if v, ok := lim[resourceCPU]; ok {
		m, err := milliValue(v)
		if err != nil {
			return nil, fmt.Errorf("runtime: cpu limit: %w: %w", ErrInvalidSpec, err)
		}
		opts = append(opts, oci.WithCPUCFS(max(m*cfsPeriod/1000, minCFSQuota), cfsPeriod))
	}
	if v, ok := lim[resourceMemory]; ok {
		b, err := quantityValue(v)
		if err != nil {
			return nil, fmt.Errorf("runtime: memory limit: %w: %w", ErrInvalidSpec, err)
		}
		opts = append(opts, oci.WithMemoryLimit(uint64(b)))
	}
	return opts, nil
}

// securityOpts applies the pod's and the container's security context; the
// container's fields win.
func securityOpts(ctx context.Context, pod *wharfv1.PodSecurityContext, c *wharfv1.SecurityContext, img containerd.Image) ([]oci.SpecOpts, error) {
	var opts []oci.SpecOpts
	if pod == nil {
		pod = &wharfv1.PodSecurityContext{}
	}
	uid, gid := pod.RunAsUser, pod.RunAsGroup
	nonRoot := pod.GetRunAsNonRoot()
	if c != nil {
		if c.RunAsUser != nil {
			uid = c.RunAsUser
		}
		if c.RunAsGroup != nil {
			gid = c.RunAsGroup
		}
		if c.RunAsNonRoot != nil {
			nonRoot = *c.RunAsNonRoot
		}
	}
	switch {
	case uid != nil && gid != nil:
		opts = append(opts, oci.WithUIDGID(uint32(*uid), uint32(*gid)))
	case uid != nil:
		opts = append(opts, oci.WithUserID(uint32(*uid)))
	case gid != nil:
		opts = append(opts, withGID(uint32(*gid)))
	}
	if nonRoot {
		if uid == nil {
			spec, err := img.Spec(ctx)
			if err != nil {
				return nil, fmt.Errorf("runtime: image config: %w", err)
			}
			user, _, _ := strings.Cut(spec.Config.User, ":")
			n, err := strconv.ParseInt(user, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("runtime: runAsNonRoot and the image's user %q is not numeric: %w", spec.Config.User, ErrInvalidSpec)
			}
			uid = &n
		}
		if *uid == 0 {
			return nil, fmt.Errorf("runtime: runAsNonRoot and the container would run as root: %w", ErrInvalidSpec)
		}
	}
	if len(pod.GetSupplementalGroups()) > 0 || pod.FsGroup != nil {
		var gids []uint32
		if pod.FsGroup != nil {
			gids = append(gids, uint32(*pod.FsGroup))
		}
		for _, g := range pod.GetSupplementalGroups() {
			gids = append(gids, uint32(g))
		}
		opts = append(opts, withAdditionalGIDs(gids))
	}
	if c == nil {
		return opts, nil
	}
	if c.GetPrivileged() {
		opts = append(opts, oci.WithPrivileged)
	}
	if c.GetReadOnlyRootFilesystem() {
		opts = append(opts, oci.WithRootFSReadonly())
	}
	if c.AllowPrivilegeEscalation != nil && !*c.AllowPrivilegeEscalation {
		opts = append(opts, oci.WithNoNewPrivileges)
	}
	if caps := c.GetCapabilities(); caps != nil {
		if drop := capNames(caps.GetDrop()); len(drop) > 0 {
			if containsFold(caps.GetDrop(), "ALL") {
				opts = append(opts, oci.WithCapabilities(nil))
			} else {
				opts = append(opts, oci.WithDroppedCapabilities(drop))
			}
		}
		if add := capNames(caps.GetAdd()); len(add) > 0 {
			opts = append(opts, oci.WithAddedCapabilities(add))
		}
	}
	return opts, nil
}

func capNames(in []string) []string {
	out := make([]string, 0, len(in))
	for _, c := range in {
		c = strings.ToUpper(c)
		if c == "ALL" {
			continue
		}
		if !strings.HasPrefix(c, "CAP_") {
			c = "CAP_" + c
		}
		out = append(out, c)
	}
	return out
}

func containsFold(list []string, s string) bool {
	for _, v := range list {
		if strings.EqualFold(v, s) {
			return true
		}
	}
	return false
}

func withGID(gid uint32) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Process == nil {
			s.Process = &specs.Process{}
		}
		s.Process.User.GID = gid
		return nil
	}
}

func withAdditionalGIDs(gids []uint32) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if s.Process == nil {
			s.Process = &specs.Process{}
		}
		s.Process.User.AdditionalGids = append(s.Process.User.AdditionalGids, gids...)
		return nil
	}
}
