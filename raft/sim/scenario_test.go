// The reference article's scenarios, each on the simulator.

package sim

import (
	"errors"
	"slices"
	"testing"
	"time"

	"raftlab/raft"
)

func TestElectionBasic(t *testing.T) {
	h := newHarness(t, 3)
	h.checkSingleLeader()
}

func TestElectionLeaderDisconnect(t *testing.T) {
	h := newHarness(t, 3)
	old, oldTerm := h.checkSingleLeader()
	h.c.Disconnect(old)
	h.run(350 * time.Millisecond)
	nl, term := h.checkSingleLeader()
	if nl == old || term <= oldTerm {
		t.Fatalf("after disconnecting %s (term %d): leader %s term %d; want another leader in a later term", old, oldTerm, nl, term)
	}
	// The old leader rejoins as a follower of the newer term.
	h.c.Reconnect(old)
	h.run(200 * time.Millisecond)
	if st := h.c.Status(old); st.State != raft.Follower || st.Term < term {
		t.Fatalf("rejoined %s: %s in term %d; want follower in term ≥ %d", old, st.State, st.Term, term)
	}
}

func TestElectionLeaderAndAnotherDisconnect(t *testing.T) {
	h := newHarness(t, 3)
	old, _ := h.checkSingleLeader()
	other := h.others(old)[0]
	h.c.Disconnect(old)
	h.c.Disconnect(other)
	h.run(450 * time.Millisecond)
	h.checkNoLeader()
	h.c.Reconnect(other)
	h.checkSingleLeader()
}

func TestElectionAllDisconnectThenReconnect(t *testing.T) {
	h := newHarness(t, 3)
	h.run(100 * time.Millisecond)
	for _, id := range h.c.IDs() {
		h.c.Disconnect(id)
	}
	h.run(450 * time.Millisecond)
	h.checkNoLeader()
	for _, id := range h.c.IDs() {
		h.c.Reconnect(id)
	}
	h.checkSingleLeader()
}

func TestElectionLeaderDisconnectLoop(t *testing.T) {
	h := newHarness(t, 3)
	for range 5 {
		old, _ := h.checkSingleLeader()
		h.c.Disconnect(old)
		h.run(350 * time.Millisecond)
		h.checkSingleLeader()
		h.c.Reconnect(old)
		h.run(150 * time.Millisecond)
	}
}

func TestElectionFollowerComesBack(t *testing.T) {
	h := newHarness(t, 3)
	leader, term := h.checkSingleLeader()
	f := h.others(leader)[0]
	h.c.Disconnect(f)
	h.run(650 * time.Millisecond)
	h.c.Reconnect(f)
	h.run(150 * time.Millisecond)
	// The follower campaigned while away; its higher term forces a new election on return.
	_, newTerm := h.checkSingleLeader()
	if newTerm <= term {
		t.Fatalf("term after the follower came back = %d; want > %d", newTerm, term)
	}
}

func TestCommitOneCommand(t *testing.T) {
	h := newHarness(t, 3)
	h.submit("42")
	h.run(20 * time.Millisecond)
	h.checkCommitted("42", 3)
}

func TestSubmitNonLeaderFails(t *testing.T) {
	h := newHarness(t, 3)
	leader, term := h.checkSingleLeader()
	f := h.others(leader)[0]
	_, err := h.c.Submit(f, []byte("x"))
	var nle *raft.NotLeaderError
	if !errors.As(err, &nle) || !errors.Is(err, raft.ErrNotLeader) {
		t.Fatalf("Submit to follower %s: err = %v; want a NotLeaderError", f, err)
	}
	if nle.Leader != leader || nle.Term != term {
		t.Fatalf("NotLeaderError names leader %q term %d; want %q term %d", nle.Leader, nle.Term, leader, term)
	}
}

func TestCommitMultipleCommands(t *testing.T) {
	h := newHarness(t, 3)
	var idx []uint64
	for i := range 3 {
		h.submit(cmd(i))
		h.run(20 * time.Millisecond)
		idx = append(idx, h.checkCommitted(cmd(i), 3))
	}
	if !slices.IsSorted(idx) || idx[0] == idx[1] || idx[1] == idx[2] {
		t.Fatalf("indexes %v; want increasing", idx)
	}
}

func TestCommitWithDisconnectionAndRecover(t *testing.T) {
	h := newHarness(t, 3)
	h.submit("5")
	h.submit("6")
	h.run(20 * time.Millisecond)
	h.checkCommitted("6", 3)
	leader, _ := h.checkSingleLeader()
	f := h.others(leader)[0]
	h.c.Disconnect(f)
	h.run(20 * time.Millisecond)
	h.submit("7")
	h.run(20 * time.Millisecond)
	h.checkCommitted("7", 2)
	h.c.Reconnect(f)
	h.run(400 * time.Millisecond)
	h.checkSingleLeader()
	h.checkCommitted("7", 3)
}

func TestNoCommitWithNoQuorum(t *testing.T) {
	h := newHarness(t, 3)
	h.submit("5")
	h.submit("6")
	h.run(20 * time.Millisecond)
	h.checkCommitted("6", 3)
	leader, term := h.checkSingleLeader()
	for _, f := range h.others(leader) {
		h.c.Disconnect(f)
	}
	if _, err := h.c.Submit(leader, []byte("8")); err != nil {
		t.Fatal(err)
	}
	h.run(250 * time.Millisecond)
	h.checkNotCommitted("8")
	for _, f := range h.others(leader) {
		h.c.Reconnect(f)
	}
	h.run(600 * time.Millisecond)
	_, newTerm := h.checkSingleLeader()
	if newTerm <= term {
		t.Fatalf("term %d after heal; want > %d", newTerm, term)
	}
	// "8" may or may not survive the new leader (it was on the old leader only); a new command
	// commits everywhere.
	h.submit("9")
	h.run(20 * time.Millisecond)
	h.checkCommitted("9", 3)
}

func TestCommitsWithDroppedCalls(t *testing.T) {
	h := newHarness(t, 5)
	h.c.SetUnreliable(true)
	for i := range 20 {
		h.submit(cmd(i))
		h.run(30 * time.Millisecond)
	}
	h.c.SetUnreliable(false)
	h.run(500 * time.Millisecond)
	for i := range 20 {
		h.checkCommitted(cmd(i), 5)
	}
}

func TestCrashFollower(t *testing.T) {
	h := newHarness(t, 3)
	leader, _ := h.checkSingleLeader()
	h.submit("5")
	h.run(20 * time.Millisecond)
	h.checkCommitted("5", 3)
	h.crash(h.others(leader)[0])
	h.run(350 * time.Millisecond)
	h.checkCommitted("5", 2)
}

func TestCrashThenRestartFollower(t *testing.T) {
	h := newHarness(t, 3)
	leader, _ := h.checkSingleLeader()
	for _, c := range []string{"5", "6", "7"} {
		h.submit(c)
	}
	h.run(20 * time.Millisecond)
	f := h.others(leader)[0]
	h.crash(f)
	h.run(300 * time.Millisecond)
	h.checkCommitted("7", 2)
	h.restart(f)
	h.run(300 * time.Millisecond)
	// The restarted follower delivers the committed commands again, from storage and the leader.
	for _, c := range []string{"5", "6", "7"} {
		h.checkCommitted(c, 3)
	}
}

func TestCrashThenRestartLeader(t *testing.T) {
	h := newHarness(t, 3)
	leader, _ := h.checkSingleLeader()
	for _, c := range []string{"5", "6", "7"} {
		h.submit(c)
	}
	h.run(20 * time.Millisecond)
	h.crash(leader)
	h.run(350 * time.Millisecond)
	nl, _ := h.checkSingleLeader()
	if nl == leader {
		t.Fatalf("crashed %s is still leader", leader)
	}
	h.checkCommitted("7", 2)
	h.restart(leader)
	h.run(300 * time.Millisecond)
	h.checkCommitted("7", 3)
	h.submit("8")
	h.run(30 * time.Millisecond)
	h.checkCommitted("8", 3)
}

func TestCrashThenRestartAll(t *testing.T) {
	h := newHarness(t, 3)
	for _, c := range []string{"5", "6", "7"} {
		h.submit(c)
	}
	h.run(20 * time.Millisecond)
	h.checkCommitted("7", 3)
	h.c.CrashAll()
	for _, id := range h.c.IDs() {
		h.applied[id] = nil
	}
	h.run(350 * time.Millisecond)
	h.checkNoLeader()
	if err := h.c.RestartAll(); err != nil {
		t.Fatal(err)
	}
	h.run(150 * time.Millisecond)
	h.checkSingleLeader()
	h.run(100 * time.Millisecond)
	for _, c := range []string{"5", "6", "7"} {
		h.checkCommitted(c, 3)
	}
	// Everything was delivered again, in the original order.
	for _, id := range h.c.IDs() {
		if got := h.commands(id); !slices.Equal(got, []string{"5", "6", "7"}) {
			t.Errorf("%s applied %v after restart; want [5 6 7]", id, got)
		}
	}
}

// TestCrashAfterSubmit: the leader crashes right after accepting a command. Its AppendEntries
// already left (sending at once on submit), so the command may commit without it, or, had the
// messages been lost, never: either way every node agrees, and a client must not assume.
func TestCrashAfterSubmit(t *testing.T) {
	for _, lose := range []bool{false, true} {
		t.Run(map[bool]string{false: "messages-out", true: "messages-lost"}[lose], func(t *testing.T) {
			h := newHarness(t, 3)
			leader, _ := h.checkSingleLeader()
			h.submit("5")
			h.run(20 * time.Millisecond)
			h.checkCommitted("5", 3)
			if lose {
				h.c.Disconnect(leader) // what it sends next is lost
			}
			if _, err := h.c.Submit(leader, []byte("99")); err != nil {
				t.Fatal(err)
			}
			h.crash(leader)
			if lose {
				h.c.Reconnect(leader)
			}
			h.run(10 * time.Millisecond)
			h.checkNotCommitted("99") // the leader crashed before any answer reached it
			h.run(350 * time.Millisecond)
			h.checkSingleLeader()
			h.restart(leader)
			h.run(150 * time.Millisecond)
			h.submit("6")
			h.run(30 * time.Millisecond)
			h.checkCommitted("6", 3)
			if lose {
				h.checkNotCommitted("99")
			} else {
				h.checkCommitted("99", 3)
			}
		})
	}
}

// TestLogRepair: a leader's uncommitted entries are replaced by a new leader's.
func TestLogRepair(t *testing.T) {
	h := newHarness(t, 5)
	old, _ := h.checkSingleLeader()
	h.submit("base")
	h.run(20 * time.Millisecond)
	h.checkCommitted("base", 5)
	h.c.Disconnect(old)
	for i := range 3 {
		if _, err := h.c.Submit(old, []byte("lost-"+cmd(i))); err != nil {
			t.Fatal(err)
		}
	}
	h.run(400 * time.Millisecond)
	nl, _ := h.checkSingleLeader()
	if nl == old {
		t.Fatalf("disconnected %s still leads", old)
	}
	for i := range 3 {
		h.submit("kept-" + cmd(i))
	}
	h.run(30 * time.Millisecond)
	h.c.Reconnect(old)
	h.run(300 * time.Millisecond)
	for i := range 3 {
		h.checkNotCommitted("lost-" + cmd(i))
		h.checkCommitted("kept-"+cmd(i), 5)
	}
	if got, want := h.c.Status(old).LastIndex, h.c.Status(nl).LastIndex; got != want {
		t.Fatalf("repaired %s has %d entries; leader %s has %d", old, got, nl, want)
	}
	truncated := slices.ContainsFunc(h.c.Trace(), func(e raft.Event) bool { return e.Kind == raft.EvTruncate && e.Node == old })
	if !truncated {
		t.Fatalf("%s never truncated its log", old)
	}
}

func TestDeterminism(t *testing.T) {
	run := func() (string, int) {
		c, err := New(Options{Nodes: 5, Seed: 77, Unreliable: true, Duplicate: 0.05, Reorder: 0.05})
		if err != nil {
			t.Fatal(err)
		}
		c.Schedule(RandomFaults(77, c.IDs(), 10*time.Second, AllFaults)...)
		c.Schedule(Load(77, 10*time.Second, 20)...)
		c.RunFor(10 * time.Second)
		if err := c.Violation(); err != nil {
			t.Fatal(err)
		}
		return c.TraceHash(), c.Events()
	}
	h1, n1 := run()
	h2, n2 := run()
	if h1 != h2 || n1 != n2 {
		t.Fatalf("same seed and actions: trace %s (%d events) then %s (%d events)", h1, n1, h2, n2)
	}
	c, _ := New(Options{Nodes: 5, Seed: 78, Unreliable: true})
	c.RunFor(10 * time.Second)
	if c.TraceHash() == h1 {
		t.Fatalf("seeds 77 and 78 gave the same trace hash %s", h1)
	}
}
