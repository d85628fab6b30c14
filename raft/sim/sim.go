// Package sim runs whole Raft clusters on a virtual clock, fully determined by a seed and a list
// of timed actions.
//
// A Cluster owns the clock, the network (an RPC proxy with per-link FIFO delivery, latency,
// drops, delays, duplication, reordering as a fault, and cuts of any shape) and each node's
// Storage, which survives crashes. It checks Raft's safety properties after every event and
// stops at the first violation.
package sim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"time"

	"raftlab/raft"
)

// Defaults of the RPC proxy, as in the reference article.
const (
	DefaultLatencyMin = 1 * time.Millisecond
	DefaultLatencyMax = 5 * time.Millisecond
	// In unreliable mode a message is dropped with probability UnreliableDrop, else delayed by
	// UnreliableDelay with probability UnreliableDelayRate.
	UnreliableDrop      = 0.10
	UnreliableDelayRate = 0.10
	UnreliableDelay     = 75 * time.Millisecond
	// ReorderDelayMax is the most extra delay Reorder adds to a message it takes out of order.
	ReorderDelayMax = 20 * time.Millisecond
)

// Options configures a Cluster. The zero value of each field is a sensible default.
type Options struct {
	// Nodes is the cluster size, 1–9, with ids n1…nN; or IDs names the members.
	Nodes int
	IDs   []string
	// Extra names servers started too, outside the first configuration: servers added to the
	// cluster in an earlier life of its storage (a reloaded page), which restore their
	// configuration from their own logs.
	Extra []string
	// Seed determines every random choice: election timeouts, latencies, drops.
	Seed uint64

	// LatencyMin and LatencyMax bound each message's delivery delay (default 1–5 ms). Links
	// are FIFO, as TCP and WebSocket connections are: a message that draws a shorter delay
	// than the one sent before it on the same link (same sender, same receiver) arrives just
	// after it instead.
	LatencyMin, LatencyMax time.Duration
	// Unreliable drops 10% of messages and delays 10% by 75 ms, as the reference's unreliable
	// RPC does: a delayed message leaves its link's order, and later ones overtake it.
	// UnreliableFromEnv turns it on when RAFT_UNRELIABLE_RPC is set, as the reference does.
	Unreliable        bool
	UnreliableFromEnv bool
	// Duplicate is the probability that a message is delivered twice.
	Duplicate float64
	// Reorder is the probability that a message leaves its link's order: it gets up to 20 ms
	// of extra delay, and later messages on the link may overtake it.
	Reorder float64
	// Unordered is the network of run version 1 (links before they were FIFO): every message
	// draws its own delay, so that any message may overtake earlier ones. Old share links
	// replay with it.
	Unordered bool

	// Raft is the template of every node's configuration (timeouts, flow control). ID,
	// Members, Storage and Seed are filled in per node.
	Raft raft.Config
	// Storage returns the storage of a node; it is called once per node and kept across
	// crashes. Default: a new raft.MapStorage.
	Storage func(id string) raft.Storage

	// OnEvent, if set, receives every trace event in order. An event's Msg points into the
	// simulator's network and is reused once the message has left it (unless KeepTrace is
	// set): copy what you keep of it. While the message travels the pointer identifies it.
	OnEvent func(raft.Event)
	// App returns the application of a node, at every start: a restarted node's application
	// starts empty and is rebuilt from the node's snapshot and log. Default: a running hash of
	// the applied entries.
	App func(id string) App
	// OnApply, if set, receives each committed entry as a node delivers it to its application
	// (after App's Apply). A restarted node delivers its committed entries again, from index 1
	// or from just after its snapshot.
	OnApply func(id string, e raft.CommitEntry)
	// OnSnapshot, if set, is told when a node's application is restored from a snapshot (one
	// the node installed from its leader, or restarted from).
	OnSnapshot func(id string, s *raft.Snapshot)
	// KeepTrace keeps the whole trace in memory for Trace.
	KeepTrace bool
	// Record keeps every action performed with Do (not scheduled ones), stamped with the time
	// it was done, for Recorded: with the options and seed, a complete description of the run.
	Record bool
}

// Flight is a message on the wire.
type Flight struct {
	Msg     raft.Message
	Sent    time.Duration
	Deliver time.Duration
	// Dropped messages are still travelling but will be lost on arrival (they were sent on a
	// link that is now cut, or to a node that crashed, or DropMessage dropped them).
	Dropped bool
	// Seq names the message while it travels (DropMessage); replaying a run gives each
	// message the same Seq.
	Seq uint64
}

// Cluster is a simulated cluster. It is not safe for concurrent use.
type Cluster struct {
	opts  Options
	ids   []string
	nodes []*simNode // in ids order; few enough that a scan beats a map
	now   time.Duration
	queue queue
	// actions holds the scheduled actions in time order, outside the heap: a long
	// schedule (a client load) would otherwise deepen every heap operation.
	actions []scheduled
	seq     uint64
	rng     *rand.Rand // the network's randomness

	unreliable bool
	latMin     time.Duration
	latMax     time.Duration
	cut        map[link]bool
	linkLat    map[link][2]time.Duration
	// lastAt is, per directed link (from.idx*MaxIDs+to.idx), the arrival time of the last message
	// sent on it in order: the next one arrives no earlier.
	lastAt []time.Duration

	initial   []string  // the first configuration's voters
	removals  []removal // removals proposed and not yet committed
	trace     []raft.Event
	free      []*item // delivered message items, reused unless the trace keeps their messages
	hash      traceHash
	check     *checker
	violation error
	events    int
	sent      uint64
	recorded  []Action
}

type link struct{ a, b string }

func mkLink(a, b string) link {
	if a > b {
		a, b = b, a
	}
	return link{a, b}
}

// lookup returns the member id, nil if there is none.
func (c *Cluster) lookup(id string) *simNode {
	if id == "" {
		return nil
	}
	// With the default ids n1…n9 (sorted), n<k> is at k-1: try there first.
	if k := int(id[len(id)-1]) - '1'; len(id) == 2 && k >= 0 && k < len(c.nodes) && c.nodes[k].id == id {
		return c.nodes[k]
	}
	for _, sn := range c.nodes {
		if sn.id == id {
			return sn
		}
	}
	return nil
}

type simNode struct {
	id       string
	idx      int        // the order in which it joined the cluster (for lastAt)
	node     *raft.Node // nil while crashed
	storage  raft.Storage
	timerAt  time.Duration
	timer    *item // the node's timer in the queue; index < 0 when not queued
	restarts uint64
	members  []string // the initial configuration it starts with (nil: the cluster's first)
	stopped  bool     // removed from the cluster and stopped; AddServer starts it again
	app      App
	last     raft.Status // status at the last crash, reported while dead
	check    *nodeCheck  // the checker's view of it
}

// New builds a cluster and starts every node at time 0, restoring any data its storage holds.
func New(o Options) (*Cluster, error) {
	ids := o.IDs
	if len(ids) == 0 {
		if o.Nodes < 1 || o.Nodes > 9 {
			return nil, fmt.Errorf("sim: %d nodes; want 1 to 9", o.Nodes)
		}
		for i := 1; i <= o.Nodes; i++ {
			ids = append(ids, fmt.Sprintf("n%d", i))
		}
	}
	ids = slices.Clone(ids)
	slices.Sort(ids)
	if o.LatencyMin == 0 && o.LatencyMax == 0 {
		o.LatencyMin, o.LatencyMax = DefaultLatencyMin, DefaultLatencyMax
	}
	if o.LatencyMin < 0 || o.LatencyMax < o.LatencyMin {
		return nil, fmt.Errorf("sim: latency range %v–%v is not a range", o.LatencyMin, o.LatencyMax)
	}
	if o.Storage == nil {
		o.Storage = func(string) raft.Storage { return raft.NewMapStorage() }
	}
	c := &Cluster{
		opts:       o,
		ids:        ids,
		rng:        rand.New(rand.NewPCG(o.Seed, 0x5eed_0f_4e7)),
		unreliable: o.Unreliable || (o.UnreliableFromEnv && os.Getenv("RAFT_UNRELIABLE_RPC") != ""),
		latMin:     o.LatencyMin,
		latMax:     o.LatencyMax,
		cut:        make(map[link]bool),
		linkLat:    make(map[link][2]time.Duration),
		lastAt:     make([]time.Duration, MaxIDs*MaxIDs),
		hash:       newTraceHash(),
	}
	c.initial = slices.Clone(ids)
	c.check = newChecker(c)
	for i, id := range ids {
		sn := &simNode{id: id, idx: i, storage: o.Storage(id), check: &nodeCheck{hashes: []uint64{0}}}
		c.nodes = append(c.nodes, sn)
		if err := c.start(sn); err != nil {
			return nil, err
		}
	}
	for _, id := range o.Extra {
		if c.lookup(id) != nil || len(c.nodes) >= MaxIDs {
			return nil, fmt.Errorf("sim: extra server %q: repeated, or more than %d servers", id, MaxIDs)
		}
		if err := c.start(c.newServer(id, c.initial)); err != nil {
			return nil, err
		}
	}
	return c, nil
}

func (c *Cluster) nodeConfig(sn *simNode) raft.Config {
	cfg := c.opts.Raft
	cfg.ID, cfg.Members, cfg.Storage = sn.id, c.initial, sn.storage
	if sn.members != nil {
		cfg.Members = sn.members
	}
	// Each node, and each lifetime of it, gets its own stream derived from the run's seed.
	cfg.Seed = c.opts.Seed*0x9E3779B97F4A7C15 + sn.restarts
	return cfg
}

func (c *Cluster) start(sn *simNode) error {
	n, err := raft.NewNode(c.nodeConfig(sn), c.now)
	if err != nil {
		return fmt.Errorf("sim: starting %s: %w", sn.id, err)
	}
	sn.node = n
	if c.opts.App != nil {
		sn.app = c.opts.App(sn.id)
	} else {
		sn.app = &digestApp{}
	}
	c.process(sn)
	return nil
}

// App returns a live node's application; nil if id is crashed or unknown.
func (c *Cluster) App(id string) App {
	if sn := c.lookup(id); sn != nil && sn.node != nil {
		return sn.app
	}
	return nil
}

// IDs returns the members' ids, sorted.
func (c *Cluster) IDs() []string { return slices.Clone(c.ids) }

// Seed returns the run's seed.
func (c *Cluster) Seed() uint64 { return c.opts.Seed }

// Now returns the simulated time.
func (c *Cluster) Now() time.Duration { return c.now }

// Node returns a live node's core, for tests that inspect it; nil if id is crashed or unknown.
func (c *Cluster) Node(id string) *raft.Node {
	if sn := c.lookup(id); sn != nil {
		return sn.node
	}
	return nil
}

// Storage returns a node's storage.
func (c *Cluster) Storage(id string) raft.Storage {
	if sn := c.lookup(id); sn != nil {
		return sn.storage
	}
	return nil
}

// Violation returns the first safety violation, or nil. Once set, the cluster stops.
func (c *Cluster) Violation() error { return c.violation }

// Next returns the time of the next pending event.
func (c *Cluster) Next() (time.Duration, bool) {
	at, _, ok := c.peek()
	if !ok || c.violation != nil {
		return 0, false
	}
	return at, true
}

// peek returns the time of the next thing to happen: the earliest event, or the earliest
// scheduled action when it is due strictly earlier (at equal times events come first).
func (c *Cluster) peek() (at time.Duration, action, ok bool) {
	if len(c.queue) > 0 {
		at, ok = c.queue[0].at, true
	}
	if len(c.actions) > 0 && (!ok || c.actions[0].at < at) {
		return c.actions[0].at, true, true
	}
	return at, false, ok
}

// Step processes the next pending event, moving the clock to it. It reports false when
// nothing is pending or the run stopped at a violation.
func (c *Cluster) Step() bool {
	if c.violation != nil {
		return false
	}
	at, action, ok := c.peek()
	if !ok {
		return false
	}
	if at > c.now {
		c.now = at
	}
	if action {
		a := c.actions[0].action
		c.actions[0] = scheduled{}
		c.actions = c.actions[1:]
		if err := c.do(*a); err != nil {
			c.record(raft.Event{Kind: raft.EvNote, Detail: fmt.Sprintf("action %s failed: %v", a, err)})
		}
		return true
	}
	switch it := c.queue.remove(0); it.kind {
	case itemTimer:
		sn := it.sn
		if sn.node == nil {
			return true
		}
		sn.timerAt = -1
		sn.node.Tick(c.now)
		c.process(sn)
	case itemDeliver:
		c.deliver(it)
		c.recycle(it)
	}
	if len(c.removals) > 0 {
		c.stopRemoved()
	}
	return true
}

// RunUntil processes every event up to time t and leaves the clock at t (or at the violation
// that stopped the run).
func (c *Cluster) RunUntil(t time.Duration) {
	for at, _, ok := c.peek(); ok && at <= t && c.violation == nil; at, _, ok = c.peek() {
		c.Step()
	}
	if c.violation == nil && t > c.now {
		c.now = t
	}
}

// RunFor runs for d of simulated time.
func (c *Cluster) RunFor(d time.Duration) { c.RunUntil(c.now + d) }

// RunUntilTrue runs until cond holds, checking after every event, for at most d. It reports
// whether cond held.
func (c *Cluster) RunUntilTrue(d time.Duration, cond func() bool) bool {
	end := c.now + d
	for !cond() {
		if at, _, ok := c.peek(); c.violation != nil || !ok || at > end {
			c.RunUntil(end)
			return cond()
		}
		c.Step()
	}
	return true
}

// process collects what a node produced and schedules its timer.
func (c *Cluster) process(sn *simNode) {
	rd := sn.node.Ready()
	for _, e := range rd.Events {
		c.record(e)
	}
	if rd.Snapshot != nil {
		if err := sn.app.Restore(rd.Snapshot); err != nil {
			c.fail(fmt.Errorf("snapshot: %s could not restore its state from the snapshot up to %d: %v", sn.id, rd.Snapshot.Index, err))
		}
		c.check.restoredApp(sn, rd.Snapshot)
		if c.opts.OnSnapshot != nil {
			c.opts.OnSnapshot(sn.id, rd.Snapshot)
		}
	}
	for _, e := range rd.Committed {
		c.check.applied(sn, e)
		sn.app.Apply(e)
		c.check.appliedState(sn, e.Index)
		if c.opts.OnApply != nil {
			c.opts.OnApply(sn.id, e)
		}
	}
	for i := range rd.Messages {
		c.sendMsg(&rd.Messages[i])
	}
	if sn.node.CompactDue() {
		data := sn.app.Snapshot()
		if err := sn.node.Compact(c.now, data); err != nil {
			c.fail(err)
		}
		c.check.compacted(sn, data)
		for _, e := range sn.node.Ready().Events {
			c.record(e)
		}
	}
	if d := sn.node.Deadline(); d != sn.timerAt {
		// Move the node's one timer item rather than queue a new one: a follower's timer is
		// reset by every AppendEntries, and stale items would double the queue's traffic. The
		// item takes a fresh sequence number, so it orders exactly as a newly queued one would.
		sn.timerAt = d
		if sn.timer == nil {
			sn.timer = &item{kind: itemTimer, sn: sn, index: -1}
		}
		sn.timer.at = max(d, c.now)
		if sn.timer.index >= 0 {
			c.seq++
			sn.timer.seq = c.seq
			c.queue.fix(sn.timer.index)
		} else {
			c.push(sn.timer)
		}
	}
}

// record appends an event to the trace and runs the safety checks on it.
func (c *Cluster) record(e raft.Event) { c.recordHashed(e, msgHash(e.Msg)) }

// recordHashed is record for an event whose message's hash (msgHash) is known.
func (c *Cluster) recordHashed(e raft.Event, mh uint64) {
	if c.violation != nil {
		return
	}
	if e.Time == 0 {
		e.Time = c.now
	}
	c.events++
	c.hash.add(&e, mh)
	if c.opts.KeepTrace {
		c.trace = append(c.trace, e)
	}
	if c.opts.OnEvent != nil {
		c.opts.OnEvent(e)
	}
	if err := c.check.event(&e); err != nil {
		c.violation = fmt.Errorf("sim: seed=%d: %w (at %v, event: %s)", c.opts.Seed, err, c.now, e)
		v := raft.Event{Time: c.now, Kind: raft.EvViolation, Node: e.Node, Detail: err.Error()}
		c.hash.add(&v, 0)
		if c.opts.KeepTrace {
			c.trace = append(c.trace, v)
		}
		if c.opts.OnEvent != nil {
			c.opts.OnEvent(v)
		}
	}
}

// fail records a violation found outside the trace's events, unless one was found before.
func (c *Cluster) fail(err error) {
	if c.violation == nil {
		c.violation = fmt.Errorf("sim: seed=%d: %w (at %v)", c.opts.Seed, err, c.now)
	}
}

func (c *Cluster) linkDown(from, to string) bool {
	return len(c.cut) > 0 && c.cut[mkLink(from, to)]
}

func (c *Cluster) sendMsg(m *raft.Message) {
	c.sent++
	// The events point at the first copy's queue item, which nothing changes while queued.
	first := c.newItem(m, msgHash(m))
	mm, mh := &first.msg, first.mh
	c.recordHashed(raft.Event{Kind: raft.EvSend, Node: m.From, Peer: m.To, Msg: mm}, mh)
	if c.linkDown(m.From, m.To) {
		c.recordHashed(raft.Event{Kind: raft.EvDrop, Node: m.From, Peer: m.To, Msg: mm, Detail: "link cut"}, mh)
		c.recycle(first)
		return
	}
	copies := 1
	if c.opts.Duplicate > 0 && c.rng.Float64() < c.opts.Duplicate {
		copies = 2
	}
	for i := range copies {
		d := c.latency(m.From, m.To)
		late := false
		if c.unreliable {
			switch r := c.rng.Float64(); {
			case r < UnreliableDrop:
				c.recordHashed(raft.Event{Kind: raft.EvDrop, Node: m.From, Peer: m.To, Msg: mm, Detail: "unreliable network"}, mh)
				if it := first; i == 0 && copies == 1 {
					c.recycle(it)
				}
				continue
			case r < UnreliableDrop+UnreliableDelayRate:
				d += UnreliableDelay
				late = true
			}
		}
		ordered := !c.opts.Unordered && !late
		if c.opts.Reorder > 0 && c.rng.Float64() < c.opts.Reorder {
			d += time.Duration(c.rng.Int64N(int64(ReorderDelayMax)))
			ordered = false
		}
		it := first
		if i > 0 {
			it = c.newItem(m, mh)
		}
		it.at = c.now + d
		if ordered {
			it.at = c.inOrder(m.From, m.To, it.at)
		}
		c.push(it)
	}
}

// newItem returns a queue item for a message sent now, reusing a delivered one when it can.
func (c *Cluster) newItem(m *raft.Message, mh uint64) *item {
	var it *item
	if n := len(c.free); n > 0 {
		it = c.free[n-1]
		c.free = c.free[:n-1]
	} else {
		it = &item{kind: itemDeliver} // node and action stay empty on message items
	}
	it.msg, it.mh, it.sent, it.index, it.lost = *m, mh, c.now, -1, false
	return it
}

// recycle takes back a message item that left the network. Events point at its message (for
// identity while it travels, and for OnEvent to read), so it is reused only when the trace does
// not keep them; OnEvent hooks must copy what they keep of Event.Msg.
func (c *Cluster) recycle(it *item) {
	if !c.opts.KeepTrace && len(c.free) < maxFree {
		it.msg.Entries = nil // let the entries go
		c.free = append(c.free, it)
	}
}

// maxFree bounds the reuse pool; a burst beyond it is left to the garbage collector.
const maxFree = 4096

// inOrder returns when a message sent in order on link from→to, due at at, arrives: no earlier
// than the message before it on the link (queued later at an equal time, it is delivered after).
func (c *Cluster) inOrder(from, to string, at time.Duration) time.Duration {
	f, t := c.lookup(from), c.lookup(to)
	if f == nil || t == nil {
		return at
	}
	last := &c.lastAt[f.idx*MaxIDs+t.idx]
	at = max(at, *last)
	*last = at
	return at
}

func (c *Cluster) latency(from, to string) time.Duration {
	lo, hi := c.latMin, c.latMax
	if len(c.linkLat) > 0 {
		if l, ok := c.linkLat[mkLink(from, to)]; ok {
			lo, hi = l[0], l[1]
		}
	}
	if hi <= lo {
		return lo
	}
	return lo + time.Duration(c.rng.Int64N(int64(hi-lo)+1))
}

func (c *Cluster) deliver(it *item) {
	m := &it.msg
	to := c.lookup(m.To)
	switch {
	case it.lost:
		c.recordHashed(raft.Event{Kind: raft.EvDrop, Node: m.From, Peer: m.To, Msg: m, Detail: "dropped by hand"}, it.mh)
	case to == nil:
		c.recordHashed(raft.Event{Kind: raft.EvDrop, Node: m.From, Peer: m.To, Msg: m, Detail: "unknown node"}, it.mh)
	case c.linkDown(m.From, m.To):
		c.recordHashed(raft.Event{Kind: raft.EvDrop, Node: m.From, Peer: m.To, Msg: m, Detail: "link cut"}, it.mh)
	case to.node == nil:
		c.recordHashed(raft.Event{Kind: raft.EvDrop, Node: m.From, Peer: m.To, Msg: m, Detail: m.To + " is down"}, it.mh)
	default:
		c.recordHashed(raft.Event{Kind: raft.EvDeliver, Node: m.To, Peer: m.From, Msg: m}, it.mh)
		to.node.Step(c.now, *m)
		c.process(to)
	}
}

// DropMessage makes the message on the wire named seq (Flight.Seq) lost on arrival, as a
// person dropping it by hand.
func (c *Cluster) DropMessage(seq uint64) error {
	for _, it := range c.queue {
		if it.kind == itemDeliver && it.seq == seq {
			if it.lost {
				return fmt.Errorf("message %d %s→%s is dropped already", seq, it.msg.From, it.msg.To)
			}
			it.lost = true
			c.record(raft.Event{Kind: raft.EvNote, Detail: fmt.Sprintf("%s %s→%s dropped by hand; lost on arrival", it.msg.Type, it.msg.From, it.msg.To)})
			return nil
		}
	}
	return fmt.Errorf("message %d is not on the wire (it arrived, or was lost)", seq)
}

// Flight returns the message on the wire named seq (Flight.Seq).
func (c *Cluster) Flight(seq uint64) (Flight, bool) {
	for _, it := range c.queue {
		if it.kind == itemDeliver && it.seq == seq {
			to := c.lookup(it.msg.To)
			return Flight{Msg: it.msg, Sent: it.sent, Deliver: it.at, Seq: it.seq,
				Dropped: it.lost || to == nil || to.node == nil || c.linkDown(it.msg.From, it.msg.To)}, true
		}
	}
	return Flight{}, false
}

// InFlight lists the messages on the wire, oldest first.
func (c *Cluster) InFlight() []Flight {
	// Messages are queued as they are sent, so queue order (seq) is sending order. Sorting the
	// seqs reuses the module's sort of uint64s: a sort of Flights would add ~20 KB to the page.
	bySeq := map[uint64]*item{}
	var seqs []uint64
	for _, it := range c.queue {
		if it.kind == itemDeliver {
			bySeq[it.seq] = it
			seqs = append(seqs, it.seq)
		}
	}
	slices.Sort(seqs)
	fs := make([]Flight, 0, len(seqs))
	for _, seq := range seqs {
		it := bySeq[seq]
		to := c.lookup(it.msg.To)
		fs = append(fs, Flight{Msg: it.msg, Sent: it.sent, Deliver: it.at, Seq: it.seq,
			Dropped: it.lost || to == nil || to.node == nil || c.linkDown(it.msg.From, it.msg.To)})
	}
	return fs
}

// Trace returns the events recorded so far (Options.KeepTrace must be set).
func (c *Cluster) Trace() []raft.Event { return c.trace }

// TraceHash returns a hash of every event so far: equal runs give equal hashes.
func (c *Cluster) TraceHash() string { return c.hash.String() }

// Events returns how many events have been recorded.
func (c *Cluster) Events() int { return c.events }

// MessagesSent returns how many messages nodes have sent.
func (c *Cluster) MessagesSent() uint64 { return c.sent }

// ---- status ------------------------------------------------------------------------------

// Status reports a node's state; a crashed node reports State raft.Dead with the term and log
// it had when it crashed.
func (c *Cluster) Status(id string) raft.Status {
	sn := c.lookup(id)
	if sn == nil {
		return raft.Status{ID: id, State: raft.Dead}
	}
	if sn.node == nil {
		return sn.last
	}
	return sn.node.Status()
}

// Statuses reports every node, in id order.
func (c *Cluster) Statuses() []raft.Status {
	st := make([]raft.Status, len(c.ids))
	for i, id := range c.ids {
		st[i] = c.Status(id)
	}
	return st
}

// Leader returns the live leader of the highest term, if any node is leader.
func (c *Cluster) Leader() (string, bool) {
	best, term := "", uint64(0)
	for _, sn := range c.nodes {
		if n := sn.node; n != nil {
			if state, t := n.Role(); state == raft.Leader && t >= term {
				best, term = sn.id, t
			}
		}
	}
	return best, best != ""
}

// Alive reports whether id is running.
func (c *Cluster) Alive(id string) bool {
	sn := c.lookup(id)
	return sn != nil && sn.node != nil
}

// Removed reports whether server id was removed from the cluster and stopped (it runs again
// only if a change adds it back).
func (c *Cluster) Removed(id string) bool {
	sn := c.lookup(id)
	return sn != nil && sn.stopped
}

// Elections returns how many times a node became leader.
func (c *Cluster) Elections() int { return c.check.elections }

// Snapshots returns the number of snapshots the nodes took of their own logs (log compaction).
func (c *Cluster) Snapshots() int { return c.check.snapshots }

// Changes returns the number of configuration changes committed.
func (c *Cluster) Changes() int { return c.check.changes }

// Installs returns the number of snapshots that nodes installed from their leaders.
func (c *Cluster) Installs() int { return c.check.installs }

// Committed returns the number of command entries committed cluster-wide (noops excluded).
func (c *Cluster) Committed() int { return c.check.committedCommands }

// CommitIndex returns the highest index committed anywhere.
func (c *Cluster) CommitIndex() uint64 { return uint64(len(c.check.committed) - 1) }

// ---- faults and client actions -------------------------------------------------------------

var errUnknownNode = errors.New("unknown node")

func (c *Cluster) get(id string) (*simNode, error) {
	if sn := c.lookup(id); sn != nil {
		return sn, nil
	}
	return nil, fmt.Errorf("sim: %w %q (members: %v)", errUnknownNode, id, c.ids)
}

// Crash stops a node: its volatile state is lost, its storage kept. Messages to it are lost.
func (c *Cluster) Crash(id string) error {
	sn, err := c.get(id)
	if err != nil || sn.node == nil {
		return err
	}
	sn.last = sn.node.Status()
	sn.last.State, sn.last.Progress, sn.last.ElectionDeadline = raft.Dead, nil, 0
	sn.node = nil
	if sn.timer != nil && sn.timer.index >= 0 {
		c.queue.remove(sn.timer.index)
	}
	sn.timerAt = -1
	c.record(raft.Event{Kind: raft.EvCrash, Node: id})
	return nil
}

// Restart starts a crashed node again from its storage.
func (c *Cluster) Restart(id string) error {
	sn, err := c.get(id)
	if err != nil || sn.node != nil || sn.stopped {
		return err // a removed server stays stopped until it is added again
	}
	sn.restarts++
	c.record(raft.Event{Kind: raft.EvRestart, Node: id})
	if err := c.start(sn); err != nil {
		// The node stays down; the driver shows the error (corrupt or foreign storage).
		c.record(raft.Event{Kind: raft.EvStorageError, Node: id, Detail: err.Error()})
		return err
	}
	return nil
}

// CrashAll crashes every node at once.
func (c *Cluster) CrashAll() {
	for _, id := range c.ids {
		c.Crash(id)
	}
}

// RestartAll restarts every crashed node.
func (c *Cluster) RestartAll() error {
	for _, id := range c.ids {
		if err := c.Restart(id); err != nil {
			return err
		}
	}
	return nil
}

// Cut cuts the link between a and b in both directions; messages on it are lost.
func (c *Cluster) Cut(a, b string) error {
	if _, err := c.get(a); err != nil {
		return err
	}
	if _, err := c.get(b); err != nil {
		return err
	}
	if a != b && !c.cut[mkLink(a, b)] {
		c.cut[mkLink(a, b)] = true
		c.record(raft.Event{Kind: raft.EvCut, Node: min(a, b), Peer: max(a, b)})
	}
	return nil
}

// Heal restores the link between a and b.
func (c *Cluster) Heal(a, b string) error {
	if _, err := c.get(a); err != nil {
		return err
	}
	if _, err := c.get(b); err != nil {
		return err
	}
	if c.cut[mkLink(a, b)] {
		delete(c.cut, mkLink(a, b))
		c.record(raft.Event{Kind: raft.EvHeal, Node: min(a, b), Peer: max(a, b)})
	}
	return nil
}

// Disconnect cuts every link of id.
func (c *Cluster) Disconnect(id string) error {
	if _, err := c.get(id); err != nil {
		return err
	}
	c.record(raft.Event{Kind: raft.EvDisconnect, Node: id})
	for _, p := range c.ids {
		if p != id {
			c.cut[mkLink(id, p)] = true
		}
	}
	return nil
}

// Reconnect restores every link of id (links to peers that are themselves disconnected stay
// down only if cut separately afterwards).
func (c *Cluster) Reconnect(id string) error {
	if _, err := c.get(id); err != nil {
		return err
	}
	c.record(raft.Event{Kind: raft.EvReconnect, Node: id})
	for _, p := range c.ids {
		delete(c.cut, mkLink(id, p))
	}
	return nil
}

// Connected reports whether the link a–b is up.
func (c *Cluster) Connected(a, b string) bool { return !c.linkDown(a, b) }

// Partition splits the cluster into groups: links inside a group are up, links across groups
// are cut. Nodes not named form one more group.
func (c *Cluster) Partition(groups ...[]string) error {
	group := make(map[string]int, len(c.ids))
	for i, g := range groups {
		for _, id := range g {
			if _, err := c.get(id); err != nil {
				return err
			}
			if _, dup := group[id]; dup {
				return fmt.Errorf("sim: %s is in two groups", id)
			}
			group[id] = i + 1
		}
	}
	for i, a := range c.ids {
		for _, b := range c.ids[i+1:] {
			if group[a] == group[b] {
				c.Heal(a, b)
			} else {
				c.Cut(a, b)
			}
		}
	}
	return nil
}

// HealAll restores every link.
func (c *Cluster) HealAll() {
	for i, a := range c.ids {
		for _, b := range c.ids[i+1:] {
			c.Heal(a, b)
		}
	}
}

// SetUnreliable switches the unreliable network on or off.
func (c *Cluster) SetUnreliable(on bool) {
	if on != c.unreliable {
		c.unreliable = on
		c.record(raft.Event{Kind: raft.EvNote, Detail: fmt.Sprintf("unreliable network %s", onOff(on))})
	}
}

// SetReorder sets the probability that a message leaves its link's order (Options.Reorder).
func (c *Cluster) SetReorder(rate float64) error {
	if rate < 0 || rate > 1 {
		return fmt.Errorf("sim: reorder rate %v outside 0–1", rate)
	}
	if (rate > 0) != (c.opts.Reorder > 0) {
		c.record(raft.Event{Kind: raft.EvNote, Detail: fmt.Sprintf("reordering %s", onOff(rate > 0))})
	}
	c.opts.Reorder = rate
	return nil
}

// Reorder returns the probability that a message leaves its link's order.
func (c *Cluster) Reorder() float64 { return c.opts.Reorder }

// Unordered reports whether links are not FIFO at all (Options.Unordered, a run of version 1).
func (c *Cluster) Unordered() bool { return c.opts.Unordered }

// Unreliable reports whether the unreliable network is on.
func (c *Cluster) Unreliable() bool { return c.unreliable }

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// SetLatency sets the default per-message delay range.
func (c *Cluster) SetLatency(lo, hi time.Duration) error {
	if lo < 0 || hi < lo {
		return fmt.Errorf("sim: latency range %v–%v is not a range", lo, hi)
	}
	c.latMin, c.latMax = lo, hi
	return nil
}

// SetLinkLatency sets the delay range of one link (both directions).
func (c *Cluster) SetLinkLatency(a, b string, lo, hi time.Duration) error {
	if lo < 0 || hi < lo {
		return fmt.Errorf("sim: latency range %v–%v is not a range", lo, hi)
	}
	if _, err := c.get(a); err != nil {
		return err
	}
	if _, err := c.get(b); err != nil {
		return err
	}
	c.linkLat[mkLink(a, b)] = [2]time.Duration{lo, hi}
	return nil
}

// Timeout forces id's election timer to fire now.
func (c *Cluster) Timeout(id string) error {
	sn, err := c.get(id)
	if err != nil {
		return err
	}
	if sn.node == nil {
		return fmt.Errorf("sim: %s is down", id)
	}
	sn.node.Campaign(c.now)
	c.process(sn)
	return nil
}

// Transfer asks the current leader to hand its leadership to node to.
func (c *Cluster) Transfer(to string) error {
	if _, err := c.get(to); err != nil {
		return err
	}
	leader, ok := c.Leader()
	if !ok {
		return errors.New("sim: no leader to hand over")
	}
	sn := c.lookup(leader)
	err := sn.node.TransferLeadership(c.now, to)
	c.process(sn)
	return err
}

// Submit hands a command to node id, which must be the live leader.
func (c *Cluster) Submit(id string, cmd []byte) (uint64, error) {
	first, _, err := c.SubmitBatch(id, [][]byte{cmd})
	return first, err
}

// SubmitBatch hands several commands to node id at once: one round of AppendEntries.
func (c *Cluster) SubmitBatch(id string, cmds [][]byte) (first, last uint64, err error) {
	sn, err := c.get(id)
	if err != nil {
		return 0, 0, err
	}
	if sn.node == nil {
		return 0, 0, fmt.Errorf("sim: %s is down", id)
	}
	first, last, _, err = sn.node.SubmitBatch(c.now, cmds)
	if err != nil {
		c.record(raft.Event{Kind: raft.EvSubmit, Node: id, Detail: err.Error()})
	} else {
		c.record(raft.Event{Kind: raft.EvSubmit, Node: id, Index: first, Last: last})
	}
	c.process(sn)
	return first, last, err
}

// SubmitToLeader submits to the current leader, if there is one.
func (c *Cluster) SubmitToLeader(cmd []byte) (string, uint64, error) {
	id, ok := c.Leader()
	if !ok {
		return "", 0, errors.New("sim: no leader")
	}
	idx, err := c.Submit(id, cmd)
	return id, idx, err
}

// ---- event queue -------------------------------------------------------------------------

type itemKind uint8

const (
	itemTimer itemKind = iota
	itemDeliver
)

// item is an event in the queue: a node's timer or a message on the wire.
type item struct {
	at    time.Duration
	seq   uint64
	kind  itemKind
	index int      // position in the queue, -1 once popped
	sn    *simNode // timer: whose
	msg   raft.Message
	mh    uint64 // msgHash(&msg)
	sent  time.Duration
	lost  bool // dropped by DropMessage: lost on arrival
}

// scheduled is an action waiting for its time.
type scheduled struct {
	at     time.Duration
	action *Action
}

// queue is a binary min-heap of items by (at, seq), typed so that the simulator's hottest
// loop makes no interface calls; each item knows its index for moves and removals.
type queue []*item

func before(a, b *item) bool { return a.at < b.at || (a.at == b.at && a.seq < b.seq) }

func (q queue) up(j int) {
	it := q[j]
	for j > 0 {
		p := (j - 1) / 2
		if !before(it, q[p]) {
			break
		}
		q[j] = q[p]
		q[j].index = j
		j = p
	}
	q[j], it.index = it, j
}

// down moves q[j] towards the leaves; it reports whether the item moved.
func (q queue) down(j int) bool {
	it, j0, n := q[j], j, len(q)
	for {
		c := 2*j + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && before(q[r], q[c]) {
			c = r
		}
		if !before(q[c], it) {
			break
		}
		q[j] = q[c]
		q[j].index = j
		j = c
	}
	q[j], it.index = it, j
	return j > j0
}

func (q *queue) push(it *item) {
	*q = append(*q, it)
	q.up(len(*q) - 1)
}

// remove takes out the item at index i and returns it.
func (q *queue) remove(i int) *item {
	old := *q
	n := len(old) - 1
	it := old[i]
	if i != n {
		old[i] = old[n]
		old[i].index = i
	}
	old[n] = nil
	*q = old[:n]
	if i != n && !q.down(i) {
		q.up(i)
	}
	it.index = -1
	return it
}

// fix restores the order after the item at index i changed its time.
func (q queue) fix(i int) {
	if !q.down(i) {
		q.up(i)
	}
}

func (c *Cluster) push(it *item) {
	c.seq++
	it.seq = c.seq
	c.queue.push(it)
}
