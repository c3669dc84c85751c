package runtime

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"golang.org/x/sys/unix"
)

// emptyDirPath is where a pod's emptyDir volume lives on the host.
func (r *Containerd) emptyDirPath(podUID, volume string) string {
	return filepath.Join(r.cfg.PodDir, podUID, "volumes", "empty-dir", volume)
}

// mounts resolves the container's volumeMounts against the pod's volumes
// and prepares their host side: emptyDir directories (tmpfs for medium
// Memory, shared by the pod's containers) and hostPath directories or files
// for the ...OrCreate types.
func (r *Containerd) mounts(cfg ContainerConfig) ([]specs.Mount, error) {
	vols := map[string]*wharfv1.Volume{}
	for _, v := range cfg.Pod.GetSpec().GetVolumes() {
		vols[v.GetName()] = v
	}
	uid := cfg.Pod.GetMetadata().GetUid()
	var out []specs.Mount
	for _, vm := range cfg.Container.GetVolumeMounts() {
		v, ok := vols[vm.GetName()]
		if !ok {
			return nil, fmt.Errorf("runtime: volume mount %q: no such volume in the pod: %w", vm.GetName(), ErrInvalidSpec)
		}
		if !filepath.IsAbs(vm.GetMountPath()) {
			return nil, fmt.Errorf("runtime: volume mount %q: mountPath %q is not absolute: %w", vm.GetName(), vm.GetMountPath(), ErrInvalidSpec)
		}
		var src string
		var err error
		switch {
		case v.GetEmptyDir() != nil:
			src, err = r.prepareEmptyDir(uid, v)
		case v.GetHostPath() != nil:
			src, err = prepareHostPath(v.GetHostPath())
		default:
			err = fmt.Errorf("no supported volume source: %w", ErrInvalidSpec)
		}
		if err != nil {
			return nil, fmt.Errorf("runtime: volume %q: %w", v.GetName(), err)
		}
		if sp := vm.GetSubPath(); sp != "" {
			if filepath.IsAbs(sp) || sp != filepath.Clean(sp) || sp == ".." || strings.HasPrefix(sp, "../") {
				return nil, fmt.Errorf("runtime: volume mount %q: subPath %q must be a relative path inside the volume: %w", vm.GetName(), sp, ErrInvalidSpec)
			}
			src = filepath.Join(src, sp)
			if _, err := os.Lstat(src); os.IsNotExist(err) {
				if err := os.MkdirAll(src, 0o755); err != nil {
					return nil, fmt.Errorf("runtime: volume mount %q: %w", vm.GetName(), err)
				}
			}
		}
		mode := "rw"
		if vm.GetReadOnly() {
			mode = "ro"
		}
		out = append(out, specs.Mount{
			Destination: vm.GetMountPath(),
			Type:        "bind",
			Source:      src,
			Options:     []string{"rbind", "rprivate", mode},
		})
	}
	return out, nil
}

func (r *Containerd) prepareEmptyDir(podUID string, v *wharfv1.Volume) (string, error) {
	dir := r.emptyDirPath(podUID, v.GetName())
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return "", err
	}
	// MkdirAll applies the umask; emptyDir is world-writable, as in
	// Kubernetes, so that any container user can write it.
	if err := os.Chmod(dir, 0o777); err != nil {
		return "", err
	}
	ed := v.GetEmptyDir()
	if ed.GetMedium() != "Memory" {
		return dir, nil
	}
	if mounted, err := isMountPoint(dir); err != nil || mounted {
		return dir, err
	}
	data := "mode=0777"
	if ed.GetSizeLimit() != "" {
		n, err := quantityValue(ed.GetSizeLimit())
		if err != nil {
			return "", fmt.Errorf("sizeLimit: %w: %w", ErrInvalidSpec, err)
		}
		data += fmt.Sprintf(",size=%d", n)
	}
	if err := unix.Mount("tmpfs", dir, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, data); err != nil {
		return "", fmt.Errorf("mount tmpfs on %s: %w", dir, err)
	}
	return dir, nil
}

func prepareHostPath(hp *wharfv1.HostPathVolumeSource) (string, error) {
	p := hp.GetPath()
	if !filepath.IsAbs(p) {
		return "", fmt.Errorf("hostPath %q is not absolute: %w", p, ErrInvalidSpec)
	}
	st, err := os.Stat(p)
	exists := err == nil
	if err != nil && !os.IsNotExist(err) {
		return "", err
	}
	want := func(ok bool, what string) (string, error) {
		if !exists || !ok {
			return "", fmt.Errorf("hostPath %q is not %s: %w", p, what, ErrInvalidSpec)
		}
		return p, nil
	}
	switch hp.GetType() {
	case "":
		return p, nil
	case "DirectoryOrCreate":
		if !exists {
			return p, os.MkdirAll(p, 0o755)
		}
		return want(st.IsDir(), "a directory")
	case "Directory":
		return want(exists && st.IsDir(), "a directory")
	case "FileOrCreate":
		if !exists {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return "", err
			}
			f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o644)
			if err != nil {
				return "", err
			}
			return p, f.Close()
		}
		return want(st.Mode().IsRegular(), "a file")
	case "File":
		return want(exists && st.Mode().IsRegular(), "a file")
	case "Socket":
		return want(exists && st.Mode()&os.ModeSocket != 0, "a socket")
	case "CharDevice":
		return want(exists && st.Mode()&os.ModeCharDevice != 0, "a character device")
	case "BlockDevice":
		return want(exists && st.Mode()&os.ModeDevice != 0 && st.Mode()&os.ModeCharDevice == 0, "a block device")
	}
	return "", fmt.Errorf("hostPath type %q: %w", hp.GetType(), ErrInvalidSpec)
}

// isMountPoint reports whether dir is on another device than its parent.
func isMountPoint(dir string) (bool, error) {
	var a, b unix.Stat_t
	if err := unix.Lstat(dir, &a); err != nil {
		return false, err
	}
	if err := unix.Lstat(filepath.Dir(dir), &b); err != nil {
		return false, err
	}
	return a.Dev != b.Dev, nil
}

// RemovePod implements [Runtime].
func (r *Containerd) RemovePod(ctx context.Context, podUID string) error {
	if podUID == "" || strings.ContainsAny(podUID, "/\x00") || podUID == "." || podUID == ".." {
		return fmt.Errorf("runtime: remove pod %q: %w", podUID, ErrInvalidSpec)
	}
	ctrs, err := r.ListContainers(ctx, ListFilter{PodUID: podUID})
	if err != nil {
		return err
	}
	if len(ctrs) > 0 {
		return fmt.Errorf("runtime: remove pod %s: %d containers left: %w", podUID, len(ctrs), ErrPodInUse)
	}
	var errs []error
	ed := filepath.Join(r.cfg.PodDir, podUID, "volumes", "empty-dir")
	if ents, err := os.ReadDir(ed); err == nil {
		for _, e := range ents {
			p := filepath.Join(ed, e.Name())
			if m, _ := isMountPoint(p); m {
				if err := unix.Unmount(p, unix.MNT_DETACH); err != nil {
					errs = append(errs, fmt.Errorf("unmount %s: %w", p, err))
				}
			}
		}
	}
	if len(errs) == 0 {
		if err := os.RemoveAll(filepath.Join(r.cfg.PodDir, podUID)); err != nil {
			errs = append(errs, err)
		}
	}
	logs, _ := filepath.Glob(filepath.Join(r.cfg.LogDir, "*_"+podUID))
	for _, l := range logs {
		if err := os.RemoveAll(l); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("runtime: remove pod %s: %w", podUID, err)
	}
	return nil
}
