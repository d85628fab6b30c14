// The page's size budgets: the compressed wasm modules a browser downloads.

package web

import (
	"io/fs"
	"os"
	"testing"
)

// wasmBudget is the most compressed bytes of raftlab.wasm a first visit may download.
const wasmBudget = 1_200_000

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
		"checker.wasm.gz": checkerBudget, "checker.wasm.br": checkerBudget,
	} {
		if n := size(t, d, name); n > budget {
			t.Errorf("%s is %d bytes; the budget is %d", name, n, budget)
		}
	}
	for _, name := range []string{"index.html", "app.js", "app.css", "wasm_exec.js", "raftlab.wasm", "checker.wasm", "checkworker.js"} {
		size(t, d, name) // every asset is there
	}
}

// BenchmarkWasmSize reports the sizes of the wasm modules as built: raw, gzip and brotli.
func BenchmarkWasmSize(b *testing.B) {
	d := builtOrSkip(b)
	raw, gz, br := size(b, d, "raftlab.wasm"), size(b, d, "raftlab.wasm.gz"), size(b, d, "raftlab.wasm.br")
	craw, cgz, cbr := size(b, d, "checker.wasm"), size(b, d, "checker.wasm.gz"), size(b, d, "checker.wasm.br")
	for b.Loop() {
	}
	b.ReportMetric(float64(raw), "wasm-bytes")
	b.ReportMetric(float64(gz), "wasm-gzip-bytes")
	b.ReportMetric(float64(br), "wasm-brotli-bytes")
	b.ReportMetric(float64(craw), "checker-bytes")
	b.ReportMetric(float64(cgz), "checker-gzip-bytes")
	b.ReportMetric(float64(cbr), "checker-brotli-bytes")
}
