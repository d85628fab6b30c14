// build.go builds the lab page into web/dist: `go run build.go`.

//go:build raftlabbuild

// The raftlabbuild tag keeps this file out of ./... (it is package main at the module root)
// while `go mod tidy`, which reads every tag but "ignore", still keeps esbuild and brotli in
// go.mod. Naming the file on the command line builds it whatever its tags.
//
// Steps: the page's wasm module (GOOS=js GOARCH=wasm, -trimpath, stripped, with the raftlabpage
// tag, which leaves out code only native tools use) and the checker module (wasm/checker, which
// the page loads in a worker only when it checks its client history), wasm_exec.js from the Go
// installation, the TypeScript and CSS bundled and minified by esbuild's Go API with source
// maps, index.html, and a gzip and a brotli copy of each asset for the server to send as is.
package main

import (
	"bytes"
	"compress/gzip"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/andybalholm/brotli"
	"github.com/evanw/esbuild/pkg/api"

	"raftlab/web"
)

const (
	webDir  = "web"
	distDir = "web/dist"
	// placeholder is committed in web/dist so that the web package compiles in a clone
	// where the page was never built; the build keeps it.
	placeholder = "NOT_BUILT"
)

func main() {
	skipWasm := flag.Bool("skip-wasm", false, "reuse web/dist/raftlab.wasm, mixed.wasm and checker.wasm (only the TypeScript and CSS changed)")
	flag.Parse()
	start := time.Now()
	if *skipWasm {
		fmt.Println("build: bundling the page into web/dist, reusing its wasm modules")
	} else {
		fmt.Println("build: building the page into web/dist: three wasm modules, then the TypeScript and CSS (the first build compiles the whole Go core for wasm: a few minutes; later builds take seconds)")
	}
	if err := build(*skipWasm); err != nil {
		fmt.Fprintf(os.Stderr, "build: %v\n", err)
		os.Exit(1)
	}
	fmt.Printf("build: page written to %s in %.1f s; serve it with: go run ./server\n", distDir, time.Since(start).Seconds())
}

func build(skipWasm bool) error {
	if _, err := os.Stat("go.mod"); err != nil {
		return errors.New("run from the repository root: go run build.go")
	}
	if err := clean(skipWasm); err != nil {
		return err
	}
	if !skipWasm {
		if err := buildWasm(); err != nil {
			return err
		}
	}
	if err := copyWasmExec(); err != nil {
		return err
	}
	t := time.Now()
	if err := bundle(); err != nil {
		return err
	}
	stage("bundled app.js, checkworker.js and app.css with esbuild", t)
	for _, page := range []string{"index.html", "embed-demo.html"} { // embed-demo: a host page with two embedded labs
		if err := copyFile(filepath.Join(webDir, page), filepath.Join(distDir, page)); err != nil {
			return err
		}
	}
	// The scenario files' JSON Schema, served beside the page for course authors.
	if err := copyFile(filepath.Join("raft", "scenario", "scenario.schema.json"), filepath.Join(distDir, "scenario.schema.json")); err != nil {
		return err
	}
	if err := compressAll(); err != nil {
		return err
	}
	// What it was built from, so that the browser tests can refuse a stale page.
	return web.WriteStamp(".", distDir)
}

// clean removes everything in dist but the placeholder (and the wasm module when reused).
func clean(keepWasm bool) error {
	if err := os.MkdirAll(distDir, 0o755); err != nil {
		return err
	}
	ents, err := os.ReadDir(distDir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		n := e.Name()
		if n == placeholder || (keepWasm && (n == "raftlab.wasm" || n == "mixed.wasm" || n == "checker.wasm")) {
			continue
		}
		if err := os.RemoveAll(filepath.Join(distDir, n)); err != nil {
			return err
		}
	}
	if keepWasm {
		for _, n := range []string{"raftlab.wasm", "mixed.wasm", "checker.wasm"} {
			if _, err := os.Stat(filepath.Join(distDir, n)); err != nil {
				return fmt.Errorf("-skip-wasm: no web/dist/%s to reuse; build without it once", n)
			}
		}
	}
	return nil
}

// buildWasm builds the page's module, the mixed-cluster page's module (loaded instead of the
// lab's for /?cluster=NAME) and the checker module, one after the other (each compile uses
// every core).
func buildWasm() error {
	for _, m := range []struct{ out, pkg, tags string }{
		{"raftlab.wasm", "./wasm", "raftlabpage"},
		{"mixed.wasm", "./wasm", "raftlabmixed"},
		{"checker.wasm", "./wasm/checker", ""},
	} {
		t := time.Now()
		cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-tags="+m.tags, "-o", filepath.Join(distDir, m.out), m.pkg)
		cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm")
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		if err := cmd.Run(); err != nil {
			return fmt.Errorf("building the wasm module %s (GOOS=js GOARCH=wasm go build %s): %v", m.out, m.pkg, err)
		}
		stage("compiled "+m.out, t)
	}
	return nil
}

// stage reports a finished step of the build and how long it took.
func stage(what string, since time.Time) {
	fmt.Printf("build: %s (%.1f s)\n", what, time.Since(since).Seconds())
}

func copyWasmExec() error {
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		return fmt.Errorf("go env GOROOT: %v", err)
	}
	src := filepath.Join(strings.TrimSpace(string(out)), "lib", "wasm", "wasm_exec.js")
	if err := copyFile(src, filepath.Join(distDir, "wasm_exec.js")); err != nil {
		return fmt.Errorf("wasm_exec.js from the Go installation: %v", err)
	}
	return nil
}

// bundle runs esbuild over the TypeScript entry and the stylesheet.
func bundle() error {
	res := api.Build(api.BuildOptions{
		EntryPointsAdvanced: []api.EntryPoint{
			{InputPath: filepath.Join(webDir, "src", "main.ts"), OutputPath: "app"},
			{InputPath: filepath.Join(webDir, "src", "checkworker.ts"), OutputPath: "checkworker"},
			{InputPath: filepath.Join(webDir, "style.css"), OutputPath: "app"},
		},
		Outdir:            distDir,
		Bundle:            true,
		Write:             true,
		MinifyWhitespace:  true,
		MinifyIdentifiers: true,
		MinifySyntax:      true,
		Sourcemap:         api.SourceMapLinked,
		Target:            api.ES2020,
		Format:            api.FormatIIFE,
		LogLevel:          api.LogLevelSilent,
		Tsconfig:          filepath.Join(webDir, "tsconfig.json"),
	})
	if len(res.Errors) > 0 {
		msgs := api.FormatMessages(res.Errors, api.FormatMessagesOptions{Kind: api.ErrorMessage, TerminalWidth: 100})
		return fmt.Errorf("bundling %s with esbuild:\n%s", webDir, strings.Join(msgs, ""))
	}
	return nil
}

// compressAll writes name.gz and name.br beside each asset, in parallel.
func compressAll() error {
	t := time.Now()
	ents, err := os.ReadDir(distDir)
	if err != nil {
		return err
	}
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		errs []error
		sem  = make(chan struct{}, runtime.GOMAXPROCS(0))
	)
	for _, e := range ents {
		n := e.Name()
		if n == placeholder || strings.HasSuffix(n, ".map") {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := compress(filepath.Join(distDir, n)); err != nil {
				mu.Lock()
				errs = append(errs, err)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return err
	}
	stage("compressed every asset with gzip and brotli", t)
	for _, n := range []string{"raftlab.wasm", "mixed.wasm", "checker.wasm", "app.js", "checkworker.js", "app.css"} {
		p := filepath.Join(distDir, n)
		fmt.Printf("  %-14s %9s  gzip %9s  brotli %9s\n", n, size(p), size(p+".gz"), size(p+".br"))
	}
	return nil
}

func compress(path string) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		return err
	}
	var br bytes.Buffer
	bw := brotli.NewWriterLevel(&br, 9)
	bw.Write(data)
	if err := bw.Close(); err != nil {
		return err
	}
	if err := os.WriteFile(path+".gz", gz.Bytes(), 0o644); err != nil {
		return err
	}
	return os.WriteFile(path+".br", br.Bytes(), 0o644)
}

func size(path string) string {
	fi, err := os.Stat(path)
	if err != nil {
		return "-"
	}
	return fmt.Sprintf("%.1f KB", float64(fi.Size())/1000)
}

func copyFile(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(dst)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
