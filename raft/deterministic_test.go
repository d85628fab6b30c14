package raft

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// The core and everything under raft/ (the simulator, the wire protocol, the driver logic, ...)
// are deterministic, as DESIGN.md says: no goroutines, no wall clock, no global random source,
// no syscall/js, no network. Drivers own those. Test files may use them.
func TestDeterministicPackages(t *testing.T) {
	wallClock := map[string]bool{"Now": true, "Since": true, "Until": true, "Sleep": true, "After": true,
		"AfterFunc": true, "Tick": true, "NewTimer": true, "NewTicker": true}
	// What math/rand and math/rand/v2 may be used for: a source that is passed in.
	seeded := map[string]bool{"New": true, "NewSource": true, "NewPCG": true, "NewChaCha8": true, "NewZipf": true,
		"Rand": true, "Source": true, "PCG": true, "ChaCha8": true, "Zipf": true}
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		names := map[string]string{} // local name → import path
		for _, im := range f.Imports {
			p, _ := strconv.Unquote(im.Path.Value)
			if p == "net" || strings.HasPrefix(p, "net/") || p == "syscall/js" {
				t.Errorf("%s imports %s", fset.Position(im.Pos()), p)
			}
			name := p[strings.LastIndex(p, "/")+1:]
			if p == "math/rand/v2" {
				name = "rand"
			}
			if im.Name != nil {
				name = im.Name.Name
			}
			names[name] = p
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch n := n.(type) {
			case *ast.GoStmt:
				t.Errorf("%s starts a goroutine", fset.Position(n.Pos()))
			case *ast.SelectorExpr:
				x, ok := n.X.(*ast.Ident)
				if !ok {
					break
				}
				switch names[x.Name] {
				case "time":
					if wallClock[n.Sel.Name] {
						t.Errorf("%s reads the wall clock (time.%s): take the time from the driver", fset.Position(n.Pos()), n.Sel.Name)
					}
				case "math/rand", "math/rand/v2":
					if !seeded[n.Sel.Name] {
						t.Errorf("%s uses the global random source (rand.%s): take a seeded source", fset.Position(n.Pos()), n.Sel.Name)
					}
				}
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 20 {
		t.Fatalf("read %d Go files under raft/; want the whole tree", files)
	}
}
