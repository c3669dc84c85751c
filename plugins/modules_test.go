package plugins_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"connectrpc.com/connect"

	wharfv1 "github.com/wharfhq/wharf/api/wharf/v1"
	"github.com/wharfhq/wharf/plugins"
)

func TestModuleStoreCollect(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s, err := plugins.NewModuleStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	named, err := s.Put([]byte("named module"))
	if err != nil {
		t.Fatal(err)
	}
	orphan, _ := s.Put([]byte("orphan module"))
	fresh, _ := s.Put([]byte("fresh orphan"))
	reuploaded, _ := s.Put([]byte("re-uploaded module"))
	files := filepath.Join(dir, "sha256")
	hexOf := func(d string) string { return filepath.Join(files, d[len("sha256:"):]+".wasm") }
	if err := os.WriteFile(filepath.Join(files, "upload-123"), []byte("half an upload"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(files, "README"), []byte("not a module"), 0o600); err != nil {
		t.Fatal(err)
	}
	old := time.Now().Add(-2 * time.Hour)
	for _, p := range []string{hexOf(named), hexOf(orphan), hexOf(reuploaded), filepath.Join(files, "upload-123"), filepath.Join(files, "README")} {
		if err := os.Chtimes(p, old, old); err != nil {
			t.Fatal(err)
		}
	}
	// Uploading bytes that are stored already marks them fresh.
	if d, err := s.Put([]byte("re-uploaded module")); err != nil || d != reuploaded {
		t.Fatalf("re-upload: %s, %v", d, err)
	}

	removed, err := s.Collect(func(d string) bool { return d == named }, time.Now().Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(removed, []string{orphan}) {
		t.Errorf("removed %v; want only the old orphan %s", removed, orphan)
	}
	for _, d := range []string{named, fresh, reuploaded} {
		if _, err := s.Get(d); err != nil {
			t.Errorf("%s: %v; want it kept", d, err)
		}
	}
	if _, err := s.Get(orphan); !errors.Is(err, plugins.ErrModuleNotFound) {
		t.Errorf("orphan: %v; want ErrModuleNotFound", err)
	}
	if _, err := os.Stat(filepath.Join(files, "upload-123")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the stale temp file of an upload is still there (%v)", err)
	}
	if _, err := os.Stat(filepath.Join(files, "README")); err != nil {
		t.Errorf("a file that is not the store's was touched: %v", err)
	}
}

// TestHostCollectsUnnamedModules: the host removes an uploaded module no
// Plugin names, and keeps the one a Plugin runs.
func TestHostCollectsUnnamedModules(t *testing.T) {
	t.Parallel()
	s := startServer(t, func(o *plugins.Options) {
		// Long enough for an upload and the Plugin that names it to be
		// stored; a module is collected only after this.
		o.ModuleGrace = 2 * time.Second
		o.ModuleGCInterval = 50 * time.Millisecond
	})
	ctx := context.Background()
	installed := s.install(t, "require-limits", example(t, "requirelimits"), &wharfv1.PluginSpec{
		AdmissionRules: []*wharfv1.AdmissionRule{{Kinds: []string{"pods"}, Operations: []string{"CREATE"}}},
	})
	up, err := s.Modules.Upload(ctx, connectRequest(&wharfv1.UploadPluginModuleRequest{Module: example(t, "defaults")}))
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the unnamed module to be collected", func() bool {
		_, err := s.Modules.Get(ctx, connectRequest(&wharfv1.GetPluginModuleRequest{Module: up.Msg.GetModule()}))
		return connect.CodeOf(err) == connect.CodeNotFound
	})
	if _, err := s.Modules.Get(ctx, connectRequest(&wharfv1.GetPluginModuleRequest{Module: installed.GetSpec().GetModule()})); err != nil {
		t.Fatalf("the installed plugin's module: %v; want it kept", err)
	}
}

// TestNewSettingsAreAReloadNotAnUpgrade: changing only a plugin's config
// reloads the same module; its events say so, not "Upgraded".
func TestNewSettingsAreAReloadNotAnUpgrade(t *testing.T) {
	t.Parallel()
	s := startServer(t)
	ctx := context.Background()
	p := s.install(t, "defaults", example(t, "defaults"), &wharfv1.PluginSpec{Config: config(t, map[string]any{
		"labels": map[string]any{"team": "a"},
	})})
	p.Spec.Config = config(t, map[string]any{"labels": map[string]any{"team": "b"}})
	if _, err := s.Client.Plugins().Update(ctx, p); err != nil {
		t.Fatal(err)
	}
	n := 0
	waitFor(t, "the new config to apply", func() bool {
		n++
		got, err := s.Client.Pods().Create(ctx, pod(fmt.Sprintf("web-%d", n), true, "nginx:1.27", nil))
		return err == nil && got.GetMetadata().GetLabels()["team"] == "b"
	})
	reasons := map[string]int{}
	waitFor(t, "a Reloaded event", func() bool {
		evs, err := s.Client.Events().List(ctx, clientListNS("default"))
		if err != nil {
			return false
		}
		clear(reasons)
		for _, ev := range evs.Items {
			if ev.GetInvolvedObject().GetName() == "defaults" {
				reasons[ev.GetReason()]++
			}
		}
		return reasons["Reloaded"] > 0
	})
	if reasons["Upgraded"] > 0 {
		t.Errorf("events %v: a settings change reads as an upgrade", reasons)
	}
}
