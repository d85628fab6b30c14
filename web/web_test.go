// The page's size budget: the compressed wasm module a browser downloads.

package web

import (
	"io/fs"
	"os"
	"testing"
)

// wasmBudget is the most compressed bytes of raftlab.wasm a first visit may download.
const wasmBudget = 1_200_000

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
	for _, name := range []string{"raftlab.wasm.gz", "raftlab.wasm.br"} {
		if n := size(t, d, name); n > wasmBudget {
			t.Errorf("%s is %d bytes; the budget is %d", name, n, wasmBudget)
		}
	}
	for _, name := range []string{"index.html", "app.js", "app.css", "wasm_exec.js", "raftlab.wasm"} {
		size(t, d, name) // every asset is there
	}
}

// BenchmarkWasmSize reports the sizes of the wasm module as built: raw, gzip and brotli.
func BenchmarkWasmSize(b *testing.B) {
	d := builtOrSkip(b)
	raw, gz, br := size(b, d, "raftlab.wasm"), size(b, d, "raftlab.wasm.gz"), size(b, d, "raftlab.wasm.br")
	for b.Loop() {
	}
	b.ReportMetric(float64(raw), "wasm-bytes")
	b.ReportMetric(float64(gz), "wasm-gzip-bytes")
	b.ReportMetric(float64(br), "wasm-brotli-bytes")
}
