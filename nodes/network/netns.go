package network

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"

	"golang.org/x/sys/unix"
)

// newNetNS makes a network namespace with its loopback interface up and pins
// it with a bind mount at path, as `ip netns add` does, so it lives on
// without a process in it.
func newNetNS(path string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_RDONLY, 0o444)
	if err != nil && !os.IsExist(err) {
		return fmt.Errorf("create netns file: %w", err)
	}
	if f != nil {
		f.Close()
	}
	errc := make(chan error, 1)
	go func() {
		// The thread enters the new namespace, pins it, and goes back to
		// the namespace it came from. Should going back fail, it stays
		// locked and the Go runtime ends it with the goroutine rather than
		// reuse it in the wrong namespace.
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("open the current network namespace: %w", err)
			return
		}
		defer orig.Close()
		if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("unshare the network namespace: %w", err)
			return
		}
		err = linkUp("lo")
		if err == nil {
			err = unix.Mount(fmt.Sprintf("/proc/%d/task/%d/ns/net", os.Getpid(), unix.Gettid()), path, "", unix.MS_BIND, "")
			if err != nil {
				err = fmt.Errorf("pin the network namespace at %s: %w", path, err)
			}
		}
		if unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		}
		errc <- err
	}()
	if err := <-errc; err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

// isNetNS reports whether path is a pinned network namespace.
func isNetNS(path string) (bool, error) {
	if path == "" {
		return false, nil
	}
	var st unix.Statfs_t
	if err := unix.Statfs(path, &st); err != nil {
		if os.IsNotExist(err) {
			return false, nil
		}
		return false, err
	}
	return st.Type == unix.NSFS_MAGIC, nil
}

// removeNetNS unpins the namespace at path and removes the file; the
// namespace ends when nothing else holds it.
func removeNetNS(path string) error {
	if ok, _ := isNetNS(path); ok {
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			return fmt.Errorf("unmount netns %s: %w", path, err)
		}
	}
	if err := os.Remove(path); err != nil && !os.IsNotExist(err) {
		return err
	}
	return nil
}

// linkUp sets the interface name of the calling thread's network namespace
// up.
func linkUp(name string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("set %s up: %w", name, err)
	}
	return nil
}
