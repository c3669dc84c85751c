package containerlog

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// Writer appends entries to a log file and rotates it by size: when an entry
// would take the file past maxSize, path is renamed to path.1 (path.1 to
// path.2, and so on) and a new path is started; at most maxFiles files are
// kept, path included. It is safe for concurrent use.
type Writer struct {
	path     string
	maxSize  int64
	maxFiles int

	mu   sync.Mutex
	f    *os.File
	size int64
	buf  []byte
	now  func() time.Time
}

// OpenWriter opens (or creates, with its directory) the log file at path for
// appending. maxSize <= 0 disables rotation; maxFiles < 1 is taken as 1 (the
// file is started over when full).
func OpenWriter(path string, maxSize int64, maxFiles int) (*Writer, error) {
	if maxFiles < 1 {
		maxFiles = 1
	}
	w := &Writer{path: path, maxSize: maxSize, maxFiles: maxFiles, now: time.Now}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, fmt.Errorf("containerlog: %w", err)
	}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *Writer) open() error {
	f, err := os.OpenFile(w.path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o640)
	if err != nil {
		return fmt.Errorf("containerlog: %w", err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("containerlog: %w", err)
	}
	w.f, w.size = f, st.Size()
	return nil
}

// WriteEntry appends e; a zero e.Time is set to now.
func (w *Writer) WriteEntry(e Entry) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return errors.New("containerlog: writer closed")
	}
	if e.Time.IsZero() {
		e.Time = w.now()
	}
	w.buf = appendEntry(w.buf[:0], e)
	if w.maxSize > 0 && w.size > 0 && w.size+int64(len(w.buf)) > w.maxSize {
		if err := w.rotate(); err != nil {
			return err
		}
	}
	n, err := w.f.Write(w.buf)
	w.size += int64(n)
	if err != nil {
		return fmt.Errorf("containerlog: %w", err)
	}
	return nil
}

// rotate shifts path.N to path.N+1, dropping the oldest, and starts a new
// file at path.
func (w *Writer) rotate() error {
	if err := w.f.Close(); err != nil {
		return fmt.Errorf("containerlog: %w", err)
	}
	w.f = nil
	if w.maxFiles == 1 {
		if err := os.Remove(w.path); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("containerlog: %w", err)
		}
		return w.open()
	}
	os.Remove(RotatedPath(w.path, w.maxFiles-1))
	for i := w.maxFiles - 2; i >= 1; i-- {
		if err := os.Rename(RotatedPath(w.path, i), RotatedPath(w.path, i+1)); err != nil && !os.IsNotExist(err) {
			return fmt.Errorf("containerlog: %w", err)
		}
	}
	if err := os.Rename(w.path, RotatedPath(w.path, 1)); err != nil {
		return fmt.Errorf("containerlog: %w", err)
	}
	return w.open()
}

// RotatedPath is the name of the n-th rotated file of the log at path
// (path.1 is the newest).
func RotatedPath(path string, n int) string {
	return path + "." + strconv.Itoa(n)
}

// Close closes the file.
func (w *Writer) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// CopyStream reads r until EOF and writes each line as an entry of stream,
// splitting lines longer than [MaxLineSize] into partial entries. A last line
// without a newline is written as a full line.
func (w *Writer) CopyStream(stream string, r io.Reader) error {
	br := bufio.NewReaderSize(r, MaxLineSize)
	for {
		line, err := br.ReadSlice('\n')
		switch {
		case err == nil:
			if werr := w.WriteEntry(Entry{Stream: stream, Content: line[:len(line)-1]}); werr != nil {
				return werr
			}
		case errors.Is(err, bufio.ErrBufferFull):
			if werr := w.WriteEntry(Entry{Stream: stream, Partial: true, Content: line}); werr != nil {
				return werr
			}
		default:
			if len(line) > 0 {
				if werr := w.WriteEntry(Entry{Stream: stream, Content: line}); werr != nil {
					return werr
				}
			}
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("containerlog: read %s: %w", stream, err)
		}
	}
}
