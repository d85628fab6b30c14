// The page's size budgets: the compressed wasm modules a browser downloads.

package web

import (
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

// wasmBudget is the most compressed bytes of raftlab.wasm a first visit may download. It was
// 1,200,000 until log compaction; compaction and membership changes may take it to 1,350,000
// (the time to interactive stays under a second: see BenchmarkPage).
const wasmBudget = 1_350_000

// mixedBudget is the most compressed bytes of mixed.wasm, which a mixed cluster's page
// (/?cluster=NAME) downloads instead of raftlab.wasm: the same limit.
const mixedBudget = wasmBudget

// checkerBudget is the most compressed bytes of checker.wasm, the module the page loads only
// when it checks its client history (porcupine, kept out of raftlab.wasm).
const checkerBudget = 1_100_000

func builtOrSkip(tb testing.TB) fs.FS {
	tb.Helper()
	d := Dist()
	if !Built(d) {
		if os.Getenv("RAFTLAB_REQUIRE_BROWSER") != "" {
			tb.Fatal("the page is not built: run `go run build.go` first (make test does)")
		}
		tb.Skip("the page is not built: run `go run build.go` first (make test does)")
	}
	return d
}

func size(tb testing.TB, d fs.FS, name string) int64 {
	tb.Helper()
	fi, err := fs.Stat(d, name)
	if err != nil {
		tb.Fatalf("built page: %v", err)
	}
	return fi.Size()
}

func TestWasmSizeBudget(t *testing.T) {
	d := builtOrSkip(t)
	for name, budget := range map[string]int64{
		"raftlab.wasm.gz": wasmBudget, "raftlab.wasm.br": wasmBudget,
		"mixed.wasm.gz": mixedBudget, "mixed.wasm.br": mixedBudget,
		"checker.wasm.gz": checkerBudget, "checker.wasm.br": checkerBudget,
	} {
		if n := size(t, d, name); n > budget {
			t.Errorf("%s is %d bytes; the budget is %d", name, n, budget)
		}
	}
	for _, name := range []string{"index.html", "app.js", "app.css", "wasm_exec.js", "raftlab.wasm", "mixed.wasm", "checker.wasm", "checkworker.js"} {
		size(t, d, name) // every asset is there
	}
}

// BenchmarkWasmSize reports the sizes of the wasm modules as built: raw, gzip and brotli.
func BenchmarkWasmSize(b *testing.B) {
	d := builtOrSkip(b)
	// Metric prefix of each module: the page's own keeps the name it was reported under.
	mods := map[string]string{"raftlab.wasm": "wasm-", "mixed.wasm": "mixed-wasm-", "checker.wasm": "checker-wasm-"}
	sizes := map[string]int64{}
	for f, prefix := range mods {
		sizes[prefix+"bytes"], sizes[prefix+"gzip-bytes"], sizes[prefix+"brotli-bytes"] = size(b, d, f), size(b, d, f+".gz"), size(b, d, f+".br")
	}
	for b.Loop() {
	}
	for unit, n := range sizes {
		b.ReportMetric(float64(n), unit)
	}
}

// The stamp changes with any source of the page and with nothing else.
func TestSourceStamp(t *testing.T) {
	root := t.TempDir()
	write := func(p, s string) {
		full := filepath.Join(root, filepath.FromSlash(p))
		os.MkdirAll(filepath.Dir(full), 0o755)
		if err := os.WriteFile(full, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("go.mod", "module raftlab\n")
	write("raft/node.go", "package raft\n")
	write("web/src/main.ts", "let x = 1;\n")
	stamp := func() string {
		s, err := SourceStamp(root)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	s0 := stamp()
	write("raft/node_test.go", "package raft\n")
	write("raft/sim/testdata/failures/f.json", "{}")
	write("README.md", "words")
	if s := stamp(); s != s0 {
		t.Errorf("tests, test data or the README changed the stamp")
	}
	write("web/src/main.ts", "let x = 2;\n")
	if s := stamp(); s == s0 {
		t.Errorf("a change to the page's TypeScript left the stamp as it was")
	}
	write("raft/scenario/scenarios/01.json", "{}")
	if s := stamp(); s == s0 {
		t.Errorf("a new scenario file left the stamp as it was")
	}
}
