//go:build !js

package main

import (
	"bytes"
	"io"
	"regexp"
	"strings"
	"testing"
)

// TestServeHelp: server -h prints the serve flags and the other commands.
func TestServeHelp(t *testing.T) {
	var out, errb bytes.Buffer
	if code := runServe([]string{"-h"}, &out, &errb); code != 0 {
		t.Fatalf("server -h: exit %d", code)
	}
	for _, want := range []string{"usage: server [flags]", "-addr", "-cluster", "-members", "-token", "server node [flags]", "server bench [flags]"} {
		if !strings.Contains(errb.String(), want) {
			t.Errorf("server -h does not say %q:\n%s", want, errb.String())
		}
	}
	// A flag's line is its name and at most one word for its value: a back-quoted phrase in its
	// help would be taken for that word ("-native server node").
	for _, line := range strings.Split(errb.String(), "\n") {
		if f := strings.Fields(line); len(f) > 0 && strings.HasPrefix(line, "  -") && len(f) > 2 {
			t.Errorf("server -h: flag line %q names its value with more than one word", line)
		}
	}
}

var benchLineRE = regexp.MustCompile(`^summary: store=(memory|bbolt) members=3 clients=4 ops=300 commits_per_s=[1-9]\d* p50_us=\d+ p99_us=\d+\n$`)

// TestBench: server bench runs a small cluster in each store and prints its one line; bad
// flags are refused with a clear error.
func TestBench(t *testing.T) {
	for _, store := range []string{"memory", "bbolt"} {
		var out, errb bytes.Buffer
		if code := runBench([]string{"-store", store, "-clients", "4", "-ops", "300", "-seq", "30"}, &out, &errb); code != 0 {
			t.Fatalf("bench -store %s: exit %d: %s", store, code, errb.String())
		}
		if !benchLineRE.MatchString(out.String()) || !strings.Contains(out.String(), "store="+store) {
			t.Errorf("bench -store %s printed %q", store, out.String())
		}
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-store", "disk"}, `-store "disk": want memory or bbolt`},
		{[]string{"-members", "0"}, "-members 0: want 1 to 9"},
		{[]string{"-clients", "0"}, "-clients 0"},
		{[]string{"-ops", "-1"}, "-ops -1"},
		{[]string{"extra"}, `unexpected argument "extra"`},
		{[]string{"-nope"}, "flag provided but not defined"},
	} {
		var out, errb bytes.Buffer
		if code := runBench(c.args, &out, &errb); code != 2 || !strings.Contains(errb.String(), c.want) || out.Len() > 0 {
			t.Errorf("bench %v: exit %d, %q; want 2 and %q", c.args, code, errb.String(), c.want)
		}
	}
}

// TestBadFlagSaidInOneLine: a bad flag is said in one line that points to -h, not above a
// screenful of usage that scrolls it away; -h still prints the usage.
func TestBadFlagSaidInOneLine(t *testing.T) {
	for _, c := range []struct {
		run  func([]string, io.Writer, io.Writer) int
		args []string
		want string
	}{
		{runServe, []string{"-nope"}, "server: flag provided but not defined: -nope (see server -h)\n"},
		{runServe, []string{"-cluster"}, "server: flag needs an argument: -cluster (see server -h)\n"},
		{runNode, []string{"-nope"}, "server node: flag provided but not defined: -nope (see server node -h)\n"},
		{runBench, []string{"-ops", "many"}, `server bench: invalid value "many" for flag -ops: parse error (see server bench -h)` + "\n"},
		{runExport, []string{"-nope"}, "server export: flag provided but not defined: -nope (see server export -h)\n"},
		{runSim, []string{"-nope"}, "server sim: flag provided but not defined: -nope (see server sim -h)\n"},
		{runSim, []string{"-nodes", "2"}, "server sim: -nodes 2: want 3 to 9 (see server sim -h)\n"},
		{runScenarioCheck, []string{"-nope"}, "server scenario check: flag provided but not defined: -nope (see server scenario check -h)\n"},
	} {
		var out, errb bytes.Buffer
		if code := c.run(c.args, &out, &errb); code != 2 || errb.String() != c.want || out.Len() > 0 {
			t.Errorf("%v: exit %d, %q; want 2 and only %q", c.args, code, errb.String(), c.want)
		}
	}
	for _, run := range []func([]string, io.Writer, io.Writer) int{runNode, runBench, runExport, runSim, runScenarioCheck} {
		var out, errb bytes.Buffer
		if code := run([]string{"-h"}, &out, &errb); code != 0 || !strings.Contains(errb.String(), "usage: server") && !strings.Contains(errb.String(), "-o") {
			t.Errorf("-h: exit %d, %q; want 0 and the usage", code, errb.String())
		}
	}
}
