package manifest

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// TestImports keeps the package importable by anyone: nothing it depends
// on may come from the server or the node agent.
func TestImports(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "list", "-deps", ".").Output()
	if err != nil {
		t.Skipf("go list: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		for _, banned := range []string{"github.com/wharfhq/wharf/daemon", "github.com/wharfhq/wharf/nodes"} {
			if pkg == banned || strings.HasPrefix(pkg, banned+"/") {
				t.Errorf("sdk/manifest depends on %s", pkg)
			}
		}
	}
}
