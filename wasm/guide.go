// Guided scenarios in the lab: the scenario player drives the cluster, stops at each step's
// pause point, and waits while a step asks the person to act.

package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"raftlab/raft/scenario"
	"raftlab/raft/sim"
)

// guide is a lab's scenario player.
type guide struct {
	sc *scenario.Scenario
	p  *scenario.Player
	// chosen is the person's answer to the current step's question: the choice's index,
	// noAnswer while it waits (time stands still), skipped if they went on without one.
	chosen int
}

const (
	noAnswer = -1
	skipped  = -2
)

// courseScenario is the scenario file a course loaded into this page (OpenCourseScenario), or nil.
// It is opened by its id like a shipped one, so that Back and jumps work the same.
var courseScenario *scenario.Scenario

// OpenCourseScenario opens a course's scenario file at step (0-based). The page's checker
// module has validated it (scenario.ParseFile, which stays out of this module); this decodes
// it strictly and refuses the id of a shipped scenario.
func OpenCourseScenario(text string, step int) (*Lab, error) {
	sc, err := scenario.Decode([]byte(text))
	if err != nil {
		return nil, err
	}
	if probs := scenario.CheckCommands(sc); len(probs) > 0 {
		return nil, errors.New(strings.Join(probs, "\n"))
	}
	if _, err := scenario.Get(sc.ID); err == nil {
		return nil, fmt.Errorf("id %q is a shipped scenario's; give the file an id of its own", sc.ID)
	}
	prev := courseScenario
	courseScenario = sc
	l, err := OpenScenario(sc.ID, step)
	if err != nil {
		courseScenario = prev
	}
	return l, err
}

// OpenScenario starts the scenario id (a shipped one, or the course's) at step (0-based) in
// memory: steps before it are replayed from the start, so that Back and jumps give the same
// cluster every time.
func OpenScenario(id string, step int) (*Lab, error) {
	sc := courseScenario
	if sc == nil || sc.ID != id {
		var err error
		if sc, err = scenario.Get(id); err != nil {
			return nil, err
		}
	}
	if step < 0 || step >= len(sc.Steps) {
		return nil, fmt.Errorf("scenario %s has steps 1 to %d; there is no step %d", id, len(sc.Steps), step+1)
	}
	var player *scenario.Player
	cfg := Config{Nodes: sc.Config.Nodes, Seed: sc.Config.Seed, Bugs: sc.Config.Bugs, PreVote: sc.Config.PreVote, CheckQuorum: sc.Config.CheckQuorum, Compact: sc.Config.Compact, JointConsensus: sc.Config.JointConsensus}
	l, err := newLab(NewMemStore(), cfg, func(o sim.Options) (*sim.Cluster, error) {
		p, err := scenario.Seek(sc, step, func(po *sim.Options) { *po = o })
		if err != nil {
			return nil, err
		}
		player = p
		return p.Cluster, nil
	})
	if err != nil {
		if se, ok := err.(*StartError); ok { // (errors.As would add 25 KB to the module)
			err = se.Err
		}
		return nil, fmt.Errorf("scenario %s step %d: %w", id, step+1, err)
	}
	l.course.guide = &guide{sc: sc, p: player, chosen: noAnswer}
	l.course.memory = "guided scenario"
	l.cluster = "memory:" + l.cluster // not localStorage: other tabs' writes there are no conflict
	if m := time.Duration(sc.Config.ElectionTimeoutMax); m > 0 {
		l.timerMax = m
	}
	return l, nil
}

// question returns the current step's question while it waits for an answer, or nil.
func (g *guide) question() *scenario.Question {
	if g.chosen != noAnswer {
		return nil
	}
	return g.sc.Steps[g.p.Step()].Question
}

// advance runs the step toward now+d, stopping at its pause point; while the step asks its
// question, waits for the person, or has reached its point, time stands still.
func (g *guide) advance(l *Lab, d time.Duration) bool {
	p := g.p
	if g.question() != nil || p.Asking() != nil || p.Done() {
		return true
	}
	p.Advance(min(l.c.Now()+d, p.Deadline()))
	l.checkStorage()
	return true
}

// step processes one event of the current step.
func (g *guide) step(l *Lab) bool {
	p := g.p
	if g.question() != nil || p.Asking() != nil || p.Done() {
		return false
	}
	before := l.c.Events()
	for l.c.Events() == before && !p.Done() {
		if !l.c.Step() {
			return false
		}
	}
	return true
}

// act performs the person's action; if the step asked for it, the step goes on.
func (g *guide) act(l *Lab, a sim.Action) error {
	if a.Kind == sim.ActNote && (a.Detail == loadOnNote || a.Detail == loadOffNote) {
		return errors.New("the client load is not part of guided scenarios; leave the scenario for free play")
	}
	if g.question() != nil {
		return errors.New("answer the step's question first (or go on without answering with Next)")
	}
	_, err := g.p.Act(a)
	return err
}

// Next goes to the next pause point: it finishes the current step (performing what it asks, if
// the person has not) or, at the pause point, begins the next step.
func (l *Lab) Next() error {
	g := l.course.guide
	if g == nil {
		return errors.New("no guided scenario is open")
	}
	p := g.p
	if g.question() != nil {
		g.chosen = skipped
	}
	if !p.Done() {
		err := p.Finish()
		l.checkStorage()
		return err
	}
	if p.Step()+1 >= len(g.sc.Steps) {
		return errors.New("this is the last step of the scenario")
	}
	g.chosen = noAnswer
	return p.Begin(p.Step() + 1)
}

// Answer records the person's answer to the current step's question (choice from 0); the
// step then plays.
func (l *Lab) Answer(choice int) error {
	g := l.course.guide
	if g == nil {
		return errors.New("no guided scenario is open")
	}
	q := g.sc.Steps[g.p.Step()].Question
	switch {
	case q == nil:
		return errors.New("this step asks no question")
	case g.chosen != noAnswer:
		return errors.New("this step's question is already answered")
	case choice < 0 || choice >= len(q.Choices):
		return fmt.Errorf("choice %d: the question has choices 0 to %d", choice, len(q.Choices)-1)
	}
	g.chosen = choice
	return nil
}

// GuideState is what the narration panel shows.
type GuideState struct {
	ID      string    `json:"id"`
	Title   string    `json:"title"`
	Summary string    `json:"summary"`
	Step    int       `json:"step"` // 0-based
	Steps   []string  `json:"steps"`
	Heading string    `json:"heading"`
	Text    string    `json:"text"`
	Asking  *askView  `json:"asking"`
	Done    bool      `json:"done"` // the step reached its pause point
	Last    bool      `json:"last"`
	Late    string    `json:"late,omitempty"`   // the step's condition did not happen in time
	Checks  []string  `json:"checks,omitempty"` // narration claims that do not hold (a bug)
	Config  guideConf `json:"config"`
	// Question is the step's question, if it has one.
	Question *questionView `json:"question,omitempty"`
	Course   bool          `json:"course"` // a course's own scenario, not a shipped one
}

// questionView is a step's question as the page asks it. Right and Explain come once the step
// has reached its pause point, and only if the question was answered.
type questionView struct {
	Prompt  string   `json:"prompt"`
	Choices []string `json:"choices"`
	Chosen  int      `json:"chosen"` // the answer's index; -1 while waiting; -2 skipped
	Right   []int    `json:"right,omitempty"`
	Explain string   `json:"explain,omitempty"`
}

type askView struct {
	Kind   string   `json:"kind"`
	Node   string   `json:"node,omitempty"`
	Peer   string   `json:"peer,omitempty"`
	Prompt string   `json:"prompt"`
	Voters []string `json:"voters,omitempty"` // set-voters: the voters asked for
}

type guideConf struct {
	Nodes int      `json:"nodes"`
	Seed  uint64   `json:"seed"`
	Bugs  []string `json:"bugs"`
}

// Guide returns the narration state, or nil outside a guided scenario.
func (l *Lab) Guide() *GuideState {
	g := l.course.guide
	if g == nil {
		return nil
	}
	p := g.p
	i := p.Step()
	st := g.sc.Steps[i]
	s := &GuideState{ID: g.sc.ID, Title: g.sc.Title, Summary: g.sc.Summary, Step: i, Heading: st.Title, Text: st.Text,
		Done: p.Done(), Last: i == len(g.sc.Steps)-1,
		Config: guideConf{Nodes: g.sc.Config.Nodes, Seed: g.sc.Config.Seed, Bugs: bugNames(sim.Run{Bugs: g.sc.Config.Bugs})}}
	for _, x := range g.sc.Steps {
		s.Steps = append(s.Steps, x.Title)
	}
	if a := p.Asking(); a != nil {
		s.Asking = &askView{Kind: string(a.Kind), Node: a.Node, Peer: a.Peer, Prompt: a.Prompt, Voters: a.Voters}
	}
	s.Course = g.sc == courseScenario
	if q := st.Question; q != nil {
		v := &questionView{Prompt: q.Prompt, Chosen: g.chosen}
		for _, c := range q.Choices {
			v.Choices = append(v.Choices, c.Text)
		}
		if s.Done && g.chosen >= 0 {
			v.Right, v.Explain = p.Right(), q.Explain
		}
		s.Question = v
	}
	if s.Done {
		for _, err := range p.Check() {
			s.Checks = append(s.Checks, err.Error())
		}
	} else if s.Asking == nil && l.c.Now() >= p.Deadline() {
		s.Late = fmt.Sprintf("this step's pause point did not come by %v of simulated time", p.Deadline())
	}
	return s
}

// ScenarioInfo lists a scenario for the picker.
type ScenarioInfo struct {
	ID        string   `json:"id"`
	Title     string   `json:"title"`
	Summary   string   `json:"summary"`
	Steps     []string `json:"steps"`
	Course    bool     `json:"course,omitempty"`    // the course's own scenario
	Questions int      `json:"questions,omitempty"` // steps that ask a question
}

// Scenarios lists the shipped scenarios and, last, the course's own if one was loaded.
func Scenarios() ([]ScenarioInfo, error) {
	all, err := scenario.All()
	if err != nil {
		return nil, err
	}
	if courseScenario != nil {
		all = append(all, courseScenario)
	}
	out := make([]ScenarioInfo, 0, len(all))
	for _, sc := range all {
		info := ScenarioInfo{ID: sc.ID, Title: sc.Title, Summary: sc.Summary, Course: sc == courseScenario}
		for _, st := range sc.Steps {
			info.Steps = append(info.Steps, st.Title)
			if st.Question != nil {
				info.Questions++
			}
		}
		out = append(out, info)
	}
	return out, nil
}
