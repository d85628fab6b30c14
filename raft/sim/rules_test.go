// Deterministic tests of single rules whose breaking costs liveness, not safety, in ways a
// healed cluster hides: the randomized runs heal every fault before they look for progress.

package sim

import (
	"testing"
	"time"

	"raftlab/raft"
)

// TestStaleLeaderStepsDownOnReply: a response carrying a later term turns a leader into a
// follower (Figure 2, rules for all servers). n1 leads term 1 and is cut off; n2 wins term 2
// with n3; then n1 reaches n3 again but not n2, so the only news of term 2 that n1 can get is
// in n3's answers to its heartbeats. It must step down within a round trip or two, instead of
// leading a dead term for as long as the n1–n2 link stays cut.
func TestStaleLeaderStepsDownOnReply(t *testing.T) {
	c, err := New(Options{Nodes: 3, Seed: 1, Raft: raft.Config{
		ElectionTimeoutMin: 10 * time.Second, ElectionTimeoutMax: 11 * time.Second}}) // elections only when told
	if err != nil {
		t.Fatal(err)
	}
	elect := func(id string) {
		t.Helper()
		c.Timeout(id)
		if !c.RunUntilTrue(time.Second, func() bool { return c.Status(id).State == raft.Leader }) {
			t.Fatalf("%s not elected", id)
		}
	}
	elect("n1")
	c.Disconnect("n1")
	elect("n2")
	c.Heal("n1", "n3")
	c.RunFor(200 * time.Millisecond) // four heartbeats
	if st := c.Status("n1"); st.State != raft.Follower || st.Term != c.Status("n2").Term {
		t.Errorf("n1, answered by n3 in term %d, is %v in term %d; want a follower of that term", c.Status("n3").Term, st.State, st.Term)
	}
	if err := c.Violation(); err != nil {
		t.Fatal(err)
	}
}

// TestTransferCatchesUpFirst: a leader hands over only to a follower whose log matches its own
// (Raft thesis §3.10): a target that campaigned with a stale log would lose the election, and
// the cluster would wait out an election timeout for nothing. n3 misses twenty commands while
// cut off, and the transfer to it starts the moment it is back.
func TestTransferCatchesUpFirst(t *testing.T) {
	c, err := New(Options{Nodes: 3, Seed: 1, Raft: raft.Config{
		ElectionTimeoutMin: 10 * time.Second, ElectionTimeoutMax: 11 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout("n1")
	if !c.RunUntilTrue(time.Second, func() bool { return c.Status("n1").State == raft.Leader }) {
		t.Fatal("n1 not elected")
	}
	c.RunFor(100 * time.Millisecond) // n3 hears from n1: it takes TimeoutNow only from its leader
	c.Disconnect("n3")
	for i := range 20 {
		if _, err := c.Submit("n1", []byte(cmd(i))); err != nil {
			t.Fatal(err)
		}
	}
	c.RunFor(100 * time.Millisecond)
	c.Reconnect("n3")
	if err := c.Transfer("n3"); err != nil {
		t.Fatal(err)
	}
	if !c.RunUntilTrue(time.Second, func() bool { return c.Status("n3").State == raft.Leader }) {
		t.Errorf("n3 does not lead a second after the transfer (n1 %v, n3 %v in term %d)", c.Status("n1").State, c.Status("n3").State, c.Status("n3").Term)
	}
	if err := c.Violation(); err != nil {
		t.Fatal(err)
	}
}
