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
// simulator's state, so a seed replays exactly. Each seed draws its own mix (swarm testing): a
// weight for each move, some of them zero, how often it acts, and how eagerly it reacts to
// elections and votes, so that across seeds calm runs with one kind of fault alternate with
// storms of every kind.
type nemesis struct {
	c   *Cluster
	rng *rand.Rand
	ids []string
	cmd int
	// slow holds the links given a long latency, to be restored.
	slow []link
	// healed: the faults are over and the liveness check runs.
	healed bool

	weights           [nMoves]int
	total             int
	gapMin, gapSpan   int // milliseconds between moves
	crashLeader       int // 1 in crashLeader new leaders crash or are cut off soon (0: never)
	strikeWithin      int // milliseconds: how soon
	crashVoter        int // 1 in crashVoter votes are followed by the voter's crash and restart
	batchMax, perStep int // commands per batch, per leader and step
	cfg               raft.Config
	churn             int // steps left in a churn burst
	led               map[string]bool
	comeback          int // 1 in comeback deposed leaders campaign again soon (0: never)
}

type move int

const (
	mvIsolateLeader move = iota // a leader cut off with a minority, which it goes on leading
	mvPartition                 // two or three groups drawn anew: partitions rotate
	mvHeal
	mvCutLink  // one link cut: partitions that are not transitive (a and b both reach c)
	mvCrash    // a node, often a leader, crashed and restarted soon
	mvCrashAll // every node, restarted soon
	mvSlowLink // a link whose messages arrive an election or more later
	mvFastLinks
	mvTimeouts // elections forced on one to three nodes at once
	mvTransfer
	mvUnreliable
	mvDuplicate
	mvBatch // a batch of commands to every node that believes it leads
	mvChurn // a burst of leader changes a few milliseconds apart: partial replication in many terms
	nMoves
)

func newNemesis(seed uint64) *nemesis {
	nm := &nemesis{rng: rand.New(rand.NewPCG(seed, 0x4e3e5))}
	for nm.total == 0 {
		for i := range nm.weights {
			nm.weights[i] = nm.rng.IntN(4)
			nm.total += nm.weights[i]
		}
	}
	nm.gapMin, nm.gapSpan = 5+nm.rng.IntN(50), 50+nm.rng.IntN(350)
	nm.crashLeader = []int{0, 3, 8}[nm.rng.IntN(3)]
	nm.crashVoter = []int{0, 2, 6}[nm.rng.IntN(3)]
	nm.led = map[string]bool{}
	nm.comeback = []int{0, 1, 3}[nm.rng.IntN(3)]
	nm.strikeWithin = []int{4, 8, 15, 40}[nm.rng.IntN(4)]
	nm.batchMax = []int{5, 50, 300}[nm.rng.IntN(3)]
	nm.perStep = []int{1, 3, 6}[nm.rng.IntN(3)]
	return nm
}

// nemesisRun runs one seed: dur of simulated time under the nemesis, then the faults heal and
// a leader must commit a fresh command on every node, as in randomRun. The seed also picks the
// cluster's size and options, how many entries an AppendEntries carries (one at a time makes
// partial replication, the ground of Figure 8, common), and how often nodes compact their logs.
func nemesisRun(seed uint64, dur time.Duration, bugs raft.Bugs) error {
	nm := newNemesis(seed)
	if err := nm.run(seed, dur, bugs); err != nil {
		return fmt.Errorf("%w\n(nemesis: %s)", err, nm)
	}
	return nil
}

func (nm *nemesis) String() string {
	return fmt.Sprintf("%d nodes, MaxEntriesPerMsg %d, MaxInflight %d, CompactThreshold %d, PreVote %t, CheckQuorum %t, moves %v, every %d–%d ms, strikes new leaders 1 in %d within %d ms, voters 1 in %d, batches ≤ %d, ≤ %d commands a step",
		len(nm.ids), nm.cfg.MaxEntriesPerMsg, nm.cfg.MaxInflight, nm.cfg.CompactThreshold, nm.cfg.PreVote, nm.cfg.CheckQuorum,
		nm.weights, nm.gapMin, nm.gapMin+nm.gapSpan, nm.crashLeader, nm.strikeWithin, nm.crashVoter, nm.batchMax, nm.perStep)
}

func (nm *nemesis) run(seed uint64, dur time.Duration, bugs raft.Bugs) error {
	nm.cfg = raft.Config{Bugs: bugs, PreVote: nm.rng.IntN(3) == 0, CheckQuorum: nm.rng.IntN(4) == 0,
		MaxEntriesPerMsg: []int{1, 2, 4, 256}[nm.rng.IntN(4)], MaxInflight: 1 + nm.rng.IntN(4),
		CompactThreshold: []int{0, 0, 3, 16, 64}[nm.rng.IntN(5)], SnapshotChunkSize: []int{4, 0}[nm.rng.IntN(2)]}
	applied := make(map[string]map[string]bool)
	var storageErr error
	c, err := New(Options{
		Nodes: []int{3, 3, 5, 5, 7}[nm.rng.IntN(5)], Seed: seed,
		Raft: nm.cfg,
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
			nm.react(e)
		},
	})
	if err != nil {
		return err
	}
	nm.c, nm.ids = c, c.IDs()
	storm := func() bool { return c.Events() > maxNemesisEvents }
	violation := func() error {
		if err := cmp.Or(c.Violation(), storageErr); err != nil {
			return err
		}
		if storm() {
			return fmt.Errorf("%w: seed=%d: a message storm: %d events by %v", errLiveness, seed, c.Events(), c.Now())
		}
		return nil
	}
	for c.Now() < dur {
		gap := time.Duration(nm.gapMin+nm.rng.IntN(nm.gapSpan)) * time.Millisecond
		if nm.churn > 0 {
			nm.churn--
			nm.churnStep()
			gap = time.Duration(2+nm.rng.IntN(40)) * time.Millisecond
		} else {
			nm.act()
		}
		nm.submit()
		c.RunUntilTrue(gap, storm)
		if err := violation(); err != nil {
			return err
		}
	}
	// No more strikes; let the ones already scheduled (crashes and restarts, cuts) happen,
	// then heal everything.
	nm.healed = true
	c.RunUntilTrue(time.Second, storm)
	if err := violation(); err != nil {
		return err
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
		c.RunUntilTrue(time.Second, func() bool { return everywhere() || storm() })
		if err := violation(); err != nil {
			return err
		}
	}
	return violation()
}

// maxNemesisEvents bounds a run's events: the most in 400 seeds of the core as it should be is
// about 34,000. A core that answers every refusal with the same request at once, for one,
// floods the network without end (and the run's memory with it).
const maxNemesisEvents = 1_000_000

// react strikes at the moments that matter, which moves made every few tens of milliseconds
// hit only by chance: a new leader crashes before its no-op reaches a majority (Figure 8); a
// voter crashes and restarts right after casting its vote, while other candidates' requests
// are still on the wire.
func (nm *nemesis) react(e raft.Event) {
	c := nm.c
	if c == nil || nm.healed {
		return
	}
	switch {
	case e.Kind == raft.EvState && e.State == raft.Leader && nm.crashLeader > 0 && nm.rng.IntN(nm.strikeOdds(e.Node)) == 0:
		// Within a few round trips the new leader crashes, or is cut off alone, still leading.
		at := c.Now() + time.Duration(nm.rng.IntN(nm.strikeWithin))*time.Millisecond
		if nm.rng.IntN(2) == 0 {
			c.Schedule(Action{At: at, Kind: ActCrash, Node: e.Node},
				Action{At: at + time.Duration(10+nm.rng.IntN(400))*time.Millisecond, Kind: ActRestart, Node: e.Node})
		} else {
			c.Schedule(Action{At: at, Kind: ActPartition, Groups: [][]string{{e.Node}}})
		}
	case e.Kind == raft.EvState && e.State == raft.Leader:
		nm.led[e.Node] = true
	case e.Kind == raft.EvState && nm.led[e.Node] && nm.comeback > 0 && nm.rng.IntN(nm.comeback) == 0:
		// A deposed leader campaigns again soon, while what it sent as leader, and the answers,
		// may still be on the wire.
		delete(nm.led, e.Node)
		c.Schedule(Action{At: c.Now() + time.Duration(20+nm.rng.IntN(300))*time.Millisecond, Kind: ActTimeout, Node: e.Node})
	case e.Kind == raft.EvVote && e.Peer != e.Node && nm.crashVoter > 0 && nm.rng.IntN(nm.crashVoter) == 0:
		at := c.Now() + time.Duration(nm.rng.IntN(3))*time.Millisecond
		c.Schedule(Action{At: at, Kind: ActCrash, Node: e.Node},
			Action{At: at + time.Duration(1+nm.rng.IntN(40))*time.Millisecond, Kind: ActRestart, Node: e.Node})
	}
}

// churnStep is one step of a churn burst: the leader of the highest term takes a few commands
// and is cut off alone or with one follower, or crashes, as they leave; another node is made to
// campaign; now and then everything heals. Each leader's entries reach only some followers,
// and the next leader finds logs of many terms, none of them on a majority.
func (nm *nemesis) churnStep() {
	c := nm.c
	if l, ok := c.Leader(); ok {
		cmds := make([][]byte, nm.rng.IntN(8))
		for i := range cmds {
			nm.cmd++
			cmds[i] = fmt.Appendf(nil, "c%d", nm.cmd)
		}
		if len(cmds) > 0 {
			c.SubmitBatch(l, cmds)
		}
		at := c.Now() + time.Duration(nm.rng.IntN(6))*time.Millisecond
		switch nm.rng.IntN(3) {
		case 0:
			c.Schedule(Action{At: at, Kind: ActPartition, Groups: [][]string{{l}}})
		case 1:
			c.Schedule(Action{At: at, Kind: ActPartition, Groups: [][]string{{l, nm.pick()}}})
		default:
			c.Schedule(Action{At: at, Kind: ActCrash, Node: l},
				Action{At: at + time.Duration(nm.rng.IntN(200))*time.Millisecond, Kind: ActRestart, Node: l})
		}
	}
	switch r := nm.rng.IntN(3); {
	case r == 0:
		c.HealAll()
	default:
		if id := nm.pick(); c.Alive(id) {
			c.Timeout(id)
		}
	}
}

// strikeOdds is 1 in how many new leaders the nemesis strikes: half of those that hold
// uncommitted entries of earlier terms, which they are about to copy to their followers (the
// ground of Figure 8), and 1 in crashLeader of the others.
func (nm *nemesis) strikeOdds(id string) int {
	if st := nm.c.Status(id); st.LastIndex > st.CommitIndex+1 {
		return 2
	}
	return nm.crashLeader
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
		for range nm.rng.IntN(nm.perStep + 1) {
			nm.cmd++
			nm.c.Submit(id, fmt.Appendf(nil, "c%d", nm.cmd))
		}
	}
}

// act makes one move, drawn by the seed's weights, with the cluster's state in view.
func (nm *nemesis) act() {
	c := nm.c
	r := nm.rng.IntN(nm.total)
	mv := move(0)
	for r >= nm.weights[mv] {
		r -= nm.weights[mv]
		mv++
	}
	switch mv {
	case mvIsolateLeader:
		ls := nm.leaders()
		if len(ls) == 0 {
			return
		}
		leader := ls[nm.rng.IntN(len(ls))]
		minority := []string{leader}
		for _, i := range nm.rng.Perm(len(nm.ids)) {
			if len(minority) >= (len(nm.ids)-1)/2 {
				break
			}
			if nm.ids[i] != leader && nm.rng.IntN(2) == 0 {
				minority = append(minority, nm.ids[i])
			}
		}
		c.Partition(minority)
	case mvPartition:
		groups := make([][]string, 2+nm.rng.IntN(2))
		for _, id := range nm.ids {
			g := nm.rng.IntN(len(groups))
			groups[g] = append(groups[g], id)
		}
		c.Partition(groups...)
	case mvHeal:
		c.HealAll()
	case mvCutLink:
		if a, b := nm.pick(), nm.pick(); a != b {
			c.Cut(a, b)
		}
	case mvCrash:
		id := nm.pick()
		if ls := nm.leaders(); len(ls) > 0 && nm.rng.IntN(2) == 0 {
			id = ls[nm.rng.IntN(len(ls))]
		}
		if c.Alive(id) {
			c.Crash(id)
			c.Schedule(Action{At: c.Now() + time.Duration(nm.rng.IntN(600))*time.Millisecond, Kind: ActRestart, Node: id})
		}
	case mvCrashAll:
		c.CrashAll()
		c.Schedule(Action{At: c.Now() + time.Duration(20+nm.rng.IntN(300))*time.Millisecond, Kind: ActRestartAll})
	case mvSlowLink:
		a, b := nm.pick(), nm.pick()
		if a == b {
			return
		}
		lo := time.Duration(50+nm.rng.IntN(300)) * time.Millisecond
		c.SetLinkLatency(a, b, lo, lo+time.Duration(nm.rng.IntN(200))*time.Millisecond)
		nm.slow = append(nm.slow, mkLink(a, b))
	case mvFastLinks:
		for _, l := range nm.slow {
			c.SetLinkLatency(l.a, l.b, DefaultLatencyMin, DefaultLatencyMax)
		}
		nm.slow = nm.slow[:0]
	case mvTimeouts:
		for range 1 + nm.rng.IntN(3) {
			if id := nm.pick(); c.Alive(id) {
				c.Timeout(id)
			}
		}
	case mvTransfer:
		c.Transfer(nm.pick())
	case mvUnreliable:
		c.SetUnreliable(!c.Unreliable())
	case mvDuplicate:
		c.Do(Action{Kind: ActSetDuplicate, Rate: []float64{0, 0.1, 0.3}[nm.rng.IntN(3)]})
	case mvChurn:
		nm.churn = 3 + nm.rng.IntN(6)
	case mvBatch:
		for _, id := range nm.leaders() {
			cmds := make([][]byte, 1+nm.rng.IntN(nm.batchMax))
			for i := range cmds {
				nm.cmd++
				cmds[i] = fmt.Appendf(nil, "c%d", nm.cmd)
			}
			c.SubmitBatch(id, cmds)
		}
	}
}

// TestNemesis runs the nemesis over many seeds; like TestRandomized, safety after every event,
// then liveness once the faults heal.
func TestNemesis(t *testing.T) {
	seeds := 3000
	if runtime.GOOS == "js" {
		seeds = 20
	}
	sweep(t, seeds, func(s uint64) error { return nemesisRun(s, 10*time.Second, raft.Bugs{}) })
}
