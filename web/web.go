// Package web holds the built lab page (web/dist, written by `go run build.go`), embedded.
package web

import (
	"embed"
	"io/fs"
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
