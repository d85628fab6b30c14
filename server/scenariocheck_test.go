// Tests of the scenario check subcommand: the shipped scenarios pass; a failed expectation
// exits 1, an invalid file 2, each named with its place.

package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runCheck(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runScenario(append([]string{"check"}, args...), &out, &errb)
	return code, out.String(), errb.String()
}

// writeScenario writes a scenario file into a temporary directory and returns its path.
func writeScenario(t *testing.T, name, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestScenarioCheckShippedScenarios(t *testing.T) {
	files, err := filepath.Glob("../raft/scenario/scenarios/*.json")
	if err != nil || len(files) < 13 {
		t.Fatalf("found %d scenario files (%v)", len(files), err)
	}
	code, out, errs := runCheck(t, files...)
	if code != 0 {
		t.Fatalf("exit %d; want 0\n%s%s", code, out, errs)
	}
	if want := fmt.Sprintf("scenario check: %d files: %d passed, 0 failed, 0 invalid", len(files), len(files)); !strings.Contains(out, want) {
		t.Errorf("output lacks %q:\n%s", want, out)
	}
	for _, want := range []string{"step 2 \"The first timer fires\": until state state=candidate: held at 0.165 s", "ok    no-leader", "01-leader-election.json: ok (4 steps, 10 checks)"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q", want)
		}
	}
}

const checkOKFile = `{"id":"mine","title":"Mine","config":{"nodes":3,"seed":1},"steps":[
  {"title":"Elect","text":"A leader.","until":{"cond":"leader"},"expect":[{"cond":"term","min":1}],
   "question":{"prompt":"Which node leads?","choices":[
     {"text":"n1","when":{"cond":"leader","node":"n1"}},{"text":"n2","when":{"cond":"leader","node":"n2"}},{"text":"n3","when":{"cond":"leader","node":"n3"}}]}},
  {"title":"Crash it","text":"Crash.","let":{"old":"$leader"},"ask":{"kind":"crash","node":"$leader","prompt":"Crash the leader."},
   "until":{"cond":"leader"},"within":"2s","expect":[{"cond":"state","node":"$old","state":"dead"}],
   "question":{"prompt":"Does a new leader come?","choices":[{"text":"yes","correct":true},{"text":"no"}]}}
]}`

func TestScenarioCheckExitCodes(t *testing.T) {
	good := writeScenario(t, "good.json", checkOKFile)
	code, out, _ := runCheck(t, good)
	if code != 0 || !strings.Contains(out, "good.json: ok (2 steps, 4 checks)") || !strings.Contains(out, `question "Which node leads?": the right answer is "n`) {
		t.Errorf("a good file: exit %d\n%s", code, out)
	}

	failing := writeScenario(t, "failing.json", strings.Replace(checkOKFile, `"expect":[{"cond":"term","min":1}]`, `"expect":[{"cond":"term","min":5}]`, 1))
	code, out, _ = runCheck(t, failing)
	if code != 1 || !strings.Contains(out, "FAIL  step 1: term min=5: ") || !strings.Contains(out, "failing.json: FAILED (1 problem)") {
		t.Errorf("a failed expectation: exit %d; want 1\n%s", code, out)
	}

	late := writeScenario(t, "late.json", `{"id":"late","title":"Late","config":{"nodes":3,"seed":1,"electionTimeoutMin":"30s","electionTimeoutMax":"40s"},
	  "steps":[{"title":"Wait","text":"No leader comes in 1s.","until":{"cond":"leader"},"within":"1s"}]}`)
	code, out, _ = runCheck(t, late)
	if code != 1 || !strings.Contains(out, "leader did not happen within 1s") {
		t.Errorf("an until that does not come: exit %d; want 1\n%s", code, out)
	}

	ambiguous := writeScenario(t, "ambiguous.json", strings.Replace(checkOKFile, `{"text":"n3","when":{"cond":"leader","node":"n3"}}`, `{"text":"any","when":{"cond":"leader"}}`, 1))
	code, out, _ = runCheck(t, ambiguous)
	if code != 1 || !strings.Contains(out, `2 choices hold at the pause point`) {
		t.Errorf("a question with two right choices: exit %d; want 1\n%s", code, out)
	}

	invalid := writeScenario(t, "custom.json", strings.Replace(checkOKFile, `"until":{"cond":"leader"},"within"`, `"until":{"cond":"leaderr"},"within"`, 1))
	code, out, _ = runCheck(t, invalid)
	if code != 2 || !strings.Contains(out, `custom.json: steps[1].until.cond: unknown condition "leaderr" (want one of `) {
		t.Errorf("an invalid file: exit %d; want 2\n%s", code, out)
	}

	// Several files: the worst status wins, and every file is reported.
	code, out, _ = runCheck(t, "-q", good, failing, invalid, filepath.Join(t.TempDir(), "missing.json"))
	if code != 2 || !strings.Contains(out, "4 files: 1 passed, 1 failed, 2 invalid") || !strings.Contains(out, "missing.json: INVALID: open ") {
		t.Errorf("several files: exit %d; want 2\n%s", code, out)
	}
	if strings.Contains(out, "ok    ") {
		t.Errorf("-q printed the checks that held:\n%s", out)
	}

	if code, _, errs := runCheck(t); code != 2 || !strings.Contains(errs, "name one scenario file") {
		t.Errorf("no files: exit %d, %q; want 2", code, errs)
	}
	var out2, errb bytes.Buffer
	if code := runScenario([]string{"lint"}, &out2, &errb); code != 2 || !strings.Contains(errb.String(), "usage: server scenario check") {
		t.Errorf("unknown subcommand: exit %d, %q; want 2 and the usage", code, errb.String())
	}
}
