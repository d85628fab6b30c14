// The `export` subcommand: the lab as a self-contained static folder, for course platforms and
// offline use.

package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"raftlab/web"
)

// exportReadme is written next to the page.
const exportReadme = `raftlab, exported for offline use
=================================

This folder is the whole lab: open index.html through any static web server.
Browsers do not run WebAssembly from file:// pages, so serve the folder, for example:

    python3 -m http.server 8080      # then open http://localhost:8080/
    npx serve .                      # or any static host (GitHub Pages, a course platform)

The server should send the .wasm files as application/wasm; the ones above do. raftlab.wasm
is the lab; checker.wasm (the client history's checker) loads only when the history is
checked; mixed.wasm serves /?cluster= pages, which need raftlab's own server.
Every simulated node stores its state in the browser's localStorage, under the page's origin.
`

// runExport writes the built page to a directory and returns the exit status.
func runExport(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("export", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "directory to write the static lab into (created; must be empty if it exists)")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: server export -o DIR\n\nWrites the lab page (HTML, scripts, wasm) as a static folder that runs from any static web host.\n\nflags:")
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, "server export", stderr); !ok {
		return code
	}
	if *out == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "export: want -o DIR and nothing else (see server export -h)")
		return 2
	}
	n, err := exportPage(web.Dist(), *out)
	if err != nil {
		fmt.Fprintf(stderr, "export: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "export: wrote %d files to %s; serve it with any static web server (see %s)\n",
		n, *out, filepath.Join(*out, "README.txt"))
	return 0
}

// exportPage copies the built page into dir, leaving out the precompressed copies and source
// maps (static hosts serve plain files) and adding README.txt. It returns the number of files.
func exportPage(page fs.FS, dir string) (int, error) {
	if !web.Built(page) {
		return 0, errors.New(web.BuildHint)
	}
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return 0, fmt.Errorf("%s exists and is not empty; choose a new or empty directory", dir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	n := 0
	err := fs.WalkDir(page, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		if strings.HasSuffix(p, ".gz") || strings.HasSuffix(p, ".br") || strings.HasSuffix(p, ".map") || p == "NOT_BUILT" || p == "SOURCES" {
			return nil
		}
		b, err := fs.ReadFile(page, p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		n++
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		return n, err
	}
	return n + 1, os.WriteFile(filepath.Join(dir, "README.txt"), []byte(exportReadme), 0o644)
}
