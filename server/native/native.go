// Package native runs a raft.Node on the wall clock: one goroutine owns the node, ticks it at
// its deadline, steps it with arriving messages, batches submitted commands, sends what it
// asks to send and applies what it commits.
package native

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"raftlab/raft"
	"raftlab/raft/driver"
)

// Config configures a Node.
type Config struct {
	// Raft configures the core; ID, Members and Storage are required. Time in the core is the
	// time since Start. A MaxInflight of 0 is DefaultMaxInflight here, not the core's default,
	// unless the storage's writes can fail (a file's, boltstore.Store).
	Raft raft.Config
	// Send is called on the node's goroutine with the messages of each step, after everything
	// they depend on is in storage. It must not block for long: queue, or drop (Raft retries).
	Send func(msgs []raft.Message)
	// Apply, if set, applies each committed entry, in index order, on the node's goroutine; what
	// it returns is the answer that Submit gives for that entry.
	Apply func(e raft.CommitEntry) []byte
	// Snapshot and Restore make the application's state a snapshot for log compaction (Raft
	// paper §7); they are required when Raft.CompactThreshold is not 0. Snapshot encodes the
	// state after the last entry applied: the node calls it when the threshold says to compact
	// and hands the bytes to the core; a leader holds off while a follower close behind (less
	// than the threshold) has not been sent the entries it would compact, up to twice the
	// threshold (see compactNow). Restore replaces the state with a snapshot's, before
	// the entries that follow it are applied: the one the node restarts from, or one its
	// leader sent. Both run on the node's goroutine; an error from Restore stops the node.
	Snapshot func() []byte
	Restore  func(s *raft.Snapshot) error
	// OnEvent, if set, is called on the node's goroutine with every trace event.
	OnEvent func(e raft.Event)
	// InboxSize bounds the queue of message batches waiting to be stepped; a batch that finds
	// it full is dropped. Default 1024.
	InboxSize int
	// GroupWrites gathers the core's storage writes of each turn of the node's loop into one
	// SetBatch, written before anything of that turn is sent (see groupStore): for stores
	// where each write is a synced transaction (bbolt), a turn that steps several messages
	// costs one sync instead of one each. It applies to stores that implement raft.BatchStorage
	// and raft.Deleter; others are used as they are.
	GroupWrites bool
	// Logf, if set, logs the node's leader and term changes and its election timeouts, one
	// line each, with the reason (see watch.go). Nothing per message.
	Logf func(format string, args ...any)
}

// Result is the outcome of a committed command.
type Result struct {
	Index uint64
	Term  uint64
	Value []byte // what Config.Apply returned
}

// Status is the node's state as the core reports it, plus the last index applied.
type Status struct {
	raft.Status
	Applied uint64
}

// ErrStopped is returned by Submit on a stopped node, and by Submit calls pending when it stops.
var ErrStopped = errors.New("native: node stopped")

// ErrNotSubmitted is returned (wrapping the context's error) by Submit when ctx ended before
// the node took the command: it is in no log.
var ErrNotSubmitted = errors.New("native: the command did not reach the node")

// ErrReplaced is returned by Submit when the entry was overwritten by another leader's entry
// (it wraps driver.ErrReplaced).
var ErrReplaced = fmt.Errorf("native: %w", driver.ErrReplaced)

// ErrInSnapshot is returned by Submit when, after a leader change, the new leader's snapshot
// replaced the entry: it may or may not have been committed, and its answer is not known (it
// wraps driver.ErrInSnapshot).
var ErrInSnapshot = fmt.Errorf("native: %w", driver.ErrInSnapshot)

// RefusedError is ProposeChange's error when the node refused the change at once: it is in
// no log. Err is the core's reason (a *raft.NotLeaderError, raft.ErrChangeInFlight,
// raft.ErrNoCommitInTerm, already a member, ...).
type RefusedError struct{ Err error }

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

// DefaultMaxInflight is the AppendEntries with entries a native leader has in flight to one
// follower (raft.Config.MaxInflight) unless its configuration says otherwise. The core's default,
// 6, is tuned for the simulator's and the page's links of milliseconds; between native members
// a round trip is tens of microseconds on loopback, and with fewer messages in flight each
// carries more entries (up to MaxEntriesPerMsg, 256): 64 concurrent submitters on 3 members in
// one process took about 10 instead of 13 µs of CPU per commit (3: 11 µs), at the same
// throughput and sequential latency (server bench, 8 runs of each side by side at load 6–12).
// A store on disk keeps the core's 6: a round trip there includes the followers' synced writes,
// and with 2 in flight the bbolt bench was no cheaper and its throughput no better.
const DefaultMaxInflight = 2

// maxBatch caps how many inputs one turn of the loop takes before it hands out Ready.
const maxBatch = 1024

// Node is a raft.Node driven in real time by its own goroutine. Its methods are safe for
// concurrent use.
type Node struct {
	cfg   Config
	rn    *raft.Node
	epoch time.Time

	inbox  chan []raft.Message
	props  chan *proposal
	status chan chan Status
	stop   chan struct{}
	done   chan struct{}
	err    error // set before done is closed

	inspect chan func(*raft.Node) // Inspect's functions, run by the goroutine

	// Owned by the goroutine.
	d     driver.Node // the Ready's handling and the proposals waiting, by log index
	group *groupStore // the storage, when GroupWrites wraps it
	se    storageErr  // the storage, when its writes can fail
	watch watch       // what the log lines and the timeout diagnostics need
	// A leader that held off compacting looks again once it has applied up to here.
	compactCheck uint64

	stats stats // read by Stats from any goroutine
}

type proposal struct {
	cmd []byte
	// A membership change instead of a command (op not 0), or a leadership transfer to id
	// (transfer set).
	op       raft.ChangeOp
	id       string
	transfer bool
	reply    chan submitReply // buffered: the goroutine never blocks on it
	err      error            // why enqueue gave up (set before the node could see p)
	// state: 0 queued, 1 taken by the goroutine, 2 withdrawn by Submit (its ctx ended first).
	state atomic.Int32
}

type submitReply struct {
	res Result
	err error
}

// storageErr is implemented by stores whose writes can fail (boltstore.Store).
type storageErr interface{ Err() error }

// Start restores the node from its storage and starts its goroutine, which runs until Stop is
// called or a storage write fails.
func Start(cfg Config) (*Node, error) {
	if cfg.Send == nil {
		return nil, errors.New("native: config: nil Send")
	}
	if cfg.InboxSize <= 0 {
		cfg.InboxSize = 1024
	}
	if cfg.Raft.CompactThreshold != 0 && (cfg.Snapshot == nil || cfg.Restore == nil) {
		return nil, errors.New("native: config: a compaction threshold needs Snapshot and Restore")
	}
	if _, disk := cfg.Raft.Storage.(storageErr); cfg.Raft.MaxInflight == 0 && !disk {
		cfg.Raft.MaxInflight = DefaultMaxInflight
	}
	var group *groupStore
	if bs, ok := groupable(cfg.Raft.Storage); ok && cfg.GroupWrites {
		group = &groupStore{s: bs}
		cfg.Raft.Storage = group
	}
	rn, err := raft.NewNode(cfg.Raft, 0)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:     cfg,
		rn:      rn,
		epoch:   time.Now(),
		inbox:   make(chan []raft.Message, cfg.InboxSize),
		props:   make(chan *proposal, maxBatch),
		status:  make(chan chan Status),
		inspect: make(chan func(*raft.Node)),
		stop:    make(chan struct{}),
		done:    make(chan struct{}),
		group:   group,
	}
	// The node's goroutine hands out each Ready through n.d (handleReady) with these hooks.
	n.d = driver.Node{Raft: rn, Hooks: driver.Hooks{Send: cfg.Send, Events: n.events, Restore: cfg.Restore}}
	n.d.Tracker.Answer = n.answer
	if cfg.Apply != nil {
		n.d.Hooks.Apply = func(e raft.CommitEntry, _ bool) ([]byte, error) { return cfg.Apply(e), nil }
	}
	if cfg.Snapshot != nil {
		n.d.Hooks.Snapshot, n.d.Hooks.CompactNow = cfg.Snapshot, n.compactNow
	}
	if se, ok := cfg.Raft.Storage.(storageErr); ok {
		n.se, n.d.Hooks.StorageErr = se, n.storageErr
	}
	if group != nil {
		// Its AppendEntries leave before the turn's grouped write, the rest after it.
		n.d.Hooks.Held = func() bool { return len(group.pending) > 0 }
		n.d.Hooks.Flush = group.flush
	}
	// Stats reads the restored state until the first step publishes its own.
	st := rn.Status()
	n.stats.term.Store(st.Term)
	n.stats.commit.Store(st.CommitIndex)
	n.stats.last.Store(st.LastIndex)
	n.watch.term = st.Term
	go n.run()
	return n, nil
}

// ID returns the member id.
func (n *Node) ID() string { return n.rn.ID() }

// Deliver queues messages for the node without blocking. It reports false when the inbox is
// full or the node has stopped and the messages were dropped.
func (n *Node) Deliver(msgs []raft.Message) bool {
	select {
	case <-n.done:
		return false
	default:
	}
	select {
	case n.inbox <- msgs:
		return true
	default:
		return false
	}
}

// Submit proposes cmd and waits until it is committed and applied, returning its index, term
// and what Apply answered. On a node that does not lead it fails at once with a
// *raft.NotLeaderError. It also fails when ctx ends, the node stops, or leadership is lost
// before the entry commits (ErrReplaced).
func (n *Node) Submit(ctx context.Context, cmd []byte) (Result, error) {
	return n.propose(ctx, &proposal{cmd: cmd, reply: make(chan submitReply, 1)})
}

func (n *Node) propose(ctx context.Context, p *proposal) (Result, error) {
	select {
	case n.props <- p: // the common case, without the select below
	default:
		n.enqueue(ctx, p)
	}
	if p.err != nil {
		return Result{}, p.err
	}
	select {
	case r := <-p.reply:
		return r.res, r.err
	case <-n.done:
		return Result{}, n.stopErr()
	case <-ctx.Done():
		if p.state.CompareAndSwap(0, 2) {
			// Still queued: the goroutine will skip it, so it is in no log.
			return Result{}, fmt.Errorf("%w: %w", ErrNotSubmitted, ctx.Err())
		}
		return Result{}, ctx.Err()
	}
}

// enqueue waits for room in the queue of proposals; p.err says why it gave up.
func (n *Node) enqueue(ctx context.Context, p *proposal) {
	select {
	case n.props <- p:
	case <-n.done:
		p.err = fmt.Errorf("%w: %w", ErrNotSubmitted, n.stopErr())
	case <-ctx.Done():
		p.err = fmt.Errorf("%w: %w", ErrNotSubmitted, ctx.Err())
	}
}

// ProposeChange asks the node, which must lead, to add (as a learner) or remove one server,
// and waits until the new configuration is committed. The result's Value is that
// configuration, as a raft.EntryConfig entry's command (raft.ParseConfiguration reads it). It
// fails at once on a node that does not lead (*raft.NotLeaderError), while another change is
// in flight (raft.ErrChangeInFlight), and for a change the configuration refuses; later as
// Submit does.
func (n *Node) ProposeChange(ctx context.Context, op raft.ChangeOp, id string) (Result, error) {
	return n.propose(ctx, &proposal{op: op, id: id, reply: make(chan submitReply, 1)})
}

// TransferLeadership asks the node, which must lead, to hand its leadership to the voter to
// (Raft thesis §3.10; raft.Node.TransferLeadership), and returns once the handover has begun,
// with the leader's term in the result: to starts an election as soon as its log matches the
// leader's, and the leader takes commands again if to has not taken over within an election
// timeout. It fails at once on a node that does not lead (*raft.NotLeaderError), and with a
// *RefusedError when to is not a voter, is this node, or another transfer is in flight
// (raft.ErrTransferring).
func (n *Node) TransferLeadership(ctx context.Context, to string) (Result, error) {
	return n.propose(ctx, &proposal{transfer: true, id: to, reply: make(chan submitReply, 1)})
}

// Status reports the node's state; a stopped node reports State raft.Dead.
func (n *Node) Status() Status {
	c := make(chan Status, 1)
	select {
	case n.status <- c:
		return <-c
	case <-n.done:
		return Status{Status: raft.Status{ID: n.ID(), State: raft.Dead}}
	}
}

// Inspect runs f on the node's goroutine, between steps, and returns once it has run; f may
// read the core (Status, Entry) and whatever else only that goroutine touches (the state
// machine Apply writes), and must not change them. It returns false, without running f, when
// the node has stopped.
func (n *Node) Inspect(f func(rn *raft.Node)) bool {
	done := make(chan struct{})
	select {
	case n.inspect <- func(rn *raft.Node) { f(rn); close(done) }:
		<-done
		return true
	case <-n.done:
		return false
	}
}

// Stop stops the goroutine and waits for it to exit. It returns the error that stopped the node
// earlier, if one did. The caller closes the storage afterwards.
func (n *Node) Stop() error {
	select {
	case <-n.stop:
	default:
		close(n.stop)
	}
	<-n.done
	return n.err
}

// Done is closed when the goroutine has exited.
func (n *Node) Done() <-chan struct{} { return n.done }

// Err returns what stopped the node (nil while it runs, and after a plain Stop).
func (n *Node) Err() error {
	select {
	case <-n.done:
		return n.err
	default:
		return nil
	}
}

func (n *Node) stopErr() error {
	if n.err != nil {
		return fmt.Errorf("%w: %v", ErrStopped, n.err)
	}
	return ErrStopped
}

func (n *Node) now() time.Duration { return time.Since(n.epoch) }

// run is the node's goroutine. It exits when Stop is called or a storage write fails; either
// way every pending Submit is answered.
func (n *Node) run() {
	defer close(n.done)
	timer := time.NewTimer(max(n.rn.Deadline()-n.now(), 0))
	defer timer.Stop()
	var batch [][]byte
	var waiting []*proposal
	for {
		if !n.handleReady() {
			return
		}
		timer.Reset(max(n.rn.Deadline()-n.now(), 0))
		select {
		case <-n.stop:
			if n.group != nil {
				n.group.flush() // what the last turn's compaction wrote
			}
			n.failPending(ErrStopped)
			return
		case <-timer.C:
			n.tick()
		case msgs := <-n.inbox:
			n.step(msgs)
		case p := <-n.props:
			if p.state.CompareAndSwap(0, 1) {
				if p.op != 0 || p.transfer {
					n.change(p)
				} else {
					batch, waiting = append(batch[:0], p.cmd), append(waiting[:0], p)
				}
			}
		case c := <-n.status:
			c <- Status{Status: n.rn.Status(), Applied: n.d.Applied}
			continue
		case f := <-n.inspect:
			f(n.rn)
			continue
		}
		// Take what else has arrived, up to a bound, so that one Ready carries it all.
		// One channel at a time: a receive that finds its channel empty takes no lock, where a
		// select over both locks both (it was a tenth of the node's CPU under load).
		for i := 0; i < maxBatch; {
			took := false
			select {
			case msgs := <-n.inbox:
				n.step(msgs)
				i, took = i+1, true
			default:
			}
			select {
			case p := <-n.props:
				if p.state.CompareAndSwap(0, 1) {
					if p.op != 0 || p.transfer {
						n.change(p)
					} else {
						batch, waiting = append(batch, p.cmd), append(waiting, p)
					}
				}
				i, took = i+1, true
			default:
			}
			if !took {
				break
			}
		}
		if len(waiting) > 0 {
			n.submit(batch, waiting)
			clear(batch)
			clear(waiting)
			batch, waiting = batch[:0], waiting[:0]
		}
	}
}

// tick fires the node's timer. Messages already waiting in the inbox are stepped first: they
// arrived before the timer was handled, and when the goroutine could not run for a while (a
// long storage write, CPU starvation) the leader's AppendEntries may be among them. Ticking
// first would start an election against a leader that is alive, which is what restarted,
// catching-up followers did under load (see the README's "Elections under load").
func (n *Node) tick() {
	now := n.now()
	late := max(now-n.rn.Deadline(), 0)
	n.stats.timerLate.Observe(late)
	waiting := 0
	for ; waiting < maxBatch; waiting++ {
		select {
		case msgs := <-n.inbox:
			n.step(msgs)
			continue
		default:
		}
		break
	}
	n.watch.tickLate, n.watch.tickQueued = late, waiting
	n.rn.Tick(n.now())
}

// step steps a batch of messages, each at the time it is stepped: a step that writes to
// storage can take milliseconds, and a timer reset against an earlier time would expire early.
func (n *Node) step(msgs []raft.Message) {
	for i := range msgs {
		m := &msgs[i]
		_, term := n.rn.Role()
		now := n.now()
		n.rn.Step(now, *m)
		n.watch.stepped(now, m, term, n.rn)
	}
}

// change proposes a membership change; its reply comes when the configuration commits. A
// transfer's comes at once: whether the handover began.
func (n *Node) change(p *proposal) {
	if p.transfer {
		err := n.rn.TransferLeadership(n.now(), p.id)
		var nl *raft.NotLeaderError
		if err != nil && !errors.As(err, &nl) {
			err = &RefusedError{err}
		}
		_, term := n.rn.Role()
		p.reply <- submitReply{res: Result{Term: term}, err: err}
		return
	}
	index, err := n.rn.ProposeChange(n.now(), p.op, p.id)
	if err != nil {
		p.reply <- submitReply{err: &RefusedError{err}}
		return
	}
	_, term := n.rn.Role()
	n.d.Tracker.Add(index, term, true, p)
}

func (n *Node) submit(cmds [][]byte, ps []*proposal) {
	first, _, term, err := n.rn.SubmitBatch(n.now(), cmds)
	if err != nil {
		for _, p := range ps {
			p.reply <- submitReply{err: err}
		}
		return
	}
	for i, p := range ps {
		n.d.Tracker.Add(first+uint64(i), term, false, p)
	}
}

// storageErr reports a failed write of a store whose writes can fail; the event log says so.
// Nothing produced since may leave, as it could depend on the failed write.
func (n *Node) storageErr() error {
	err := n.se.Err()
	if err != nil && n.cfg.OnEvent != nil {
		n.cfg.OnEvent(raft.Event{Time: n.now(), Kind: raft.EvStorageError, Node: n.ID(), Detail: err.Error()})
	}
	return err
}

// events follows and reports a Ready's events, then publishes the node's state for Stats.
func (n *Node) events(evs []raft.Event) {
	for i := range evs {
		n.observe(&evs[i])
		if n.cfg.OnEvent != nil {
			n.cfg.OnEvent(evs[i])
		}
	}
	n.publish()
}

// answer gives a proposal its outcome.
func (n *Node) answer(ref any, o driver.Outcome) {
	p := ref.(*proposal)
	switch o.Err {
	case nil:
		p.reply <- submitReply{res: Result{Index: o.Index, Term: o.Term, Value: o.Value}}
	case driver.ErrReplaced:
		p.reply <- submitReply{err: ErrReplaced}
	case driver.ErrInSnapshot:
		p.reply <- submitReply{err: ErrInSnapshot}
	default:
		p.reply <- submitReply{err: o.Err}
	}
}

// handleReady sends, applies and reports what the node produced (driver.Node.Handle). It
// returns false when a storage write or a snapshot's restore failed and the node must stop.
func (n *Node) handleReady() bool {
	if err := n.d.Handle(n.now()); err != nil {
		n.err = fmt.Errorf("node %s: %w", n.ID(), err)
		n.failPending(n.err)
		return false
	}
	if a := n.d.Applied; a != n.stats.applied.Load() {
		n.stats.applied.Store(a)
		if n.stats.commit.Load() < a { // a snapshot's index, ahead of the commit index published
			n.stats.commit.Store(a)
		}
	}
	return true
}

// compactNow reports whether the node, due to compact, should do so now. A leader holds off
// while a follower that is close behind, less than the threshold, has not yet been sent every
// entry the snapshot would replace: compacting them away would make it catch up by snapshot
// (the whole application state, decoded and checked) where a few entries were enough. Under
// load that was most compactions: with two members in step, the third's messages in flight
// often end just behind the commit index. A follower further behind, being sent a snapshot or
// probing is not waited for, and past twice the threshold the leader compacts anyway.
func (n *Node) compactNow() bool {
	if st, _ := n.rn.Role(); st != raft.Leader {
		return true
	}
	applied := n.d.Applied
	if applied < n.compactCheck {
		return false
	}
	s := n.rn.Status()
	th := uint64(n.cfg.Raft.CompactThreshold)
	if applied-s.SnapshotIndex > 2*th {
		return true
	}
	for _, pr := range s.Progress {
		if pr.Next <= applied && pr.Match+th > applied && pr.Snapshot == 0 && !pr.Probing {
			n.compactCheck = applied + max(th/16, 1)
			return false
		}
	}
	return true
}

func (n *Node) failPending(err error) {
	if !errors.Is(err, ErrStopped) {
		err = fmt.Errorf("%w: %v", ErrStopped, err)
	}
	n.d.Tracker.Fail(err)
}
