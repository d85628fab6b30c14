// Tests of the sim subcommand: flags, exit codes, and a reproducible summary line.

package main

import (
	"bytes"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func runSimArgs(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runSim(args, &out, &errb)
	return code, out.String(), errb.String()
}

func summaryFields(t *testing.T, out string) map[string]string {
	t.Helper()
	line := ""
	for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
		if strings.HasPrefix(l, "summary: ") {
			line = l
		}
	}
	if line == "" {
		t.Fatalf("no summary line in %q", out)
	}
	fields := map[string]string{}
	for _, kv := range strings.Fields(strings.TrimPrefix(line, "summary: ")) {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			t.Fatalf("summary field %q is not key=value", kv)
		}
		fields[k] = v
	}
	return fields
}

func TestSimSummary(t *testing.T) {
	code, out, errs := runSimArgs(t, "-seed", "3", "-nodes", "5", "-duration", "20s", "-faults", "crash,partition,unreliable,duplicate", "-load", "20")
	if code != 0 {
		t.Fatalf("exit %d; stderr %s", code, errs)
	}
	f := summaryFields(t, out)
	for _, k := range []string{"seed", "nodes", "simulated", "elections", "committed", "violations", "trace", "wall", "speed"} {
		if _, ok := f[k]; !ok {
			t.Errorf("summary lacks %s: %s", k, out)
		}
	}
	if f["seed"] != "3" || f["nodes"] != "5" || f["simulated"] != "20.000" || f["violations"] != "0" {
		t.Errorf("summary %v", f)
	}
	if f["committed"] == "0" || f["elections"] == "0" {
		t.Errorf("nothing happened: %v", f)
	}
	if !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(f["trace"]) {
		t.Errorf("trace = %q; want a 16-digit hex hash", f["trace"])
	}
	// The same flags give the same trace; another seed another.
	_, out2, _ := runSimArgs(t, "-seed", "3", "-nodes", "5", "-duration", "20s", "-faults", "crash,partition,unreliable,duplicate", "-load", "20")
	if g := summaryFields(t, out2)["trace"]; g != f["trace"] {
		t.Errorf("same flags: trace %s then %s", f["trace"], g)
	}
	_, out3, _ := runSimArgs(t, "-seed", "4", "-nodes", "5", "-duration", "20s", "-faults", "all", "-load", "20")
	if g := summaryFields(t, out3)["trace"]; g == f["trace"] {
		t.Errorf("seeds 3 and 4 share trace %s", g)
	}
}

func TestSimBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-nodes", "2"},
		{"-nodes", "10"},
		{"-duration", "0s"},
		{"-duration", "ten"},
		{"-faults", "meteor"},
		{"-faults", "none,crash"},
		{"-load", "-1"},
		{"-load", "NaN"},
		{"-load", "1e12"},
		{"-load", "100000", "-duration", "1h"},
		{"-bogus"},
		{"extra"},
	} {
		code, _, errs := runSimArgs(t, args...)
		if code != 2 || errs == "" {
			t.Errorf("sim %v: exit %d, stderr %q; want exit 2 with a message", args, code, errs)
		}
	}
	if code, _, _ := runSimArgs(t, "-h"); code != 0 {
		t.Errorf("sim -h: exit %d; want 0", code)
	}
}

// -prevote runs every node with pre-vote: under partitions, fewer elections disrupt the cluster.
func TestSimPreVote(t *testing.T) {
	args := []string{"-seed", "1", "-nodes", "5", "-duration", "600s", "-faults", "all", "-load", "10"}
	_, out, _ := runSimArgs(t, args...)
	code, outPV, errs := runSimArgs(t, append(args, "-prevote")...)
	if code != 0 {
		t.Fatalf("-prevote: exit %d; stderr %s", code, errs)
	}
	without, with := summaryFields(t, out), summaryFields(t, outPV)
	e0, _ := strconv.Atoi(without["elections"])
	e1, _ := strconv.Atoi(with["elections"])
	if with["violations"] != "0" || e1 >= e0 {
		t.Errorf("with -prevote: %v; without: %v; want no violation and fewer elections", with, without)
	}
	if code, out, errs := runSimArgs(t, append(args, "-checkquorum", "-prevote")...); code != 0 || summaryFields(t, out)["violations"] != "0" {
		t.Errorf("-checkquorum -prevote: exit %d, %s %s", code, out, errs)
	}
}
