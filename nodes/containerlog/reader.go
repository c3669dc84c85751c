package containerlog

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"
)

// ReadOptions says which entries [Read] returns.
type ReadOptions struct {
	// Tail, when > 0, starts at the Tail-th last line instead of the first.
	// A line is a full entry and the partial entries before it.
	Tail int
	// Since, when set, skips entries older than it.
	Since time.Time
	// Follow keeps reading new entries, across rotations, until ctx ends or
	// Until is closed.
	Follow bool
	// Until, when Follow is set and it is closed, makes Read return after
	// the entries written so far (use it when the container has exited).
	Until <-chan struct{}
	// PollInterval is how often a follower looks for new entries (default
	// 100ms).
	PollInterval time.Duration
}

// MaxRotatedFiles bounds how many rotated files Read looks for.
const MaxRotatedFiles = 100

// Read calls fn with each entry of the log at path (its rotated files
// first, oldest first) that opts selects. Entry.Content is only valid during
// the call. Read returns fn's first error, ctx's error when a follow is
// cancelled, and nil at the end of the log or when opts.Until is closed.
// A missing log (container that never wrote) is an empty one; a follower
// waits for it to appear.
func Read(ctx context.Context, path string, opts ReadOptions, fn func(Entry) error) error {
	files := logFiles(path)
	if opts.Tail > 0 {
		files = tailFiles(files, opts.Tail)
	}
	emit := fn
	if !opts.Since.IsZero() {
		emit = func(e Entry) error {
			if e.Time.Before(opts.Since) {
				return nil
			}
			return fn(e)
		}
	}
	var ring *tailRing
	if opts.Tail > 0 {
		ring = &tailRing{max: opts.Tail}
	}
	sink := emit
	if ring != nil {
		sink = ring.add
	}
	// Rotated files are complete: read them whole.
	for _, p := range files {
		if p == path {
			break
		}
		if err := readFile(p, sink); err != nil {
			return err
		}
	}
	f, err := os.Open(path)
	if err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("containerlog: %w", err)
	}
	var fr *fileReader
	if f != nil {
		defer func() { fr.f.Close() }()
		fr = &fileReader{f: f, br: bufio.NewReaderSize(f, 64*1024)}
		if err := fr.readAvailable(sink); err != nil {
			return err
		}
	}
	if ring != nil {
		if err := ring.flush(emit); err != nil {
			return err
		}
	}
	if !opts.Follow {
		return nil
	}
	return follow(ctx, path, fr, opts, emit)
}

func follow(ctx context.Context, path string, fr *fileReader, opts ReadOptions, fn func(Entry) error) error {
	interval := opts.PollInterval
	if interval <= 0 {
		interval = 100 * time.Millisecond
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	last := false
	for {
		if fr == nil {
			f, err := os.Open(path)
			if err == nil {
				fr = &fileReader{f: f, br: bufio.NewReaderSize(f, 64*1024)}
				defer func() { fr.f.Close() }()
			} else if !os.IsNotExist(err) {
				return fmt.Errorf("containerlog: %w", err)
			}
		}
		if fr != nil {
			if err := fr.readAvailable(fn); err != nil {
				return err
			}
			// Rotated: finish the old file (readAvailable did), then switch.
			if rotated(path, fr.f) {
				nf, err := os.Open(path)
				if err == nil {
					fr.f.Close()
					fr.f, fr.partial = nf, fr.partial[:0]
					fr.br.Reset(nf)
					continue
				}
			}
		}
		if last {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-opts.Until:
			// One more pass picks up what was written before Until closed.
			last = true
		case <-t.C:
		}
	}
}

// rotated reports whether path now names another file than f.
func rotated(path string, f *os.File) bool {
	a, err := os.Stat(path)
	if err != nil {
		return false
	}
	b, err := f.Stat()
	if err != nil {
		return false
	}
	return !os.SameFile(a, b)
}

// fileReader reads entries from a file that may still be growing: a line
// without its newline yet is kept until the rest arrives.
type fileReader struct {
	f       *os.File
	br      *bufio.Reader
	partial []byte
}

func (r *fileReader) readAvailable(fn func(Entry) error) error {
	for {
		line, err := r.br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			r.partial = append(r.partial, line...)
			continue
		}
		if err != nil {
			r.partial = append(r.partial, line...)
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("containerlog: %w", err)
		}
		if len(r.partial) > 0 {
			r.partial = append(r.partial, line...)
			line = r.partial
		}
		if err := emitLine(line[:len(line)-1], fn); err != nil {
			return err
		}
		r.partial = r.partial[:0]
	}
}

func readFile(path string, fn func(Entry) error) error {
	f, err := os.Open(path)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return fmt.Errorf("containerlog: %w", err)
	}
	defer f.Close()
	r := &fileReader{f: f, br: bufio.NewReaderSize(f, 64*1024)}
	if err := r.readAvailable(fn); err != nil {
		return err
	}
	if len(r.partial) > 0 {
		return emitLine(r.partial, fn)
	}
	return nil
}

// emitLine parses line and calls fn; a malformed line (a file not written by
// a Writer) is passed on as stdout content rather than failing the read.
func emitLine(line []byte, fn func(Entry) error) error {
	e, err := parseEntry(line)
	if err != nil {
		e = Entry{Stream: Stdout, Content: line}
	}
	return fn(e)
}

// logFiles returns the existing rotated files of path, oldest first, and
// path itself.
func logFiles(path string) []string {
	var rot []string
	for i := 1; i <= MaxRotatedFiles; i++ {
		p := RotatedPath(path, i)
		if _, err := os.Stat(p); err != nil {
			break
		}
		rot = append(rot, p)
	}
	files := make([]string, 0, len(rot)+1)
	for i := len(rot) - 1; i >= 0; i-- {
		files = append(files, rot[i])
	}
	return append(files, path)
}

// tailFiles drops the oldest files that the last n lines do not reach.
func tailFiles(files []string, n int) []string {
	count := 0
	for i := len(files) - 1; i >= 0; i-- {
		readFile(files[i], func(e Entry) error {
			if !e.Partial {
				count++
			}
			return nil
		})
		if count >= n {
			return files[i:]
		}
	}
	return files
}

// tailRing keeps the entries of the last max lines.
type tailRing struct {
	max   int
	lines [][]Entry
	cur   []Entry
}

func (r *tailRing) add(e Entry) error {
	e.Content = bytes.Clone(e.Content)
	r.cur = append(r.cur, e)
	if e.Partial {
		return nil
	}
	r.lines = append(r.lines, r.cur)
	r.cur = nil
	if len(r.lines) > r.max {
		r.lines = r.lines[1:]
	}
	return nil
}

func (r *tailRing) flush(fn func(Entry) error) error {
	for _, l := range append(r.lines, r.cur) {
		for _, e := range l {
			if err := fn(e); err != nil {
				return err
			}
		}
	}
	r.lines, r.cur = nil, nil
	return nil
}

// Copy writes the content of the entries [Read] selects to w, a newline
// after each full line.
func Copy(ctx context.Context, path string, opts ReadOptions, w io.Writer) error {
	return Read(ctx, path, opts, func(e Entry) error {
		if _, err := w.Write(e.Content); err != nil {
			return err
		}
		if !e.Partial {
			_, err := w.Write([]byte{'\n'})
			return err
		}
		return nil
	})
}
