// The Raft state machine: elections, replication, commitment (Figure 2 of the Raft paper).

package raft

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Node is one Raft server. It is not safe for concurrent use: a driver calls it from one
// goroutine (or one JavaScript task) at a time, passing the current time to each call, and
// collects the results with Ready.
type Node struct {
	cfg     Config
	id      string
	storage Storage
	rng     *rand.Rand

	// Persistent state on all servers (written to storage before it is relied on).
	term     uint64
	votedFor string
	log      raftLog
	// The snapshot that replaces the log up to log.offset (§7; nil while nothing is
	// compacted), and the storage slot that holds its state.
	snap     *Snapshot
	snapSlot int

	// Configuration (§6): the one in use, the latest in the log (set by the entry at
	// confIndex); the configuration entries of the log; and the configuration before them
	// (the snapshot's, or Config.Members), set at baseConfIndex.
	conf          Configuration
	confIndex     uint64
	confs         []confEntry
	baseConf      Configuration
	baseConfIndex uint64

	// Volatile state on all servers.
	state   State
	leader  string
	commit  uint64 // highest index known to be committed
	applied uint64 // highest index handed to the application through Ready
	// A snapshot for the application that Ready has not handed out yet (restored or installed).
	readySnap *Snapshot
	// The snapshot a follower is receiving, chunk by chunk, from its leader.
	recv *Snapshot

	// Timers, in driver time.
	now               time.Duration
	electionDeadline  time.Duration // follower and candidate
	heartbeatDeadline time.Duration // leader

	// Volatile state on candidates (and pre-candidates: the pre-votes).
	votes map[string]bool
	// When the node last heard from the leader of its term: it refuses pre-votes for an
	// election timeout after that, since the cluster needs no new leader.
	leaderContact time.Duration

	// Volatile state on leaders (reinitialized after election).
	prs  []*progress // per peer, in peers() order
	lent lentEntries // the entries last copied into a message
	// A leadership transfer under way: the chosen peer and when the leader gives up on it.
	transferTo       string
	transferDeadline time.Duration
	// A joint-consensus change under way (Config.JointConsensus): the voters it leads to, while
	// their new servers catch up as learners; nil otherwise.
	target []string
	// CheckQuorum: when the leader next checks that it heard from a majority.
	quorumCheckAt time.Duration

	// Output gathered during calls, handed out by Ready.
	msgs      []Message
	events    []Event
	committed []CommitEntry
	pending   []KV // storage writes of the current call, flushed before it returns

	// Scratch space reused across calls, so that the hot paths do not allocate.
	peerIDs  []string // voters and learners other than this node, sorted; nil until first needed
	matchBuf []uint64 // maybeCommit's match indexes
}

// lentEntries is a copy of the log's entries lo … hi-1, valid while the log has not been
// truncated since.
type lentEntries struct {
	lo, hi, truncations uint64
	es                  []Entry
}

type progress struct {
	Progress
	probeSent bool // in probe state, an AppendEntries is out; wait for its answer or a heartbeat
	// sent holds the last index of each AppendEntries with entries not yet answered, in
	// ascending order (Status reports its length as Inflight). A reply freeing everything up to
	// Match frees exactly the messages it answers, however replies are lost, duplicated or
	// reordered.
	sent       []uint64
	toldCommit uint64 // the highest commit index the follower can have learned from us
	// Loss detection while replicating: the Match seen at the last heartbeat, and for how many
	// heartbeats in a row entries have been out without Match moving.
	heartbeatMatch uint64
	stalled        int
	heard          bool // CheckQuorum: the follower answered since the last check
	// Sending a snapshot (Progress.Snapshot != 0): a chunk is out and not yet answered; and the
	// bytes acknowledged at the last heartbeat, for loss detection as with entries.
	snapOut           bool
	heartbeatSnapSent uint64
	// snap is the snapshot being sent (Progress.Snapshot is its index): kept until the
	// follower has it, even when the leader compacts again meanwhile, so that a transfer that
	// takes longer than the leader takes to compact still ends.
	snap *Snapshot
}

// forgetSent treats every message in flight as lost.
func (pr *progress) forgetSent() { pr.sent = pr.sent[:0] }

// NewNode starts a node at time now, restoring its persistent state from cfg.Storage when the
// storage has data. Missing or corrupt stored data gives a *StorageError naming the key.
func NewNode(cfg Config, now time.Duration) (*Node, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	p, err := restore(cfg.Storage)
	if err != nil {
		return nil, err
	}
	n := &Node{
		cfg:      cfg,
		id:       cfg.ID,
		baseConf: Configuration{Voters: cfg.Members},
		storage:  cfg.Storage,
		rng:      rand.New(rand.NewPCG(cfg.Seed, hashString(cfg.ID))),
		term:     p.term,
		votedFor: p.votedFor,
		state:    Follower,
		now:      now,
	}
	if p.snap != nil {
		n.snap, n.snapSlot = p.snap, p.slot
		n.log.reset(p.snap.Index, p.snap.Term)
		// A snapshot holds only committed entries, and its state is the application's: hand
		// it over first, then what commits after it.
		n.commit, n.applied, n.readySnap = p.snap.Index, p.snap.Index, p.snap
		n.baseConf, n.baseConfIndex = p.snap.Configuration(), p.snap.Index
	} else {
		n.snapSlot = 1 // the first snapshot goes to slot 0
	}
	n.log.append(p.log)
	if p.snap != nil {
		// An installation cut short: finish discarding the conflicting log before cleaning up,
		// so that a crash during the clean-up cannot bring part of it back.
		if p.storedLast > n.log.lastIndex() {
			n.persist(KeyLogLast, uintBytes(n.log.lastIndex()))
		}
		if p.snapConflict {
			n.clearSnapEntry(p.snap)
		}
	}
	n.noteConfigs(n.log.offset+1, p.log)
	n.latestConf()
	for _, k := range p.garbage {
		n.persistDelete(k)
	}
	if p.fresh {
		// Write a complete initial state, so that every later state on disk has all its keys
		// and a missing key always means damage.
		n.persist(KeyCurrentTerm, []byte("0"))
		n.persist(KeyVotedFor, []byte{})
		n.persist(KeyLogLast, []byte("0"))
		n.flush()
	}
	n.flush()
	n.emit(Event{Kind: EvRestore, Term: n.term, Index: n.log.lastIndex(), Last: n.log.offset})
	n.resetElectionTimer()
	return n, nil
}

// ID returns the node's id.
func (n *Node) ID() string { return n.id }

// Members returns the voters and learners of the configuration in use.
func (n *Node) Members() []string { return n.conf.Members() }

// Deadline returns the time at which the node next needs Tick: its election timeout, or for a
// leader its next heartbeat. Drivers sleep until then (or until a message arrives).
func (n *Node) Deadline() time.Duration {
	if n.state == Leader {
		return n.heartbeatDeadline
	}
	return n.electionDeadline
}

// Tick advances the node's clock to now and fires the timer if its deadline has passed.
func (n *Node) Tick(now time.Duration) {
	n.advance(now)
	switch {
	case n.state == Leader && now >= n.heartbeatDeadline:
		n.heartbeatDeadline = now + n.cfg.HeartbeatInterval
		n.detectLoss()
		n.broadcastAppend(true)
		n.checkTransfer()
		n.checkQuorum()
	case n.state != Leader && now >= n.electionDeadline && !n.mayCampaign():
		n.resetElectionTimer() // a learner, or a server outside the configuration, never campaigns
	case n.state != Leader && now >= n.electionDeadline:
		n.emit(Event{Kind: EvTimeout, Term: n.term + 1})
		n.startElection()
	}
	n.flush()
}

// startElection campaigns, or with PreVote first asks whether it could win.
func (n *Node) startElection() {
	if n.cfg.PreVote && n.state != Leader {
		n.preCampaign()
	} else {
		n.campaign()
	}
}

// Campaign makes the node time out at once and start an election, as if its election timer
// had fired (the page's "force a timeout"); with PreVote, a follower asks for pre-votes first.
// A leader steps down into the new term.
func (n *Node) Campaign(now time.Duration) {
	n.advance(now)
	if !n.mayCampaign() {
		return // not a voter: it cannot be elected
	}
	n.emit(Event{Kind: EvTimeout, Term: n.term + 1})
	n.startElection()
	n.flush()
}

// Submit appends a command to the leader's log, persists it and sends it to the followers at
// once. It returns the entry's index and term. On a node that is not the leader it returns a
// *NotLeaderError naming the leader, if known.
func (n *Node) Submit(now time.Duration, command []byte) (index, term uint64, err error) {
	first, _, term, err := n.SubmitBatch(now, [][]byte{command})
	return first, term, err
}

// SubmitBatch appends several commands at once and sends one round of AppendEntries for all of
// them. It returns the indexes of the first and last.
func (n *Node) SubmitBatch(now time.Duration, commands [][]byte) (first, last, term uint64, err error) {
	n.advance(now)
	if n.state != Leader {
		return 0, 0, 0, &NotLeaderError{ID: n.id, Leader: n.leader, Term: n.term}
	}
	if n.transferTo != "" {
		return 0, 0, 0, fmt.Errorf("%w to %s", ErrTransferring, n.transferTo)
	}
	if len(commands) == 0 {
		return 0, 0, n.term, nil
	}
	entries := make([]Entry, len(commands))
	for i, c := range commands {
		entries[i] = Entry{Term: n.term, Type: EntryCommand, Command: c}
	}
	first = n.log.lastIndex() + 1
	n.appendEntries(first, entries)
	last = n.log.lastIndex()
	if !n.maybeCommit() && !n.cfg.WaitForHeartbeat {
		n.broadcastAppend(false)
	}
	n.flush()
	return first, last, n.term, nil
}

// Step processes a message received at time now.
func (n *Node) Step(now time.Duration, m Message) {
	n.advance(now)
	n.step(&m)
	n.flush()
}

// Ready hands over, and forgets, what the node wants its driver to do: messages to send,
// entries committed since the last call (in index order), and trace events.
//
// The slices are the node's own buffers, lent until the next call of a method of the node: a
// driver sends, applies or copies what they hold before it calls the node again. (Every value
// they hold can be kept: a message's Entries and a command's bytes are never reused.)
func (n *Node) Ready() Ready {
	rd := Ready{Messages: n.msgs, Events: n.events, Snapshot: n.readySnap}
	n.msgs, n.events, n.readySnap = n.msgs[:0], n.events[:0], nil
	if n.applied < n.commit {
		rd.Committed = n.committed[:0]
		for i := n.applied + 1; i <= n.commit; i++ {
			e := n.log.entry(i)
			rd.Committed = append(rd.Committed, CommitEntry{Index: i, Term: e.Term, Type: e.Type, Command: e.Command})
		}
		n.committed = rd.Committed
		n.applied = n.commit
	}
	return rd
}

// CompactDue reports whether more than Config.CompactThreshold entries have been handed to the
// application since the last snapshot: the driver should then take a snapshot of its
// application and pass it to Compact.
func (n *Node) CompactDue() bool {
	return n.cfg.CompactThreshold > 0 && n.applied-n.log.offset > uint64(n.cfg.CompactThreshold)
}

// Compact replaces the log up to the last entry that Ready handed to the application with a
// snapshot whose state is data: the application's state after applying that entry (§7). The
// node keeps data, persists it, and sends it to followers that need the entries it replaces.
func (n *Node) Compact(now time.Duration, data []byte) error {
	n.advance(now)
	index := n.applied
	if n.cfg.Bugs.CompactUnapplied {
		index = n.log.lastIndex()
		n.applied, n.commit = index, max(n.commit, index)
	}
	if index <= n.log.offset {
		return fmt.Errorf("raft: %s has applied nothing since its snapshot at %d", n.id, n.log.offset)
	}
	c := n.confAt(index)
	s := Snapshot{Index: index, Term: n.log.term(index), Members: c.Voters, Learners: c.Learners, Outgoing: c.Outgoing, Data: data}
	n.saveSnapshot(&s, false)
	n.emit(Event{Kind: EvSnapshot, Index: s.Index, Term: s.Term, Last: uint64(len(data))})
	n.flush()
	return nil
}

// saveSnapshot makes s the node's snapshot and drops the log entries it covers: all of them
// with discard, else those up to s.Index, which the log must hold with s.Term. The writes go
// in an order that a crash after any one of them restores to the state before or after: the
// state into the slot not in use, then the KeySnapshot switch, then the clean-up, whose
// leftovers restore finds (see findGarbage). A discarded log's entries above the snapshot
// stay readable until log/last comes down, but restore sees that the entry at the snapshot's
// index conflicts with it and ignores them.
func (n *Node) saveSnapshot(s *Snapshot, discard bool) {
	oldOffset, oldLast, oldSlot := n.log.offset, n.log.lastIndex(), n.snapSlot
	n.snapSlot = 1 - n.snapSlot
	n.persist(KeySnapshotData(n.snapSlot), s.Data)
	n.persist(KeySnapshot, encodeSnapshotMeta(s.Index, s.Term, n.snapSlot, s.Configuration()))
	hadSnap := n.snap != nil
	n.snap = s
	if discard {
		n.log.reset(s.Index, s.Term)
		n.confs = nil
	} else {
		n.log.compact(s.Index)
		n.confs = slices.DeleteFunc(n.confs, func(c confEntry) bool { return c.index <= s.Index })
	}
	n.baseConf, n.baseConfIndex = s.Configuration(), s.Index
	n.latestConf()
	_, deletes := n.storage.(Deleter)
	if deletes && hadSnap {
		n.persistDelete(KeySnapshotData(oldSlot))
	}
	// Restore looks for leftovers below min(snapshot index, log/last) downwards and above the
	// log upwards; the deletions leave runs it finds.
	if deletes && discard {
		for i := oldLast; i > s.Index; i-- { // above the new log: from the top down
			n.persistDelete(KeyLogEntry(i))
		}
	}
	if discard && oldLast >= s.Index {
		// log/last comes down before the conflicting entry at s.Index, by which restore
		// recognizes the discarded log, is deleted.
		n.persist(KeyLogLast, uintBytes(s.Index))
	}
	if deletes {
		for i := oldOffset + 1; i <= min(s.Index, oldLast); i++ { // below it: from the bottom up
			n.persistDelete(KeyLogEntry(i))
		}
	}
	if discard && oldLast < s.Index {
		n.persist(KeyLogLast, uintBytes(s.Index))
	}
	if discard && (!deletes || oldLast < s.Index) {
		// With log/last at the snapshot's index, no stored entry there may conflict with it
		// (in a store that cannot delete, the discarded log's; in any store, a truncation's
		// leftover): entries appended later raise log/last above it, and restore would take
		// them for a discarded log (see restore).
		n.clearSnapEntry(s)
	}
}

// clearSnapEntry removes the stored entry at the snapshot s's index, or in a store that cannot
// delete, overwrites it with an entry of the snapshot's term, which restore reads as agreeing
// with the snapshot. log/last must already be at or above s.Index, never above a discarded log.
func (n *Node) clearSnapEntry(s *Snapshot) {
	if _, ok := n.storage.(Deleter); ok {
		n.persistDelete(KeyLogEntry(s.Index))
	} else {
		n.persist(KeyLogEntry(s.Index), EncodeEntry(Entry{Term: s.Term, Type: EntryNoop}))
	}
}

// TransferLeadership hands the leader's leadership to peer to (Raft thesis §3.10): the leader
// stops taking commands, brings to's log up to date, then tells it to start an election at once
// (TimeoutNow), which it wins before any other timer fires. If to has not taken over within
// an election timeout (it crashed, or is cut off), the leader gives up and takes commands again.
func (n *Node) TransferLeadership(now time.Duration, to string) error {
	n.advance(now)
	defer n.flush()
	switch {
	case n.state != Leader:
		return &NotLeaderError{ID: n.id, Leader: n.leader, Term: n.term}
	case to == n.id:
		return fmt.Errorf("raft: %s already leads term %d", n.id, n.term)
	case n.progressOf(to) == nil || !n.conf.IsVoter(to):
		return fmt.Errorf("raft: %s is not a voter (%s)", to, n.conf)
	case n.transferTo != "":
		return fmt.Errorf("%w to %s", ErrTransferring, n.transferTo)
	}
	n.transferTo, n.transferDeadline = to, n.now+n.cfg.ElectionTimeoutMax
	n.emit(Event{Kind: EvTransfer, Peer: to, Term: n.term})
	if pr := n.progressOf(to); !n.sendTimeoutNow(pr) {
		n.sendAppend(to, pr, true)
	}
	return nil
}

// sendTimeoutNow tells the transfer's target, whose progress is pr, to campaign once its log
// matches the leader's.
func (n *Node) sendTimeoutNow(pr *progress) bool {
	if pr != nil && pr.Match == n.log.lastIndex() {
		n.send(Message{Type: MsgTimeoutNow, To: n.transferTo})
		return true
	}
	return false
}

// checkTransfer, on each heartbeat, gives up a transfer whose time is out, or repeats the
// TimeoutNow in case it was lost.
func (n *Node) checkTransfer() {
	switch {
	case n.transferTo == "":
	case n.now >= n.transferDeadline:
		n.emit(Event{Kind: EvTransfer, Peer: n.transferTo, Term: n.term, Detail: "it did not take over within an election timeout"})
		n.transferTo = ""
	default:
		n.sendTimeoutNow(n.progressOf(n.transferTo))
	}
}

// Role reports the node's state and term; unlike Status it costs nothing.
func (n *Node) Role() (State, uint64) { return n.state, n.term }

// Status reports the node's state.
func (n *Node) Status() Status {
	st := Status{
		ID: n.id, State: n.state, Term: n.term, VotedFor: n.votedFor, Leader: n.leader,
		CommitIndex: n.commit, LastIndex: n.log.lastIndex(), LastTerm: n.log.lastTerm(),
	}
	if n.snap != nil {
		st.SnapshotIndex, st.SnapshotTerm, st.SnapshotSize = n.snap.Index, n.snap.Term, len(n.snap.Data)
	}
	st.Config, st.ConfigIndex, st.ConfigCommitted = n.conf, n.confIndex, n.confIndex <= n.commit
	if n.state != Leader {
		st.ElectionDeadline = n.electionDeadline
	} else {
		st.Progress = make(map[string]Progress, len(n.prs))
		for i, pr := range n.prs {
			p := pr.Progress
			p.Inflight = len(pr.sent)
			st.Progress[n.peers()[i]] = p
		}
	}
	return st
}

// Compacted returns the last index and term that the node's snapshot covers (0, 0 if none).
func (n *Node) Compacted() (index, term uint64) { return n.log.offset, n.log.offsetTerm }

// Entry returns the log entry at index, if the log holds it (not compacted away).
func (n *Node) Entry(index uint64) (Entry, bool) {
	if index <= n.log.offset || index > n.log.lastIndex() {
		return Entry{}, false
	}
	return n.log.entry(index), true
}

// ---- internals -------------------------------------------------------------------------

func (n *Node) advance(now time.Duration) {
	if now > n.now {
		n.now = now
	}
}

func (n *Node) emit(e Event) {
	e.Time, e.Node = n.now, n.id
	n.events = append(n.events, e)
}

func (n *Node) send(m Message) { n.sendTerm(m, n.term) }

// sendTerm sends m stamped with term: the node's own, but for pre-votes the term asked about.
func (n *Node) sendTerm(m Message, term uint64) {
	m.From, m.Term = n.id, term
	if cap(n.msgs) == 0 && n.state == Leader {
		n.msgs = make([]Message, 0, len(n.peers())) // room for a broadcast, grown once
	}
	n.msgs = append(n.msgs, m)
}

func (n *Node) resetElectionTimer() {
	lo, hi := n.cfg.ElectionTimeoutMin, n.cfg.ElectionTimeoutMax
	d := lo
	if hi > lo && !n.cfg.Bugs.FixedElectionTimeout {
		d += time.Duration(n.rng.Int64N(int64(hi - lo)))
	}
	n.electionDeadline = n.now + d
}

// peers returns the other voters and learners, sorted. The slice is shared: callers must not
// change it.
func (n *Node) peers() []string {
	if n.peerIDs == nil {
		members := n.conf.Voters
		if len(n.conf.Learners) > 0 || n.conf.Joint() {
			members = n.conf.Members()
		}
		n.peerIDs = make([]string, 0, len(members))
		for _, m := range members {
			if m != n.id {
				n.peerIDs = append(n.peerIDs, m)
			}
		}
	}
	return n.peerIDs
}

// won reports whether the votes (or pre-votes) granted make a quorum of the configuration in
// use: a majority of its voters, and while it is joint, of the outgoing voters too (§6).
func (n *Node) won() bool {
	if n.votesWon(n.conf.Voters) < quorumOf(n.conf.Voters) {
		return false
	}
	return !n.conf.Joint() || n.votesWon(n.conf.Outgoing) >= quorumOf(n.conf.Outgoing)
}

// votesWon counts the votes granted by the voters ids: a node never counts a vote from outside
// its configuration.
func (n *Node) votesWon(ids []string) int {
	k := 0
	for id := range n.votes {
		if indexOf(ids, id) >= 0 {
			k++
		}
	}
	return k
}

// progressOf returns the leader's progress of peer id, nil if id is not a peer.
func (n *Node) progressOf(id string) *progress {
	if i := indexOf(n.peers(), id); i >= 0 && i < len(n.prs) {
		return n.prs[i]
	}
	return nil
}

// indexOf finds id among a few ids; ids mostly differ in their last byte, so it compares that
// first (this runs for every message).
func indexOf(ids []string, id string) int {
	if id == "" {
		return -1
	}
	last := id[len(id)-1]
	for i, x := range ids {
		if len(x) == len(id) && x[len(x)-1] == last && x == id {
			return i
		}
	}
	return -1
}

// setTerm moves to a newer term (or records a vote) and persists both.
func (n *Node) setTermAndVote(term uint64, votedFor string) {
	if term != n.term {
		n.term = term
		n.persist(KeyCurrentTerm, uintBytes(term))
	}
	n.votedFor = votedFor
	if n.cfg.Bugs.ForgetVote {
		votedFor = ""
	}
	n.persist(KeyVotedFor, encodeVote(term, votedFor))
}

func (n *Node) becomeFollower(term uint64, leader string) {
	if term > n.term {
		n.setTermAndVote(term, "")
	}
	changed := n.state != Follower
	n.state, n.leader = Follower, leader
	n.votes, n.prs, n.transferTo, n.target = nil, nil, "", nil
	n.resetElectionTimer()
	if changed {
		n.emit(Event{Kind: EvState, State: Follower, Term: n.term})
	}
}

func (n *Node) campaign() {
	n.setTermAndVote(n.term+1, n.id)
	n.state, n.leader = Candidate, ""
	n.prs, n.transferTo, n.target = nil, "", nil
	n.votes = map[string]bool{n.id: true}
	n.resetElectionTimer()
	n.emit(Event{Kind: EvState, State: Candidate, Term: n.term})
	n.emit(Event{Kind: EvVote, Peer: n.id, Term: n.term})
	if n.won() {
		n.becomeLeader()
		return
	}
	for _, p := range n.peers() {
		n.send(Message{Type: MsgVote, To: p, LastLogIndex: n.log.lastIndex(), LastLogTerm: n.log.lastTerm()})
	}
}

// preCampaign asks every peer whether it would vote for this node in the next term, without
// raising the term or voting: nothing is persisted, and a refusal costs the cluster nothing.
func (n *Node) preCampaign() {
	changed := n.state != PreCandidate
	n.state, n.leader, n.prs = PreCandidate, "", nil
	n.votes = map[string]bool{n.id: true}
	n.resetElectionTimer()
	if changed {
		n.emit(Event{Kind: EvState, State: PreCandidate, Term: n.term})
	}
	if n.won() {
		n.campaign()
		return
	}
	for _, p := range n.peers() {
		n.sendTerm(Message{Type: MsgPreVote, To: p, LastLogIndex: n.log.lastIndex(), LastLogTerm: n.log.lastTerm()}, n.term+1)
	}
}

// handlePreVote answers a pre-vote: yes for a later term and a log at least as up to date as
// ours, unless we hear from a leader (a node that cannot reach it must not replace it). It
// changes neither our term nor our vote.
func (n *Node) handlePreVote(m *Message) {
	upToDate := m.LastLogTerm > n.log.lastTerm() ||
		(m.LastLogTerm == n.log.lastTerm() && m.LastLogIndex >= n.log.lastIndex())
	if m.Term > n.term && upToDate && !n.hearsLeader() {
		n.sendTerm(Message{Type: MsgPreVoteReply, To: m.From, Success: true}, m.Term)
		return
	}
	n.send(Message{Type: MsgPreVoteReply, To: m.From})
}

// hearsLeader reports whether the node leads, or heard from the leader of its term within the
// minimum election timeout: the cluster needs no new leader.
func (n *Node) hearsLeader() bool {
	return n.state == Leader || (n.leader != "" && n.now-n.leaderContact < n.cfg.ElectionTimeoutMin)
}

func (n *Node) becomeLeader() {
	n.state, n.leader, n.votes = Leader, n.id, nil
	n.emit(Event{Kind: EvState, State: Leader, Term: n.term})
	last := n.log.lastIndex()
	n.prs = make([]*progress, len(n.peers()))
	for i := range n.prs {
		n.prs[i] = &progress{Progress: Progress{Next: last + 1, Probing: true}}
	}
	// A no-op of the new term lets the leader commit what earlier terms left uncommitted.
	n.appendEntries(last+1, []Entry{{Term: n.term, Type: EntryNoop}})
	n.heartbeatDeadline = n.now + n.cfg.HeartbeatInterval
	n.quorumCheckAt = n.now + n.cfg.ElectionTimeoutMax
	if !n.maybeCommit() {
		n.broadcastAppend(true)
	}
}

// checkQuorum, with CheckQuorum, steps a leader down when fewer than a majority (itself
// included) answered it since the last check, an election timeout ago.
func (n *Node) checkQuorum() {
	if !n.cfg.CheckQuorum || n.state != Leader || n.now < n.quorumCheckAt {
		return
	}
	n.quorumCheckAt = n.now + n.cfg.ElectionTimeoutMax
	heardFrom := func(id string) bool {
		pr := n.progressOf(id)
		return id == n.id || pr != nil && pr.heard
	}
	ok := n.conf.HasQuorum(heardFrom)
	heard := 0
	for _, v := range n.conf.AllVoters() {
		if heardFrom(v) {
			heard++
		}
	}
	for _, pr := range n.prs {
		pr.heard = false
	}
	if !ok {
		what := "fewer than a majority"
		if n.conf.Joint() {
			what = "not a majority of both " + strings.Join(n.conf.Outgoing, ",") + " and " + strings.Join(n.conf.Voters, ",")
		}
		n.emit(Event{Kind: EvStepDown, Term: n.term, Detail: fmt.Sprintf("it heard from %d of %d voters in an election timeout, %s", heard, len(n.conf.AllVoters()), what)})
		n.becomeFollower(n.term, "")
	}
}

func (n *Node) step(m *Message) {
	if m.From == "" || m.To != n.id || m.From == n.id {
		return // not for us: drivers filter these, but the core must not trust them
	}
	// §4.2.3: a server outside the configuration (removed, and not told so) must not disturb
	// the cluster: while we hear from a leader, its election is ignored, term and all.
	if (m.Type == MsgVote || m.Type == MsgPreVote) && !n.conf.IsVoter(m.From) && n.hearsLeader() {
		return
	}
	// Pre-votes are about a term nobody holds yet: they change no term, so they come before
	// the term rules below. Only a refusal that carries a newer term teaches us that term.
	switch {
	case m.Type == MsgPreVote:
		n.handlePreVote(m)
		return
	case m.Type == MsgPreVoteReply && m.Success:
		if n.state == PreCandidate && m.Term == n.term+1 {
			n.votes[m.From] = true
			if n.won() {
				n.campaign()
			}
		}
		return
	case m.Type == MsgPreVoteReply && m.Term <= n.term:
		return
	}
	switch {
	case m.Term > n.term && n.state == Leader && n.cfg.Bugs.IgnoreHigherTerm:
		return
	case m.Term > n.term:
		leader := ""
		if m.Type == MsgApp {
			leader = m.From
		}
		n.becomeFollower(m.Term, leader)
	case m.Term < n.term:
		// A stale sender learns the newer term from our answer; stale answers are dropped.
		switch m.Type {
		case MsgVote:
			n.send(Message{Type: MsgVoteReply, To: m.From})
		case MsgApp:
			n.send(Message{Type: MsgAppReply, To: m.From, Index: m.PrevLogIndex})
		case MsgSnap:
			n.send(Message{Type: MsgSnapReply, To: m.From, Index: m.LastLogIndex})
		}
		return
	}
	switch m.Type {
	case MsgVote:
		n.handleVote(m)
	case MsgVoteReply:
		if n.state == Candidate && m.Success {
			n.votes[m.From] = true
			if n.won() {
				n.becomeLeader()
			}
		}
	case MsgApp:
		n.handleAppend(m)
	case MsgAppReply:
		if n.state == Leader {
			n.handleAppendReply(m)
		}
	case MsgSnap:
		n.handleSnap(m)
	case MsgSnapReply:
		if n.state == Leader {
			n.handleSnapReply(m)
		}
	case MsgTimeoutNow:
		// Our leader hands over: campaign now, without pre-vote (the leader asked for it).
		if n.state != Leader && m.From == n.leader {
			n.emit(Event{Kind: EvTimeout, Term: n.term + 1, Peer: m.From})
			n.campaign()
		}
	}
}

func (n *Node) handleVote(m *Message) {
	// §5.4.1: grant only to a candidate whose log is at least as up to date as ours: a later
	// last term, or the same last term and at least as long.
	upToDate := m.LastLogTerm > n.log.lastTerm() ||
		(m.LastLogTerm == n.log.lastTerm() && m.LastLogIndex >= n.log.lastIndex())
	if n.cfg.Bugs.VoteByLogLength {
		upToDate = m.LastLogIndex >= n.log.lastIndex()
	}
	grant := n.state == Follower && (n.votedFor == "" || n.votedFor == m.From) && upToDate
	if grant {
		if n.votedFor != m.From {
			n.setTermAndVote(n.term, m.From)
			n.emit(Event{Kind: EvVote, Peer: m.From, Term: n.term})
		}
		n.resetElectionTimer()
	}
	n.send(Message{Type: MsgVoteReply, To: m.From, Success: grant})
}

func (n *Node) handleAppend(m *Message) {
	if n.state != Follower {
		n.becomeFollower(n.term, m.From) // a candidate learns that the term has a leader
	}
	n.leader, n.leaderContact = m.From, n.now
	n.resetElectionTimer()

	reply := Message{Type: MsgAppReply, To: m.From, Index: m.PrevLogIndex}
	if off := n.log.offset; m.PrevLogIndex < off {
		// Entries up to our snapshot are committed, so they match the leader's: skip them.
		if skip := off - m.PrevLogIndex; uint64(len(m.Entries)) > skip {
			m.Entries = m.Entries[skip:]
		} else {
			m.Entries = nil
		}
		m.PrevLogIndex, m.PrevLogTerm = off, n.log.offsetTerm
	}
	last := n.log.lastIndex()
	skipCheck := n.cfg.Bugs.SkipConsistencyCheck && m.PrevLogIndex <= last
	switch {
	case m.PrevLogIndex > last:
		reply.ConflictIndex = last + 1
	case n.log.term(m.PrevLogIndex) != m.PrevLogTerm && !skipCheck:
		reply.ConflictTerm = n.log.term(m.PrevLogIndex)
		reply.ConflictIndex = n.log.firstIndexOfTerm(m.PrevLogIndex)
	default:
		// The logs agree up to PrevLogIndex. Skip entries we already hold (a duplicated or
		// reordered message must not truncate anything), replace from the first conflict.
		i := 0
		for ; i < len(m.Entries); i++ {
			idx := m.PrevLogIndex + 1 + uint64(i)
			if idx > last || n.log.term(idx) != m.Entries[i].Term {
				break
			}
		}
		if i < len(m.Entries) {
			n.appendEntries(m.PrevLogIndex+1+uint64(i), m.Entries[i:])
		}
		matched := m.PrevLogIndex + uint64(len(m.Entries))
		if c := min(m.Commit, matched); c > n.commit {
			n.commit = c
			n.emit(Event{Kind: EvCommit, Index: c, Term: n.term})
		}
		reply.Success, reply.Index = true, matched
	}
	n.send(reply)
}

func (n *Node) handleAppendReply(m *Message) {
	pr := n.progressOf(m.From)
	if pr == nil {
		return // step lets only members through; this keeps a future change from panicking
	}
	pr.heard = true
	if m.Success {
		advanced := m.Index > pr.Match
		if advanced {
			pr.Match = m.Index
		}
		if pr.Next <= m.Index {
			pr.Next = m.Index + 1
		}
		if pr.Snapshot != 0 {
			if pr.Match < pr.Snapshot {
				return // still needs the snapshot: a heartbeat's answer
			}
			pr.Snapshot, pr.snapOut, pr.snap = 0, false, nil // it caught up otherwise
		}
		if pr.Probing {
			pr.Probing, pr.probeSent = false, false
			pr.forgetSent()
		} else {
			i := 0
			for i < len(pr.sent) && pr.sent[i] <= pr.Match {
				i++
			}
			pr.sent = pr.sent[:copy(pr.sent, pr.sent[i:])]
		}
		if advanced && n.transferTo == m.From {
			n.sendTimeoutNow(pr) // the target may just have caught up
		}
		if advanced && n.conf.IsLearner(m.From) && n.maybePromote(m.From, pr) {
			return // the new configuration went to every follower
		}
		// Only a Match that moves past the commit index can move the commit index.
		if advanced && pr.Match > n.commit && n.maybeCommit() {
			return // maybeCommit told every follower, this one included
		}
		n.sendAppend(m.From, pr, false)
		return
	}
	// Rejected. Ignore answers to requests that no longer matter: the follower already matched
	// past that point, a probe has since moved on, or it is getting a snapshot.
	if m.Index <= pr.Match || (pr.Probing && m.Index+1 != pr.Next) || pr.Snapshot != 0 {
		return
	}
	next := m.ConflictIndex
	if m.ConflictTerm > 0 {
		if i := n.log.lastIndexOfTerm(m.ConflictTerm, min(m.Index, n.log.lastIndex())); i > 0 {
			next = i + 1
		}
	}
	next = max(pr.Match+1, min(next, m.Index))
	pr.Next, pr.Probing, pr.probeSent = next, true, false
	pr.forgetSent()
	n.sendAppend(m.From, pr, false)
}

// maybeCommit advances the commit index to the highest index stored on a quorum, but only if
// that entry is of the current term: entries of earlier terms commit only beneath one of the
// current term (Figure 8). When it advances, every follower hears of it at once.
func (n *Node) maybeCommit() bool {
	q := n.quorumMatch(n.conf.Voters)
	if n.conf.Joint() {
		q = min(q, n.quorumMatch(n.conf.Outgoing)) // C_old,new: held by a majority of each (§6)
	}
	if q <= n.commit || (n.log.term(q) != n.term && !n.cfg.Bugs.CommitByCounting) {
		return false
	}
	n.commit = q
	n.emit(Event{Kind: EvCommit, Index: q, Term: n.term})
	if n.confIndex <= q && !n.conf.IsVoter(n.id) {
		// Its own removal committed: it leaves, and the others elect a leader among themselves.
		n.emit(Event{Kind: EvStepDown, Term: n.term, Detail: "it is no longer a voter of the committed configuration"})
		n.broadcastAppend(true) // the followers learn the commit
		n.becomeFollower(n.term, "")
		return true
	}
	if !n.cfg.WaitForHeartbeat {
		n.broadcastAppend(true)
	}
	if n.cfg.JointConsensus || n.conf.Joint() {
		n.jointStep()
		return true
	}
	for i, p := range n.peers() {
		if n.conf.IsLearner(p) && n.maybePromote(p, n.prs[i]) {
			break // one change at a time
		}
	}
	return true
}

// quorumMatch returns the highest index that a majority of the voters ids hold: only they
// count, the leader too only if it is one of them.
func (n *Node) quorumMatch(ids []string) uint64 {
	matches := n.matchBuf[:0]
	if indexOf(ids, n.id) >= 0 {
		matches = append(matches, n.log.lastIndex())
	}
	all := len(ids) == len(matches)+len(n.prs) // every peer is one of them
	for i, pr := range n.prs {
		if all || indexOf(ids, n.peers()[i]) >= 0 {
			matches = append(matches, pr.Match)
		}
	}
	slices.Sort(matches)
	n.matchBuf = matches
	if len(matches) < quorumOf(ids) {
		return 0 // voters the leader has no progress of: not its configuration
	}
	return matches[len(matches)-quorumOf(ids)]
}

// detectLoss runs on each heartbeat. A follower that has had entries outstanding for two
// heartbeats without its Match moving has lost them (or their answers): send them again.
func (n *Node) detectLoss() {
	for _, pr := range n.prs {
		if pr.Snapshot != 0 {
			// The same for a snapshot chunk: two heartbeats without an answer, send it again.
			if !pr.snapOut || pr.SnapshotSent != pr.heartbeatSnapSent {
				pr.stalled = 0
			} else if pr.stalled++; pr.stalled >= 2 {
				pr.snapOut, pr.stalled = false, 0
			}
			pr.heartbeatSnapSent = pr.SnapshotSent
			continue
		}
		if pr.Probing || pr.Match+1 >= pr.Next || pr.Match != pr.heartbeatMatch {
			pr.stalled = 0
		} else if pr.stalled++; pr.stalled >= 2 {
			pr.Next, pr.stalled = pr.Match+1, 0
			pr.forgetSent()
		}
		pr.heartbeatMatch = pr.Match
	}
}

func (n *Node) broadcastAppend(heartbeat bool) {
	for i, p := range n.peers() {
		n.sendAppend(p, n.prs[i], heartbeat)
	}
}

// sendAppend sends p what it lacks, within flow control. With heartbeat set it sends something
// even when there is nothing new, so that the follower's timer resets and it learns the commit
// index.
func (n *Node) sendAppend(to string, pr *progress, heartbeat bool) {
	if n.cfg.WaitForHeartbeat && !heartbeat {
		return // the naive leader: everything waits for the next heartbeat
	}
	if pr.Next <= n.log.offset || pr.Snapshot != 0 {
		n.sendSnapshot(to, pr, heartbeat)
		return
	}
	last := n.log.lastIndex()
	if pr.Probing {
		// One probe at a time: wait for its answer, or resend on the heartbeat.
		if pr.probeSent && !heartbeat {
			return
		}
		pr.probeSent = true
		n.sendEntries(to, pr, last)
		return
	}
	if pr.Next <= last && len(pr.sent) < n.cfg.MaxInflight {
		hi := n.sendEntries(to, pr, last)
		pr.Next = hi + 1
		pr.sent = append(pr.sent, hi)
		return
	}
	// Nothing new to send. A heartbeat goes anyway; so does news of the commit index that the
	// follower could not learn before (it holds entries up to Match, committed since it was told).
	if heartbeat || pr.toldCommit < min(n.commit, pr.Match) {
		// Anchor on what the follower is known to hold, so that an empty heartbeat never races
		// ahead of entries still in flight.
		n.send(Message{Type: MsgApp, To: to, PrevLogIndex: pr.Match, PrevLogTerm: n.log.term(pr.Match), Commit: n.commit})
		pr.toldCommit = max(pr.toldCommit, min(n.commit, pr.Match))
	}
}

// sendSnapshot sends p, which needs entries compacted away, the next chunk of the snapshot
// (Figure 13), one chunk at a time. A heartbeat also sends an empty AppendEntries, so that p
// knows its leader while the chunks cross.
func (n *Node) sendSnapshot(to string, pr *progress, heartbeat bool) {
	if pr.snap != n.snap && (pr.snap == nil || pr.SnapshotSent == 0 && !pr.snapOut) {
		// Start, or start again with the newer snapshot when the follower has acknowledged
		// nothing of the older one. A transfer under way goes on with its own snapshot: were it
		// to start again at each compaction, a follower whose transfer takes longer than the
		// leader takes to compact would never catch up.
		pr.snap = n.snap
		pr.Snapshot, pr.SnapshotSent, pr.snapOut, pr.stalled = n.snap.Index, 0, false, 0
		pr.Probing, pr.probeSent = false, false
		pr.forgetSent()
	}
	if heartbeat {
		n.send(Message{Type: MsgApp, To: to, PrevLogIndex: pr.Match, PrevLogTerm: n.log.term(pr.Match), Commit: min(n.commit, pr.Match)})
	}
	if pr.snapOut {
		return
	}
	snap := pr.snap
	data := snap.Data
	off := min(pr.SnapshotSent, uint64(len(data)))
	end := min(off+uint64(n.cfg.SnapshotChunkSize), uint64(len(data)))
	n.send(Message{Type: MsgSnap, To: to, LastLogIndex: snap.Index, LastLogTerm: snap.Term,
		Members: snap.Members, Learners: snap.Learners, Outgoing: snap.Outgoing, Offset: off, Data: data[off:end:end], Done: end == uint64(len(data))})
	pr.snapOut = true
}

// handleSnapReply follows a follower through a snapshot: the next chunk, or once installed,
// entries after it.
func (n *Node) handleSnapReply(m *Message) {
	pr := n.progressOf(m.From)
	if pr == nil {
		return
	}
	pr.heard = true
	if m.Success {
		if m.Index > pr.Match {
			pr.Match = m.Index
		}
		if pr.Next <= m.Index {
			pr.Next = m.Index + 1
		}
		if pr.Snapshot == 0 || pr.Match < pr.Snapshot {
			return // an old snapshot's answer
		}
		pr.Snapshot, pr.snapOut, pr.snap = 0, false, nil
		if pr.Match > n.commit && n.maybeCommit() {
			return
		}
		n.sendAppend(m.From, pr, false)
		return
	}
	if m.Index != pr.Snapshot {
		return // about a snapshot we no longer send
	}
	if pr.snapOut && m.Offset == pr.SnapshotSent {
		// The chunk out starts where the follower is: this is a duplicate of the answer that
		// sent it, or an answer to a duplicated or stale chunk. Sending again for it would put
		// a second chunk in flight, each answered and each answer sending another, so that
		// every duplication multiplied the traffic until the snapshot was installed. Wait for
		// the chunk's answer (or loss detection).
		return
	}
	pr.SnapshotSent, pr.snapOut = m.Offset, false
	n.sendAppend(m.From, pr, false)
}

// handleSnap takes one chunk of the leader's snapshot (Figure 13's receiver) and installs the
// snapshot once it has the last.
func (n *Node) handleSnap(m *Message) {
	if n.state != Follower {
		n.becomeFollower(n.term, m.From)
	}
	n.leader, n.leaderContact = m.From, n.now
	n.resetElectionTimer()
	reply := Message{Type: MsgSnapReply, To: m.From, Index: m.LastLogIndex}
	if m.LastLogIndex <= n.commit {
		// Everything it holds is committed here already: nothing to install. (A snapshot being
		// received stays, unless it is no newer: this may be a late copy of an older chunk.)
		if n.recv != nil && n.recv.Index <= n.commit {
			n.recv = nil
		}
		reply.Success = true
		n.send(reply)
		return
	}
	r := n.recv
	if m.Offset == 0 {
		r = &Snapshot{Index: m.LastLogIndex, Term: m.LastLogTerm, Members: slices.Clone(m.Members), Learners: slices.Clone(m.Learners), Outgoing: slices.Clone(m.Outgoing)}
		n.recv = r
	}
	if r == nil || r.Index != m.LastLogIndex || r.Term != m.LastLogTerm || m.Offset != uint64(len(r.Data)) {
		// Not the chunk that comes next: say what we hold of this snapshot.
		if r != nil && r.Index == m.LastLogIndex && r.Term == m.LastLogTerm {
			reply.Offset = uint64(len(r.Data))
		}
		n.send(reply)
		return
	}
	r.Data = append(r.Data, m.Data...)
	if !m.Done {
		reply.Offset = uint64(len(r.Data))
		n.send(reply)
		return
	}
	n.recv = nil
	if n.cfg.CheckSnapshot != nil && n.cfg.CheckSnapshot(r) != nil {
		// §7 leaves the state to the application: a snapshot it could not restore is refused
		// before anything is written. No answer: the leader tries again after its loss detection.
		return
	}
	n.installSnapshot(r, m.From)
	reply.Success = true
	n.send(reply)
}

// installSnapshot makes s, received whole from the leader, the node's snapshot (§7): a log that
// holds s's last entry keeps what follows it; any other log is discarded. The application
// gets s through Ready, before any entry committed after it.
func (n *Node) installSnapshot(s *Snapshot, from string) {
	keep := s.Index <= n.log.lastIndex() && s.Index > n.log.offset && n.log.term(s.Index) == s.Term
	n.saveSnapshot(s, !keep)
	n.commit, n.applied, n.readySnap = s.Index, s.Index, s
	n.emit(Event{Kind: EvInstall, Peer: from, Index: s.Index, Term: s.Term, Last: uint64(len(s.Data))})
}

// sendEntries sends entries from pr.Next on (at most MaxEntriesPerMsg, up to last) and returns
// the index of the last entry sent (pr.Next-1 if none).
func (n *Node) sendEntries(to string, pr *progress, last uint64) uint64 {
	next := pr.Next
	hi := min(last, next+uint64(n.cfg.MaxEntriesPerMsg)-1)
	m := Message{Type: MsgApp, To: to, PrevLogIndex: next - 1, PrevLogTerm: n.log.term(next - 1), Commit: n.commit}
	if hi >= next {
		m.Entries = n.entries(next, hi+1)
	}
	n.send(m)
	hi = max(hi, next-1)
	pr.toldCommit = max(pr.toldCommit, min(n.commit, hi))
	return hi
}

// entries returns a copy of the entries lo … hi-1 for a message. Followers at the same point
// get the same copy (nobody modifies a message's entries), so a broadcast copies once.
func (n *Node) entries(lo, hi uint64) []Entry {
	if c := &n.lent; c.es != nil && c.lo == lo && c.hi == hi && c.truncations == n.log.truncations {
		return c.es
	}
	n.lent = lentEntries{lo, hi, n.log.truncations, n.log.slice(lo, hi)}
	return n.lent.es
}

// appendEntries writes entries at index from on, replacing whatever the log holds there, and
// persists the change in an order that survives a crash between any two writes: first shrink
// log/last below the overwritten range, then write the entries, then raise log/last.
func (n *Node) appendEntries(from uint64, entries []Entry) {
	oldLast := n.log.lastIndex()
	if from <= oldLast {
		// A configuration entry removed goes with its configuration (thesis §4.1).
		if k := len(n.confs); k > 0 && n.confs[k-1].index >= from {
			n.confs = slices.DeleteFunc(n.confs, func(c confEntry) bool { return c.index >= from })
			defer n.latestConf()
		}
		n.log.truncate(from)
		n.persist(KeyLogLast, uintBytes(from-1))
		n.emit(Event{Kind: EvTruncate, Index: from, Term: n.term})
	}
	// The values share one buffer, each capped so that none can grow into the next.
	size := 20
	for _, e := range entries {
		size += encodedMax(e)
	}
	buf := make([]byte, 0, size)
	for i, e := range entries {
		start := len(buf)
		buf = appendEntry(buf, e)
		n.persist(KeyLogEntry(from+uint64(i)), buf[start:len(buf):len(buf)])
	}
	n.log.append(entries)
	last := n.log.lastIndex()
	start := len(buf)
	buf = strconv.AppendUint(buf, last, 10)
	n.persist(KeyLogLast, buf[start:len(buf):len(buf)])
	if _, ok := n.storage.(Deleter); ok {
		for i := oldLast; i > last; i-- { // what a truncation left above the log, from the top
			n.persistDelete(KeyLogEntry(i))
		}
	}
	n.emit(Event{Kind: EvAppend, Index: from, Last: last, Term: entries[len(entries)-1].Term})
	if n.noteConfigs(from, entries) {
		n.latestConf()
	}
}

func (n *Node) persist(key string, value []byte) {
	n.pending = append(n.pending, KV{Key: key, Value: value})
}

// persistDelete deletes key; only for a storage that is a Deleter.
func (n *Node) persistDelete(key string) {
	n.pending = append(n.pending, KV{Key: key, Delete: true})
}

// flush writes the current call's pending writes, in order, before the call returns and
// therefore before Ready can hand out anything that depends on them.
func (n *Node) flush() {
	if len(n.pending) == 0 {
		return
	}
	if bs, ok := n.storage.(BatchStorage); ok {
		bs.SetBatch(n.pending)
	} else {
		for _, kv := range n.pending {
			if kv.Delete {
				n.storage.(Deleter).Delete(kv.Key)
			} else {
				n.storage.Set(kv.Key, kv.Value)
			}
		}
	}
	clear(n.pending)
	n.pending = n.pending[:0]
}

func hashString(s string) uint64 {
	// FNV-1a, enough to give each node its own stream from one seed.
	h := uint64(14695981039346656037)
	for i := 0; i < len(s); i++ {
		h ^= uint64(s[i])
		h *= 1099511628211
	}
	return h
}
