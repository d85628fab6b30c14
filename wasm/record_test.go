// Save as scenario: a recorded free-play run, saved as a scenario file and played step by
// step, gives the run's trace hash at every step; course scenarios open by text; questions
// hold time until answered.

package main

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"raftlab/raft/scenario"
)

// playedRun plays a free-play run with many kinds of actions, in frames and single steps, and
// returns the lab with the trace hash just before and just after each action, and at the end.
func playedRun(t *testing.T) (l *Lab, before, after []string, end string) {
	t.Helper()
	l, err := NewLab(NewMemStore(), Config{Nodes: 5, Seed: 7, Compact: DefaultCompact}) // as the page's free play
	if err != nil {
		t.Fatal(err)
	}
	do := func(a Action) {
		t.Helper()
		before = append(before, l.TraceHash())
		if err := l.Do(a); err != nil {
			t.Fatalf("%+v: %v", a, err)
		}
		after = append(after, l.TraceHash())
	}
	frames := func(n int) {
		for range n {
			l.Advance(10*time.Millisecond, time.Hour)
		}
	}
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	do(Action{Kind: "submit", Command: "put x 1"})
	frames(7)
	old, _ := l.c.Leader()
	do(Action{Kind: "crash", Node: old})
	frames(40)
	for range 5 { // single steps, then an action in the middle of a time instant
		l.Step()
	}
	do(Action{Kind: "batch", Commands: []string{"put a 1", "append a 2"}})
	frames(20)
	do(Action{Kind: "latency", MinMs: 2, MaxMs: 9})
	do(Action{Kind: "unreliable", On: true})
	do(Action{Kind: "reorder", On: true})
	frames(30)
	do(Action{Kind: "restart", Node: old})
	do(Action{Kind: "partition", Groups: [][]string{{"n1", "n2"}, {"n3", "n4", "n5"}}})
	frames(50)
	do(Action{Kind: "heal-all"})
	do(Action{Kind: "unreliable", On: false})
	do(Action{Kind: "reorder", On: false})
	frames(30)
	do(Action{Kind: "timeout", Node: "n2"})
	frames(25)
	runUntil(t, l, 5*time.Second, "a leader after the timeout", hasLeader)
	do(Action{Kind: "add-server"}) // n6 joins: the page's Add node
	frames(30)
	do(Action{Kind: "remove-server", Node: "n1"})
	frames(30)
	return l, before, after, l.TraceHash()
}

func TestSavedScenarioReplaysTheRunAtEveryStep(t *testing.T) {
	l, before, after, end := playedRun(t)
	name, file, err := l.SaveScenario()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.ParseFile(name, file) // every check the page's checker module makes
	if err != nil {
		t.Fatalf("the saved file is not valid: %v\n%s", err, file)
	}
	if len(sc.Steps) != len(after)+1 || !strings.Contains(string(file), placeholder) {
		t.Fatalf("%d steps for %d actions; want one per action and a first\n%s", len(sc.Steps), len(after), file)
	}
	if sc.Config.Seed != 7 || sc.Config.Nodes != 5 || sc.Config.Compact != DefaultCompact {
		t.Errorf("config %+v; want the run's seed 7 and 5 nodes", sc.Config)
	}

	// In the page: opened as a course's scenario, each step begun with Next.
	g, err := OpenCourseScenario(string(file), 0)
	if err != nil {
		t.Fatal(err)
	}
	for i := range after {
		if !g.Guide().Done { // to step i's pause point (at once for a step of no time): just before action i
			if err := g.Next(); err != nil {
				t.Fatal(err)
			}
		}
		if got := g.TraceHash(); got != before[i] {
			t.Fatalf("step %d's pause point: trace %s; the run had %s before action %d", i+1, got, before[i], i+1)
		}
		if err := g.Next(); err != nil { // step i+1 begins: action i
			t.Fatal(err)
		}
		if got := g.TraceHash(); got != after[i] {
			t.Fatalf("step %d (%s): trace %s; the run had %s after it", i+2, sc.Steps[i+1].Title, got, after[i])
		}
	}
	// The last step runs to the time the run was saved at, a frame at a time as the page does.
	for range 1000 {
		if g.Guide().Done {
			break
		}
		g.Advance(16*time.Millisecond, time.Hour)
	}
	if got := g.TraceHash(); got != end || g.c.Now() != l.c.Now() {
		t.Fatalf("the end: trace %s at %v; the run had %s at %v", got, g.c.Now(), end, l.c.Now())
	}

	// Jumping to a step replays the steps before it to the same trace.
	j, err := OpenCourseScenario(string(file), 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := j.TraceHash(); got != after[4] {
		t.Errorf("opened at step 6: trace %s; the run had %s after action 5", got, after[4])
	}
}

func TestSaveScenarioRefuses(t *testing.T) {
	l := newTestLab(t, NewMemStore(), 3)
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	if err := l.Do(Action{Kind: "load", On: true}); err != nil {
		t.Fatal(err)
	}
	l.Advance(time.Second, time.Hour)
	if _, _, err := l.SaveScenario(); err == nil || !strings.Contains(err.Error(), "client load") {
		t.Errorf("a run with the client load: %v; want a refusal naming it", err)
	}

	store := NewMemStore()
	l = newTestLab(t, store, 3)
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	again := newTestLab(t, store, 3) // restarted from the storage the first wrote
	if _, _, err := again.SaveScenario(); err == nil || !strings.Contains(err.Error(), "reset the cluster's storage") {
		t.Errorf("a cluster restarted from storage: %v; want a refusal", err)
	}

	l = newTestLab(t, NewMemStore(), 3)
	l.Advance(61*time.Second, time.Hour)
	if _, _, err := l.SaveScenario(); err == nil || !strings.Contains(err.Error(), "a step may run at most 1m0s") {
		t.Errorf("a run with a minute without action: %v; want a refusal", err)
	}

	g, err := OpenScenario("leader-election", 0)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := g.SaveScenario(); err == nil {
		t.Error("a guided scenario saved as a scenario")
	}
}

// questionFile has a question decided by what happens, and one decided by the author.
const questionFile = `{"id":"course-q","title":"Q","config":{"nodes":3,"seed":42},"steps":[
 {"title":"Elect","text":"An election.","until":{"cond":"leader"},
  "question":{"prompt":"Which node wins?","choices":[{"text":"n1","when":{"cond":"leader","node":"n1"}},{"text":"n2","when":{"cond":"leader","node":"n2"}},{"text":"n3","when":{"cond":"leader","node":"n3"}}],"explain":"The first timer."}},
 {"title":"Majority","text":"Two of three.","do":[{"kind":"crash","node":"$leader"}],"for":"1s",
  "question":{"prompt":"Is a new leader elected?","choices":[{"text":"yes","correct":true},{"text":"no"}]}}]}`

func TestCourseScenarioQuestions(t *testing.T) {
	if _, err := OpenCourseScenario(strings.Replace(questionFile, "course-q", "leader-election", 1), 0); err == nil || !strings.Contains(err.Error(), "shipped scenario") {
		t.Errorf("a course file with a shipped id: %v", err)
	}
	if _, err := OpenCourseScenario(`{"id":"x","bogus":1}`, 0); err == nil {
		t.Error("a file with an unknown field opened")
	}
	l, err := OpenCourseScenario(questionFile, 0)
	if err != nil {
		t.Fatal(err)
	}
	g := l.Guide()
	if g == nil || !g.Course || g.Question == nil || g.Question.Chosen != noAnswer || len(g.Question.Choices) != 3 || g.Question.Right != nil {
		t.Fatalf("guide state %+v; want the course scenario asking its question", g)
	}
	// Time stands still until the question is answered; actions wait too.
	l.Advance(time.Second, time.Hour)
	if l.c.Now() != 0 || l.Step() {
		t.Fatalf("time moved to %v before the answer", l.c.Now())
	}
	if err := l.Do(Action{Kind: "crash", Node: "n1"}); err == nil || !strings.Contains(err.Error(), "answer") {
		t.Errorf("an action before the answer: %v", err)
	}
	if err := l.Answer(7); err == nil {
		t.Error("choice 7 of 3 accepted")
	}
	if err := l.Answer(0); err != nil {
		t.Fatal(err)
	}
	if err := l.Answer(1); err == nil {
		t.Error("a second answer accepted")
	}
	for range 100 {
		if l.Guide().Done {
			break
		}
		l.Advance(50*time.Millisecond, time.Hour)
	}
	g = l.Guide()
	leader, _ := l.c.Leader()
	if !g.Done || len(g.Question.Right) != 1 || g.Question.Choices[g.Question.Right[0]] != leader || g.Question.Explain != "The first timer." {
		t.Fatalf("at the pause point: %+v (leader %s); want the leader's choice right and the explanation", g.Question, leader)
	}
	// The next step asks again; Next without an answer skips the question.
	if err := l.Next(); err != nil {
		t.Fatal(err)
	}
	if q := l.Guide().Question; q == nil || q.Chosen != noAnswer || q.Prompt != "Is a new leader elected?" {
		t.Fatalf("step 2's question: %+v", q)
	}
	if err := l.Next(); err != nil {
		t.Fatal(err)
	}
	if g := l.Guide(); !g.Done || g.Question.Chosen != skipped || g.Question.Right != nil {
		t.Errorf("skipped: %+v; want the step done, the question skipped, no answer shown", g.Question)
	}
	// The list of scenarios names the course's, with its questions.
	all, err := Scenarios()
	if err != nil {
		t.Fatal(err)
	}
	last := all[len(all)-1]
	if !last.Course || last.ID != "course-q" || last.Questions != 2 {
		t.Errorf("scenarios end with %+v; want the course's, with 2 questions", last)
	}
	b, _ := json.Marshal(l.Guide())
	if !strings.Contains(string(b), `"chosen":-2`) {
		t.Errorf("guide state JSON %s lacks the skipped answer", b)
	}
}
