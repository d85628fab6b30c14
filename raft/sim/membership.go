// Membership changes in the simulator: servers that join a running cluster and leave it, and
// random schedules of such changes.

package sim

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"raftlab/raft"
)

// MaxIDs is the most servers a simulated cluster can have had, n1…n15.
const MaxIDs = 15

// AddServer asks the leader to add server id and, once the leader has accepted the change,
// starts it (new, with empty storage, or a stopped one with what it stored): it joins as a
// learner and becomes a voter once it has caught up. The action fails, and changes nothing,
// when there is no leader or the leader refuses (a change in flight, no commit in its term yet,
// id already a member).
func (c *Cluster) AddServer(id string) error {
	if err := raft.ValidateID(id); err != nil {
		return fmt.Errorf("sim: %w", err)
	}
	leader, ok := c.Leader()
	if !ok {
		return fmt.Errorf("sim: no leader to add %s", id)
	}
	if conf, _ := c.Node(leader).Configuration(); conf.IsMember(id) {
		return fmt.Errorf("sim: %s is already a member (%s)", id, conf)
	}
	sn := c.lookup(id)
	if sn == nil && len(c.nodes) >= MaxIDs {
		return fmt.Errorf("sim: at most %d servers", MaxIDs)
	}
	ls := c.lookup(leader)
	if _, err := ls.node.ProposeChange(c.now, raft.AddServer, id); err != nil {
		c.process(ls)
		return fmt.Errorf("sim: %s refused to add %s: %w", leader, id, err)
	}
	// Start the server before the leader's first messages leave, so that they find it.
	if err := c.join(sn, id, leader); err != nil {
		c.process(ls)
		return err
	}
	c.process(ls)
	c.forgetRemovals(id)
	return nil
}

// join starts server id (sn, nil if it never ran) that the leader has just taken into its
// configuration: a new one, or a stopped one again. One that is running, or crashed, is left as
// it is: the leader tells it.
func (c *Cluster) join(sn *simNode, id, leader string) error {
	switch {
	case sn == nil:
		sn = c.newServer(id, c.joinMembers(leader))
	case sn.node == nil && sn.stopped:
		sn.stopped = false
		sn.restarts++
		c.record(raft.Event{Kind: raft.EvRestart, Node: id})
	default:
		return nil
	}
	return c.start(sn)
}

// newServer adds server id, outside the first configuration, to the cluster's nodes; members
// is the configuration it starts with (its storage may hold a newer one).
func (c *Cluster) newServer(id string, members []string) *simNode {
	sn := &simNode{id: id, idx: len(c.nodes), storage: c.opts.Storage(id), check: &nodeCheck{hashes: []uint64{0}}, members: members}
	c.nodes = append(c.nodes, sn)
	c.ids = append(c.ids, id)
	slices.SortFunc(c.nodes, func(a, b *simNode) int { return compareIDs(a.id, b.id) })
	slices.SortFunc(c.ids, compareIDs)
	return sn
}

// joinMembers is the configuration a joining server starts with: the leader's voters.
func (c *Cluster) joinMembers(leader string) []string {
	conf, _ := c.lookup(leader).node.Configuration()
	return slices.Clone(conf.Voters)
}

// RemoveServer asks the leader to remove server id. Once the removal is committed the server is
// stopped (its process would say so and exit); a leader that removes itself steps down first.
func (c *Cluster) RemoveServer(id string) error {
	leader, ok := c.Leader()
	if !ok {
		return fmt.Errorf("sim: no leader to remove %s", id)
	}
	ln := c.lookup(leader).node
	index, err := ln.ProposeChange(c.now, raft.RemoveServer, id)
	c.process(c.lookup(leader))
	if err != nil {
		return fmt.Errorf("sim: %s refused to remove %s: %w", leader, id, err)
	}
	c.removals = append(c.removals, removal{id, index, c.opts.Raft.JointConsensus})
	return nil
}

// SetVoters asks the leader to make voters the cluster's voters (raft.Node.ProposeConfiguration):
// with Raft.JointConsensus any set of n1…n15, through a joint configuration; else one server
// more or fewer. Once the leader has accepted the change, servers not yet running start (as with
// AddServer); once it is committed the servers it leaves out are stopped. A refused change
// changes nothing.
func (c *Cluster) SetVoters(voters []string) error {
	leader, ok := c.Leader()
	if !ok {
		return fmt.Errorf("sim: no leader to change the voters to %s", strings.Join(voters, ","))
	}
	conf, _ := c.Node(leader).Configuration()
	fresh := 0
	for _, id := range voters {
		if err := raft.ValidateID(id); err != nil {
			return fmt.Errorf("sim: %w", err)
		}
		if !conf.IsMember(id) && c.lookup(id) == nil {
			fresh++
		}
	}
	if len(c.nodes)+fresh > MaxIDs {
		return fmt.Errorf("sim: at most %d servers", MaxIDs)
	}
	ls := c.lookup(leader)
	index, err := ls.node.ProposeConfiguration(c.now, voters)
	if err != nil {
		c.process(ls)
		return fmt.Errorf("sim: %s refused to change the voters to %s: %w", leader, strings.Join(voters, ","), err)
	}
	for _, id := range voters {
		if conf.IsMember(id) {
			continue
		}
		if err := c.join(c.lookup(id), id, leader); err != nil {
			c.process(ls)
			return err
		}
	}
	c.process(ls)
	for _, id := range voters {
		c.forgetRemovals(id)
	}
	for _, id := range conf.AllVoters() {
		if !slices.Contains(voters, id) {
			c.removals = append(c.removals, removal{id, index, c.opts.Raft.JointConsensus})
		}
	}
	return nil
}

// Retire stops server id as one removed from the cluster: it stays stopped until a change adds
// it again. A driver that starts a whole cluster again from storage (the page, on a reload)
// retires the servers removed before, whose processes would have exited.
func (c *Cluster) Retire(id string) error {
	sn, err := c.get(id)
	if err != nil || sn.stopped {
		return err
	}
	sn.stopped = true
	if sn.node != nil {
		c.Crash(id)
	}
	c.forgetRemovals(id)
	c.record(raft.Event{Kind: raft.EvNote, Node: id, Detail: id + " stays stopped: it was removed from the cluster"})
	return nil
}

// forgetRemovals forgets the removals of id still waiting: a later change keeps it, or takes it
// in again while it still runs, unaware of its removal.
func (c *Cluster) forgetRemovals(id string) {
	c.removals = slices.DeleteFunc(c.removals, func(r removal) bool { return r.id == id })
}

type removal struct {
	id    string
	index uint64
	// joint: the removal goes through a joint configuration, which still has the server and
	// is not the end of the change; only a committed configuration without it is.
	joint bool
}

// stopRemoved stops the servers whose removal is committed (a node's committed configuration
// at or after the removal's index leaves them out) once they can hear of it from such a node. (A removal whose entry a new leader
// overwrote is forgotten once a later configuration commits with the server in it.)
func (c *Cluster) stopRemoved() {
	for i := 0; i < len(c.removals); i++ {
		r := c.removals[i]
		for _, sn := range c.nodes {
			if sn.node == nil || sn.id == r.id {
				continue
			}
			conf, index := sn.node.Configuration()
			if index < r.index || sn.node.Status().CommitIndex < index {
				continue
			}
			if r.joint && (conf.Joint() || conf.IsMember(r.id)) {
				continue // not there yet (or given up: the server stays until a removal completes)
			}
			if !conf.IsMember(r.id) && !c.Connected(r.id, sn.id) {
				continue // cut off, it cannot hear of its removal yet: it runs on (§4.2.3)
			}
			c.removals = slices.Delete(c.removals, i, i+1)
			i--
			if rn := c.lookup(r.id); !conf.IsMember(r.id) && rn != nil && !rn.stopped {
				rn.stopped = true // before the crash, which a driver may tell apart so; a crashed one is not restarted either
				if rn.node != nil {
					c.Crash(r.id)
				}
				c.record(raft.Event{Kind: raft.EvNote, Node: r.id, Detail: r.id + " was removed from the cluster and stopped"})
			}
			break
		}
	}
}

// compareIDs orders n2 before n10.
func compareIDs(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// outside returns the ids of n1…n15 that are not in members, in counting order.
func outside(members []string) []string {
	var out []string
	for i := 1; i <= MaxIDs; i++ {
		if id := fmt.Sprintf("n%d", i); !slices.Contains(members, id) {
			out = append(out, id)
		}
	}
	return out
}

// RandomMembership returns a schedule of membership changes over [0, duration): every 1–3 s
// a server of n1…n15 joins, a member leaves, or one is replaced (a removal, then an addition
// half a second later). Changes refused at their time (no leader, one in flight) change nothing.
func RandomMembership(seed uint64, initial []string, duration time.Duration) []Action {
	rng := rand.New(rand.NewPCG(seed, 0x3e3b))
	members := slices.Clone(initial)
	var acts []Action
	pick := func(ids []string) string { return ids[rng.IntN(len(ids))] }
	for t := time.Duration(1+rng.Int64N(2)) * time.Second; t < duration; t += time.Second + time.Duration(rng.Int64N(int64(2*time.Second))) {
		switch k := rng.IntN(3); {
		case k == 0 && len(members) < 7:
			id := pick(outside(members))
			acts = append(acts, Action{At: t, Kind: ActAddServer, Node: id})
			members = append(members, id)
		case k == 1 && len(members) > 3:
			id := pick(members)
			acts = append(acts, Action{At: t, Kind: ActRemoveServer, Node: id})
			members = slices.DeleteFunc(members, func(m string) bool { return m == id })
		default:
			out, in := pick(members), pick(outside(members))
			acts = append(acts, Action{At: t, Kind: ActRemoveServer, Node: out}, Action{At: t + 500*time.Millisecond, Kind: ActAddServer, Node: in})
			members = append(slices.DeleteFunc(members, func(m string) bool { return m == out }), in)
		}
	}
	return acts
}

// RandomJointMembership is RandomMembership for a cluster that changes its members by joint
// consensus (raft.Config.JointConsensus): every 1–3 s a server joins, a member leaves, or one
// to three members are replaced at once (a set-voters action; all three of a three-server
// configuration may go). Its choices are its own, apart from RandomMembership's.
func RandomJointMembership(seed uint64, initial []string, duration time.Duration) []Action {
	rng := rand.New(rand.NewPCG(seed, 0x701e7))
	members := slices.Clone(initial)
	var acts []Action
	for t := time.Duration(1+rng.Int64N(2)) * time.Second; t < duration; t += time.Second + time.Duration(rng.Int64N(int64(2*time.Second))) {
		switch k := rng.IntN(4); {
		case k == 0 && len(members) < 7:
			out := outside(members)
			id := out[rng.IntN(len(out))]
			acts = append(acts, Action{At: t, Kind: ActAddServer, Node: id})
			members = append(members, id)
		case k == 1 && len(members) > 3:
			id := members[rng.IntN(len(members))]
			acts = append(acts, Action{At: t, Kind: ActRemoveServer, Node: id})
			members = slices.DeleteFunc(members, func(m string) bool { return m == id })
		default:
			n := 1 + rng.IntN(min(3, len(members)))
			rng.Shuffle(len(members), func(i, j int) { members[i], members[j] = members[j], members[i] })
			out := outside(members)
			rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
			members = append(members[n:], out[:n]...)
			slices.SortFunc(members, compareIDs)
			acts = append(acts, Action{At: t, Kind: ActSetVoters, Voters: slices.Clone(members)})
		}
	}
	return acts
}
