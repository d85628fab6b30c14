// Randomized fault schedules over many seeds: safety after every event, then liveness once the
// faults heal.

package sim

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"raftlab/raft"
)

var (
	seedsFlag = flag.Int("seeds", 0, "randomized runs for TestRandomized and TestNemesis (default 1000 and 3000 natively, 60 and 20 under wasm)")
	seedFlag  = flag.Uint64("seed", 0, "run TestRandomized or TestNemesis for this one seed")
	fromFlag  = flag.Uint64("from", 1, "first seed of TestRandomized's and TestNemesis's sweep")
	stopFlag  = flag.String("stop", "", `"any" or "safety": stop a sweep at its first failing seed (with "safety", the first that breaks a safety property) and report only it; the mutation harness's mode`)
)

// errLiveness marks a run that broke no safety property but did not make progress once the
// faults healed.
var errLiveness = errors.New("liveness")

// sweep runs run over the seeds the flags select (-seed alone; else -seeds, default n, from
// -from) and reports every failure with the command that replays it. With -stop it stops at
// the first failing seed and reports that one, as "first failing seed N (K seeds from F,
// safety|liveness)": the seeds are handed out in order, so every lower seed ran and passed.
// With -stop=safety a liveness failure counts as a pass.
func sweep(t *testing.T, n int, run func(seed uint64) error) {
	t.Helper()
	first := *fromFlag
	if *seedsFlag > 0 {
		n = *seedsFlag
	}
	if *seedFlag != 0 {
		first, n = *seedFlag, 1
	}
	if *stopFlag != "" {
		if *stopFlag == "safety" {
			inner := run
			run = func(s uint64) error {
				if err := inner(s); !errors.Is(err, errLiveness) {
					return err
				}
				return nil
			}
		}
		seed, err := firstFailure(first, n, run)
		if err != nil {
			kind := "safety"
			if errors.Is(err, errLiveness) {
				kind = "liveness"
			}
			t.Errorf("first failing seed %d (%d seeds from %d, %s): %v\nreproduce: go test ./raft/sim -run '%s$' -seed=%d -v", seed, seed-first+1, first, kind, err, t.Name(), seed)
		} else {
			t.Logf("%d seeds from %d, none failed", n, first)
		}
		return
	}
	failed := RunSeeds(first, n, run)
	for i, err := range failed {
		if i == 10 {
			t.Errorf("… and %d more", len(failed)-10)
			break
		}
		t.Errorf("%v\nreproduce: go test ./raft/sim -run '%s$' -seed=<seed> -v", err, t.Name())
	}
	t.Logf("%d seeds from %d, %d failed", n, first, len(failed))
}

// firstFailure runs seeds first … first+n-1 on GOMAXPROCS goroutines until one fails, and
// returns the lowest failing seed once every seed below it has run (0 and nil if none failed).
func firstFailure(first uint64, n int, run func(seed uint64) error) (uint64, error) {
	var (
		mu      sync.Mutex
		next    = first
		bad     uint64
		badErr  error
		workers sync.WaitGroup
	)
	for range runtime.GOMAXPROCS(0) {
		workers.Go(func() {
			for {
				mu.Lock()
				s := next
				if s >= first+uint64(n) || badErr != nil {
					mu.Unlock()
					return
				}
				next++
				mu.Unlock()
				if err := run(s); err != nil {
					mu.Lock()
					if badErr == nil || s < bad {
						bad, badErr = s, err
					}
					mu.Unlock()
				}
			}
		})
	}
	workers.Wait()
	return bad, badErr
}

// randomRun runs one seed: 30 simulated seconds of every kind of fault under a light load, then
// the faults heal and the cluster must elect a leader and commit a fresh command on every node.
// Even seeds run with pre-vote, and seeds 4k+1 and 4k+2 with check-quorum (so that every
// combination of the two has a quarter of the seeds). Seven seeds in eight compact their logs
// every 4 to 64 entries, with snapshots sent in chunks of 5 bytes, 16 bytes or whole, so
// that InstallSnapshot happens constantly under every fault. Odd seeds add, remove and replace
// servers (n1…n15) every 1–3 seconds: seeds 8k+3 and 8k+5 by joint consensus, replacing up to three
// at once, the others one server at a time.
func randomRun(seed uint64, dur time.Duration, bugs raft.Bugs) error {
	return randomRunJoint(seed, dur, bugs, seed%8 == 3 || seed%8 == 5)
}

// randomRunJoint is randomRun with joint consensus chosen apart: without it, odd seeds all
// change one server at a time.
func randomRunJoint(seed uint64, dur time.Duration, bugs raft.Bugs, joint bool) error {
	nodes := 3 + 2*int(seed%3) // 3, 5 or 7
	applied := make(map[string]map[string]bool)
	compact := 4 + int(seed*7%61)
	if seed%8 == 7 {
		compact = 0
	}
	var storageErr error
	c, err := New(Options{
		Nodes: nodes, Seed: seed, Reorder: 0.02,
		Raft: raft.Config{Bugs: bugs, PreVote: seed%2 == 0, CheckQuorum: seed%4 == 1 || seed%4 == 2,
			CompactThreshold: compact, SnapshotChunkSize: []int{5, 16, 0}[seed/8%3], JointConsensus: joint},
		OnApply: func(id string, e raft.CommitEntry) {
			if applied[id] == nil {
				applied[id] = make(map[string]bool)
			}
			applied[id][string(e.Command)] = true
		},
		OnEvent: func(e raft.Event) {
			if e.Kind == raft.EvStorageError && storageErr == nil {
				storageErr = restartError(seed, e)
			}
		},
	})
	if err != nil {
		return err
	}
	c.Schedule(RandomFaults(seed, c.IDs(), dur, AllFaults)...)
	switch {
	case joint:
		c.Schedule(RandomJointMembership(seed, c.IDs(), dur)...)
	case seed%2 == 1:
		c.Schedule(RandomMembership(seed, c.IDs(), dur)...)
	}
	c.Schedule(Load(seed, dur, 20)...)
	c.Schedule(Healing(dur)...)
	c.RunUntil(dur)
	if err := cmp.Or(c.Violation(), storageErr); err != nil {
		return err
	}
	// Liveness: with every fault healed, a leader commits a new command everywhere. Like a
	// client, resubmit to whoever leads when the command has not arrived after a while (a leader
	// elected in a minority partition may have taken it and been deposed).
	probe := []byte("liveness-probe")
	everywhere := func() bool {
		leader, ok := c.Leader()
		if !ok {
			return false
		}
		conf, _ := c.Node(leader).Configuration()
		for _, id := range conf.Members() {
			if !applied[id][string(probe)] {
				return false
			}
		}
		return true
	}
	for deadline := dur + 20*time.Second; !everywhere(); {
		if c.Now() >= deadline {
			return fmt.Errorf("%w: seed=%d: a command submitted after healing was not applied on every node within 20s", errLiveness, seed)
		}
		if leader, ok := c.Leader(); ok {
			c.Submit(leader, probe) // a refusal (stale leader) is retried next round
		}
		c.RunUntilTrue(time.Second, everywhere)
		if err := cmp.Or(c.Violation(), storageErr); err != nil {
			return err
		}
	}
	return storageErr
}

// restartError is the safety failure of a node that cannot restart from its storage: in a
// randomized run nothing but the core writes there, so it did not persist its state
// consistently (say, a vote of a term it never wrote as currentTerm).
func restartError(seed uint64, e raft.Event) error {
	return fmt.Errorf("sim: seed=%d: persistence: %s cannot restart from what it stored: %s (at %v)", seed, e.Node, e.Detail, e.Time)
}

func TestRandomized(t *testing.T) {
	seeds := 1000
	if runtime.GOOS == "js" {
		seeds = 60 // the same runs compiled to wasm under Node, fewer of them
	}
	sweep(t, seeds, func(s uint64) error { return randomRun(s, 30*time.Second, raft.Bugs{}) })
}

// TestBugsAreCaught proves that the checker can fail: each planted bug leads, on some seed, to a
// safety violation, and the same seed without the bug runs clean. (CommitByCounting needs the
// precise Figure 8 schedule: see TestFigure8Scenario; ForgetVote a vote asked for again after a
// restart: see TestForgetVote. IgnoreHigherTerm and FixedElectionTimeout
// break liveness, not safety: see their own tests.)
func TestBugsAreCaught(t *testing.T) {
	for _, tc := range []struct {
		name string
		bugs raft.Bugs
	}{
		{"SkipConsistencyCheck", raft.Bugs{SkipConsistencyCheck: true}},
		{"CompactUnapplied", raft.Bugs{CompactUnapplied: true}},
		{"VoteByLogLength", raft.Bugs{VoteByLogLength: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= 300; seed++ {
				err := randomRunJoint(seed, 10*time.Second, tc.bugs, false)
				if err == nil || !strings.Contains(err.Error(), "seed=") {
					continue
				}
				if !regexp.MustCompile(`Safety|Matching|Completeness|lost|persistence|commit|log|snapshot`).MatchString(err.Error()) {
					continue // a liveness failure; look for a safety violation
				}
				t.Logf("seed %d: %v", seed, err)
				if err := randomRunJoint(seed, 10*time.Second, raft.Bugs{}, false); err != nil {
					t.Fatalf("seed %d without the bug: %v", seed, err)
				}
				return
			}
			t.Fatal("no seed in 1–300 showed a violation")
		})
	}
}

// TestFixedTimeoutsSplitVotes: with every election timeout equal, nodes that start together
// time out together, vote for themselves, and never elect a leader.
func TestFixedTimeoutsSplitVotes(t *testing.T) {
	for _, bug := range []bool{false, true} {
		c, err := New(Options{Nodes: 5, Seed: 1, Raft: raft.Config{Bugs: raft.Bugs{FixedElectionTimeout: bug}}})
		if err != nil {
			t.Fatal(err)
		}
		elected := c.RunUntilTrue(10*time.Second, func() bool { _, ok := c.Leader(); return ok })
		if elected == bug {
			t.Errorf("FixedElectionTimeout=%t: leader elected within 10s = %t", bug, elected)
		}
	}
}

// TestStaleLeaderIgnoresHigherTerm: a leader cut off while the others elect a new one must step
// down when it hears the newer term; with the IgnoreHigherTerm bug it never does.
func TestStaleLeaderIgnoresHigherTerm(t *testing.T) {
	for _, bug := range []bool{false, true} {
		c, err := New(Options{Nodes: 3, Seed: 5, Raft: raft.Config{Bugs: raft.Bugs{IgnoreHigherTerm: bug}}})
		if err != nil {
			t.Fatal(err)
		}
		var old string
		c.RunUntilTrue(5*time.Second, func() bool { old, _ = c.Leader(); return old != "" })
		c.Disconnect(old)
		c.RunFor(2 * time.Second)
		c.Reconnect(old)
		c.RunFor(2 * time.Second)
		stale := c.Status(old).State == raft.Leader && c.Status(old).Term < maxTerm(c)
		if stale != bug {
			t.Errorf("IgnoreHigherTerm=%t: old leader %s still leads a stale term after healing = %t", bug, old, stale)
		}
		if err := c.Violation(); err != nil {
			t.Errorf("IgnoreHigherTerm=%t: %v", bug, err)
		}
	}
}

// TestPreVoteKeepsCutOffNodeHarmless: a follower cut off from the others times out again and
// again. Without pre-vote each timeout raises its term, and when it comes back that term
// deposes the working leader. With pre-vote its pre-votes find no taker, its term stays, and
// the leader keeps leading: no election, no lost time.
func TestPreVoteKeepsCutOffNodeHarmless(t *testing.T) {
	for _, preVote := range []bool{false, true} {
		c, err := New(Options{Nodes: 5, Seed: 3, KeepTrace: true, Raft: raft.Config{PreVote: preVote}})
		if err != nil {
			t.Fatal(err)
		}
		var leader string
		c.RunUntilTrue(5*time.Second, func() bool { leader, _ = c.Leader(); return leader != "" })
		term := c.Status(leader).Term
		var cut string
		for _, id := range c.IDs() {
			if id != leader {
				cut = id
				break
			}
		}
		elections := c.Elections()
		c.Disconnect(cut)
		c.RunFor(3 * time.Second) // ten or more election timeouts
		cutTerm := c.Status(cut).Term
		c.Reconnect(cut)
		c.RunFor(2 * time.Second)
		if err := c.Violation(); err != nil {
			t.Fatal(err)
		}
		now, _ := c.Leader()
		switch {
		case !preVote && (cutTerm < term+5 || c.Elections() == elections):
			t.Errorf("without pre-vote: the cut-off node reached term %d (leader's %d) and %d elections followed; want its term far ahead and a new election", cutTerm, term, c.Elections()-elections)
		case preVote && (cutTerm != term || c.Elections() != elections || now != leader || c.Status(leader).Term != term):
			t.Errorf("with pre-vote: cut-off node's term %d, leader %s of term %d (was %s of %d), %d elections; want nothing changed", cutTerm, now, c.Status(now).Term, leader, term, c.Elections()-elections)
		}
		if preVote {
			states := map[raft.State]bool{}
			for _, e := range c.Trace() {
				if e.Kind == raft.EvState && e.Node == cut {
					states[e.State] = true
				}
			}
			if !states[raft.PreCandidate] || states[raft.Candidate] {
				t.Errorf("with pre-vote the cut-off node went through states %v; want pre-candidate, never candidate", states)
			}
		}
	}
}

// A pre-vote changes neither the answerer's term nor its vote, and a node that hears from its
// leader refuses it.
func TestPreVoteAnswers(t *testing.T) {
	c, err := New(Options{Nodes: 3, Seed: 1, Raft: raft.Config{PreVote: true}})
	if err != nil {
		t.Fatal(err)
	}
	var leader string
	c.RunUntilTrue(5*time.Second, func() bool { leader, _ = c.Leader(); return leader != "" })
	c.RunFor(time.Second)
	var f string
	for _, id := range c.IDs() {
		if id != leader {
			f = id
			break
		}
	}
	n := c.Node(f)
	before := n.Status()
	n.Step(c.Now(), raft.Message{Type: raft.MsgPreVote, From: leader, To: f, Term: before.Term + 1, LastLogIndex: 1 << 30, LastLogTerm: before.Term})
	rd := n.Ready()
	after := n.Status()
	if after.Term != before.Term || after.VotedFor != before.VotedFor {
		t.Errorf("a pre-vote moved %s from term %d vote %q to term %d vote %q", f, before.Term, before.VotedFor, after.Term, after.VotedFor)
	}
	if len(rd.Messages) != 1 || rd.Messages[0].Type != raft.MsgPreVoteReply || rd.Messages[0].Success || rd.Messages[0].Term != before.Term {
		t.Errorf("a follower hearing its leader answered %v; want a refusal with its own term", rd.Messages)
	}
}

func maxTerm(c *Cluster) uint64 {
	var t uint64
	for _, st := range c.Statuses() {
		t = max(t, st.Term)
	}
	return t
}

// TestForgetVote: n2 votes for n1 in term 1, crashes and restarts; then n3, which never heard
// of n1 (their link is cut), asks n2 for its vote in term 1. A node that persisted its vote refuses; with the
// ForgetVote bug it grants it, and term 1 gets two leaders.
func TestForgetVote(t *testing.T) {
	for _, bug := range []bool{false, true} {
		c, err := New(Options{Nodes: 3, Seed: 1, Raft: raft.Config{
			ElectionTimeoutMin: 10 * time.Second, ElectionTimeoutMax: 11 * time.Second,
			Bugs: raft.Bugs{ForgetVote: bug}}})
		if err != nil {
			t.Fatal(err)
		}
		c.Cut("n1", "n3")
		c.Timeout("n1")
		if !c.RunUntilTrue(time.Second, func() bool { return c.Status("n1").State == raft.Leader }) {
			t.Fatal("n1 not elected with n2's vote")
		}
		c.Disconnect("n1") // its AppendEntries are lost: n2 hears nothing more of term 1
		c.Crash("n2")
		c.Restart("n2")
		c.Timeout("n3")
		c.RunFor(100 * time.Millisecond)
		err = c.Violation()
		if !bug && err != nil {
			t.Fatalf("without the bug: %v", err)
		}
		if bug && (err == nil || !strings.Contains(err.Error(), "Election Safety: n1 and n3 are both leaders of term 1")) {
			t.Fatalf("with ForgetVote: violation %v; want two leaders of term 1", err)
		}
	}
}

// TestTransferLeadership: the leader hands over to a follower, which leads within one round
// trip and an election instead of an election timeout; commands sent meanwhile are refused, not
// lost. A transfer to a crashed node is given up after an election timeout and the leader takes
// commands again.
func TestTransferLeadership(t *testing.T) {
	c, err := New(Options{Nodes: 5, Seed: 2, KeepTrace: true})
	if err != nil {
		t.Fatal(err)
	}
	c.Schedule(Load(2, 3*time.Second, 50)...)
	var leader string
	c.RunUntilTrue(5*time.Second, func() bool { leader, _ = c.Leader(); return leader != "" })
	c.RunFor(time.Second)
	var to string
	for _, id := range c.IDs() {
		if id != leader {
			to = id
			break
		}
	}
	term, start := c.Status(leader).Term, c.Now()
	if err := c.Transfer(to); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Submit(leader, []byte("during")); !errors.Is(err, raft.ErrTransferring) {
		t.Errorf("submit during the transfer: %v; want ErrTransferring", err)
	}
	if !c.RunUntilTrue(time.Second, func() bool { l, _ := c.Leader(); return l == to }) {
		t.Fatalf("%s does not lead a second after the transfer", to)
	}
	if took := c.Now() - start; took > 50*time.Millisecond || c.Status(to).Term != term+1 {
		t.Errorf("%s leads term %d after %v; want term %d within 50 ms (no election timeout waited)", to, c.Status(to).Term, took, term+1)
	}
	// The event log says why the new leader campaigned: its leader handed over, no timer fired.
	var said []string
	for _, e := range c.Trace() {
		if e.Kind == raft.EvTimeout && e.Time >= start {
			_, text, _ := strings.Cut(e.String(), "ms ")
			said = append(said, text)
		}
	}
	if want := fmt.Sprintf("%s takes over from %s (TimeoutNow) and starts an election for term %d", to, leader, term+1); len(said) != 1 || said[0] != want {
		t.Errorf("timeouts after the transfer: %q; want only %q", said, want)
	}
	c.RunFor(2 * time.Second)
	if err := c.Violation(); err != nil {
		t.Fatal(err)
	}
	// To a crashed node: given up, and the leader leads on.
	leader = to
	var dead string
	for _, id := range c.IDs() {
		if id != leader {
			dead = id
			break
		}
	}
	c.Crash(dead)
	if err := c.Transfer(dead); err != nil {
		t.Fatal(err)
	}
	c.RunFor(500 * time.Millisecond)
	if l, _ := c.Leader(); l != leader {
		t.Fatalf("after a transfer to crashed %s, %s leads; want %s still", dead, l, leader)
	}
	if _, err := c.Submit(leader, []byte("after")); err != nil {
		t.Errorf("the leader refuses commands after giving the transfer up: %v", err)
	}
	gaveUp := false
	for _, e := range c.Trace() {
		gaveUp = gaveUp || (e.Kind == raft.EvTransfer && e.Peer == dead && e.Detail != "")
	}
	if !gaveUp {
		t.Error("no event says the transfer was given up")
	}
}

// TestCheckQuorum: a leader cut off in a minority keeps calling itself leader; with CheckQuorum
// it steps down within two election timeouts, while the majority elects a new leader.
func TestCheckQuorum(t *testing.T) {
	for _, cq := range []bool{false, true} {
		c, err := New(Options{Nodes: 5, Seed: 4, Raft: raft.Config{CheckQuorum: cq}})
		if err != nil {
			t.Fatal(err)
		}
		var old string
		c.RunUntilTrue(5*time.Second, func() bool { old, _ = c.Leader(); return old != "" })
		c.RunFor(time.Second)
		c.Disconnect(old)
		c.RunFor(700 * time.Millisecond) // two election timeouts at most, and an election
		stillLeads := c.Status(old).State == raft.Leader
		if stillLeads == cq {
			t.Errorf("CheckQuorum=%t: cut-off leader %s still leads = %t", cq, old, stillLeads)
		}
		if err := c.Violation(); err != nil {
			t.Fatal(err)
		}
		c.Reconnect(old)
		c.RunFor(time.Second)
		if l, ok := c.Leader(); !ok || l == old {
			t.Errorf("CheckQuorum=%t: after healing the leader is %q; want one of the majority's", cq, l)
		}
	}
}
