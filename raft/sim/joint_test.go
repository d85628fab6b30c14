// Joint consensus (the Raft paper's §6) on the simulator: three servers replaced at once, a
// joint configuration that needs both majorities, and leadership transfer across changes.

package sim

import (
	"slices"
	"strings"
	"testing"
	"time"

	"raftlab/raft"
)

func jointCluster(t *testing.T, nodes int, seed uint64) *Cluster {
	t.Helper()
	c, err := New(Options{Nodes: nodes, Seed: seed, KeepTrace: true, Raft: raft.Config{JointConsensus: true}})
	if err != nil {
		t.Fatal(err)
	}
	if !c.RunUntilTrue(2*time.Second, func() bool { _, ok := c.Leader(); return ok }) {
		t.Fatal("no leader")
	}
	c.RunFor(50 * time.Millisecond) // the leader commits its no-op
	return c
}

// committedConf waits until the leader's committed configuration is not joint and has exactly
// voters, and returns that leader.
func waitVoters(t *testing.T, c *Cluster, voters ...string) string {
	t.Helper()
	var conf raft.Configuration
	ok := c.RunUntilTrue(3*time.Second, func() bool {
		l, ok := c.Leader()
		if !ok {
			return false
		}
		conf = confOf(c, l)
		return !conf.Joint() && slices.Equal(conf.Voters, voters) && len(conf.Learners) == 0 && c.Status(l).ConfigCommitted
	})
	if !ok {
		t.Fatalf("the voters did not become %v (last seen %s)", voters, conf)
	}
	l, _ := c.Leader()
	return l
}

// TestJointReplaceThree replaces all three servers of n1…n3 by n4…n6 at once: the new ones join
// as learners, then C_old,new and C_new commit; the old leader steps down once C_new commits and
// the old servers stop; commands commit on the new voters.
func TestJointReplaceThree(t *testing.T) {
	c := jointCluster(t, 3, 1)
	leader, _ := c.Leader()
	for i := range 30 {
		c.Submit(leader, []byte(cmd(i)))
	}
	c.RunFor(50 * time.Millisecond)
	if err := c.SetVoters([]string{"n4", "n5", "n6"}); err != nil {
		t.Fatal(err)
	}
	if conf := confOf(c, leader); !slices.Equal(conf.Learners, []string{"n4", "n5", "n6"}) || conf.Joint() {
		t.Fatalf("after SetVoters: %s; want n4…n6 learners first", conf)
	}
	if err := c.SetVoters([]string{"n1", "n2", "n4"}); err == nil || !strings.Contains(err.Error(), "in flight") {
		t.Errorf("a second change while the first is on its way: %v; want it refused", err)
	}
	sawJoint := false
	l2 := ""
	if !c.RunUntilTrue(3*time.Second, func() bool {
		if !c.Alive(leader) {
			// stopped once its removal committed
		} else if conf := confOf(c, leader); conf.Joint() {
			sawJoint = true
			if !slices.Equal(conf.Outgoing, []string{"n1", "n2", "n3"}) || !slices.Equal(conf.Voters, []string{"n4", "n5", "n6"}) {
				t.Fatalf("joint configuration %s; want n1,n2,n3 → n4,n5,n6", conf)
			}
		}
		l, ok := c.Leader()
		l2 = l
		return ok && l != leader && c.Alive(l)
	}) {
		t.Fatal("no new leader after the old voters left")
	}
	if !sawJoint {
		t.Error("the leader never used the joint configuration")
	}
	if !slices.Contains([]string{"n4", "n5", "n6"}, l2) {
		t.Fatalf("new leader %s; want one of n4…n6", l2)
	}
	waitVoters(t, c, "n4", "n5", "n6")
	c.RunFor(time.Second)
	for _, id := range []string{"n1", "n2", "n3"} {
		if c.Alive(id) {
			t.Errorf("%s still runs after its removal committed", id)
		}
	}
	var begins, ends, stepped bool
	for _, e := range c.Trace() {
		begins = begins || e.Kind == raft.EvConfig && strings.Contains(e.Detail, "joint consensus begins")
		ends = ends || e.Kind == raft.EvConfig && strings.Contains(e.Detail, "joint consensus ends")
		stepped = stepped || e.Kind == raft.EvStepDown && e.Node == leader && strings.Contains(e.Detail, "no longer a voter")
	}
	if !begins || !ends || !stepped {
		t.Errorf("trace: joint begins %t, ends %t, %s stepped down %t; want all", begins, ends, leader, stepped)
	}
	l3, _ := c.Leader()
	idx, err := c.Submit(l3, []byte("after"))
	if err != nil {
		t.Fatal(err)
	}
	if !c.RunUntilTrue(time.Second, func() bool {
		for _, id := range []string{"n4", "n5", "n6"} {
			if c.Status(id).CommitIndex < idx {
				return false
			}
		}
		return true
	}) {
		t.Fatal("a command after the change did not commit on n4…n6")
	}
	if c.Changes() != 3 {
		t.Errorf("%d configuration entries committed; want 3 (learners, C_old,new, C_new)", c.Changes())
	}
	if err := c.Violation(); err != nil {
		t.Fatal(err)
	}
}

// TestJointNeedsBothMajorities holds a change in its joint phase: the leader n1 is cut off from
// the other old voters, so C_old,new does not commit though every new voter holds it, and a
// new voter that can reach only n1 of the old ones is not elected by the new majority alone.
func TestJointNeedsBothMajorities(t *testing.T) {
	c := jointCluster(t, 3, 1)
	leader, _ := c.Leader()
	var rest []string
	for _, id := range []string{"n1", "n2", "n3"} {
		if id != leader {
			rest = append(rest, id)
		}
	}
	if err := c.SetVoters([]string{"n4", "n5", "n6"}); err != nil {
		t.Fatal(err)
	}
	if !c.RunUntilTrue(time.Second, func() bool { return c.Status(leader).ConfigCommitted }) {
		t.Fatal("the learners' entry did not commit")
	}
	for _, o := range rest {
		c.Cut(leader, o)
		for _, nw := range []string{"n4", "n5", "n6"} {
			c.Cut(o, nw)
		}
	}
	if !c.RunUntilTrue(time.Second, func() bool { return confOf(c, leader).Joint() }) {
		t.Fatalf("the leader did not enter the joint configuration: %s", confOf(c, leader))
	}
	_, jointIndex := c.Node(leader).Configuration()
	if !c.RunUntilTrue(time.Second, func() bool {
		for _, id := range []string{"n4", "n5", "n6"} {
			if st := c.Status(id); st.LastIndex < jointIndex {
				return false
			}
		}
		return true
	}) {
		t.Fatal("the new voters did not get C_old,new")
	}
	c.RunFor(500 * time.Millisecond)
	if st := c.Status(leader); st.CommitIndex >= jointIndex {
		t.Fatalf("C_old,new (index %d) committed with 1 of the 3 old voters: commit index %d", jointIndex, st.CommitIndex)
	}
	// n4 campaigns: n5, n6 (a majority of the new voters) and n1 grant it, but 1 of 3 old is
	// not a majority of C_old.
	c.Timeout("n4")
	c.RunFor(time.Second)
	for _, id := range []string{"n4", "n5", "n6"} {
		if s, _ := c.Node(id).Role(); s == raft.Leader {
			t.Fatalf("%s leads under %s with a majority of the new voters only", id, confOf(c, id))
		}
	}
	if err := c.Violation(); err != nil {
		t.Fatal(err)
	}
	// Healed, the cluster goes on: a leader that holds C_old,new finishes the change; one
	// elected by n2 and n3, which never got it, makes voters of the learners it finds.
	c.HealAll()
	if !c.RunUntilTrue(3*time.Second, func() bool {
		l, ok := c.Leader()
		if !ok {
			return false
		}
		conf := confOf(c, l)
		return !conf.Joint() && c.Status(l).ConfigCommitted && len(conf.Learners) == 0 && conf.IsVoter("n4") && conf.IsVoter("n5") && conf.IsVoter("n6")
	}) {
		t.Fatal("the change did not finish once healed")
	}
	if err := c.Violation(); err != nil {
		t.Fatal(err)
	}
}

// TestJointTransferLeadership: a leadership transfer in the middle of a joint change hands the
// change to the new leader, which finishes it; transfer works again after it.
func TestJointTransferLeadership(t *testing.T) {
	c := jointCluster(t, 3, 4)
	leader, _ := c.Leader()
	keep := "n3"
	if keep == leader {
		keep = "n2"
	}
	voters := slices.Sorted(slices.Values([]string{keep, "n4", "n5"}))
	if err := c.SetVoters(voters); err != nil {
		t.Fatal(err)
	}
	if !c.RunUntilTrue(time.Second, func() bool { return confOf(c, leader).Joint() }) {
		t.Fatalf("no joint configuration: %s", confOf(c, leader))
	}
	if err := c.Transfer("n4"); err != nil {
		t.Fatal(err)
	}
	if !c.RunUntilTrue(time.Second, func() bool { l, ok := c.Leader(); return ok && l == "n4" }) {
		t.Fatalf("n4 did not take over during the joint change")
	}
	if l := waitVoters(t, c, voters...); l != "n4" {
		t.Fatalf("leader %s after the change; want n4", l)
	}
	if err := c.Transfer("n5"); err != nil {
		t.Fatal(err)
	}
	if !c.RunUntilTrue(time.Second, func() bool { l, ok := c.Leader(); return ok && l == "n5" }) {
		t.Fatal("n5 did not take over after the change")
	}
	c.RunFor(50 * time.Millisecond) // n5 commits an entry of its term
	// A single-server change by joint consensus, then a transfer to the server it added.
	if err := c.AddServer("n6"); err != nil {
		t.Fatal(err)
	}
	waitVoters(t, c, slices.Sorted(slices.Values(append(slices.Clone(voters), "n6")))...)
	if err := c.Transfer("n6"); err != nil {
		t.Fatal(err)
	}
	if !c.RunUntilTrue(time.Second, func() bool { l, ok := c.Leader(); return ok && l == "n6" }) {
		t.Fatal("n6 did not take over after joining")
	}
	if err := c.Violation(); err != nil {
		t.Fatal(err)
	}
}

// TestSingleServerRefusesSeveral: without JointConsensus a change of two voters is refused
// (ErrNeedsJoint) and one of one voter works through SetVoters.
func TestSingleServerRefusesSeveral(t *testing.T) {
	c, _ := New(Options{Nodes: 3, Seed: 2})
	c.RunUntilTrue(2*time.Second, func() bool { _, ok := c.Leader(); return ok })
	c.RunFor(50 * time.Millisecond)
	if err := c.SetVoters([]string{"n1", "n4", "n5"}); err == nil || !strings.Contains(err.Error(), "joint consensus") {
		t.Fatalf("two voters at once without joint consensus: %v; want refused", err)
	}
	if c.Alive("n4") || c.Alive("n5") {
		t.Error("a refused change left new servers running")
	}
	if err := c.SetVoters([]string{"n1", "n2", "n3", "n4"}); err != nil {
		t.Fatal(err)
	}
	waitVoters(t, c, "n1", "n2", "n3", "n4")
	if err := c.Violation(); err != nil {
		t.Fatal(err)
	}
}

// TestProposeConfigurationErrors: what a leader refuses, changing nothing.
func TestProposeConfigurationErrors(t *testing.T) {
	c := jointCluster(t, 3, 2)
	leader, _ := c.Leader()
	n := c.Node(leader)
	for _, tc := range []struct {
		voters []string
		want   string
	}{
		{nil, "at least one voter"},
		{[]string{"n1", "n4", "n1"}, "twice"},
		{[]string{"n1", "bad id"}, "not a letter"},
		{[]string{"n3", "n2", "n1"}, "already"},
	} {
		before, _ := n.Configuration()
		if _, err := n.ProposeConfiguration(c.Now(), tc.voters); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: %v; want an error saying %q", tc.voters, err, tc.want)
		}
		if after, _ := n.Configuration(); !after.Equal(before) {
			t.Errorf("%q changed the configuration to %s", tc.voters, after)
		}
	}
	follower := "n1"
	if follower == leader {
		follower = "n2"
	}
	if _, err := c.Node(follower).ProposeConfiguration(c.Now(), []string{"n4"}); err == nil || !strings.Contains(err.Error(), "not the leader") {
		t.Errorf("a follower: %v; want it refused", err)
	}
	// A change on its way refuses another, through every phase, in both forms.
	if err := c.SetVoters([]string{"n4", "n5"}); err != nil {
		t.Fatal(err)
	}
	for phase := 0; phase < 3; phase++ {
		if _, err := n.ProposeConfiguration(c.Now(), []string{"n1"}); err == nil || !strings.Contains(err.Error(), "in flight") {
			t.Errorf("phase %d: another change: %v; want it refused as in flight", phase, err)
		}
		if _, err := n.ProposeChange(c.Now(), raft.AddServer, "n6"); err == nil || !strings.Contains(err.Error(), "in flight") {
			t.Errorf("phase %d: an add: %v; want it refused as in flight", phase, err)
		}
		c.RunFor(5 * time.Millisecond)
	}
	waitVoters(t, c, "n4", "n5")
	if err := c.Violation(); err != nil {
		t.Fatal(err)
	}
}
