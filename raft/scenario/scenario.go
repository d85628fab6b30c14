// Package scenario plays guided Raft scenarios: data files of configuration, actions, narration
// and pause points, run on the simulator, with checks of what each step's narration claims.
//
// A scenario is a list of steps. Entering a step performs its actions (perhaps after asking the
// person to perform one), then the cluster runs until the step's condition holds (a pause
// point). Steps are deterministic: the same scenario replays event for event, so going back to
// step k means replaying steps 0…k-1 from the start (Seek), which takes milliseconds.
package scenario

import (
	_ "embed" // the scenario files
	"fmt"
	"strconv"
	"strings"

	"raftlab/raft/kv"
	"raftlab/raft/scenario/format"
)

// The shipped scenarios, one variable per file rather than an embed.FS: an embed.FS brings
// file modification times, and with them all of time's formatting and parsing, into the page's
// wasm module (~150 KB). TestEveryFileIsShipped checks that this list names every file.
var (
	//go:embed scenarios/01-leader-election.json
	file01 []byte
	//go:embed scenarios/02-leader-crash.json
	file02 []byte
	//go:embed scenarios/03-split-vote.json
	file03 []byte
	//go:embed scenarios/04-replication.json
	file04 []byte
	//go:embed scenarios/05-partition.json
	file05 []byte
	//go:embed scenarios/06-figure8.json
	file06 []byte
	//go:embed scenarios/07-persist-vote.json
	file07 []byte
	//go:embed scenarios/08-unreliable.json
	file08 []byte
	//go:embed scenarios/09-whole-cluster-crash.json
	file09 []byte
	//go:embed scenarios/10-term-inflation.json
	file10 []byte
	//go:embed scenarios/11-pre-vote.json
	file11 []byte
	//go:embed scenarios/12-leadership-transfer.json
	file12 []byte
	//go:embed scenarios/13-check-quorum.json
	file13 []byte
	//go:embed scenarios/14-snapshot.json
	file14 []byte
	//go:embed scenarios/15-election-restriction.json
	file15 []byte
	//go:embed scenarios/16-membership.json
	file16 []byte
	//go:embed scenarios/17-single-server-bug.json
	file17 []byte
	//go:embed scenarios/18-joint-consensus.json
	file18 []byte
)

// files lists the shipped scenario files in order, by name.
var files = []struct {
	name string
	data []byte
}{
	{"01-leader-election.json", file01}, {"02-leader-crash.json", file02}, {"03-split-vote.json", file03},
	{"04-replication.json", file04}, {"05-partition.json", file05}, {"06-figure8.json", file06},
	{"07-persist-vote.json", file07}, {"08-unreliable.json", file08}, {"09-whole-cluster-crash.json", file09},
	{"10-term-inflation.json", file10}, {"11-pre-vote.json", file11}, {"12-leadership-transfer.json", file12},
	{"13-check-quorum.json", file13}, {"14-snapshot.json", file14},
	{"15-election-restriction.json", file15}, {"16-membership.json", file16}, {"17-single-server-bug.json", file17},
	{"18-joint-consensus.json", file18},
}

// The file format (format.go in raft/scenario/format, which the page's checker module
// imports without the simulator): these names are the format's.
type (
	Scenario   = format.Scenario
	Config     = format.Config
	Step       = format.Step
	ActionSpec = format.ActionSpec
	Cond       = format.Cond
	Question   = format.Question
	Choice     = format.Choice
	Duration   = format.Duration
	Error      = format.Error
)

// Limits of a scenario file (see format).
const (
	MaxFileBytes = format.MaxFileBytes
	MaxSteps     = format.MaxSteps
	MaxWait      = format.MaxWait
)

// ParseFile decodes and validates a scenario file, naming each problem's place: format.ParseFile
// and CheckCommands.
func ParseFile(name string, b []byte) (*Scenario, error) {
	sc, err := format.ParseFile(name, b)
	if err != nil {
		return nil, err
	}
	if probs := CheckCommands(sc); len(probs) > 0 {
		return nil, &Error{File: name, Problems: probs}
	}
	return sc, nil
}

// Parse is ParseFile without a file name.
func Parse(b []byte) (*Scenario, error) { return ParseFile("", b) }

// CheckCommands checks that every command of a scenario is a key-value command (or a request
// as the page logs one, "c1#7 put x 1"), naming the place of each that is not. The page runs
// it when it opens a course's file (the key-value parser is in its module already, not in the
// checker module's).
func CheckCommands(sc *Scenario) []string {
	var probs []string
	check := func(path, cmd string) {
		if cmd == "" {
			return
		}
		if _, err := kv.DecodeRequest([]byte(cmd)); err != nil {
			probs = append(probs, path+": "+err.Error())
		}
	}
	action := func(path string, a *ActionSpec) {
		check(path+".command", a.Command)
		for j, c := range a.Commands {
			check(path+".commands["+strconv.Itoa(j)+"]", c)
		}
	}
	for i, st := range sc.Steps {
		p := "steps[" + strconv.Itoa(i) + "]"
		if st.Ask != nil {
			action(p+".ask", st.Ask)
		}
		for j := range st.Do {
			action(p+".do["+strconv.Itoa(j)+"]", &st.Do[j])
		}
		if st.Until != nil {
			check(p+".until.command", st.Until.Command)
		}
		for j, c := range st.Expect {
			check(p+".expect["+strconv.Itoa(j)+"].command", c.Command)
		}
		if q := st.Question; q != nil {
			for j, c := range q.Choices {
				if c.When != nil {
					check(p+".question.choices["+strconv.Itoa(j)+"].when.command", c.When.Command)
				}
			}
		}
	}
	return probs
}

// Decode reads a validated scenario (format.Decode).
func Decode(b []byte) (*Scenario, error) { return format.Decode(b) }

// All returns the shipped scenarios, in the order of their file names.
func All() ([]*Scenario, error) {
	var out []*Scenario
	for _, f := range files {
		sc, err := Decode(f.data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.name, err)
		}
		out = append(out, sc)
	}
	return out, nil
}

// Get returns the shipped scenario with this id.
func Get(id string) (*Scenario, error) {
	all, err := All()
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, sc := range all {
		if sc.ID == id {
			return sc, nil
		}
		ids = append(ids, sc.ID)
	}
	return nil, fmt.Errorf("scenario: no scenario %q (have %s)", id, strings.Join(ids, ", "))
}
