package containerlog

import (
	"fmt"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"time"
)

// Query keys of the driver URI. The shim turns each key and value into two
// arguments, in no fixed order, so the driver parses them as pairs.
const (
	argPath     = "wharf-log-path"
	argMaxSize  = "wharf-log-max-size"
	argMaxFiles = "wharf-log-max-files"
)

// DriverProgram is the file name of the program that runs only the log
// driver (cmd/wharf/logdriver). [DefaultDriver] looks for it next to the
// running executable.
const DriverProgram = "wharf-log-driver"

// DefaultDriver returns the program to hand the shim as the log driver:
// [DriverProgram] when it is installed next to the running executable, else
// the running executable itself, which must then begin with the IsDriver
// check (see the package doc).
//
// # Notes
//
// The shim waits for the driver to start before it starts the container,
// so the driver's start-up is part of every container start: a few
// milliseconds for DriverProgram, 10 to 30 for the wharf binary, which
// initializes every package it links first.
func DefaultDriver() (string, error) {
	exe, err := os.Executable()
	if err != nil {
		return "", fmt.Errorf("containerlog: log driver: %w", err)
	}
	return driverBeside(exe), nil
}

// driverBeside returns DriverProgram in exe's directory if it is an
// executable file there, else exe.
func driverBeside(exe string) string {
	p := filepath.Join(filepath.Dir(exe), DriverProgram)
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode().Perm()&0o111 != 0 {
		return p
	}
	return exe
}

// DriverConfig is what the log driver of one container writes where.
type DriverConfig struct {
	// Binary is the absolute path of the program that runs the driver
	// ([DefaultDriver]).
	Binary string
	// Path is the log file.
	Path string
	// MaxSize is the size in bytes at which the file is rotated; <= 0 never.
	MaxSize int64
	// MaxFiles is how many files are kept, the current one included.
	MaxFiles int
}

// DriverURI returns the binary:// URI to give containerd (cio.LogURI) so the
// shim runs the driver for a container's stdout and stderr.
func DriverURI(cfg DriverConfig) *url.URL {
	q := url.Values{}
	q.Set(argPath, cfg.Path)
	q.Set(argMaxSize, strconv.FormatInt(cfg.MaxSize, 10))
	q.Set(argMaxFiles, strconv.Itoa(cfg.MaxFiles))
	return &url.URL{Scheme: "binary", Path: cfg.Binary, RawQuery: q.Encode()}
}

// IsDriver reports whether args (os.Args) are a shim's invocation of the
// log driver.
func IsDriver(args []string) bool {
	_, ok := driverArgs(args)[argPath]
	return ok
}

func driverArgs(args []string) map[string]string {
	m := map[string]string{}
	if len(args) < 1 {
		return m
	}
	rest := args[1:]
	if len(rest)%2 != 0 {
		return m
	}
	for i := 0; i < len(rest); i += 2 {
		switch rest[i] {
		case argPath, argMaxSize, argMaxFiles:
			m[rest[i]] = rest[i+1]
		default:
			return map[string]string{}
		}
	}
	return m
}

// drainAfterTerm is how long the driver keeps copying after SIGTERM (which
// the shim sends when the task is deleted) before it exits.
const drainAfterTerm = 2 * time.Second

// RunDriver runs the log driver as the shim starts it: the container's
// stdout on fd 3, stderr on fd 4, and fd 5 to close once ready. It copies
// both streams into the log file until they end and returns the exit code.
// Errors go to stderr, which the shim discards, so a failure shows as a
// missing log file.
func RunDriver(args []string) int {
	m := driverArgs(args)
	path := m[argPath]
	maxSize, _ := strconv.ParseInt(m[argMaxSize], 10, 64)
	maxFiles, _ := strconv.Atoi(m[argMaxFiles])

	stdout := os.NewFile(3, "stdout")
	stderr := os.NewFile(4, "stderr")
	ready := os.NewFile(5, "ready")

	w, err := OpenWriter(path, maxSize, maxFiles)
	if ready != nil {
		ready.Close()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "wharf log driver:", err)
		return 1
	}
	defer w.Close()

	term := make(chan os.Signal, 1)
	signal.Notify(term, syscall.SIGTERM, syscall.SIGINT)
	done := make(chan struct{})
	var wg sync.WaitGroup
	for _, s := range []struct {
		name string
		f    *os.File
	}{{Stdout, stdout}, {Stderr, stderr}} {
		if s.f == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := w.CopyStream(s.name, s.f); err != nil {
				fmt.Fprintln(os.Stderr, "wharf log driver:", err)
			}
		}()
	}
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-term:
		select {
		case <-done:
		case <-time.After(drainAfterTerm):
		}
	}
	return 0
}
