// Tests of the course features of the lab: recording, share links, exact replay, time travel
// and forking, and guided scenarios.

package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"raftlab/raft/scenario"
	"raftlab/raft/sim"
)

// recordedRun plays a run with every kind of action the page offers, in 10 ms frames and
// single steps, and returns the lab and the trace hash at each simulated time it noted.
func recordedRun(t *testing.T, store KeyValue, load bool) (*Lab, map[time.Duration]string) {
	t.Helper()
	l := newTestLab(t, store, 5)
	hashes := map[time.Duration]string{}
	note := func() { hashes[l.c.Now()] = l.TraceHash() }
	frames := func(n int) {
		for range n {
			l.Advance(10*time.Millisecond, time.Hour)
			note()
		}
	}
	do := func(a Action) {
		t.Helper()
		if err := l.Do(a); err != nil {
			t.Fatalf("%+v: %v", a, err)
		}
	}
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	note()
	do(Action{Kind: "submit", Command: "put x 1"})
	frames(7)
	if load {
		do(Action{Kind: "load", On: true})
	}
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
	do(Action{Kind: "reorder", On: false})
	if load {
		do(Action{Kind: "load", On: false})
	}
	frames(30)
	return l, hashes
}

// nearestBefore returns the latest noted time not after t.
func nearestBefore(hashes map[time.Duration]string, t time.Duration) time.Duration {
	best := time.Duration(-1)
	for at := range hashes {
		if at <= t && at > best {
			best = at
		}
	}
	return best
}

func TestShareLinkReplaysEventForEvent(t *testing.T) {
	for _, load := range []bool{false, true} {
		l, _ := recordedRun(t, NewMemStore(), load)
		sh, err := l.Share()
		if err != nil {
			t.Fatal(err)
		}
		if !sh.Fresh {
			t.Errorf("a cluster started on empty storage is not marked fresh")
		}
		run, err := ParseRun(sh.Run)
		if err != nil {
			t.Fatalf("ParseRun of the lab's run: %v", err)
		}
		// What the page makes of it is what sim.Run.Encode makes: sim.DecodeRun reads it back.
		if back, err := sim.DecodeRun(run.Encode()); err != nil || len(back.Actions) != len(run.Actions) {
			t.Fatalf("DecodeRun(Encode()) of the lab's run: %v", err)
		}
		if len(run.Actions) < 8 {
			t.Errorf("the link holds %d actions; the run had at least 8", len(run.Actions))
		}
		r, err := OpenRun(run, msDur(sh.Now), nil, "a shared run")
		if err != nil {
			t.Fatal(err)
		}
		if r.c.Now() != l.c.Now() || r.TraceHash() != l.TraceHash() || r.c.Events() != l.c.Events() {
			t.Errorf("load %v: replay at %v has hash %s (%d events); the run at %v had %s (%d events)",
				load, r.c.Now(), r.TraceHash(), r.c.Events(), l.c.Now(), l.TraceHash(), l.c.Events())
		}
		if !load {
			// Without the lab's client load, the link is a plain sim.Run: the simulator alone replays it.
			c, err := run.Replay(sim.Options{}, l.c.Now())
			if err != nil {
				t.Fatal(err)
			}
			if c.TraceHash() != l.TraceHash() {
				t.Errorf("sim.Run.Replay of the link: hash %s; the lab's run %s", c.TraceHash(), l.TraceHash())
			}
		}
		if r.course.memory == "" {
			t.Errorf("a run opened from a link claims to use localStorage")
		}
	}
}

func TestSeekBackAndForwardAndFork(t *testing.T) {
	store := NewMemStore()
	l, hashes := recordedRun(t, store, true)
	end, endHash, actions := l.c.Now(), l.TraceHash(), len(l.Run().Actions)
	stored := len(store.Keys())
	for _, back := range []time.Duration{end / 3, end / 2, end - 10*time.Millisecond} {
		back = nearestBefore(hashes, back)
		want := hashes[back]
		b, err := l.Seek(back)
		if err != nil {
			t.Fatal(err)
		}
		if b.c.Now() != back || b.TraceHash() != want {
			t.Errorf("seek to %v: at %v hash %s; the run had %s there", back, b.c.Now(), b.TraceHash(), want)
		}
		ahead := 0
		for _, a := range l.Run().Actions {
			if a.At > back {
				ahead++
			}
		}
		if tl := b.Timeline(); tl.End != ms(end) || tl.Future != ahead || tl.Memory == "" {
			t.Errorf("after seeking back to %v: timeline %+v; want end %v, %d actions ahead, in memory", back, tl, ms(end), ahead)
		}
		// Forward again in frames: the recorded actions play at their times.
		for b.c.Now() < end {
			b.Advance(min(10*time.Millisecond, end-b.c.Now()), time.Hour)
		}
		if b.TraceHash() != endHash {
			t.Errorf("from %v forward to %v: hash %s; the run had %s", back, end, b.TraceHash(), endHash)
		}
		if got := len(b.Run().Actions); got != actions {
			t.Errorf("from %v forward: %d actions; the run had %d", back, got, actions)
		}
	}
	// Seeking never writes to the free-play store.
	if len(store.Keys()) != stored {
		t.Errorf("seeking changed the free-play store: %d keys, was %d", len(store.Keys()), stored)
	}
	// Acting in the past forks: the future is dropped, the run ends at the action.
	b, err := l.Seek(end / 2)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Do(Action{Kind: "timeout", Node: "n4"}); err != nil {
		t.Fatal(err)
	}
	run := b.Run()
	if tl := b.Timeline(); tl.Future != 0 || tl.End != ms(b.c.Now()) {
		t.Errorf("after acting in the past: %+v; want no future and the end at now", tl)
	}
	if last := run.Actions[len(run.Actions)-1]; last.Kind != sim.ActTimeout || last.At != end/2 {
		t.Errorf("the fork's last action is %v; want the timeout at %v", last, end/2)
	}
	if len(run.Actions) >= actions {
		t.Errorf("the fork kept %d actions; the original had %d after its middle", len(run.Actions), actions)
	}
	if _, err := l.Seek(end + time.Second); err == nil {
		t.Errorf("seeking past the end: no error")
	}
}

func TestRunFromStoredStateIsNotFreshButSeeksExactly(t *testing.T) {
	store := NewMemStore()
	recordedRun(t, store, false)
	l, hashes := recordedRun(t, store, false) // a reload: starts from what the first run stored
	sh, _ := l.Share()
	if sh.Fresh {
		t.Errorf("a cluster restored from storage is marked fresh: its link cannot carry that state")
	}
	at := nearestBefore(hashes, l.c.Now()/2)
	b, err := l.Seek(at)
	if err != nil {
		t.Fatal(err)
	}
	if b.TraceHash() != hashes[at] {
		t.Errorf("seek to %v in a restored run: hash %s; want %s", at, b.TraceHash(), hashes[at])
	}
}

func TestOpenRunRefusesBadRuns(t *testing.T) {
	for _, r := range []sim.Run{
		{Version: 9, Nodes: 3},
		{Version: sim.RunVersion, Nodes: 12},
		{Version: sim.RunVersion, Nodes: 3, Actions: []sim.Action{{At: 5, Kind: "crash", Node: "n1"}, {At: 1, Kind: "restart", Node: "n1"}}},
	} {
		if _, err := OpenRun(&r, 0, nil, "test"); err == nil {
			t.Errorf("OpenRun(%+v): no error", r)
		}
	}
	for _, bad := range []string{"", "{", `{"v":1,"n":3,"a":[{"at":"x"}]}`, `[1,2]`} {
		if _, err := ParseRun([]byte(bad)); err == nil {
			t.Errorf("ParseRun(%q): no error", bad)
		}
	}
}

func TestGuidedScenarioWaitsForTheAskedAction(t *testing.T) {
	l, err := OpenScenario("leader-crash", 0)
	if err != nil {
		t.Fatal(err)
	}
	advanceUntil := func(what string, cond func(*GuideState) bool) *GuideState {
		t.Helper()
		for range 2000 {
			if g := l.Guide(); cond(g) {
				return g
			}
			l.Advance(10*time.Millisecond, time.Hour)
		}
		t.Fatalf("%s did not happen; guide %+v", what, l.Guide())
		return nil
	}
	g := advanceUntil("step 1's pause point", func(g *GuideState) bool { return g.Done })
	if len(g.Checks) > 0 || g.Step != 0 || len(g.Steps) != 3 {
		t.Fatalf("step 1 done: %+v", g)
	}
	// At the pause point, time stands still.
	now := l.c.Now()
	l.Advance(time.Second, time.Hour)
	if l.c.Now() != now {
		t.Errorf("at a pause point the clock moved from %v to %v", now, l.c.Now())
	}
	if err := l.Next(); err != nil {
		t.Fatal(err)
	}
	g = l.Guide()
	leader, _ := l.c.Leader()
	if g.Asking == nil || g.Asking.Kind != "crash" || g.Asking.Node != leader || g.Asking.Prompt == "" {
		t.Fatalf("step 2 asks %+v; want to crash the leader %s", g.Asking, leader)
	}
	l.Advance(time.Second, time.Hour)
	if l.c.Now() != now {
		t.Errorf("while the step waits for the person, the clock moved from %v to %v", now, l.c.Now())
	}
	// Another action does not count as the one asked for.
	other := "n1"
	if other == leader {
		other = "n2"
	}
	if err := l.Do(Action{Kind: "timeout", Node: other}); err != nil {
		t.Fatal(err)
	}
	if l.Guide().Asking == nil {
		t.Fatalf("a timeout of %s was taken for the asked crash", other)
	}
	if err := l.Do(Action{Kind: "crash", Node: leader}); err != nil {
		t.Fatal(err)
	}
	g = advanceUntil("step 2's pause point", func(g *GuideState) bool { return g.Done })
	if len(g.Checks) > 0 {
		t.Errorf("step 2's claims: %v", g.Checks)
	}
	if s := l.Snapshot(0, 0); s.Leader == "" || s.Leader == leader {
		t.Errorf("after step 2: leader %q; want a new one", s.Leader)
	}
	// Next mid-step finishes it (performing the ask itself).
	if err := l.Next(); err != nil {
		t.Fatal(err)
	}
	if err := l.Next(); err != nil {
		t.Fatal(err)
	}
	if g := l.Guide(); !g.Done || !g.Last || len(g.Checks) > 0 {
		t.Errorf("after finishing the last step: %+v", g)
	}
	if err := l.Next(); err == nil || !strings.Contains(err.Error(), "last step") {
		t.Errorf("Next after the last step: %v", err)
	}
	if _, err := l.Seek(0); err == nil {
		t.Errorf("the time slider works in a guided scenario; it should point to Back")
	}
	if err := l.Do(Action{Kind: "load", On: true}); err == nil {
		t.Errorf("client load accepted in a guided scenario")
	}
}

func TestEveryScenarioOpensAtEveryStep(t *testing.T) {
	all, err := Scenarios()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 9 {
		t.Errorf("%d scenarios; 9 are shipped", len(all))
	}
	for _, sc := range all {
		for i := range sc.Steps {
			l, err := OpenScenario(sc.ID, i)
			if err != nil {
				t.Errorf("%s step %d: %v", sc.ID, i+1, err)
				continue
			}
			if g := l.Guide(); g.Step != i || g.Heading != sc.Steps[i] {
				t.Errorf("%s step %d opens at %+v", sc.ID, i+1, g)
			}
			if len(l.Snapshot(0, 0).Nodes) == 0 {
				t.Errorf("%s step %d: no nodes to draw", sc.ID, i+1)
			}
		}
	}
	if _, err := OpenScenario("leader-crash", 3); err == nil {
		t.Errorf("step 4 of a 3-step scenario: no error")
	}
	if _, err := OpenScenario("no-such", 0); err == nil {
		t.Errorf("an unknown scenario: no error")
	}
}

func TestNamespacesKeepClustersApart(t *testing.T) {
	defer SetNamespace("")
	store := NewMemStore()
	for _, ns := range []string{"a", "b"} {
		if err := SetNamespace(ns); err != nil {
			t.Fatal(err)
		}
		l := newTestLab(t, store, 3)
		runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	}
	var a, b, other int
	for _, k := range store.Keys() {
		switch {
		case strings.HasPrefix(k, "raftlab/a/lab3/"):
			a++
		case strings.HasPrefix(k, "raftlab/b/lab3/"):
			b++
		default:
			other++
		}
	}
	if a == 0 || b == 0 || other != 0 {
		t.Errorf("keys: %d under a, %d under b, %d elsewhere; want both namespaces and nothing else", a, b, other)
	}
	for _, bad := range []string{"a/b", "x y", strings.Repeat("n", 33)} {
		if err := SetNamespace(bad); err == nil {
			t.Errorf("SetNamespace(%q): no error", bad)
		}
	}
}

// forgetVoteRun: n2 votes for n1 in term 1, crashes and restarts; then n3, cut off from n1,
// asks n2 for its vote in term 1 (as raft/sim's TestForgetVote, on default timeouts, with a
// slow n1–n2 link so that n1's AppendEntries are still on the wire when it is cut off).
func forgetVoteRun(bug bool) *sim.Run {
	r := &sim.Run{Version: sim.RunVersion, Nodes: 3, Seed: 1, Actions: []sim.Action{
		{At: 0, Kind: sim.ActCut, Node: "n1", Peer: "n3"},
		{At: 0, Kind: sim.ActLinkLatency, Node: "n1", Peer: "n2", Min: 50 * time.Millisecond, Max: 50 * time.Millisecond},
		{At: 0, Kind: sim.ActTimeout, Node: "n1"},
		// n1 leads term 1 at 100 ms; its AppendEntries would reach n2 at 150 ms.
		{At: 120 * time.Millisecond, Kind: sim.ActDisconnect, Node: "n1"},
		{At: 121 * time.Millisecond, Kind: sim.ActCrash, Node: "n2"},
		{At: 122 * time.Millisecond, Kind: sim.ActRestart, Node: "n2"},
		{At: 123 * time.Millisecond, Kind: sim.ActTimeout, Node: "n3"},
	}}
	r.Bugs.ForgetVote = bug
	return r
}

func TestBreakItViolationAndReplayBeforeIt(t *testing.T) {
	for _, bug := range []bool{false, true} {
		l, err := OpenRun(forgetVoteRun(bug), time.Second, nil, "test")
		if err != nil {
			t.Fatal(err)
		}
		s, tl := l.Snapshot(0, 0), l.Timeline()
		if !bug {
			if s.Violation != "" || tl.ViolationAt != -1 {
				t.Errorf("without the switch: violation %q at %v", s.Violation, tl.ViolationAt)
			}
			continue
		}
		for _, want := range []string{"Election Safety", "n1 and n3", "term 1", "seed=1", "event:"} {
			if !strings.Contains(s.Violation, want) {
				t.Errorf("the violation %q does not name %q", s.Violation, want)
			}
		}
		if tl.ViolationAt < 123 || len(tl.Bugs) != 1 || tl.Bugs[0] != "ForgetVote" {
			t.Fatalf("timeline %+v: want the violation after 123 ms and the ForgetVote switch", tl)
		}
		b, err := l.BeforeViolation()
		if err != nil {
			t.Fatal(err)
		}
		if v := b.Snapshot(0, 0).Violation; v != "" || b.c.Now() >= msDur(tl.ViolationAt) {
			t.Errorf("before the violation: at %v, violation %q", b.c.Now(), v)
		}
		for i := 0; i < 100 && b.Snapshot(0, 0).Violation == ""; i++ {
			b.Step()
		}
		if v := b.Snapshot(0, 0).Violation; v != s.Violation {
			t.Errorf("stepping on from just before: violation %q; the run had %q", v, s.Violation)
		}
	}
	if _, err := BreakIt(5, 1, []string{"NoSuchBug"}, 0); err == nil {
		t.Errorf("an unknown switch: no error")
	}
	l, err := BreakIt(5, 1, []string{"FixedElectionTimeout", "CommitByCounting"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tl := l.Timeline(); len(tl.Bugs) != 2 || tl.Memory == "" {
		t.Errorf("break-it lab: %+v; want two switches, in memory", tl)
	}
	if run := l.Run(); !run.Bugs.FixedElectionTimeout || !run.Bugs.CommitByCounting {
		t.Errorf("the share link's run lacks the switches: %+v", run.Bugs)
	}
}

func TestTimelineData(t *testing.T) {
	l := newTestLab(t, NewMemStore(), 3)
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	lead, _ := l.c.Leader()
	if err := l.Do(Action{Kind: "submit", Command: "put a 1"}); err != nil {
		t.Fatal(err)
	}
	l.Advance(100*time.Millisecond, time.Hour)
	if err := l.Do(Action{Kind: "unreliable", On: true}); err != nil {
		t.Fatal(err)
	}
	if err := l.Do(Action{Kind: "crash", Node: lead}); err != nil {
		t.Fatal(err)
	}
	l.Advance(2*time.Second, time.Hour)
	d := l.TimelineData(0, 0)
	kinds := map[string]int{}
	for _, m := range d.Msgs {
		if m.At < m.Sent || m.From == "" || m.To == "" || m.From == m.To {
			t.Errorf("message %+v: arrives before it is sent, or has no ends", m)
		}
		kinds[m.Type]++
		if m.Dropped {
			kinds["dropped"]++
		}
	}
	for _, k := range []string{"vote", "vote-reply", "append", "append-reply", "dropped"} {
		if kinds[k] == 0 {
			t.Errorf("no %s message in the timeline (%v)", k, kinds)
		}
	}
	marks := map[string]bool{}
	for _, m := range d.Marks {
		marks[m.Kind] = true
		if m.Kind == "crash" && m.Node != lead {
			t.Errorf("crash mark on %s; %s crashed", m.Node, lead)
		}
	}
	for _, k := range []string{"leader", "candidate", "crash", "commit", "timeout"} {
		if !marks[k] {
			t.Errorf("no %s mark (%v)", k, marks)
		}
	}
	last := d.Msgs[len(d.Msgs)-1].Seq
	if more := l.TimelineData(last, 1<<62); len(more.Msgs) != 0 || len(more.Marks) != 0 {
		t.Errorf("after the last sequence numbers: %d messages, %d marks", len(more.Msgs), len(more.Marks))
	}
}

// The pre-vote option restarts the cluster in memory with pre-vote in every node; the share
// link carries it, and a follower cut off from the others shows as a pre-candidate whose term
// does not move, while the leader keeps leading.
func TestPreVoteOption(t *testing.T) {
	l, err := BreakIt(5, 3, []string{"PreVote"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tl := l.Timeline(); len(tl.Options) != 1 || tl.Options[0] != "PreVote" || len(tl.Bugs) != 0 || tl.Memory == "" {
		t.Fatalf("timeline %+v: want the PreVote option on, no bug, in memory", tl)
	}
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	lead, _ := l.c.Leader()
	term := l.c.Status(lead).Term
	var cut string
	for _, id := range l.c.IDs() {
		if id != lead {
			cut = id
			break
		}
	}
	if err := l.Do(Action{Kind: "disconnect", Node: cut}); err != nil {
		t.Fatal(err)
	}
	l.Advance(2*time.Second, time.Hour)
	var view nodeView
	for _, n := range l.Snapshot(0, 0).Nodes {
		if n.ID == cut {
			view = n
		}
	}
	if view.State != "pre-candidate" || view.Term != term || view.TimerLeft < 0 {
		t.Errorf("cut-off %s: %+v; want a pre-candidate still in term %d, with its timer shown", cut, view, term)
	}
	if err := l.Do(Action{Kind: "reconnect", Node: cut}); err != nil {
		t.Fatal(err)
	}
	l.Advance(time.Second, time.Hour)
	if now, _ := l.c.Leader(); now != lead || l.c.Status(lead).Term != term {
		t.Errorf("after the reconnect %s leads term %d; want %s still leading term %d", now, l.c.Status(now).Term, lead, term)
	}
	// The share link replays the same run, pre-vote included.
	run := l.Run()
	if !run.PreVote {
		t.Fatal("the share link's run lacks pre-vote")
	}
	back, err := sim.DecodeRun(run.Encode())
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenRun(back, l.c.Now(), nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	if r.TraceHash() != l.TraceHash() {
		t.Errorf("the link replays to trace %s; the run was %s", r.TraceHash(), l.TraceHash())
	}
}

// The check-quorum option: the leader, disconnected, steps down on its own and says why.
func TestCheckQuorumOption(t *testing.T) {
	l, err := BreakIt(5, 3, []string{"CheckQuorum", "PreVote"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tl := l.Timeline(); len(tl.Options) != 2 || len(tl.Bugs) != 0 {
		t.Fatalf("timeline %+v: want two options on, no bug", tl)
	}
	if run := l.Run(); !run.CheckQuorum || !run.PreVote {
		t.Fatalf("the share link's run lacks the options: %+v", run)
	}
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	lead, _ := l.c.Leader()
	if err := l.Do(Action{Kind: "disconnect", Node: lead}); err != nil {
		t.Fatal(err)
	}
	l.Advance(time.Second, time.Hour)
	if st := l.c.Status(lead); st.State.String() == "leader" {
		t.Errorf("disconnected %s still leads with check quorum on", lead)
	}
	said := false
	for _, e := range l.Snapshot(0, 0).Events {
		said = said || strings.Contains(e.Text, lead+" stepped down")
	}
	if !said {
		t.Error("the event log does not say the leader stepped down")
	}
}

// TestVersion1RunOpensWithItsNetwork: a run shared before links were FIFO (version 1) opens
// with its own network, every message drawing its own delay, as sim.Run.Replay replays it; the
// snapshot says so and the reorder switch refuses to change it. A run of today has FIFO links,
// and the switch works and is recorded.
func TestVersion1RunOpensWithItsNetwork(t *testing.T) {
	run := &sim.Run{Version: 1, Nodes: 5, Seed: 7, Actions: []sim.Action{
		{At: 400 * time.Millisecond, Kind: sim.ActSubmit, Command: "put x 1"},
		{At: 600 * time.Millisecond, Kind: sim.ActCrash, Node: "n2"},
	}}
	l, err := OpenRun(run, time.Second, nil, "a shared run")
	if err != nil {
		t.Fatal(err)
	}
	c, err := run.Replay(sim.Options{}, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if l.TraceHash() != c.TraceHash() {
		t.Fatalf("version 1 run in the lab: trace %s; sim.Run.Replay gives %s", l.TraceHash(), c.TraceHash())
	}
	if s := l.Snapshot(0, 0); !s.Reorder || !s.Unordered {
		t.Fatalf("version 1 run: snapshot reorder %v, unordered %v; want both", s.Reorder, s.Unordered)
	}
	if err := l.Do(Action{Kind: "reorder", On: false}); err == nil {
		t.Fatal("the reorder switch changed a version 1 run's network")
	}

	l, err = NewLab(NewMemStore(), Config{Nodes: 3, Seed: 2})
	if err != nil {
		t.Fatal(err)
	}
	if s := l.Snapshot(0, 0); s.Reorder || s.Unordered {
		t.Fatalf("a new lab: reorder %v, unordered %v; want FIFO links", s.Reorder, s.Unordered)
	}
	if err := l.Do(Action{Kind: "reorder", On: true}); err != nil {
		t.Fatal(err)
	}
	if s := l.Snapshot(0, 0); !s.Reorder || s.Unordered {
		t.Fatalf("after the reorder switch: reorder %v, unordered %v; want reorder on a FIFO network", s.Reorder, s.Unordered)
	}
	if r := l.Run(); r.Version != sim.RunVersion || len(r.Actions) != 1 || r.Actions[0].Kind != sim.ActSetReorder || r.Actions[0].Rate != reorderRate {
		t.Fatalf("the run after the reorder switch: %+v; want version %d with the switch recorded", r, sim.RunVersion)
	}
}

// TestMessageViewAndDropByHand: a message on the wire shows its fields as Figure 2 names them;
// dropping it by hand loses it on arrival, is recorded, and its share link replays the run.
func TestMessageViewAndDropByHand(t *testing.T) {
	l, err := NewLab(NewMemStore(), Config{Nodes: 3, Seed: 4})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	do(t, l, Action{Kind: "submit", Command: "put x 1"})
	var f flightView // the submit's AppendEntries (it may wait for the answer to a probe)
	for start := l.c.Now(); f.ID == 0 && l.c.Now() < start+time.Second; l.Step() {
		for _, g := range l.Snapshot(0, 0).Flights {
			if g.Type == "append" && g.N > 0 {
				f = g
				break
			}
		}
	}
	if f.ID == 0 {
		t.Fatalf("no AppendEntries with entries on the wire after a submit: %+v", l.Snapshot(0, 0).Flights)
	}
	v, err := l.Message(f.ID)
	if err != nil {
		t.Fatal(err)
	}
	fields := map[string]string{}
	for _, kv := range v.Fields {
		fields[kv[0]] = kv[1]
	}
	for _, name := range []string{"term", "leaderId", "prevLogIndex", "prevLogTerm", "leaderCommit"} {
		if _, ok := fields[name]; !ok {
			t.Errorf("AppendEntries view lacks %s: %v", name, v.Fields)
		}
	}
	if !strings.Contains(fmt.Sprint(v.Fields), "put x 1") || v.Type != "AppendEntries" || v.From != f.From || v.To != f.To {
		t.Errorf("AppendEntries view %+v; want the entry put x 1 from %s to %s", v, f.From, f.To)
	}
	if err := l.Do(Action{Kind: "drop-message", Msg: f.ID}); err != nil {
		t.Fatal(err)
	}
	l.Advance(20*time.Millisecond, time.Hour)
	found := false
	for _, d := range l.Snapshot(0, 0).Drops {
		found = found || d.Why == "dropped by hand" && d.From == f.From && d.To == f.To
	}
	if !found {
		t.Fatalf("drops %+v; want %s→%s dropped by hand", l.Snapshot(0, 0).Drops, f.From, f.To)
	}
	if _, err := l.Message(f.ID); err == nil {
		t.Error("a message that has left the wire still has a view")
	}
	if err := l.Do(Action{Kind: "drop-message", Msg: f.ID}); err == nil {
		t.Error("dropping a message that has left the wire succeeded")
	}
	l.Advance(300*time.Millisecond, time.Hour)
	run := l.Run()
	back, err := OpenRun(run, l.c.Now(), nil, "a shared run")
	if err != nil {
		t.Fatal(err)
	}
	if back.TraceHash() != l.TraceHash() {
		t.Fatalf("the run with a dropped message replays to trace %s; want %s", back.TraceHash(), l.TraceHash())
	}
	votes := 0
	l2, _ := NewLab(NewMemStore(), Config{Nodes: 3, Seed: 9})
	for votes == 0 && l2.c.Now() < time.Second {
		l2.Step()
		for _, g := range l2.Snapshot(0, 0).Flights {
			if g.Type == "vote" {
				v, err := l2.Message(g.ID)
				if err != nil || !strings.Contains(fmt.Sprint(v.Fields), "lastLogIndex") || !strings.Contains(fmt.Sprint(v.Fields), "lastLogTerm") {
					t.Fatalf("RequestVote view %+v, %v; want lastLogIndex and lastLogTerm", v, err)
				}
				votes++
			}
		}
	}
	if votes == 0 {
		t.Fatal("no RequestVote seen in the first second")
	}
}

// The joint-consensus option: Set voters replaces the three servers at once, the cards show the
// joint configuration while it is in use, and the share link carries the option (a link
// without it is single-server, which refuses the same change).
func TestJointConsensusOption(t *testing.T) {
	l, err := BreakIt(3, 7, []string{"JointConsensus"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if tl := l.Timeline(); len(tl.Options) != 1 || tl.Options[0] != "JointConsensus" {
		t.Fatalf("timeline options %v; want JointConsensus", tl.Options)
	}
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	l.Advance(100*time.Millisecond, time.Hour)
	if err := l.Do(Action{Kind: "set-voters", Voters: []string{"n6", "n4", "n5"}}); err != nil {
		t.Fatal(err)
	}
	sawJoint := false
	for i := 0; i < 400 && !sawJoint; i++ {
		l.Advance(time.Millisecond, time.Hour)
		for _, n := range l.Snapshot(0, 0).Nodes {
			sawJoint = sawJoint || strings.HasPrefix(n.Config, "joint n1,n2,n3 → n4,n5,n6")
		}
	}
	if !sawJoint {
		t.Fatal("no card showed the joint configuration")
	}
	l.Advance(2*time.Second, time.Hour)
	lead, ok := l.c.Leader()
	if !ok {
		t.Fatal("no leader after the change")
	}
	if conf, _ := l.c.Node(lead).Configuration(); conf.Joint() || strings.Join(conf.Voters, ",") != "n4,n5,n6" {
		t.Fatalf("after the change %s uses %s; want voters n4,n5,n6", lead, conf)
	}
	for _, bad := range []Action{{Kind: "set-voters"}, {Kind: "set-voters", Voters: []string{"n16"}}, {Kind: "set-voters", Voters: []string{"x y"}}} {
		if err := l.Do(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	// Save as scenario keeps the option and the change, and the file plays.
	_, file, err := l.SaveScenario()
	if err != nil {
		t.Fatal(err)
	}
	sc, err := scenario.Parse(file)
	if err != nil {
		t.Fatalf("saved scenario: %v\n%s", err, file)
	}
	if !sc.Config.JointConsensus || !strings.Contains(string(file), `"voters":["n4","n5","n6"]`) {
		t.Errorf("saved scenario lacks the option or the change: %s", file)
	}
	run := l.Run()
	if !run.JointConsensus {
		t.Fatal("the share link's run lacks joint consensus")
	}
	back, err := sim.DecodeRun(run.Encode())
	if err != nil {
		t.Fatal(err)
	}
	r, err := OpenRun(back, l.c.Now(), nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	if r.TraceHash() != l.TraceHash() {
		t.Errorf("the link replays to trace %s; the run was %s", r.TraceHash(), l.TraceHash())
	}
	// The same run without the option (as a link made before it): the change of three voters
	// is refused, and nothing else of the run changes before it.
	old := *back
	old.JointConsensus = false
	s, err := OpenRun(&old, l.c.Now(), nil, "test")
	if err != nil {
		t.Fatal(err)
	}
	if conf, _ := s.c.Node("n1").Configuration(); conf.IsVoter("n4") || !conf.IsVoter("n1") {
		t.Errorf("single-server replay: n1 uses %s; want the change of three voters refused", conf)
	}
}
