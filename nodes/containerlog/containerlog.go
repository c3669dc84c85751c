// Package containerlog keeps container logs in files: the log driver that
// containerd's shim runs for each container, the size-rotated file writer it
// uses, and a reader with tail and follow.
//
// Logs are written in the CRI log format kubelet uses, one entry a line:
//
//	2024-05-01T10:00:00.123456789Z stdout F the line
//
// where the third field is F for a full line and P for a part of a line
// longer than [MaxLineSize] (the rest follows in the next entries). Because
// the driver is a child of the shim, not of the agent, logs keep being written
// while the agent is down or restarting.
//
// The runtime hands the shim a binary:// log URI ([DriverURI]) and the shim
// starts that program with the container's stdout and stderr. The program is
// wharf-log-driver (cmd/wharf/logdriver) when it is installed next to the
// agent's binary, else the agent's own binary ([DefaultDriver]). Every
// program that may be used so (cmd/wharf, and the test binaries of packages
// that run containers, in TestMain) must therefore begin with
//
//	if containerlog.IsDriver(os.Args) {
//		os.Exit(containerlog.RunDriver(os.Args))
//	}
//
// Packages under nodes/ and cmd/wharf may import this package.
package containerlog

import (
	"bytes"
	"errors"
	"fmt"
	"time"
)

// MaxLineSize is the longest content one entry carries; longer lines are
// split into partial entries.
const MaxLineSize = 16 * 1024

// Stream names.
const (
	Stdout = "stdout"
	Stderr = "stderr"
)

// Entry is one log entry.
type Entry struct {
	Time   time.Time
	Stream string
	// Partial is true when the line continues in the next entry.
	Partial bool
	// Content is the line without its newline.
	Content []byte
}

// ErrMalformed is returned for a line that is not in the CRI log format.
var ErrMalformed = errors.New("malformed log line")

// appendEntry appends e in the CRI log format, newline included.
func appendEntry(b []byte, e Entry) []byte {
	b = e.Time.UTC().AppendFormat(b, time.RFC3339Nano)
	b = append(b, ' ')
	b = append(b, e.Stream...)
	if e.Partial {
		b = append(b, " P "...)
	} else {
		b = append(b, " F "...)
	}
	b = append(b, e.Content...)
	return append(b, '\n')
}

// parseEntry parses one line (without its newline). Content aliases line.
func parseEntry(line []byte) (Entry, error) {
	var e Entry
	ts, rest, ok := bytes.Cut(line, []byte{' '})
	if !ok {
		return e, fmt.Errorf("%w: %q", ErrMalformed, line)
	}
	t, err := time.Parse(time.RFC3339Nano, string(ts))
	if err != nil {
		return e, fmt.Errorf("%w: %q", ErrMalformed, line)
	}
	stream, rest, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		return e, fmt.Errorf("%w: %q", ErrMalformed, line)
	}
	tag, content, ok := bytes.Cut(rest, []byte{' '})
	if !ok {
		// An empty line is written as "... F " but tolerate a missing space.
		tag, content = rest, nil
	}
	switch string(tag) {
	case "F":
	case "P":
		e.Partial = true
	default:
		return e, fmt.Errorf("%w: %q", ErrMalformed, line)
	}
	e.Time, e.Stream, e.Content = t, string(stream), content
	return e, nil
}
