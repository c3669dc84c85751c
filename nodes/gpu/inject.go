package gpu

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/pkg/oci"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"tags.cncf.io/container-device-interface/pkg/cdi"
)

// DefaultCDIDirs are where CDI specs are looked for, lowest priority first.
var DefaultCDIDirs = []string{"/etc/cdi", "/var/run/cdi"}

// CDIKind is the CDI vendor/class of NVIDIA GPUs.
const CDIKind = "nvidia.com/gpu"

// VisibleDevicesEnv is the variable the NVIDIA container stack reads.
const VisibleDevicesEnv = "NVIDIA_VISIBLE_DEVICES"

// ErrCDIDevice: a CDI spec for nvidia.com/gpu exists but does not describe
// an allocated device, or its edits cannot be applied.
var ErrCDIDevice = errors.New("CDI device not usable")

// Injector makes allocated GPUs visible in a container.
type Injector struct {
	specDirs []string
}

// NewInjector returns an injector that reads CDI specs from dirs (default
// [DefaultCDIDirs]).
func NewInjector(dirs ...string) *Injector {
	if len(dirs) == 0 {
		dirs = DefaultCDIDirs
	}
	return &Injector{specDirs: dirs}
}

// Env returns NVIDIA_VISIBLE_DEVICES=<uuid,uuid,...> for devices, or
// NVIDIA_VISIBLE_DEVICES=void for none, so that an image that sets "all"
// (CUDA images do) gets no GPU it was not given.
func (i *Injector) Env(devices []*wharfv1.GPUDevice) []string {
	if len(devices) == 0 {
		return []string{VisibleDevicesEnv + "=void"}
	}
	ids := make([]string, len(devices))
	for j, d := range devices {
		ids[j] = d.GetUuid()
	}
	return []string{VisibleDevicesEnv + "=" + strings.Join(ids, ",")}
}

// ContainerOpts returns what to add to a container (runtime.ContainerConfig
// Env and SpecOpts) for devices: the env of [Injector.Env] and, when a CDI
// spec for nvidia.com/gpu exists, a SpecOpts that applies the CDI edits of
// each device (named by UUID, or else by index, as nvidia-ctk names them).
// Without such a spec there is no SpecOpts. CDI spec errors that do not
// touch these devices are ignored.
func (i *Injector) ContainerOpts(devices []*wharfv1.GPUDevice) (env []string, opts []oci.SpecOpts, err error) {
	env = i.Env(devices)
	if len(devices) == 0 {
		return env, nil, nil
	}
	// Spec errors are kept per spec by the cache; a broken spec of another
	// vendor must not stop GPU containers, so they are not checked here.
	cache, _ := cdi.NewCache(cdi.WithSpecDirs(i.specDirs...), cdi.WithAutoRefresh(false))
	if !hasKind(cache.ListDevices()) {
		return env, nil, nil
	}
	names := make([]string, 0, len(devices))
	for _, d := range devices {
		name := ""
		for _, n := range []string{d.GetUuid(), strconv.Itoa(int(d.GetIndex()))} {
			if q := CDIKind + "=" + n; cache.GetDevice(q) != nil {
				name = q
				break
			}
		}
		if name == "" {
			return nil, nil, fmt.Errorf("gpu: GPU %d (%s) is in no CDI spec of %s: %w", d.GetIndex(), d.GetUuid(), CDIKind, ErrCDIDevice)
		}
		names = append(names, name)
	}
	inject := func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		if unresolved, err := cache.InjectDevices(s, names...); err != nil {
			return fmt.Errorf("gpu: inject CDI devices %v (unresolved %v): %w: %w", names, unresolved, ErrCDIDevice, err)
		}
		return nil
	}
	return env, []oci.SpecOpts{inject}, nil
}

func hasKind(devices []string) bool {
	for _, d := range devices {
		if strings.HasPrefix(d, CDIKind+"=") {
			return true
		}
	}
	return false
}
