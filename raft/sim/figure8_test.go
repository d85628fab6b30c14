// The Raft paper's Figure 8, played step by step: why a leader may commit only entries of its own
// term by counting replicas.

package sim

import (
	"strings"
	"testing"
	"time"

	"raftlab/raft"
)

// figure8 plays Figure 8 on five nodes and returns the cluster and the commit index the term-3
// leader reached while entry 3 ("X", term 1) was on a majority but its own no-op was not.
//
//	(a) n1 leads term 1 and replicates X at index 3 to n2 only.
//	(b) n1 crashes; n5 wins term 2 with n3 and n4 and appends its no-op at index 3, alone.
//	(c) n5 crashes; n1 restarts and wins term 3; X reaches n3, so X is on n1, n2, n3, a majority;
//	    n1's own no-op (index 4) reaches only n2.
//	(d) n1 crashes; n5 restarts and wins term 4 with n3 and n4, and overwrites index 3 on n3.
//
// If n1 committed X in (c) by counting, (d) destroys a committed entry.
func figure8(t *testing.T, bugs raft.Bugs) (*Cluster, uint64) {
	t.Helper()
	c, err := New(Options{Nodes: 5, Seed: 8, KeepTrace: true, Raft: raft.Config{
		// Nobody times out unless told to, and one entry travels per message, so that the test
		// controls every election and which entries arrive where.
		ElectionTimeoutMin: 20 * time.Second, ElectionTimeoutMax: 21 * time.Second,
		MaxEntriesPerMsg: 1, Bugs: bugs,
	}})
	if err != nil {
		t.Fatal(err)
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		if !c.RunUntilTrue(time.Second, cond) {
			t.Fatalf("figure 8: %s did not happen; trace ends: %v", what, c.Trace()[max(0, len(c.Trace())-10):])
		}
	}
	elect := func(id string) {
		t.Helper()
		for range 3 { // a candidate may need a second term to collect votes
			must(c.Timeout(id))
			if c.RunUntilTrue(100*time.Millisecond, func() bool { return c.Status(id).State == raft.Leader }) {
				return
			}
		}
		t.Fatalf("figure 8: %s not elected", id)
	}
	// (a)
	elect("n1")
	_, err = c.Submit("n1", []byte("a"))
	must(err)
	waitFor("a committed everywhere", func() bool {
		for _, st := range c.Statuses() {
			if st.CommitIndex < 2 {
				return false
			}
		}
		return true
	})
	for _, p := range []string{"n3", "n4", "n5"} {
		must(c.Cut("n1", p))
	}
	_, err = c.Submit("n1", []byte("X"))
	must(err)
	waitFor("X on n2", func() bool { return c.Status("n2").LastIndex == 3 })
	// (b)
	must(c.Crash("n1"))
	elect("n5")
	must(c.Disconnect("n5")) // its no-op, already sent, is lost on the way
	c.RunFor(20 * time.Millisecond)
	// (c)
	must(c.Crash("n5"))
	c.HealAll()
	must(c.Restart("n1"))
	must(c.Cut("n1", "n4"))
	elect("n1")
	waitFor("X on n3", func() bool { return c.Status("n1").Progress["n3"].Match == 3 })
	must(c.Cut("n1", "n3")) // n1's no-op, sent on the ack, never reaches n3
	c.RunFor(20 * time.Millisecond)
	commitInC := c.Status("n1").CommitIndex
	// (d)
	must(c.Crash("n1"))
	c.HealAll()
	must(c.Restart("n5"))
	elect("n5")
	c.RunFor(200 * time.Millisecond)
	return c, commitInC
}

func TestFigure8Scenario(t *testing.T) {
	c, commit := figure8(t, raft.Bugs{})
	if commit >= 3 {
		t.Fatalf("the term-3 leader committed index %d while only X (term 1) was on a majority; want < 3", commit)
	}
	if err := c.Violation(); err != nil {
		t.Fatal(err)
	}
	// X was never committed, so replacing it is correct: n3 now holds n5's term-2 entry.
	if e, _ := c.Node("n3").Entry(3); e.Term != 2 {
		t.Fatalf("n3's entry 3 has term %d after n5 led term 4; want 2", e.Term)
	}
}

func TestFigure8CommitByCountingIsCaught(t *testing.T) {
	c, commit := figure8(t, raft.Bugs{CommitByCounting: true})
	if commit != 3 {
		t.Fatalf("with CommitByCounting the term-3 leader committed %d; want 3", commit)
	}
	err := c.Violation()
	// The checker stops the run at the first symptom: n5 wins term 4 without X.
	if err == nil || !strings.Contains(err.Error(), "Leader Completeness: n5 leads term 4") {
		t.Fatalf("violation = %v; want Leader Completeness failing when n5 leads term 4", err)
	}
	t.Log(err)
}
