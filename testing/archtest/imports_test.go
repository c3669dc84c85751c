package archtest

import (
	"encoding/json"
	"io"
	"os/exec"
	"strings"
	"testing"
)

const module = "github.com/wharfhq/wharf/"

// rules: packages under a prefix must not depend (directly or not) on
// packages under any of the forbidden prefixes.
var rules = []struct {
	from      string
	forbidden []string
	why       string
}{
	{"sdk/", []string{"daemon/", "nodes/", "plugins/", "cmd/"}, "third parties import sdk/; it must stand alone"},
	{"api/", []string{"daemon/", "nodes/", "plugins/", "sdk/", "cmd/", "testing/"}, "api/ is the wire contract"},
	{"nodes/", []string{"daemon/"}, "the node agent talks to the server only through the API"},
	{"daemon/scheduler/", []string{"daemon/store"}, "only the API server touches the store"},
	{"daemon/nodelifecycle/", []string{"daemon/store", "daemon/apiserver"}, "controllers work through the API, as any client"},
	{"daemon/podgc/", []string{"daemon/store", "daemon/apiserver"}, "controllers work through the API, as any client"},
}

type pkg struct {
	ImportPath string
	Deps       []string
}

func TestImportBoundaries(t *testing.T) {
	cmd := exec.Command("go", "list", "-deps=false", "-json=ImportPath,Deps", "github.com/wharfhq/wharf/...")
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	dec := json.NewDecoder(out)
	var pkgs []pkg
	for {
		var p pkg
		if err := dec.Decode(&p); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pkgs = append(pkgs, p)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go list: %v", err)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	checked := 0
	for _, p := range pkgs {
		rel, ok := strings.CutPrefix(p.ImportPath, module)
		if !ok {
			continue
		}
		for _, r := range rules {
			if !strings.HasPrefix(rel, r.from) {
				continue
			}
			checked++
			for _, d := range p.Deps {
				drel, ok := strings.CutPrefix(d, module)
				if !ok {
					continue
				}
				for _, f := range r.forbidden {
					if strings.HasPrefix(drel, f) {
						t.Errorf("%s depends on %s: %s", rel, drel, r.why)
					}
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("no package matched any rule; is the module path right?")
	}
}

// TestLogDriverStandsAlone: the shim starts cmd/wharf/logdriver for every
// container and waits for it, so it links the driver and the standard
// library only; each package more is initialized at every container start.
func TestLogDriverStandsAlone(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}{{end}}", module+"cmd/wharf/logdriver").Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	allowed := map[string]bool{module + "cmd/wharf/logdriver": true, module + "nodes/containerlog": true}
	for _, p := range strings.Fields(string(out)) {
		if !allowed[p] {
			t.Errorf("cmd/wharf/logdriver depends on %s; keep it to nodes/containerlog and the standard library", p)
		}
	}
}
