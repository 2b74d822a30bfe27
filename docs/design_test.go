// Package docs holds the repository's design notes; its test keeps the
// facts in them that can be computed from the source true to it.
package docs

import (
	"flag"
	"go/build"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the generated parts of DESIGN.md")

const module = "github.com/certroll/certroll/"

// TestDesignDependencies checks the table of DESIGN.md between the deps
// markers against the packages' imports, so that what the design says
// depends on what is what the code does. Run `go test ./docs -update`
// after changing an import.
func TestDesignDependencies(t *testing.T) {
	want := dependencyTable(t)
	data, err := os.ReadFile("DESIGN.md")
	if err != nil {
		t.Fatal(err)
	}
	const begin, end = "<!-- deps:begin -->\n", "<!-- deps:end -->"
	doc := string(data)
	i, j := strings.Index(doc, begin), strings.Index(doc, end)
	if i < 0 || j < i {
		t.Fatalf("DESIGN.md: want the markers %q and %q around the dependency table", strings.TrimSpace(begin), end)
	}
	got := doc[i+len(begin) : j]
	if got == want {
		return
	}
	if *update {
		if err := os.WriteFile("DESIGN.md", []byte(doc[:i+len(begin)]+want+doc[j:]), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	t.Errorf("DESIGN.md's dependency table differs from the imports; run `go test ./docs -update` and check the prose around it.\nthe imports give:\n%s\nDESIGN.md says:\n%s", want, got)
}

// dependencyTable lists every package of the module (tests aside) with
// the module's packages it imports directly, as a Markdown table.
func dependencyTable(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]string{}
	err = filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		name := d.Name()
		if path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		pkg, err := build.ImportDir(path, 0)
		if err != nil {
			if _, ok := err.(*build.NoGoError); ok {
				return nil
			}
			return err
		}
		if len(pkg.GoFiles) == 0 {
			return nil // tests only, such as this one
		}
		rel, err := filepath.Rel(root, path)
		if err != nil {
			return err
		}
		deps := []string{}
		for _, imp := range pkg.Imports {
			if strings.HasPrefix(imp, module) {
				deps = append(deps, strings.TrimPrefix(imp, module))
			}
		}
		sort.Strings(deps)
		rows[filepath.ToSlash(rel)] = deps
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(rows))
	for n := range rows {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	b.WriteString("| package | imports |\n|---|---|\n")
	for _, n := range names {
		deps := "—"
		if len(rows[n]) > 0 {
			deps = "`" + strings.Join(rows[n], "`, `") + "`"
		}
		b.WriteString("| `" + n + "` | " + deps + " |\n")
	}
	return b.String()
}
