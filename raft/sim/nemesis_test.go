// The nemesis: a fault schedule that watches the cluster and aims at what breaks Raft's rules,
// where RandomFaults draws faults blind. It produces what blind schedules rarely do: stale
// leaders that keep taking commands in a minority, followers whose logs fill with uncommitted
// entries of old terms, slow links whose votes and replies arrive a term late, partitions that
// rotate which nodes are together, elections forced on several nodes at once, crashes in the
// middle of elections, and leadership transfers.

package sim

import (
	"cmp"
	"fmt"
	"math/rand/v2"
	"runtime"
	"testing"
	"time"

	"raftlab/raft"
)

// nemesis drives one run's faults from its own seeded source; everything it looks at is the
// simulator's state, so a seed replays exactly.
type nemesis struct {
	c   *Cluster
	rng *rand.Rand
	ids []string
	cmd int
	// slow holds the links given a long latency, to be restored.
	slow []link
}

// nemesisRun runs one seed: dur of simulated time under the nemesis, then the faults heal and
// a leader must commit a fresh command on every node, as in randomRun.
func nemesisRun(seed uint64, dur time.Duration, bugs raft.Bugs) error {
	nodes := []int{3, 3, 5, 5, 7}[seed%5]
	applied := make(map[string]map[string]bool)
	var storageErr error
	c, err := New(Options{
		Nodes: nodes, Seed: seed,
		Raft: raft.Config{Bugs: bugs, PreVote: seed%3 == 0, CheckQuorum: seed%4 == 1},
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
	nm := &nemesis{c: c, rng: rand.New(rand.NewPCG(seed, 0x4e3e5)), ids: c.IDs()}
	violation := func() error { return cmp.Or(c.Violation(), storageErr) }
	for c.Now() < dur {
		nm.act()
		nm.submit()
		c.RunFor(time.Duration(10+nm.rng.IntN(190)) * time.Millisecond)
		if err := violation(); err != nil {
			return err
		}
	}
	for _, l := range nm.slow {
		c.SetLinkLatency(l.a, l.b, DefaultLatencyMin, DefaultLatencyMax)
	}
	c.Schedule(Healing(c.Now())...)
	probe := []byte("liveness-probe")
	everywhere := func() bool {
		for _, id := range c.IDs() {
			if !applied[id][string(probe)] {
				return false
			}
		}
		return true
	}
	for deadline := c.Now() + 20*time.Second; !everywhere(); {
		if c.Now() >= deadline {
			return fmt.Errorf("%w: seed=%d: a command submitted after healing was not applied on every node within 20s", errLiveness, seed)
		}
		if leader, ok := c.Leader(); ok {
			c.Submit(leader, probe)
		}
		c.RunUntilTrue(time.Second, everywhere)
		if err := violation(); err != nil {
			return err
		}
	}
	return violation()
}

func (nm *nemesis) pick() string { return nm.ids[nm.rng.IntN(len(nm.ids))] }

// leaders returns the live nodes that believe they lead, stale ones included.
func (nm *nemesis) leaders() []string {
	var ls []string
	for _, id := range nm.ids {
		if n := nm.c.Node(id); n != nil {
			if st, _ := n.Role(); st == raft.Leader {
				ls = append(ls, id)
			}
		}
	}
	return ls
}

// submit hands a few commands to every node that believes it leads: a stale leader in a
// minority keeps appending entries that will never commit.
func (nm *nemesis) submit() {
	for _, id := range nm.leaders() {
		for range nm.rng.IntN(4) {
			nm.cmd++
			nm.c.Submit(id, fmt.Appendf(nil, "c%d", nm.cmd))
		}
	}
}

// act performs one fault, chosen with the cluster's state in view.
func (nm *nemesis) act() {
	c := nm.c
	switch r := nm.rng.IntN(100); {
	case r < 18: // cut a leader off with a minority, which it goes on leading
		ls := nm.leaders()
		if len(ls) == 0 {
			return
		}
		leader := ls[nm.rng.IntN(len(ls))]
		minority := []string{leader}
		for _, id := range nm.rng.Perm(len(nm.ids)) {
			if len(minority) >= (len(nm.ids)-1)/2 {
				break
			}
			if nm.ids[id] != leader && nm.rng.IntN(2) == 0 {
				minority = append(minority, nm.ids[id])
			}
		}
		c.Partition(minority)
	case r < 30: // a rotating partition: two or three groups drawn anew
		groups := make([][]string, 2+nm.rng.IntN(2))
		for _, id := range nm.ids {
			g := nm.rng.IntN(len(groups))
			groups[g] = append(groups[g], id)
		}
		c.Partition(groups...)
	case r < 40:
		c.HealAll()
	case r < 52: // a crash, often of a leader, restarted soon: mid-election, mid-replication
		id := nm.pick()
		if ls := nm.leaders(); len(ls) > 0 && nm.rng.IntN(2) == 0 {
			id = ls[nm.rng.IntN(len(ls))]
		}
		if c.Alive(id) {
			c.Crash(id)
			c.Schedule(Action{At: c.Now() + time.Duration(nm.rng.IntN(600))*time.Millisecond, Kind: ActRestart, Node: id})
		}
	case r < 54:
		c.CrashAll()
		c.Schedule(Action{At: c.Now() + time.Duration(20+nm.rng.IntN(300))*time.Millisecond, Kind: ActRestartAll})
	case r < 66: // a slow link: what it carries arrives an election or more later
		a, b := nm.pick(), nm.pick()
		if a == b {
			return
		}
		lo := time.Duration(50+nm.rng.IntN(300)) * time.Millisecond
		c.SetLinkLatency(a, b, lo, lo+time.Duration(nm.rng.IntN(200))*time.Millisecond)
		nm.slow = append(nm.slow, mkLink(a, b))
	case r < 72: // links back to normal speed
		for _, l := range nm.slow {
			c.SetLinkLatency(l.a, l.b, DefaultLatencyMin, DefaultLatencyMax)
		}
		nm.slow = nm.slow[:0]
	case r < 82: // elections forced on one to three nodes at once
		for range 1 + nm.rng.IntN(3) {
			if id := nm.pick(); c.Alive(id) {
				c.Timeout(id)
			}
		}
	case r < 88:
		c.Transfer(nm.pick())
	case r < 94:
		c.SetUnreliable(!c.Unreliable())
	default:
		c.Do(Action{Kind: ActSetDuplicate, Rate: []float64{0, 0.1, 0.3}[nm.rng.IntN(3)]})
	}
}

// TestNemesis runs the nemesis over many seeds; like TestRandomized, safety after every event,
// then liveness once the faults heal.
func TestNemesis(t *testing.T) {
	seeds := 300
	if runtime.GOOS == "js" {
		seeds = 20
	}
	sweep(t, seeds, func(s uint64) error { return nemesisRun(s, 10*time.Second, raft.Bugs{}) })
}
