// Package web holds the built lab page (web/dist, written by `go run build.go`), embedded.
package web

import (
	"crypto/sha256"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

//go:embed dist
var dist embed.FS

// BuildHint tells a person how to build the page; the server shows it when the page is missing.
const BuildHint = "the lab page is not built in this binary: run `go run build.go` at the repository root, then `go run ./server` (or `make run`, which does both)"

// Dist returns the built page: index.html, app.js, app.css, wasm_exec.js, the wasm modules, each
// asset with precompressed .gz and .br copies. In a clone where the page was never built it
// holds only the NOT_BUILT placeholder; see Built.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path; fs.Sub fails only on invalid ones
	}
	return sub
}

// Built reports whether fsys holds a built page.
func Built(fsys fs.FS) bool {
	_, err := fs.Stat(fsys, "index.html")
	return err == nil
}

// stampFile in the built page holds SourceStamp of the sources it was built from.
const stampFile = "SOURCES"

// SourceStamp hashes the sources the built page is made of: the Go packages compiled into the
// wasm modules (tests left out), the page's HTML, CSS and TypeScript, build.go and go.mod/go.sum.
// root is the repository's root. build.go writes it into the page; the browser tests compare
// it with the working tree's, so that they never run a page older than the code under test.
func SourceStamp(root string) (string, error) {
	h := sha256.New()
	add := func(path string) error {
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		fmt.Fprintf(h, "%s %d\n", filepath.ToSlash(rel), len(b))
		h.Write(b)
		return nil
	}
	for _, dir := range []string{"raft", "wasm", filepath.Join("server", "wire")} {
		if _, err := os.Stat(filepath.Join(root, dir)); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		err := filepath.WalkDir(filepath.Join(root, dir), func(p string, d fs.DirEntry, err error) error {
			switch {
			case err != nil:
				return err
			case d.IsDir() && d.Name() == "testdata": // what tests write is not the page's
				return filepath.SkipDir
			case d.IsDir() || !strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, ".json") || strings.HasSuffix(p, "_test.go"):
				return nil
			}
			return add(p)
		})
		if err != nil {
			return "", err
		}
	}
	for _, pattern := range []string{"go.mod", "go.sum", "build.go", "web/*.html", "web/*.css", "web/src/*.ts"} {
		ps, err := filepath.Glob(filepath.Join(root, filepath.FromSlash(pattern)))
		if err != nil {
			return "", err
		}
		for _, p := range ps { // Glob sorts
			if err := add(p); err != nil {
				return "", err
			}
		}
	}
	return fmt.Sprintf("%x", h.Sum(nil)), nil
}

// WriteStamp records in dir (web/dist) the stamp of the sources under root.
func WriteStamp(root, dir string) error {
	s, err := SourceStamp(root)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, stampFile), []byte(s+"\n"), 0o644)
}

// Stale reports why the page in fsys was not built from the sources under root ("" if it was).
func Stale(fsys fs.FS, root string) string {
	b, err := fs.ReadFile(fsys, stampFile)
	if err != nil {
		return "the built page records no sources: run `go run build.go`"
	}
	now, err := SourceStamp(root)
	if err != nil {
		return fmt.Sprintf("cannot read the sources: %v", err)
	}
	if strings.TrimSpace(string(b)) != now {
		return "the page in web/dist was built from other sources than these: run `go run build.go` (make test does)"
	}
	return ""
}
