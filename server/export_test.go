// Tests of the export subcommand: what it writes, what it refuses, and (with Chromium) that the
// exported folder runs the lab from a plain static file server.

//go:build !js

package main

import (
	"bytes"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"testing/fstest"

	"raftlab/web"
)

func fakePage() fstest.MapFS {
	return fstest.MapFS{
		"index.html":      {Data: []byte("<!doctype html>lab")},
		"app.js":          {Data: []byte("js")},
		"app.js.gz":       {Data: []byte("gz")},
		"app.js.map":      {Data: []byte("{}")},
		"raftlab.wasm":    {Data: []byte("\x00asm")},
		"raftlab.wasm.br": {Data: []byte("br")},
	}
}

func TestExportPage(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "lab")
	n, err := exportPage(fakePage(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 {
		t.Errorf("wrote %d files; want 4 (index.html, app.js, raftlab.wasm, README.txt)", n)
	}
	for name, want := range map[string]string{"index.html": "<!doctype html>lab", "raftlab.wasm": "\x00asm"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil || !bytes.Equal(got, []byte(want)) {
			t.Errorf("%s = %q, %v", name, got, err)
		}
	}
	for _, name := range []string{"app.js.gz", "app.js.map", "raftlab.wasm.br"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s exported; static hosts need only plain files", name)
		}
	}
	// A second export into the now non-empty folder is refused: nothing is overwritten.
	if _, err := exportPage(fakePage(), dir); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Errorf("export into a non-empty folder: %v", err)
	}
	// An unbuilt page says how to build it.
	if _, err := exportPage(fstest.MapFS{"NOT_BUILT": {}}, filepath.Join(t.TempDir(), "x")); err == nil || !strings.Contains(err.Error(), "build.go") {
		t.Errorf("export of an unbuilt page: %v", err)
	}
}

func TestExportFlags(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runExport(nil, &out, &errb); code != 2 || errb.Len() == 0 {
		t.Errorf("export without -o: exit %d, %q", code, errb.String())
	}
	if code := runExport([]string{"-o", t.TempDir(), "extra"}, &out, &errb); code != 2 {
		t.Errorf("export with an extra argument: exit %d", code)
	}
}

// TestExportRunsFromStaticServer serves the exported folder with a plain file server (no
// precompression, no raftlab server) and checks that the lab elects a leader in Chromium.
func TestExportRunsFromStaticServer(t *testing.T) {
	b := startBrowser(t) // skips (or fails in CI) without Chromium or a built page
	dir := filepath.Join(t.TempDir(), "lab")
	if _, err := exportPage(web.Dist(), dir); err != nil {
		t.Fatal(err)
	}
	var names []string
	fs.WalkDir(os.DirFS(dir), ".", func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			names = append(names, p)
		}
		return nil
	})
	t.Logf("exported: %v", names)
	for _, want := range []string{"checker.wasm", "checkworker.js", "scenario.schema.json"} { // the history checker, loaded when needed; the scenario files' schema
		if !slices.Contains(names, want) {
			t.Errorf("%s not exported", want)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go srv.Serve(ln) // returns when Close is called
	t.Cleanup(func() { srv.Close() })
	p := b.open(t, "http://"+ln.Addr().String()+"/")
	p.leader("")
	p.submit("put x 1")
	p.click("#historyBox summary") // loads the checker module in its worker
	p.waitFor("the client history checked", `document.getElementById("histVerdict").dataset.outcome === "linearizable"`)
	p.noProblems()
}
