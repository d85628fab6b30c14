// Saturation: 100,000 commands submitted as fast as the leader takes them, with faults; every
// command must commit on every node, with a bounded number of messages in flight and no stall.

package kvsim

import (
	"fmt"
	"runtime"
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/raft/sim"
)

// saturationResult is what a saturation run measured.
type saturationResult struct {
	commands    int
	simulated   time.Duration // from the first submit to the last command applied everywhere
	wall        time.Duration
	maxMsgs     int // most messages on the wire at a sample
	maxEntries  int // most log entries carried by the messages on the wire at a sample
	resubmitted int // commands submitted again because a leader change lost them
	longestGap  time.Duration
}

// saturate submits n commands, each its own client session ("s<i>#1 put k<i> <i>"), to the
// leader of a 5-node cluster on an unreliable network with duplicated and reordered messages,
// burst at a time each simulated millisecond, while a follower and then the leader crash and
// come back. A command whose entry the current leader no longer holds (its leader was
// deposed before replicating it) is submitted again; sessions make the copies harmless.
func saturate(seed uint64, n, burst int) (saturationResult, error) {
	res := saturationResult{commands: n}
	stores := map[string]*kv.Store{}
	appliedOnce := map[string]int{} // per node, commands applied (duplicates excluded)
	var applyErr error
	onApply := func(id string, e raft.CommitEntry) {
		st := stores[id]
		if st == nil || e.Index == 1 { // a restarted node applies again from index 1
			st = kv.NewStore()
			stores[id] = st
			appliedOnce[id] = 0
		}
		out, err := st.Apply(e)
		if err != nil && applyErr == nil {
			applyErr = err
		}
		if out.Kind == kv.Applied {
			appliedOnce[id]++
		}
	}
	c, err := sim.New(sim.Options{Nodes: 5, Seed: seed, Unreliable: true, Duplicate: 0.05, Reorder: 0.05, OnApply: onApply})
	if err != nil {
		return res, err
	}
	cmds := make([][]byte, n)
	for i := range cmds {
		cmds[i] = kv.Request{ClientID: fmt.Sprintf("s%d", i), Seq: 1, Command: kv.Put(fmt.Sprintf("k%d", i), fmt.Sprint(i))}.Encode()
	}
	type placed struct{ index, term uint64 }
	at := make([]placed, n) // where each command was last submitted; zero: not yet
	next := 0               // commands before next have been submitted at least once
	leader, leaderTerm := "", uint64(0)

	done := func() bool {
		for _, id := range c.IDs() {
			if !c.Alive(id) || appliedOnce[id] != n {
				return false
			}
		}
		return true
	}
	c.RunFor(time.Second)
	start, wallStart := c.Now(), time.Now()
	// Faults: a follower crashes for a while, then the leader does, each coming back.
	crashPlan := []time.Duration{200 * time.Millisecond, 700 * time.Millisecond, 1200 * time.Millisecond, 2000 * time.Millisecond}
	var crashed string
	lastCommit, lastProgress := uint64(0), c.Now()
	deadline := start + 120*time.Second
	for !done() {
		if c.Now() > deadline {
			return res, fmt.Errorf("seed=%d: not every command applied on every node after %v: applied %v of %d", seed, deadline-start, appliedOnce, n)
		}
		if err := c.Violation(); err != nil {
			return res, err
		}
		if applyErr != nil {
			return res, applyErr
		}
		// Faults on schedule.
		if len(crashPlan) > 0 && c.Now()-start >= crashPlan[0] {
			switch len(crashPlan) {
			case 4, 2: // crash a follower, then the leader
				id, _ := c.Leader()
				if len(crashPlan) == 4 {
					id = c.IDs()[0]
					if l, _ := c.Leader(); l == id {
						id = c.IDs()[1]
					}
				}
				if id != "" {
					c.Crash(id)
					crashed = id
				}
			case 3, 1:
				c.Restart(crashed)
			}
			crashPlan = crashPlan[1:]
		}
		// A new leader: find the commands its log lost and queue them again.
		if l, ok := c.Leader(); ok && (l != leader || c.Status(l).Term != leaderTerm) {
			leader, leaderTerm = l, c.Status(l).Term
			node := c.Node(l)
			for i := range next {
				if e, ok := node.Entry(at[i].index); at[i] != (placed{}) && (!ok || e.Term != at[i].term || string(e.Command) != string(cmds[i])) {
					at[i] = placed{}
					res.resubmitted++
				}
			}
			next = 0
		}
		// Submit: burst commands per simulated millisecond, lost ones first.
		if leader != "" && c.Alive(leader) && c.Status(leader).State == raft.Leader {
			for sent := 0; sent < burst && next < n; next++ {
				if at[next] != (placed{}) {
					continue
				}
				idx, err := c.Submit(leader, cmds[next])
				if err != nil {
					break
				}
				at[next] = placed{idx, leaderTerm}
				sent++
			}
		}
		// Watch the wire and progress.
		msgs, entries := 0, 0
		for _, f := range c.InFlight() {
			msgs++
			entries += len(f.Msg.Entries)
		}
		res.maxMsgs, res.maxEntries = max(res.maxMsgs, msgs), max(res.maxEntries, entries)
		if ci := c.CommitIndex(); ci > lastCommit {
			lastCommit, lastProgress = ci, c.Now()
		}
		res.longestGap = max(res.longestGap, c.Now()-lastProgress)
		c.RunUntilTrue(time.Millisecond, done)
	}
	res.simulated, res.wall = c.Now()-start, time.Since(wallStart)
	for _, id := range c.IDs() {
		if got := stores[id].Len(); got != n {
			return res, fmt.Errorf("seed=%d: %s holds %d keys; want %d", seed, id, got, n)
		}
	}
	return res, c.Violation()
}

func TestSaturation(t *testing.T) {
	n := 100_000
	if testing.Short() || runtime.GOOS == "js" {
		n = 10_000 // the same test, smaller, under wasm
	}
	seed := uint64(1)
	if *seedFlag != 0 {
		seed = *seedFlag
	}
	r, err := saturate(seed, n, 1000)
	if err != nil {
		t.Fatal(err)
	}
	// Flow control: without it the leader would put its whole backlog (up to n entries) on
	// the wire, again on every heartbeat. With it, what is on the wire stays within a small
	// multiple of the window — MaxInflight messages of MaxEntriesPerMsg entries per follower —
	// whatever n is. The multiple covers duplicated and 75 ms-delayed messages that outlive the
	// window they were sent in.
	window := 4 * raft.DefaultMaxInflight * raft.DefaultMaxEntriesPerMsg
	if r.maxEntries > 10*window || r.maxMsgs > 500 {
		t.Errorf("up to %d messages carrying %d entries in flight; want at most 500 and %d (10 windows of 4 followers)", r.maxMsgs, r.maxEntries, 10*window)
	}
	// No stall: commits never pause longer than an election on a lossy network takes.
	if r.longestGap > 3*time.Second {
		t.Errorf("the commit index stood still for %v; want progress at least every 3s", r.longestGap)
	}
	t.Logf("%d commands: applied on all 5 nodes after %.2f simulated s, %.2f wall s (%.0f commits/wall s); at most %d messages, %d entries in flight; longest commit stall %v; %d resubmitted",
		r.commands, r.simulated.Seconds(), r.wall.Seconds(), float64(r.commands)/r.wall.Seconds(), r.maxMsgs, r.maxEntries, r.longestGap, r.resubmitted)
}

// BenchmarkSaturation reports commits per wall second while 100,000 commands are submitted as
// fast as the leader takes them, with faults (see saturate).
func BenchmarkSaturation(b *testing.B) {
	var commits float64
	var wall time.Duration
	for i := range b.N {
		r, err := saturate(uint64(i+1), 100_000, 1000)
		if err != nil {
			b.Fatal(err)
		}
		commits += float64(r.commands)
		wall += r.wall
	}
	b.ReportMetric(commits/wall.Seconds(), "commits/s")
}
