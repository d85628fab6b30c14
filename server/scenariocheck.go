// The `scenario check` subcommand: validates scenario files and plays each on the simulator,
// reporting every step's expectations, whether each pause point came in time, and the right
// answer of each question. Course authors run it in their CI.

package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"raftlab/raft/scenario"
)

// runScenario runs `server scenario SUBCOMMAND` and returns the exit status.
func runScenario(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprintln(stderr, "usage: server scenario check [-q] FILE…")
		return 2
	}
	return runScenarioCheck(args[1:], stdout, stderr)
}

// Exit statuses of scenario check.
const (
	checkOK      = 0 // every file valid, every expectation held
	checkFailed  = 1 // a file played, but an expectation, a pause point or a question failed
	checkInvalid = 2 // a file could not be read or broke the format (or bad flags)
)

func runScenarioCheck(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("scenario check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	quiet := fs.Bool("q", false, "print only problems and each file's verdict")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `usage: server scenario check [-q] FILE…

Validates each scenario file and plays it on the simulator: each step's expect conditions are
checked at its pause point, each until must come within its step's within (default %v), and
each question must have exactly one right choice.
Exit status: 0 all hold, 1 an expectation failed, 2 a file is invalid (or bad flags).

flags:
`, scenario.DefaultWithin)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, "server scenario check", stderr); !ok {
		if code == 0 {
			return checkOK
		}
		return checkInvalid
	}
	if fs.NArg() == 0 {
		fmt.Fprintln(stderr, "scenario check: name one scenario file or more")
		return checkInvalid
	}
	status := checkOK
	files, failed, invalid := 0, 0, 0
	for _, name := range fs.Args() {
		files++
		switch code := checkScenarioFile(name, *quiet, stdout); code {
		case checkFailed:
			failed++
			status = max(status, code)
		case checkInvalid:
			invalid++
			status = max(status, code)
		}
	}
	if files > 1 {
		fmt.Fprintf(stdout, "scenario check: %d files: %d passed, %d failed, %d invalid\n", files, files-failed-invalid, failed, invalid)
	}
	return status
}

// checkScenarioFile checks one file and returns its exit status.
func checkScenarioFile(name string, quiet bool, out io.Writer) int {
	b, err := readLimited(name, scenario.MaxFileBytes)
	if err != nil {
		fmt.Fprintf(out, "%s: INVALID: %v\n", name, err)
		return checkInvalid
	}
	sc, err := scenario.ParseFile(filepath.Base(name), b)
	if err != nil {
		fmt.Fprintln(out, err)
		fmt.Fprintf(out, "%s: INVALID\n", name)
		return checkInvalid
	}
	say := func(format string, args ...any) {
		if !quiet {
			fmt.Fprintf(out, format, args...)
		}
	}
	var problems []string
	fail := func(format string, args ...any) {
		s := fmt.Sprintf(format, args...)
		problems = append(problems, s)
		if quiet {
			fmt.Fprintf(out, "%s: %s\n", name, strings.TrimSpace(s))
		} else {
			fmt.Fprint(out, s)
		}
	}
	say("%s: %s (%s): %s, %s, seed %d\n", name, sc.Title, sc.ID, count(len(sc.Steps), "step"), count(sc.Config.Nodes, "node"), sc.Config.Seed)
	p, err := scenario.NewPlayer(sc, nil)
	if err != nil {
		fail("  cannot start the cluster: %v\n", err)
	}
	expectsViolation, checks := false, 0
	for i := 0; p != nil && i < len(sc.Steps); i++ {
		st := &sc.Steps[i]
		for _, c := range st.Expect {
			expectsViolation = expectsViolation || c.Cond == "violation"
		}
		head := fmt.Sprintf("  step %d %q", i+1, st.Title)
		if err := p.Begin(i); err != nil {
			fail("%s: FAIL: cannot begin: %v\n", head, err)
			break
		}
		began := p.Cluster.Now()
		if err := p.Finish(); err != nil {
			fail("%s: FAIL: %v\n", head, err)
			break
		}
		at := secs(p.Cluster.Now())
		switch {
		case st.Until != nil:
			say("%s: until %s: held at %s (%s after the step began; limit %v)\n", head, scenario.Describe(*st.Until), at, secs(p.Cluster.Now()-began), p.Deadline()-began)
		default:
			say("%s: ran %v, to %s\n", head, time.Duration(st.For), at)
		}
		for _, c := range st.Expect {
			checks++
			if ok, why := p.Holds(c); ok {
				say("    ok    %s\n", scenario.Describe(c))
			} else {
				fail("    FAIL  step %d: %s: %s\n", i+1, scenario.Describe(c), why)
			}
		}
		if q := st.Question; q != nil {
			checks++
			right := p.Right()
			if len(right) == 1 {
				say("    ok    question %q: the right answer is %q\n", q.Prompt, q.Choices[right[0]].Text)
			} else {
				var texts []string
				for _, r := range right {
					texts = append(texts, fmt.Sprintf("%q", q.Choices[r].Text))
				}
				fail("    FAIL  step %d: question %q: %d choices hold at the pause point (%s); exactly one must\n", i+1, q.Prompt, len(right), strings.Join(texts, ", "))
			}
		}
	}
	if p != nil {
		if err := p.Cluster.Violation(); err != nil && !expectsViolation {
			fail("  FAIL  the checker found a violation no step expects: %v\n", err)
		}
	}
	if len(problems) > 0 {
		fmt.Fprintf(out, "%s: FAILED (%s)\n", name, count(len(problems), "problem"))
		return checkFailed
	}
	fmt.Fprintf(out, "%s: ok (%s, %s)\n", name, count(len(sc.Steps), "step"), count(checks, "check"))
	return checkOK
}

// readLimited reads a file of at most limit bytes.
func readLimited(name string, limit int) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if len(b) > limit {
		return nil, fmt.Errorf("larger than %d bytes, the most a scenario file may have", limit)
	}
	return b, nil
}

// secs writes simulated time in seconds, to the millisecond.
func secs(d time.Duration) string { return fmt.Sprintf("%.3f s", d.Seconds()) }
