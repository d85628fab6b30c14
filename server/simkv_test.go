// Tests of the sim command's key-value workload: summary fields, flags, and the report of a
// non-linearizable history.

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"raftlab/raft/kv"
	"raftlab/raft/kv/kvsim"
	"raftlab/raft/kv/lincheck"
)

func TestSimKVSummary(t *testing.T) {
	code, out, errs := runSimArgs(t, "-seed", "2", "-duration", "20s", "-faults", "crash", "-workload", "kv", "-clients", "4", "-out", t.TempDir())
	if code != 0 {
		t.Fatalf("exit %d; stderr %s", code, errs)
	}
	f := summaryFields(t, out)
	if f["linearizable"] != "true" {
		t.Errorf("linearizable=%q; want true: %s", f["linearizable"], out)
	}
	if ops, _ := strconv.Atoi(f["ops"]); ops < 1000 {
		t.Errorf("ops=%q; want over 1000 in 20 simulated seconds with 4 clients", f["ops"])
	}
	for _, k := range []string{"commit_p50", "commit_p99", "failover_p50", "failover_p99"} {
		v, err := strconv.ParseFloat(f[k], 64)
		if err != nil || v <= 0 {
			t.Errorf("%s=%q; want a positive number of milliseconds", k, f[k])
		}
	}
	// Without crashes there is no failover to report.
	code, out, errs = runSimArgs(t, "-seed", "2", "-duration", "5s", "-workload", "kv")
	if code != 0 {
		t.Fatalf("exit %d; stderr %s", code, errs)
	}
	f = summaryFields(t, out)
	if _, ok := f["failover_p50"]; ok || f["linearizable"] != "true" || f["commit_p50"] == "" {
		t.Errorf("summary without crashes: %s", out)
	}
	if p50, _ := strconv.ParseFloat(f["commit_p50"], 64); p50 > 7 {
		t.Errorf("commit_p50=%v with no faults; want ≤ 7 ms (one round trip)", p50)
	}
}

func TestSimKVBadFlags(t *testing.T) {
	for _, args := range [][]string{
		{"-workload", "bank"},
		{"-workload", "kv", "-clients", "0"},
		{"-workload", "kv", "-clients", "100000"},
	} {
		code, _, errs := runSimArgs(t, args...)
		if code != 2 || !strings.Contains(errs, args[len(args)-2]) {
			t.Errorf("sim %q: exit %d, stderr %q; want 2 and a message naming the flag", args, code, errs)
		}
	}
}

// The report of a non-linearizable history: linearizable=false, the visualization written
// next to the run, its path and the seed on stderr with a reproduce line.
func TestSimKVNotLinearizable(t *testing.T) {
	var h lincheck.History
	h.Add(0, kv.Put("x", "1"), 0, kv.Result{}, 10*time.Millisecond)
	h.Add(0, kv.Put("x", "2"), 11*time.Millisecond, kv.Result{}, 20*time.Millisecond)
	h.Add(1, kv.Get("x"), 30*time.Millisecond, kv.Result{Value: "1", Found: true}, 40*time.Millisecond)
	r := lincheck.Check(&h, time.Minute)
	fields, ok := kvFields(kvsim.Stats{Ops: 3}, r, &kvsim.Metrics{}, false)
	if ok || !strings.Contains(fields, "linearizable=false") {
		t.Fatalf("kvFields = %q, %t; want linearizable=false", fields, ok)
	}
	dir := t.TempDir()
	cfg, err := parseSimFlags([]string{"-seed", "9", "-workload", "kv", "-clients", "2", "-out", dir}, &bytes.Buffer{})
	if err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	reportNonLinearizable(r, cfg, &stderr)
	path := filepath.Join(dir, "linearizability-seed-9.html")
	if _, err := os.Stat(path); err != nil {
		t.Errorf("no visualization: %v", err)
	}
	for _, want := range []string{"seed=9", path, "reproduce: go run ./server sim -seed 9", "-workload kv -clients 2"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("stderr %q lacks %q", stderr.String(), want)
		}
	}
}
