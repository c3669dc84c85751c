package examples

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
)

// tutorialBlock is a Go code block of docs/plugins.md that shows a file
// of the repository: all of it after "<!-- file: PATH ... -->", a part of
// it after "<!-- excerpt: PATH ... -->".
var tutorialBlock = regexp.MustCompile("(?s)<!-- (file|excerpt): (\\S+)[^>]*-->\n```go\n(.*?)```")

// The plugin tutorial shows these examples' sources, which their own tests
// build and run: the tutorial's code must stay the examples' code.
func TestTutorialShowsTheExamples(t *testing.T) {
	t.Parallel()
	root := filepath.Join("..", "..")
	doc, err := os.ReadFile(filepath.Join(root, "docs", "plugins.md"))
	if err != nil {
		t.Fatal(err)
	}
	var seen []string
	for _, m := range tutorialBlock.FindAllSubmatch(doc, -1) {
		kind, path, block := string(m[1]), string(m[2]), m[3]
		seen = append(seen, path)
		src, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(path)))
		if err != nil {
			t.Errorf("docs/plugins.md shows %s: %v", path, err)
			continue
		}
		switch {
		case kind == "file" && !bytes.Equal(block, src):
			t.Errorf("docs/plugins.md shows %s, but not as it is now; copy the file into the code block", path)
		case kind == "excerpt" && !bytes.Contains(src, block):
			t.Errorf("docs/plugins.md shows part of %s that is no longer in it; copy it again", path)
		}
	}
	for _, want := range []string{
		"plugins/examples/preferzone/main.go", "plugins/examples/preferzone/main_test.go",
		"plugins/examples/requireteam/main.go", "plugins/examples/requireteam/main_test.go",
	} {
		if !slices.Contains(seen, want) {
			t.Errorf("docs/plugins.md no longer shows %s (want a ```go block after <!-- file: %s -->)", want, want)
		}
	}
}
