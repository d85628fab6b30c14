// The README shows commands with their output verbatim; these tests run them and compare.

package main

import (
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
)

// readmeExample is a command the README shows after "$ " in a console block, with the lines
// it shows as that command's output.
type readmeExample struct {
	line    int // of the command, 1-based
	command string
	output  []string
}

// readmeExamples returns the console examples of README.md.
func readmeExamples(t *testing.T) []readmeExample {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	var out []readmeExample
	inConsole := false
	for i, l := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(l)
		switch {
		case strings.HasPrefix(trimmed, "```console"):
			inConsole = true
		case strings.HasPrefix(trimmed, "```"):
			inConsole = false
		case inConsole && strings.HasPrefix(trimmed, "$ "):
			out = append(out, readmeExample{line: i + 1, command: strings.TrimPrefix(trimmed, "$ ")})
		case inConsole && len(out) > 0:
			out[len(out)-1].output = append(out[len(out)-1].output, trimmed)
		}
	}
	return out
}

// TestReadmeSimExamples runs every `go run ./server sim …` example of README.md and compares
// its summary line with the README's, field by field, except the wall-clock ones (wall,
// speed). A change to the simulator that moves a trace fails here until the README shows the
// new line.
func TestReadmeSimExamples(t *testing.T) {
	const prefix = "go run ./server sim "
	n := 0
	for _, ex := range readmeExamples(t) {
		if !strings.HasPrefix(ex.command, prefix) {
			continue
		}
		n++
		t.Run(strings.TrimPrefix(ex.command, prefix), func(t *testing.T) {
			if testing.Short() && strings.Contains(ex.command, "-workload kv") {
				t.Skip("the key-value example takes seconds; not with -short")
			}
			if len(ex.output) != 1 || !strings.HasPrefix(ex.output[0], "summary: ") {
				t.Fatalf("README.md:%d: %q should be followed by its summary line alone; the README shows %q", ex.line, ex.command, ex.output)
			}
			code, out, errs := runSimArgs(t, strings.Fields(strings.TrimPrefix(ex.command, prefix))...)
			if code != 0 {
				t.Fatalf("README.md:%d: %s exited %d: %s", ex.line, ex.command, code, errs)
			}
			got, want := summaryFields(t, out), summaryFields(t, ex.output[0])
			for _, k := range []string{"wall", "speed"} {
				if _, ok := got[k]; !ok {
					t.Errorf("the summary has no %s field: %s", k, out)
				}
				delete(got, k)
				delete(want, k)
			}
			for _, k := range slices.Sorted(maps.Keys(want)) {
				w := want[k]
				if g, ok := got[k]; !ok {
					t.Errorf("README.md:%d shows %s=%s; the command prints no %s", ex.line+1, k, w, k)
				} else if g != w {
					t.Errorf("README.md:%d shows %s=%s; the command prints %s=%s", ex.line+1, k, w, k, g)
				}
			}
			for _, k := range slices.Sorted(maps.Keys(got)) {
				if _, ok := want[k]; !ok {
					t.Errorf("the command prints %s=%s; README.md:%d does not show it", k, got[k], ex.line+1)
				}
			}
			if t.Failed() {
				t.Logf("the command now prints:\n%s", strings.TrimSpace(out))
			}
		})
	}
	if n < 2 {
		t.Fatalf("found %d sim examples in README.md; want the two of the sim section", n)
	}
}
