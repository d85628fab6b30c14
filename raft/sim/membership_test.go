// Membership changes on the simulator: a server joins as a learner and becomes a voter, the
// leader removes itself, a removed server cannot disturb the cluster, and the 2015
// single-server bug is caught.

package sim

import (
	"strings"
	"testing"
	"time"

	"raftlab/raft"
)

func confOf(c *Cluster, id string) raft.Configuration {
	conf, _ := c.Node(id).Configuration()
	return conf
}

// TestAddAndRemoveServers grows a cluster of three by n4 (a learner first, a voter once caught
// up), then removes the leader, which steps down once its removal commits; commands commit on
// the voters that remain.
func TestAddAndRemoveServers(t *testing.T) {
	c, err := New(Options{Nodes: 3, Seed: 1, KeepTrace: true})
	if err != nil {
		t.Fatal(err)
	}
	if !c.RunUntilTrue(2*time.Second, func() bool { _, ok := c.Leader(); return ok }) {
		t.Fatal("no leader")
	}
	leader, _ := c.Leader()
	for i := range 50 {
		c.Submit(leader, []byte("before-"+string(rune('a'+i%26))))
	}
	c.RunFor(100 * time.Millisecond)
	if err := c.AddServer("n4"); err != nil {
		t.Fatal(err)
	}
	if conf := confOf(c, leader); !conf.IsLearner("n4") {
		t.Fatalf("after AddServer: %s; want n4 a learner", conf)
	}
	if err := c.AddServer("n5"); err == nil || !strings.Contains(err.Error(), "in flight") {
		t.Errorf("a second change while the first is in flight: %v; want it refused", err)
	}
	if !c.RunUntilTrue(time.Second, func() bool { return confOf(c, leader).IsVoter("n4") && c.Status(leader).ConfigCommitted }) {
		t.Fatalf("n4 not promoted: %s", confOf(c, leader))
	}
	if !c.RunUntilTrue(time.Second, func() bool { return confOf(c, "n4").IsVoter("n4") }) {
		t.Fatal("n4 does not know it is a voter")
	}
	// The leader removes itself: it steps down once the change commits, and is stopped.
	if err := c.RemoveServer(leader); err != nil {
		t.Fatal(err)
	}
	if !c.RunUntilTrue(2*time.Second, func() bool { l, ok := c.Leader(); return ok && l != leader && c.Alive(l) }) {
		t.Fatal("no new leader after the leader removed itself")
	}
	if c.Alive(leader) {
		t.Errorf("%s still runs after its removal committed", leader)
	}
	stepped := false
	for _, e := range c.Trace() {
		stepped = stepped || (e.Kind == raft.EvStepDown && e.Node == leader && strings.Contains(e.Detail, "no longer a voter"))
	}
	if !stepped {
		t.Errorf("%s did not say it stepped down", leader)
	}
	l2, _ := c.Leader()
	idx, err := c.Submit(l2, []byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.RunUntilTrue(time.Second, func() bool { return c.Status(l2).CommitIndex >= idx }) {
		t.Fatal("a command after the changes did not commit")
	}
	if conf := confOf(c, l2); len(conf.Voters) != 3 || conf.IsMember(leader) || !conf.IsVoter("n4") {
		t.Errorf("final configuration %s; want three voters with n4 and without %s", conf, leader)
	}
	if c.Changes() != 3 {
		t.Errorf("%d changes committed; want 3 (n4 as a learner, n4 a voter, %s removed)", c.Changes(), leader)
	}
	if err := c.Violation(); err != nil {
		t.Fatal(err)
	}
}

// TestChangeErrors: what a leader refuses, changing nothing.
func TestChangeErrors(t *testing.T) {
	c, _ := New(Options{Nodes: 3, Seed: 2})
	c.RunUntilTrue(2*time.Second, func() bool { _, ok := c.Leader(); return ok })
	c.RunFor(50 * time.Millisecond)
	leader, _ := c.Leader()
	n := c.Node(leader)
	for _, tc := range []struct {
		op   raft.ChangeOp
		id   string
		want string
	}{
		{raft.AddServer, "n2", "already a member"},
		{raft.RemoveServer, "n9", "not a member"},
		{raft.AddServer, "bad id!", "not a letter"},
		{raft.AddServer, "", "want 1 to"},
	} {
		before, _ := n.Configuration()
		if _, err := n.ProposeChange(c.Now(), tc.op, tc.id); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %q: %v; want an error saying %q", tc.op, tc.id, err, tc.want)
		}
		if after, _ := n.Configuration(); !after.Equal(before) {
			t.Errorf("%s %q changed the configuration to %s", tc.op, tc.id, after)
		}
	}
	follower := "n1"
	if follower == leader {
		follower = "n2"
	}
	if _, err := c.Node(follower).ProposeChange(c.Now(), raft.AddServer, "n4"); err == nil {
		t.Error("a follower took a change")
	}
	one, _ := New(Options{Nodes: 1, Seed: 1})
	one.RunFor(time.Second)
	if _, err := one.Node("n1").ProposeChange(one.Now(), raft.RemoveServer, "n1"); err == nil || !strings.Contains(err.Error(), "last voter") {
		t.Errorf("removing the last voter: %v; want it refused", err)
	}
}

// TestRefusedChangeStartsNoServer: an add or a set of voters the leader refuses starts no
// server and leaves no trace of one (the page drew a stopped card "outside the cluster" for each,
// and kept its storage).
func TestRefusedChangeStartsNoServer(t *testing.T) {
	c, _ := New(Options{Nodes: 3, Seed: 2, KeepTrace: true})
	c.RunUntilTrue(2*time.Second, func() bool { _, ok := c.Leader(); return ok })
	c.RunFor(50 * time.Millisecond)
	if err := c.SetVoters([]string{"n4", "n5", "n6"}); err == nil || !strings.Contains(err.Error(), "joint consensus") {
		t.Fatalf("three voters replaced without joint consensus: %v; want it refused", err)
	}
	if err := c.AddServer("n4"); err != nil {
		t.Fatal(err)
	}
	if err := c.AddServer("n5"); err == nil || !strings.Contains(err.Error(), "in flight") {
		t.Fatalf("a second change while the first is in flight: %v; want it refused", err)
	}
	if ids := strings.Join(c.IDs(), ","); ids != "n1,n2,n3,n4" {
		t.Errorf("servers %s after the refused changes; want n1,n2,n3,n4", ids)
	}
	for _, e := range c.Trace() {
		if e.Node == "n5" || e.Node == "n6" {
			t.Errorf("a refused change left an event: %v", e)
		}
	}
}

// TestRemovedServerDoesNotDisturb: a server removed while cut off never hears of it; when it
// comes back it times out again and again, but while the others hear from their leader they
// ignore its elections (thesis §4.2.3), so the leader and its term stay.
func TestRemovedServerDoesNotDisturb(t *testing.T) {
	c, _ := New(Options{Nodes: 4, Seed: 3})
	c.RunUntilTrue(2*time.Second, func() bool { _, ok := c.Leader(); return ok })
	c.RunFor(50 * time.Millisecond)
	leader, _ := c.Leader()
	victim := "n4"
	if victim == leader {
		victim = "n3"
	}
	c.Disconnect(victim)
	if err := c.RemoveServer(victim); err != nil {
		t.Fatal(err)
	}
	c.removals = nil // keep it running, as a process that never learnt of its removal would
	c.RunFor(100 * time.Millisecond)
	_, term := c.Node(leader).Role()
	c.RunFor(2 * time.Second) // it times out alone and raises its term
	_, vt := c.Node(victim).Role()
	if vt <= term {
		t.Fatalf("the cut-off server's term %d did not rise past %d", vt, term)
	}
	c.Reconnect(victim)
	c.RunFor(3 * time.Second)
	if l, ok := c.Leader(); !ok || l != leader {
		t.Errorf("leader %q after the removed server came back; want %s still", l, leader)
	}
	if _, t2 := c.Node(leader).Role(); t2 != term {
		t.Errorf("the leader's term went from %d to %d: the removed server disturbed the cluster", term, t2)
	}
	if err := c.Violation(); err != nil {
		t.Fatal(err)
	}
}

// changeBeforeCommitRun plays the single-server bug of raft-dev (2015): n1 leads {n1…n4} and
// adds n5, whose promotion to voter reaches only n5 before n1 is cut off. n2 is elected with
// n3 and n4 and, with the bug, removes n1 at once, before its own term's no-op is committed;
// the removal commits with n2 and n3. n2 then wins terms 3 and 4 with n3 alone (a majority of
// {n2, n3, n4}), while n1, back in touch with n4 and n5 only, wins term 4 with them under
// {n1…n5}, whose majorities need not meet those of {n2, n3, n4}: two leaders of term 4. With
// intersectCheck off the checker does not stop at the cause, and sees the two leaders. It
// returns the violation, or nil.
func changeBeforeCommitRun(t *testing.T, bug, intersectCheck bool) error {
	t.Helper()
	c, err := New(Options{Nodes: 4, Seed: 5, Raft: raft.Config{Bugs: raft.Bugs{ChangeBeforeCommit: bug}}})
	if err != nil {
		t.Fatal(err)
	}
	c.check.noIntersect = !intersectCheck
	c.Timeout("n1")
	if !c.RunUntilTrue(time.Second, func() bool { l, ok := c.Leader(); return ok && l == "n1" }) {
		t.Fatal("n1 did not win term 1")
	}
	c.Submit("n1", []byte("x"))
	c.RunFor(50 * time.Millisecond)
	if err := c.AddServer("n5"); err != nil {
		t.Fatal(err)
	}
	c.SetLinkLatency("n1", "n5", 30*time.Millisecond, 30*time.Millisecond) // n5 catches up slowly
	if !c.RunUntilTrue(time.Second, func() bool { return c.Status("n1").ConfigCommitted }) {
		t.Fatal("n5 not added as a learner")
	}
	c.RunFor(15 * time.Millisecond) // the followers learn that the learner's entry committed
	for _, p := range []string{"n2", "n3", "n4"} {
		c.Cut("n1", p)
		c.Cut("n5", p)
	}
	if !c.RunUntilTrue(time.Second, func() bool { return confOf(c, "n5").IsVoter("n5") }) {
		t.Fatalf("n5's promotion did not reach n5: n1 uses %s", confOf(c, "n1"))
	}
	// n2 is elected by n3 and n4, over a slow link to n4 that is cut as soon as n2 leads, so
	// that n4 never gets n2's no-op.
	c.SetLinkLatency("n2", "n4", 40*time.Millisecond, 40*time.Millisecond)
	c.Timeout("n2")
	if !c.RunUntilTrue(time.Second, func() bool { s, _ := c.Node("n2").Role(); return s == raft.Leader }) {
		t.Fatal("n2 was not elected")
	}
	c.Cut("n2", "n4")
	err = c.RemoveServer("n1")
	if !bug {
		if err == nil || !strings.Contains(err.Error(), "committed an entry of its term") {
			t.Fatalf("without the bug, the removal was not refused: %v", err)
		}
	} else if err != nil {
		t.Fatal(err)
	}
	c.removals = nil // n1 keeps running: it never hears of its removal
	c.RunFor(100 * time.Millisecond)
	// n1 comes back to n4 and n5 only, n2 and n3 stay apart, and both sides campaign: n2 twice,
	// to term 4, then n1 (which reaches term 4 through n4's term 3).
	c.Heal("n1", "n4")
	for _, p := range []string{"n1", "n4", "n5"} {
		for _, q := range []string{"n2", "n3"} {
			c.Cut(p, q)
		}
	}
	c.Timeout("n2")
	c.RunFor(50 * time.Millisecond)
	c.Timeout("n2")
	c.RunFor(time.Second)
	c.Timeout("n1")
	c.RunFor(time.Second)
	return c.Violation()
}

// TestChangeBeforeCommitIsCaught: with the bug, the checker stops the run as soon as n1 leads
// under a configuration whose majorities need not meet those that committed n1's removal; with
// that check turned off, the same schedule goes on to two leaders of one term (Election
// Safety). Without the bug, the removal is refused and the same schedule is safe, with every
// check on or with the intersection check off.
func TestChangeBeforeCommitIsCaught(t *testing.T) {
	err := changeBeforeCommitRun(t, true, true)
	if err == nil || !strings.Contains(err.Error(), "Configuration") || !strings.Contains(err.Error(), "need not meet") {
		t.Fatalf("with ChangeBeforeCommit: %v; want a configuration violation (majorities that need not meet)", err)
	}
	t.Log(err)
	err = changeBeforeCommitRun(t, true, false)
	if err == nil || !strings.Contains(err.Error(), "Election Safety") || !strings.Contains(err.Error(), "both leaders of term") {
		t.Fatalf("with ChangeBeforeCommit and no intersection check: %v; want two leaders of one term", err)
	}
	t.Log(err)
	for _, check := range []bool{true, false} {
		if err := changeBeforeCommitRun(t, false, check); err != nil {
			t.Fatalf("without the bug (intersection check %t): %v", check, err)
		}
	}
}
