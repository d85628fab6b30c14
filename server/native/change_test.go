package native

import (
	"context"
	"errors"
	"testing"
	"time"

	"raftlab/raft"
)

// ProposeChange on the real-time driver: followers refuse it at once (*raft.NotLeaderError);
// the leader adds a fourth node as a learner, which catches up and is made a voter, answers
// with the committed configuration, refuses a member that is there already (a *RefusedError,
// in no log), and removes a node.
func TestProposeChange(t *testing.T) {
	members := []string{"n1", "n2", "n3"}
	nw := &net{nodes: map[string]*Node{}}
	ap := &applied{log: map[string][]string{}}
	nodes := map[string]*Node{}
	for _, id := range members {
		nodes[id] = startNode(t, nw, ap, id, members, raft.NewMapStorage())
	}
	defer func() {
		for _, n := range nodes {
			n.Stop()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := submitTo(ctx, nodes, "put x 1"); err != nil { // the leader has committed in its term
		t.Fatal(err)
	}
	leader, _ := leaderOf(nodes)
	for id, n := range nodes {
		if id == leader {
			continue
		}
		var nl *raft.NotLeaderError
		if _, err := n.ProposeChange(ctx, raft.AddServer, "n4"); !errors.As(err, &nl) {
			t.Errorf("follower %s: ProposeChange = %v; want a *raft.NotLeaderError", id, err)
		}
	}
	nodes["n4"] = startNode(t, nw, ap, "n4", members, raft.NewMapStorage()) // outside the cluster
	res, err := nodes[leader].ProposeChange(ctx, raft.AddServer, "n4")
	if err != nil {
		t.Fatal(err)
	}
	conf, err := raft.ParseConfiguration(res.Value)
	if err != nil || !conf.IsLearner("n4") || res.Index == 0 {
		t.Fatalf("add n4 answered %q at %d (%v); want n4 a learner", res.Value, res.Index, err)
	}
	waitFor(t, "n4 a voter", 10*time.Second, func() bool {
		s := nodes[leader].Status()
		return s.Config.IsVoter("n4") && s.ConfigCommitted
	})
	var refused *RefusedError
	if _, err := nodes[leader].ProposeChange(ctx, raft.AddServer, "n2"); !errors.As(err, &refused) {
		t.Errorf("adding n2 again = %v; want a *RefusedError", err)
	}
	other := "n1"
	if leader == other {
		other = "n2"
	}
	res, err = nodes[leader].ProposeChange(ctx, raft.RemoveServer, other)
	if err != nil {
		t.Fatal(err)
	}
	if conf, _ := raft.ParseConfiguration(res.Value); conf.IsMember(other) || len(conf.Voters) != 3 {
		t.Errorf("remove %s answered %q", other, res.Value)
	}
}

// TransferLeadership on the real-time driver: a follower refuses at once (*raft.NotLeaderError
// naming the leader); the leader refuses a member that is not a voter and itself (a
// *RefusedError), and otherwise begins the handover, answering with its term, after which the
// target leads a later term.
func TestTransferLeadership(t *testing.T) {
	members := []string{"n1", "n2", "n3"}
	nw := &net{nodes: map[string]*Node{}}
	ap := &applied{log: map[string][]string{}}
	nodes := map[string]*Node{}
	for _, id := range members {
		nodes[id] = startNode(t, nw, ap, id, members, raft.NewMapStorage())
	}
	defer func() {
		for _, n := range nodes {
			n.Stop()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := submitTo(ctx, nodes, "put x 1"); err != nil {
		t.Fatal(err)
	}
	leader, _ := leaderOf(nodes)
	term := nodes[leader].Status().Term
	to := ""
	for id, n := range nodes {
		if id == leader {
			continue
		}
		to = id
		var nl *raft.NotLeaderError
		if _, err := n.TransferLeadership(ctx, leader); !errors.As(err, &nl) || nl.Leader != leader {
			t.Errorf("follower %s: TransferLeadership = %v; want a *raft.NotLeaderError naming %s", id, err, leader)
		}
	}
	var refused *RefusedError
	for _, bad := range []string{"n9", leader} {
		if _, err := nodes[leader].TransferLeadership(ctx, bad); !errors.As(err, &refused) {
			t.Errorf("transfer to %s = %v; want a *RefusedError", bad, err)
		}
	}
	res, err := nodes[leader].TransferLeadership(ctx, to)
	if err != nil || res.Term != term {
		t.Fatalf("transfer to %s = %+v, %v; want the leader's term %d", to, res, err, term)
	}
	waitFor(t, to+" leading", 10*time.Second, func() bool {
		s := nodes[to].Status()
		return s.State == raft.Leader && s.Term > term
	})
}
