package docs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"
)

// readmeVars are the values the README's Go blocks take as given: what a
// reader already has (a password, a reply the CA sent, the roots). Each
// block is compiled as the body of a function that receives them.
const readmeVars = "password, pw, replyBytes []byte, " +
	"newRoot, oldRoot *x509.Certificate, " +
	"roots, inters, accepted, clientChain, oldChain, newChain, bundle []*x509.Certificate, " +
	"oldRootFP keystore.Fingerprint, oldFP, newRootFP string, at time.Time, nodes []string, " +
	"ca renewal.CA, rcv renewal.Receiver, rt renewal.Runtime, n renewal.Notifier, ctx context.Context, " +
	"serverRoots *x509.CertPool"

// readmeImports are the packages a README block may use, by the name it
// uses them with.
var readmeImports = map[string]string{
	"keystore":   "github.com/certroll/certroll/keystore",
	"truststore": "github.com/certroll/certroll/truststore",
	"chain":      "github.com/certroll/certroll/chain",
	"renewal":    "github.com/certroll/certroll/renewal",
	"local":      "github.com/certroll/certroll/renewal/local",
	"nginx":      "github.com/certroll/certroll/renewal/nginx",
	"haproxy":    "github.com/certroll/certroll/renewal/haproxy",
	"command":    "github.com/certroll/certroll/renewal/command",
	"java":       "github.com/certroll/certroll/renewal/java",
	"handoff":    "github.com/certroll/certroll/renewal/handoff",
	"probe":      "github.com/certroll/certroll/renewal/probe",
	"fmt":        "fmt",
	"errors":     "errors",
	"os":         "os",
	"time":       "time",
	"context":    "context",
	"x509":       "crypto/x509",
}

var goBlock = regexp.MustCompile("(?s)```go\n(.*?)```")

// TestREADMEBlocksCompile extracts every Go block of README.md and builds
// it against the module as it is, so that the README shows only API that
// exists. A block is the body of a function given the values in
// readmeVars; names it declares and does not use again are fine.
func TestREADMEBlocksCompile(t *testing.T) {
	data, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := goBlock.FindAllSubmatch(data, -1)
	if len(blocks) == 0 {
		t.Fatal("README.md has no ```go block; this test would check nothing")
	}
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	overlay := map[string]string{}
	for i, b := range blocks {
		src, err := blockProgram(i, string(b[1]))
		if err != nil {
			t.Fatalf("README.md Go block %d does not parse: %v\n%s", i+1, err, b[1])
		}
		file := filepath.Join(tmp, fmt.Sprintf("block%d.go", i+1))
		if err := os.WriteFile(file, src, 0o644); err != nil {
			t.Fatal(err)
		}
		// The overlay places the files in a package directory of the
		// module that does not exist on disk, so that the build resolves
		// the module's packages without touching the work tree.
		overlay[filepath.Join(root, "docs", "internal", "readmeblocks", fmt.Sprintf("block%d.go", i+1))] = file
	}
	ov, err := json.Marshal(map[string]any{"Replace": overlay})
	if err != nil {
		t.Fatal(err)
	}
	ovFile := filepath.Join(tmp, "overlay.json")
	if err := os.WriteFile(ovFile, ov, 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-overlay", ovFile, "./docs/internal/readmeblocks")
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("README.md's Go blocks do not build (block N is the N-th ```go block): %v\n%s", err, out.String())
	}
}

// blockProgram wraps block i in a function of package readmeblocks with
// the imports it uses and a use of every name it declares.
func blockProgram(i int, block string) ([]byte, error) {
	body := "package p\nfunc f() {\n" + block + "\n}\n"
	fset := token.NewFileSet()
	f, err := parser.ParseFile(fset, "", body, 0)
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	ast.Inspect(f, func(n ast.Node) bool {
		if n, ok := n.(*ast.SelectorExpr); ok {
			if id, ok := n.X.(*ast.Ident); ok {
				used[id.Name] = true
			}
		}
		return true
	})
	// Names the block declares at its top level; a README block may end
	// with a value the reader goes on to use.
	declared := map[string]bool{}
	for _, st := range f.Decls[0].(*ast.FuncDecl).Body.List {
		switch st := st.(type) {
		case *ast.AssignStmt:
			if st.Tok == token.DEFINE {
				for _, l := range st.Lhs {
					if id, ok := l.(*ast.Ident); ok && id.Name != "_" {
						declared[id.Name] = true
					}
				}
			}
		case *ast.DeclStmt:
			if g, ok := st.Decl.(*ast.GenDecl); ok {
				for _, sp := range g.Specs {
					if v, ok := sp.(*ast.ValueSpec); ok {
						for _, id := range v.Names {
							if id.Name != "_" {
								declared[id.Name] = true
							}
						}
					}
				}
			}
		}
	}
	var imports []string
	for name, path := range readmeImports {
		if used[name] {
			imports = append(imports, fmt.Sprintf("%s %q", name, path))
		}
	}
	for _, need := range []string{"x509", "time", "renewal", "context", "keystore"} { // readmeVars' types
		if !used[need] {
			imports = append(imports, fmt.Sprintf("%s %q", need, readmeImports[need]))
		}
	}
	sort.Strings(imports)
	var names []string
	for n := range declared {
		names = append(names, n)
	}
	sort.Strings(names)
	var b strings.Builder
	fmt.Fprintf(&b, "// Code generated from README.md's Go block %d; DO NOT EDIT.\n\npackage readmeblocks\n\nimport (\n", i+1)
	for _, imp := range imports {
		fmt.Fprintf(&b, "\t%s\n", imp)
	}
	fmt.Fprintf(&b, ")\n\nfunc block%d(%s) {\n", i+1, readmeVars)
	b.WriteString(block)
	b.WriteString("\n")
	for _, n := range names {
		fmt.Fprintf(&b, "\t_ = %s\n", n)
	}
	b.WriteString("}\n")
	return []byte(b.String()), nil
}
