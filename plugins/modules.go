package plugins

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

var (
	// ErrModuleNotFound: no module with that digest was uploaded.
	ErrModuleNotFound = errors.New("plugin module not found")
	// ErrBadDigest: a module reference is not "sha256:<64 hex digits>".
	ErrBadDigest = errors.New("not a module digest")
)

// ModuleStore keeps module bytes by content: dir/sha256/<hex>.wasm. Writes
// are atomic (a temp file renamed into place), so a reader never sees half
// a module, and storing the same bytes twice only marks them fresh.
// Collect removes what no Plugin names any more.
type ModuleStore struct {
	dir string
}

// NewModuleStore returns a store under dir, creating it.
func NewModuleStore(dir string) (*ModuleStore, error) {
	if err := os.MkdirAll(filepath.Join(dir, "sha256"), 0o700); err != nil {
		return nil, fmt.Errorf("plugin modules: %w", err)
	}
	return &ModuleStore{dir: dir}, nil
}

// Digest returns "sha256:<hex>" of b.
func Digest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func (s *ModuleStore) path(digest string) (string, error) {
	hexSum, ok := strings.CutPrefix(digest, "sha256:")
	if !ok || len(hexSum) != 64 || strings.Trim(hexSum, "0123456789abcdef") != "" {
		return "", fmt.Errorf("%w: %q; want sha256: and 64 lowercase hex digits", ErrBadDigest, digest)
	}
	return filepath.Join(s.dir, "sha256", hexSum+".wasm"), nil
}

// Put stores b and returns its digest.
func (s *ModuleStore) Put(b []byte) (string, error) {
	digest := Digest(b)
	p, _ := s.path(digest)
	if _, err := os.Stat(p); err == nil {
		// Stored already: mark it fresh, so that collection does not take
		// it away before the Plugin that is about to name it exists.
		now := time.Now()
		if err := os.Chtimes(p, now, now); err != nil {
			return "", fmt.Errorf("plugin modules: %w", err)
		}
		return digest, nil
	}
	f, err := os.CreateTemp(filepath.Dir(p), "upload-*")
	if err != nil {
		return "", fmt.Errorf("plugin modules: %w", err)
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return "", fmt.Errorf("plugin modules: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return "", fmt.Errorf("plugin modules: %w", err)
	}
	if err := f.Close(); err != nil {
		return "", fmt.Errorf("plugin modules: %w", err)
	}
	if err := os.Rename(f.Name(), p); err != nil {
		return "", fmt.Errorf("plugin modules: %w", err)
	}
	return digest, nil
}

// Get returns the bytes stored under digest, checking them against it.
func (s *ModuleStore) Get(digest string) ([]byte, error) {
	p, err := s.path(digest)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s was never uploaded; upload it with `wharf plugin install FILE.wasm`", ErrModuleNotFound, digest)
	}
	if err != nil {
		return nil, fmt.Errorf("plugin modules: %w", err)
	}
	if Digest(b) != digest {
		return nil, fmt.Errorf("plugin modules: %s is corrupt on disk (its bytes hash to %s); upload the module again", digest, Digest(b))
	}
	return b, nil
}

// Collect removes the modules keep does not want that were stored before
// olderThan, and returns the digests it removed. Temp files of uploads
// that died half-way are removed by the same rule.
func (s *ModuleStore) Collect(keep func(digest string) bool, olderThan time.Time) ([]string, error) {
	dir := filepath.Join(s.dir, "sha256")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("plugin modules: %w", err)
	}
	var removed []string
	var errs []error
	for _, e := range entries {
		info, err := e.Info()
		if err != nil || !info.Mode().IsRegular() || !info.ModTime().Before(olderThan) {
			continue
		}
		name := e.Name()
		digest := ""
		if hexSum, ok := strings.CutSuffix(name, ".wasm"); ok {
			digest = "sha256:" + hexSum
			if keep(digest) {
				continue
			}
		} else if !strings.HasPrefix(name, "upload-") {
			continue // not ours
		}
		if err := os.Remove(filepath.Join(dir, name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
			continue
		}
		if digest != "" {
			removed = append(removed, digest)
		}
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("plugin modules: collect: %w", errors.Join(errs...))
	}
	return removed, nil
}
