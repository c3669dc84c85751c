package wasm

import (
	"bytes"
	"context"
	"log/slog"
)

// maxLogLine caps one logged line; longer output is split.
const maxLogLine = 4096

// lineWriter sends a guest's output to slog, one record per line, with the
// plugin's name. Each instance has its own (instances run concurrently).
type lineWriter struct {
	log    *slog.Logger
	stream string
	buf    []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			room := maxLogLine - len(w.buf)
			if len(p) < room {
				w.buf = append(w.buf, p...)
				return n, nil
			}
			w.buf = append(w.buf, p[:room]...)
			p = p[room:]
			w.flush()
			continue
		}
		w.buf = append(w.buf, p[:min(i, maxLogLine-len(w.buf))]...)
		p = p[i+1:]
		w.flush()
	}
	return n, nil
}

func (w *lineWriter) flush() {
	if len(w.buf) == 0 {
		return
	}
	level := slog.LevelInfo
	if w.stream == "stderr" {
		level = slog.LevelWarn
	}
	w.log.Log(context.Background(), level, string(w.buf), "stream", w.stream)
	w.buf = w.buf[:0]
}
