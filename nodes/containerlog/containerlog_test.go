package containerlog

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"
)

func TestMain(m *testing.M) {
	if IsDriver(os.Args) {
		os.Exit(RunDriver(os.Args))
	}
	os.Exit(m.Run())
}

func readAll(t *testing.T, path string, opts ReadOptions) []string {
	t.Helper()
	var got []string
	var cur strings.Builder
	err := Read(context.Background(), path, opts, func(e Entry) error {
		cur.Write(e.Content)
		if !e.Partial {
			got = append(got, e.Stream+":"+cur.String())
			cur.Reset()
		}
		return nil
	})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return got
}

func TestWriterRoundTrip(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "c", "0.log")
	w, err := OpenWriter(path, 0, 1)
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", MaxLineSize*2+10)
	if err := w.CopyStream(Stdout, strings.NewReader("a\n\nb\n"+long+"\nno newline")); err != nil {
		t.Fatal(err)
	}
	if err := w.CopyStream(Stderr, strings.NewReader("oops\n")); err != nil {
		t.Fatal(err)
	}
	w.Close()
	got := readAll(t, path, ReadOptions{})
	want := []string{"stdout:a", "stdout:", "stdout:b", "stdout:" + long, "stdout:no newline", "stderr:oops"}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("got %.200q, want %.200q", got, want)
	}
	b, _ := os.ReadFile(path)
	if n := bytes.Count(b, []byte(" stdout P ")); n != 2 {
		t.Errorf("%d partial entries for a line of %d bytes, want 2", n, len(long))
	}
}

func TestRotation(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "0.log")
	w, err := OpenWriter(path, 1024, 3)
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i <= 100; i++ {
		if err := w.WriteEntry(Entry{Stream: Stdout, Content: fmt.Appendf(nil, "line %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	for _, p := range []string{path, RotatedPath(path, 1), RotatedPath(path, 2)} {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatalf("stat: %v", err)
		}
		if st.Size() > 1024 {
			t.Errorf("%s is %d bytes, over the 1024 limit", p, st.Size())
		}
	}
	if _, err := os.Stat(RotatedPath(path, 3)); !os.IsNotExist(err) {
		t.Errorf("a fourth file was kept: %v", err)
	}
	all := readAll(t, path, ReadOptions{})
	if all[len(all)-1] != "stdout:line 100" {
		t.Errorf("last line %q", all[len(all)-1])
	}
	for i := 1; i < len(all); i++ {
		var a, b int
		fmt.Sscanf(all[i-1], "stdout:line %d", &a)
		fmt.Sscanf(all[i], "stdout:line %d", &b)
		if b != a+1 {
			t.Fatalf("lines out of order across rotated files: %q then %q", all[i-1], all[i])
		}
	}

	t.Run("tail_within_current_file", func(t *testing.T) {
		got := readAll(t, path, ReadOptions{Tail: 3})
		if fmt.Sprint(got) != "[stdout:line 98 stdout:line 99 stdout:line 100]" {
			t.Errorf("tail 3 = %q", got)
		}
	})
	t.Run("tail_across_files", func(t *testing.T) {
		n := len(all) - 2
		got := readAll(t, path, ReadOptions{Tail: n})
		if len(got) != n || got[0] != all[2] {
			t.Errorf("tail %d = %d lines from %q, want from %q", n, len(got), got[0], all[2])
		}
	})
}

func TestFollow(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "0.log")
	w, err := OpenWriter(path, 512, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.WriteEntry(Entry{Stream: Stdout, Content: []byte("before")})

	until := make(chan struct{})
	lines := make(chan string, 1000)
	errc := make(chan error, 1)
	go func() {
		errc <- Read(context.Background(), path, ReadOptions{Tail: 1, Follow: true, Until: until, PollInterval: 10 * time.Millisecond},
			func(e Entry) error { lines <- string(e.Content); return nil })
	}()
	if got := <-lines; got != "before" {
		t.Fatalf("first line %q", got)
	}
	// Enough lines to rotate several times while the reader follows; write
	// in steps so the reader sees each file before it is rotated away.
	for i := 1; i <= 40; i++ {
		w.WriteEntry(Entry{Stream: Stderr, Content: fmt.Appendf(nil, "after %d", i)})
		if got := <-lines; got != fmt.Sprintf("after %d", i) {
			t.Fatalf("followed line %q, want %q", got, fmt.Sprintf("after %d", i))
		}
	}
	w.WriteEntry(Entry{Stream: Stdout, Content: []byte("last")})
	close(until)
	if err := <-errc; err != nil {
		t.Fatalf("Read: %v", err)
	}
	if got := <-lines; got != "last" {
		t.Errorf("line written before Until closed: %q", got)
	}
}

func TestFollowCancel(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "missing.log")
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	err := Read(ctx, path, ReadOptions{Follow: true}, func(Entry) error { return nil })
	if err != context.DeadlineExceeded {
		t.Errorf("Read = %v, want %v", err, context.DeadlineExceeded)
	}
}

// TestDriver runs this test binary as the shim would run the driver.
// TestDriver runs the driver as the shim does: this test binary (as the
// wharf binary is run), and cmd/wharf/logdriver.
func TestDriver(t *testing.T) {
	t.Parallel()
	t.Run("own_binary", func(t *testing.T) {
		t.Parallel()
		exe, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		testDriver(t, exe)
	})
	t.Run("wharf_log_driver", func(t *testing.T) {
		t.Parallel()
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		if _, err := os.Stat(gobin); err != nil {
			if gobin, err = exec.LookPath("go"); err != nil {
				t.Skip("no go tool to build cmd/wharf/logdriver with")
			}
		}
		exe := filepath.Join(t.TempDir(), DriverProgram)
		if b, err := exec.Command(gobin, "build", "-o", exe, "../../cmd/wharf/logdriver").CombinedOutput(); err != nil {
			t.Fatalf("go build: %v\n%s", err, b)
		}
		testDriver(t, exe)
	})
}

func testDriver(t *testing.T, exe string) {
	path := filepath.Join(t.TempDir(), "ns_pod_uid", "c", "0.log")
	u := DriverURI(DriverConfig{Binary: exe, Path: path, MaxSize: 1 << 20, MaxFiles: 2})
	var args []string
	for k, vs := range u.Query() {
		args = append(args, k, vs[0])
	}
	if !IsDriver(append([]string{exe}, args...)) {
		t.Fatalf("IsDriver(%q) = false", args)
	}
	outR, outW, _ := os.Pipe()
	errR, errW, _ := os.Pipe()
	readyR, readyW, _ := os.Pipe()
	cmd := exec.Command(u.Path, args...)
	cmd.ExtraFiles = []*os.File{outR, errR, readyW}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	outR.Close()
	errR.Close()
	readyW.Close()
	if _, err := readyR.Read(make([]byte, 1)); err == nil {
		t.Fatal("ready pipe carried data, want EOF")
	}
	fmt.Fprintln(outW, "hello")
	fmt.Fprintln(errW, "oops")
	outW.Close()
	errW.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("driver: %v", err)
	}
	got := readAll(t, path, ReadOptions{})
	if len(got) != 2 || !strings.Contains(fmt.Sprint(got), "stdout:hello") || !strings.Contains(fmt.Sprint(got), "stderr:oops") {
		t.Errorf("log = %q", got)
	}
}

func TestDriverBeside(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	exe := filepath.Join(dir, "wharf")
	if got := driverBeside(exe); got != exe {
		t.Errorf("no driver beside: %q, want %q", got, exe)
	}
	drv := filepath.Join(dir, DriverProgram)
	if err := os.WriteFile(drv, []byte("#!/bin/true\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got := driverBeside(exe); got != exe {
		t.Errorf("driver beside, not executable: %q, want %q", got, exe)
	}
	if err := os.Chmod(drv, 0o755); err != nil {
		t.Fatal(err)
	}
	if got := driverBeside(exe); got != drv {
		t.Errorf("driver beside: %q, want %q", got, drv)
	}
}

func TestParseMalformed(t *testing.T) {
	t.Parallel()
	for _, l := range []string{"", "x", "2024-01-01T00:00:00Z stdout", "2024-01-01T00:00:00Z stdout X y", "nottime stdout F y"} {
		if _, err := parseEntry([]byte(l)); err == nil {
			t.Errorf("parseEntry(%q) succeeded", l)
		}
	}
	e, err := parseEntry([]byte("2024-01-01T00:00:00.5Z stderr F a b "))
	if err != nil || e.Stream != Stderr || string(e.Content) != "a b " || e.Time.Nanosecond() != 5e8 {
		t.Errorf("parseEntry = %+v, %v", e, err)
	}
}
