// Save as scenario: a free-play run turned into a scenario file, one step per recorded action,
// with placeholder text for the author. Played, the file gives the run's trace at every step.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"raftlab/raft/scenario"
	"raftlab/raft/sim"
)

// placeholder is the text of every recorded step, for the author to replace.
const placeholder = "Describe what happens in this step, and why."

// SaveScenario returns the run so far as a scenario file: the run's seed and options, a first
// step that runs to the first action, then one step per recorded action that performs it and
// runs to the next one (the last runs to the present). It also returns a file name.
func (l *Lab) SaveScenario() (name string, file []byte, err error) {
	if l.course.guide != nil {
		return "", nil, errors.New("this is a guided scenario already; save a run from free play")
	}
	r := l.Run()
	switch {
	case !l.course.fresh:
		return "", nil, errors.New("this cluster started from state saved in this browser, which a scenario cannot carry: reset the cluster's storage, then play the run again")
	case r.FollowerReads || r.ForgetSessions:
		return "", nil, errors.New("the key-value service's break-it switches are not part of scenarios: turn them off")
	case r.Version != sim.RunVersion:
		return "", nil, errors.New("this run came from an older link, whose network a scenario cannot carry")
	case r.LatencyMin != 0 || r.LatencyMax != 0:
		return "", nil, errors.New("this run started with its own latency, which a scenario cannot carry")
	}
	now := l.c.Now()
	acts := r.Actions
	for len(acts) > 0 && acts[len(acts)-1].At > now { // after a seek back: the recorded future
		acts = acts[:len(acts)-1]
	}
	if len(acts)+1 > scenario.MaxSteps {
		return "", nil, fmt.Errorf("this run has %d actions; a scenario has at most %d steps (one per action, and a first)", len(acts), scenario.MaxSteps)
	}
	sc := &scenario.Scenario{
		ID:      "recorded-seed-" + strconv.FormatUint(r.Seed, 10),
		Title:   "A recorded run (seed " + strconv.FormatUint(r.Seed, 10) + ")",
		Summary: "Recorded in raftlab's free play: " + strconv.Itoa(len(acts)) + " actions over " + now.String() + " of simulated time. Describe what the scenario shows.",
		Config: scenario.Config{Nodes: r.Nodes, Seed: r.Seed, Unreliable: r.Unreliable, Bugs: r.Bugs,
			PreVote: r.PreVote, CheckQuorum: r.CheckQuorum, Compact: r.Compact, JointConsensus: r.JointConsensus},
	}
	wait := func(from time.Duration, i int) (scenario.Duration, error) {
		to := now
		if i < len(acts) {
			to = acts[i].At
		}
		if d := to - from; d > scenario.MaxWait {
			return 0, fmt.Errorf("%v pass between two actions of this run at %v; a step may run at most %v", d, from, scenario.MaxWait)
		}
		return scenario.Duration(to - from), nil
	}
	d, err := wait(0, 0)
	if err != nil {
		return "", nil, err
	}
	sc.Steps = append(sc.Steps, scenario.Step{Title: "The cluster starts", Text: placeholder, For: d})
	for i, a := range acts {
		spec, err := actionSpec(a)
		if err != nil {
			return "", nil, err
		}
		if d, err = wait(a.At, i+1); err != nil {
			return "", nil, err
		}
		title := strconv.FormatFloat(a.At.Seconds(), 'f', 3, 64) + " s: " + describeAction(spec)
		if len(title) > 80 { // a long command
			title = title[:77] + "…"
		}
		sc.Steps = append(sc.Steps, scenario.Step{Title: title, Text: placeholder, Do: []scenario.ActionSpec{spec}, For: d})
	}
	b, err := json.Marshal(sc) // the page indents it (MarshalIndent would cost the module 7 KB)
	return sc.ID + ".json", b, err
}

// actionSpec is a recorded action as a scenario step performs it.
func actionSpec(a sim.Action) (scenario.ActionSpec, error) {
	switch a.Kind {
	case sim.ActNote:
		if a.Detail == loadOnNote || a.Detail == loadOffNote {
			return scenario.ActionSpec{}, errors.New("this run switched the client load, which scenarios do not have: play it without")
		}
		return scenario.ActionSpec{}, fmt.Errorf("this run has an action a scenario cannot perform (%s)", a.Detail)
	}
	return scenario.ActionSpec{Kind: string(a.Kind), Node: a.Node, Peer: a.Peer, Groups: a.Groups, Command: a.Command,
		Commands: a.Commands, On: a.On, Rate: a.Rate, Min: scenario.Duration(a.Min), Max: scenario.Duration(a.Max), Voters: a.Voters}, nil
}

// describeAction is a recorded step's placeholder title: "crash n2", "submit put x 1".
func describeAction(a scenario.ActionSpec) string {
	s := a.Kind
	for _, x := range []string{a.Node, a.Peer, a.Command} {
		if x != "" {
			s += " " + x
		}
	}
	for i, g := range a.Groups {
		if i > 0 {
			s += " |"
		}
		s += " " + strings.Join(g, " ")
	}
	if len(a.Commands) > 0 {
		s += " (" + strconv.Itoa(len(a.Commands)) + " commands)"
	}
	if len(a.Voters) > 0 {
		s += " " + strings.Join(a.Voters, " ")
	}
	if a.On {
		s += " on"
	}
	if a.Rate > 0 {
		s += " " + strconv.FormatFloat(a.Rate, 'g', 3, 64)
	}
	if a.Max > 0 {
		s += " " + time.Duration(a.Min).String() + "–" + time.Duration(a.Max).String()
	}
	return s
}
