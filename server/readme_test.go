// What the README shows about scenario files is run and compared: the example file passes
// scenario check with the output shown, and the error shown is the one printed.

//go:build !js

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// readmeBlock returns the body of the fenced block of the given language that follows the
// line containing after.
func readmeBlock(t *testing.T, readme, after, lang string) string {
	t.Helper()
	i := strings.Index(readme, after)
	if i < 0 {
		t.Fatalf("README lacks %q", after)
	}
	m := regexp.MustCompile("(?s)```" + lang + "\n(.*?)```").FindStringSubmatch(readme[i:])
	if m == nil {
		t.Fatalf("README: no ```%s block after %q", lang, after)
	}
	return m[1]
}

func TestReadmeScenarioExample(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	example := readmeBlock(t, readme, "A complete small example, `my-lab.json`", "json")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "my-lab.json"), []byte(example), 0o644); err != nil {
		t.Fatal(err)
	}
	// The file in a step's until names a condition that does not exist: steps[2].until.cond.
	bad := strings.Replace(example, `"until": {"cond": "committed"`, `"until": {"cond": "leaderr"`, 1)
	if bad == example {
		t.Fatal("the README's example has no committed until to break")
	}
	if err := os.WriteFile(filepath.Join(dir, "custom.json"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if err := os.Chdir(dir); err != nil {
		t.Fatal(err)
	}
	defer os.Chdir(wd)
	for _, tc := range []struct {
		file, after string
		code        int
	}{
		{"my-lab.json", "$ go run ./server scenario check my-lab.json", 0},
		{"custom.json", "$ go run ./server scenario check custom.json", 2},
	} {
		start := strings.Index(readme, "```console\n"+tc.after+"\n")
		if start < 0 {
			t.Fatalf("README has no console block starting with %q", tc.after)
		}
		want, _, _ := strings.Cut(readme[start+len("```console\n"+tc.after+"\n"):], "```")
		var out, errb bytes.Buffer
		code := runScenario([]string{"check", tc.file}, &out, &errb)
		if code != tc.code {
			t.Errorf("scenario check %s: exit %d; want %d\n%s%s", tc.file, code, tc.code, out.String(), errb.String())
		}
		if out.String() != want {
			t.Errorf("scenario check %s prints\n%s\nthe README shows\n%s", tc.file, out.String(), want)
		}
	}
}
