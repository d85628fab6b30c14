// The mutation harness: each mutant of List built into the simulator's tests with `go test
// -overlay`, and the behavioural checks that must fail against it.

package mutants

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

var (
	modeFlag = flag.String("mutants", "", `"fast": every safety mutant against the seed sweeps that make test runs, from their first seed; `+
		`"all": every mutant, with the scenario tests and the linearizability check for those the sweeps miss, and the seeds each needs measured from several starting seeds`)
	onlyFlag  = flag.String("mutant", "", "regexp: only the mutants whose names match")
	sweepFlag = flag.String("sweep", "", "regexp: only the seed sweeps whose tests match (TestNemesis, TestRandomized)")
	binFlag   = flag.String("bin", "", "directory: only build the simulator's test binary of each mutant there, as <name>.test, to run by hand")
)

// sweep is a seed sweep of the simulator's tests that can stop at its first failing seed.
type sweep struct {
	test  string // TestNemesis or TestRandomized
	seeds int    // as many as `go test ./raft/sim` runs
}

// The sweeps, strongest first. Their seed counts are the tests' defaults: a mutant killed here
// is killed by a plain `go test ./raft/...`.
var sweeps = []sweep{{"TestNemesis", 3000}, {"TestRandomized", 1000}}

// starts are the first seeds from which `-mutants=all` measures how many seeds a sweep needs.
var starts = []uint64{1, 100_001, 200_001, 300_001, 400_001, 500_001, 600_001}

// kill is what failed against a mutant.
type kill struct {
	test  string // the failing test
	seed  uint64 // its first failing seed (sweeps only)
	kind  string // safety, liveness, or the scenario test's failure
	needs []int  // seeds the sweep needed from each start (-mutants=all); 0 if none in its budget
}

func TestMutants(t *testing.T) {
	switch {
	case *modeFlag == "":
		t.Skip("run with -mutants=fast or -mutants=all (make mutants)")
	case *modeFlag != "fast" && *modeFlag != "all":
		t.Fatalf("-mutants=%q; want fast or all", *modeFlag)
	case runtime.GOOS == "js":
		t.Skip("the harness runs the go command")
	}
	only, err := regexp.Compile(*onlyFlag)
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found above the test's directory: %v", err)
	}
	goCmd := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goCmd); err != nil {
		goCmd = "go"
	}
	all := *modeFlag == "all"
	start := time.Now()
	killed, survived := 0, 0
	var table []string
	for _, m := range List {
		if !only.MatchString(m.Name) || (!all && (m.Kind != Safety || m.Unreached != "")) {
			continue
		}
		began := time.Now()
		k, err := try(t, root, goCmd, m, all)
		if err != nil {
			t.Errorf("mutant %s: %v", m.Name, err)
			survived++
			continue
		}
		line := fmt.Sprintf("%-28s %-8s ", m.Name, m.Kind)
		switch {
		case k == nil:
			survived++
			line += "SURVIVED"
			switch {
			case m.Kind == Safety && m.Unreached != "":
				line += " (known: " + m.Unreached + ")"
			case m.Kind == Safety:
				t.Errorf("safety mutant %s survived: no behavioural check failed (%s)", m.Name, m.Rule)
			}
		default:
			killed++
			line += "killed by " + k.test
			if k.seed != 0 {
				line += fmt.Sprintf(" seed=%d", k.seed)
			}
			line += " (" + k.kind + ")"
			if len(k.needs) > 0 {
				line += " seeds to kill: " + needsSummary(k.needs)
			}
		}
		line += fmt.Sprintf(" [%.1fs]", time.Since(began).Seconds())
		t.Log(line)
		table = append(table, line)
	}
	t.Logf("mutant table (%s, %.0fs):\n%s", *modeFlag, time.Since(start).Seconds(), strings.Join(table, "\n"))
	t.Logf("mutants: killed=%d survived=%d", killed, survived)
}

// try builds the simulator's tests with mutant m and runs the checks until one fails; it
// returns nil if none did.
func try(t *testing.T, root, goCmd string, m Mutant, all bool) (*kill, error) {
	t.Helper()
	orig, err := os.ReadFile(filepath.Join(root, m.File))
	if err != nil {
		return nil, err
	}
	if n := strings.Count(string(orig), m.Old); n != 1 {
		return nil, fmt.Errorf("its original text occurs %d times in %s, want once: the core changed under the mutant; update it in raft/mutants/mutants.go (rule: %s)\n%s", n, m.File, m.Rule, m.Old)
	}
	dir := t.TempDir()
	mutated := filepath.Join(dir, filepath.Base(m.File))
	if err := os.WriteFile(mutated, []byte(strings.Replace(string(orig), m.Old, m.New, 1)), 0o644); err != nil {
		return nil, err
	}
	overlay, _ := json.Marshal(map[string]map[string]string{"Replace": {filepath.Join(root, m.File): mutated}})
	ov := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(ov, overlay, 0o644); err != nil {
		return nil, err
	}
	build := func(pkg string) (string, error) {
		bin := filepath.Join(dir, filepath.Base(pkg)+".test")
		// No vet (make test vets the tree) and no debug information: half the build's time.
		cmd := exec.Command(goCmd, "test", "-c", "-vet=off", "-ldflags=-s -w", "-overlay", ov, "-o", bin, "./"+pkg)
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			return "", fmt.Errorf("building %s with the mutant: %v\n%s", pkg, err, out)
		}
		return bin, nil
	}
	simBin, err := build("raft/sim")
	if err != nil {
		return nil, err
	}
	if *binFlag != "" {
		return nil, os.Rename(simBin, filepath.Join(*binFlag, m.Name+".test"))
	}
	simDir := filepath.Join(root, "raft", "sim")
	stop := "any"
	if m.Kind == Safety {
		stop = "safety" // a liveness failure does not kill a safety mutant
	}
	for _, sw := range sweeps {
		if !regexp.MustCompile(*sweepFlag).MatchString(sw.test) {
			continue
		}
		k, err := runSweep(simBin, simDir, sw, 1, stop)
		if err != nil || k == nil {
			if err != nil {
				return nil, err
			}
			continue
		}
		if all {
			for _, from := range starts {
				kk, err := runSweep(simBin, simDir, sw, from, stop)
				if err != nil {
					return nil, err
				}
				n := 0
				if kk != nil {
					n = int(kk.seed - from + 1)
				}
				k.needs = append(k.needs, n)
			}
		}
		return k, nil
	}
	if !all {
		return nil, nil
	}
	if m.Kind == Safety {
		// A safety mutant must die of a safety check in the sweeps. Say whether a liveness
		// check would have caught it, for the report.
		for _, sw := range sweeps {
			if k, err := runSweep(simBin, simDir, sw, 1, "any"); k != nil || err != nil {
				if err != nil {
					return nil, err
				}
				t.Logf("%s: no safety check failed, but %s failed at seed %d (%s)", m.Name, k.test, k.seed, k.kind)
				break
			}
		}
		return nil, nil
	}
	// The behavioural scenario tests of the simulator (elections, transfers, pre-vote, check
	// quorum, the planted bugs' tests), then the key-value service's linearizability check.
	if k, err := runTests(simBin, simDir, "-test.skip", "^(TestNemesis|TestRandomized)$"); k != nil || err != nil {
		return k, err
	}
	kvBin, err := build("raft/kv/kvsim")
	if err != nil {
		return nil, err
	}
	return runTests(kvBin, filepath.Join(root, "raft", "kv", "kvsim"), "-test.run", "^TestLinearizableUnderFaults$", "-seeds", "100")
}

var firstFailing = regexp.MustCompile(`first failing seed (\d+) \(\d+ seeds from \d+, (\w+)\)`)

// runSweep runs a sweep from seed from, stopping at the first failure of the kind stop names.
func runSweep(bin, dir string, sw sweep, from uint64, stop string) (*kill, error) {
	cmd := exec.Command(bin, "-test.run", "^"+sw.test+"$", "-test.timeout", "10m",
		"-from", strconv.FormatUint(from, 10), "-seeds", strconv.Itoa(sw.seeds), "-stop", stop)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil, nil
	}
	if mm := firstFailing.FindSubmatch(out); mm != nil {
		seed, _ := strconv.ParseUint(string(mm[1]), 10, 64)
		return &kill{test: sw.test, seed: seed, kind: string(mm[2])}, nil
	}
	if strings.Contains(string(out), "panic:") {
		return nil, fmt.Errorf("%s panicked against the mutant (not a behavioural kill):\n%s", sw.test, tail(out))
	}
	return nil, fmt.Errorf("%s failed without naming a seed:\n%s", sw.test, tail(out))
}

var failLine = regexp.MustCompile(`--- FAIL: (\S+)`)

// runTests runs a test binary once and returns the first test that failed.
func runTests(bin, dir string, args ...string) (*kill, error) {
	cmd := exec.Command(bin, append([]string{"-test.v", "-test.failfast", "-test.timeout", "10m"}, args...)...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err == nil {
		return nil, nil
	}
	if strings.Contains(string(out), "panic:") {
		return nil, fmt.Errorf("%s panicked against the mutant (not a behavioural kill):\n%s", filepath.Base(bin), tail(out))
	}
	if mm := failLine.FindSubmatch(out); mm != nil {
		return &kill{test: string(mm[1]), kind: "scenario"}, nil
	}
	return nil, fmt.Errorf("%s failed without naming a test:\n%s", filepath.Base(bin), tail(out))
}

func tail(out []byte) string {
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return strings.Join(lines[max(0, len(lines)-30):], "\n")
}

// needsSummary gives the median and worst of the seeds needed from each start; a start whose
// budget passed without a kill counts as worse than any.
func needsSummary(needs []int) string {
	s := slices.Clone(needs)
	missed := 0
	for i, n := range s {
		if n == 0 {
			s[i] = 1 << 30
			missed++
		}
	}
	slices.Sort(s)
	show := func(n int) string {
		if n == 1<<30 {
			return "none in budget"
		}
		return strconv.Itoa(n)
	}
	out := fmt.Sprintf("median %s, worst %s over %d starts %v", show(s[len(s)/2]), show(s[len(s)-1]), len(s), needs)
	if missed > 0 {
		out += fmt.Sprintf(" (%d starts without a kill)", missed)
	}
	return out
}
