package wasm_test

import (
	"io"
	"log/slog"
	"os"
)

// quiet discards the engine's log in tests (WHARF_TEST_LOG=1 shows it).
var quiet = func() *slog.Logger {
	if os.Getenv("WHARF_TEST_LOG") != "" {
		return slog.Default()
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}()
