// Safety checks run after every event: Election Safety, Log Matching, Leader Completeness,
// State Machine Safety, no committed entry lost across crashes and restarts, and snapshots
// that hold exactly the committed log's state.

package sim

import (
	"fmt"
	"slices"
	"strings"

	"raftlab/raft"
)

// The checker keeps, for each node, the hash of every prefix of its log (hashes[i] covers
// entries 1…i), so that comparing two logs up to an index costs one comparison. Entries reach
// it through the core's EvAppend/EvTruncate events, read back with Node.Entry.
type checker struct {
	c       *Cluster
	leaders map[uint64]string // term → the node that became leader in it
	// Prefix hash seen on any node for each (index, term): the first term seen at an index in
	// byIndex, any other (rare: a log repaired after a leader change) in byEntry.
	byIndex   []termHash
	byEntry   map[entryKey]uint64
	committed []uint64 // committed[i]: prefix hash of the committed log up to i; [0] = 0
	terms     []uint64 // terms[i]: the term of the committed entry at i
	// commitTerms[i]: the term in which entry i was first known committed (its leader's term).
	commitTerms []uint64
	// states[i]: hash of the application state after applying the committed entries up to i,
	// recorded where some node took or installed a snapshot; every node that reaches i after
	// must be in the same state.
	states map[uint64]uint64

	elections         int
	committedCommands int
	snapshots         int // snapshots taken, all nodes
	installs          int // snapshots installed from a leader
	changes           int // configuration entries committed

	// votes[term][candidate] lists the nodes that granted it their vote in term.
	votes map[uint64]map[string][]string
	// commitConf is the configuration of the leader that last advanced the commit index, and
	// commitAt that index.
	commitConf raft.Configuration
	commitAt   uint64
	// noIntersect turns the check that overlapping configurations' quorums meet off, so that a
	// test can show what that check stops the run before (two leaders of one term).
	noIntersect bool
}

type entryKey struct{ index, term uint64 }

type termHash struct{ term, hash uint64 }

type nodeCheck struct {
	hashes  []uint64 // hashes[0] = 0
	commit  uint64
	applied uint64
	crashed bool
	crash   raft.Status // what the node held when it crashed
	crashH  uint64      // its log's prefix hash then
	// conf is the configuration the node used at the event being checked, followed through its
	// EvConfig events (a leader may append the next configuration in the call that commits the
	// last, so the node's configuration after the call can be a later one); set when confSet.
	conf    raft.Configuration
	confSet bool
}

func newChecker(c *Cluster) *checker {
	return &checker{
		c:           c,
		leaders:     make(map[uint64]string),
		byEntry:     make(map[entryKey]uint64),
		committed:   []uint64{0},
		terms:       []uint64{0},
		commitTerms: []uint64{0},
		states:      make(map[uint64]uint64),
		votes:       make(map[uint64]map[string][]string),
	}
}

func (k *checker) node(id string) *nodeCheck {
	if sn := k.c.lookup(id); sn != nil {
		return sn.check
	}
	return &nodeCheck{hashes: []uint64{0}} // not a member: only a broken driver names one
}

func entryHash(prev uint64, index uint64, e raft.Entry) uint64 {
	h := mixWord(prev^0xcbf29ce484222325, index)
	h = mixWord(h, e.Term<<8|uint64(e.Type))
	h = mixString(h, string(e.Command)) // no copy: the conversion does not escape
	return h ^ h>>29
}

// event checks one trace event; it returns a description of the violated property.
func (k *checker) event(e *raft.Event) error {
	switch e.Kind {
	case raft.EvRestore:
		k.node(e.Node).confSet = false
		return k.restored(e)
	case raft.EvConfig:
		nc := k.node(e.Node)
		n := k.c.lookup(e.Node).node
		nc.conf, _ = n.Configuration()
		if ent, ok := n.Entry(e.Index); ok && ent.Type == raft.EntryConfig {
			if c, err := raft.ParseConfiguration(ent.Command); err == nil {
				nc.conf = c
			}
		}
		nc.confSet = true
	case raft.EvCrash:
		nc := k.node(e.Node)
		nc.crashed = true
		nc.crash = k.c.lookup(e.Node).last
		nc.crashH = nc.hashes[len(nc.hashes)-1]
	case raft.EvVote:
		byCand := k.votes[e.Term]
		if byCand == nil {
			byCand = make(map[string][]string)
			k.votes[e.Term] = byCand
		}
		byCand[e.Peer] = append(byCand[e.Peer], e.Node)
	case raft.EvState:
		if e.State != raft.Leader {
			return nil
		}
		k.elections++
		// The cause before its symptom: a leader under a configuration whose quorums need not
		// meet those of the one that committed last is what lets two leaders of one term be.
		if err := k.configurationsMeet(e); err != nil {
			return err
		}
		if other, ok := k.leaders[e.Term]; ok && other != e.Node {
			return fmt.Errorf("Election Safety: %s and %s are both leaders of term %d", other, e.Node, e.Term)
		}
		k.leaders[e.Term] = e.Node
		if err := k.electedByItsConfiguration(e); err != nil {
			return err
		}
		// Leader Completeness: the new leader holds every entry committed in an earlier term.
		// (Not necessarily one committed in its own term or a later one: a candidate whose
		// votes were delayed can win its term after a later term's leader committed more.)
		nc := k.node(e.Node)
		last := uint64(len(k.committed) - 1)
		for last > 0 && k.commitTerms[last] >= e.Term {
			last--
		}
		if uint64(len(nc.hashes)) <= last || nc.hashes[last] != k.committed[last] {
			return fmt.Errorf("Leader Completeness: %s leads term %d without the committed entries up to %d", e.Node, e.Term, last)
		}
	case raft.EvTruncate:
		nc := k.node(e.Node)
		// A leader of a term before the one that committed entry i may still overwrite i on a
		// follower that has not committed it (the leader's log predates the commit); a leader
		// of that term or a later one holds i (Leader Completeness) and never overwrites it.
		if e.Index < uint64(len(k.committed)) && e.Index < uint64(len(nc.hashes)) && nc.hashes[e.Index] == k.committed[e.Index] &&
			e.Term >= k.commitTerms[e.Index] {
			return fmt.Errorf("committed entry lost: %s removed committed entry %d", e.Node, e.Index)
		}
		if e.Index <= nc.commit {
			return fmt.Errorf("State Machine Safety: %s removed entry %d at or below its commit index %d", e.Node, e.Index, nc.commit)
		}
		if e.Index < uint64(len(nc.hashes)) {
			nc.hashes = nc.hashes[:e.Index]
		}
	case raft.EvAppend:
		return k.appended(e)
	case raft.EvSnapshot, raft.EvInstall:
		return k.snapshot(e)
	case raft.EvCommit:
		return k.commit(e)
	}
	return nil
}

// snapshotOK checks that a snapshot up to index of term holds committed entries only, and
// returns the committed log's prefix hash there.
func (k *checker) snapshotOK(node string, index, term uint64) (uint64, error) {
	if index >= uint64(len(k.committed)) {
		return 0, fmt.Errorf("snapshot: %s holds a snapshot up to %d, beyond the committed log's end %d", node, index, len(k.committed)-1)
	}
	if k.terms[index] != term {
		return 0, fmt.Errorf("snapshot: %s's snapshot ends with an entry of term %d at %d; the committed entry there is of term %d", node, term, index, k.terms[index])
	}
	return k.committed[index], nil
}

// snapshot checks a node's new snapshot, taken of its own log or installed from its leader.
func (k *checker) snapshot(e *raft.Event) error {
	nc := k.node(e.Node)
	h, err := k.snapshotOK(e.Node, e.Index, e.Term)
	if err != nil {
		return err
	}
	if e.Kind == raft.EvSnapshot {
		k.snapshots++
		if e.Index > nc.commit {
			return fmt.Errorf("snapshot: %s compacted up to %d, above its commit index %d", e.Node, e.Index, nc.commit)
		}
		if nc.hashes[e.Index] != h {
			return fmt.Errorf("snapshot: %s compacted a log that differs from the committed one at %d", e.Node, e.Index)
		}
		return nil
	}
	k.installs++
	// Installed: the log keeps what follows the snapshot if it held the snapshot's last entry,
	// else it is discarded.
	if uint64(len(nc.hashes)) <= e.Index || nc.hashes[e.Index] != h {
		nc.hashes = append(nc.hashes[:0], k.committed[:e.Index+1]...)
	}
	nc.commit, nc.applied = max(nc.commit, e.Index), e.Index
	return nil
}

func (k *checker) restored(e *raft.Event) error {
	nc := k.node(e.Node)
	n := k.c.lookup(e.Node).node
	nc.hashes = nc.hashes[:1]
	nc.commit, nc.applied = 0, 0
	if snap, term := n.Compacted(); snap > 0 {
		if _, err := k.snapshotOK(e.Node, snap, term); err != nil {
			return fmt.Errorf("restore: %w", err)
		}
		nc.hashes = append(nc.hashes[:0], k.committed[:snap+1]...)
		nc.commit, nc.applied = snap, snap
	}
	for i := uint64(len(nc.hashes)); i <= e.Index; i++ {
		ent, ok := n.Entry(i)
		if !ok {
			return fmt.Errorf("restore: %s reports %d entries but lacks entry %d", e.Node, e.Index, i)
		}
		nc.hashes = append(nc.hashes, entryHash(nc.hashes[i-1], i, ent))
	}
	if !nc.crashed {
		return nil
	}
	nc.crashed = false
	st := n.Status()
	// A lost vote is left for Election Safety to catch: that is the harm it does.
	switch {
	case st.Term != nc.crash.Term:
		return fmt.Errorf("persistence: %s restarted in term %d; it crashed in term %d", e.Node, st.Term, nc.crash.Term)
	case st.SnapshotIndex != nc.crash.SnapshotIndex:
		return fmt.Errorf("persistence: %s restarted with a snapshot up to %d; it crashed with one up to %d", e.Node, st.SnapshotIndex, nc.crash.SnapshotIndex)
	case st.LastIndex != nc.crash.LastIndex || nc.hashes[len(nc.hashes)-1] != nc.crashH:
		return fmt.Errorf("committed entry lost: %s restarted with a log of %d entries unlike the %d it crashed with",
			e.Node, st.LastIndex, nc.crash.LastIndex)
	}
	return nil
}

func (k *checker) appended(e *raft.Event) error {
	nc := k.node(e.Node)
	n := k.c.lookup(e.Node).node
	if e.Index != uint64(len(nc.hashes)) {
		return fmt.Errorf("log: %s appended at %d but its log ends at %d", e.Node, e.Index, len(nc.hashes)-1)
	}
	var prevTerm uint64
	if snap, term := n.Compacted(); e.Index-1 == snap {
		prevTerm = term
	} else if e.Index > 1 {
		prev, _ := n.Entry(e.Index - 1)
		prevTerm = prev.Term
	}
	for i := e.Index; i <= e.Last; i++ {
		ent, ok := n.Entry(i)
		if !ok {
			return fmt.Errorf("log: %s reported entry %d appended but does not hold it", e.Node, i)
		}
		if prevTerm > ent.Term {
			return fmt.Errorf("log: %s holds entry %d of term %d after one of term %d", e.Node, i, ent.Term, prevTerm)
		}
		prevTerm = ent.Term
		h := entryHash(nc.hashes[i-1], i, ent)
		nc.hashes = append(nc.hashes, h)
		if seen, ok := k.seen(i, ent.Term, h); ok && seen != h {
			return fmt.Errorf("Log Matching: %s holds entry %d of term %d with a log that differs from another node's entry %d of term %d", e.Node, i, ent.Term, i, ent.Term)
		}
	}
	return nil
}

// seen returns the prefix hash first seen for entry (index, term), recording h if none was.
func (k *checker) seen(index, term, h uint64) (uint64, bool) {
	for uint64(len(k.byIndex)) <= index {
		k.byIndex = append(k.byIndex, termHash{})
	}
	switch th := &k.byIndex[index]; th.term {
	case 0:
		*th = termHash{term, h}
		return 0, false
	case term:
		return th.hash, true
	}
	key := entryKey{index, term}
	seen, ok := k.byEntry[key]
	if !ok {
		k.byEntry[key] = h
	}
	return seen, ok
}

// confOf returns the configuration node id used at the event being checked.
func (k *checker) confOf(id string) raft.Configuration {
	if nc := k.node(id); nc.confSet {
		return nc.conf
	}
	conf, _ := k.c.lookup(id).node.Configuration()
	return conf
}

// electedByItsConfiguration checks a new leader against the configuration it uses: it is a
// voter, and a quorum of its voters voted for it (a node never counts a vote from outside its
// configuration).
func (k *checker) electedByItsConfiguration(e *raft.Event) error {
	n := k.c.lookup(e.Node).node
	conf := k.confOf(e.Node)
	if !conf.IsVoter(e.Node) && n.Status().ConfigCommitted {
		// (A voter being removed may lead until its removal commits, thesis §4.2.2.)
		return fmt.Errorf("Configuration: %s leads term %d but is not a voter of its committed configuration (%s)", e.Node, e.Term, conf)
	}
	votes := k.votes[e.Term][e.Node]
	if !conf.HasQuorum(func(id string) bool { return slices.Contains(votes, id) }) {
		return fmt.Errorf("Configuration: %s leads term %d with the votes of %v, not a quorum of its configuration (%s)%s",
			e.Node, e.Term, votes, conf, quorumWords(conf))
	}
	return nil
}

// configurationsMeet checks that a new leader's configuration has quorums that meet those of
// the configuration that committed the latest entry (two configurations in use at once must
// not be able to decide apart).
func (k *checker) configurationsMeet(e *raft.Event) error {
	conf := k.confOf(e.Node)
	if len(k.commitConf.Voters) > 0 && !k.noIntersect && !raft.QuorumsIntersect(conf, k.commitConf) {
		return fmt.Errorf("Configuration: %s leads term %d under %s, whose majorities need not meet those of %s, which committed index %d",
			e.Node, e.Term, conf, k.commitConf, k.commitAt)
	}
	return nil
}

// committedByItsConfiguration checks that a leader's commit rests on a majority of the voters
// of its configuration holding the entry (a leader never counts an acknowledgement from outside
// its configuration).
func (k *checker) committedByItsConfiguration(e *raft.Event, h uint64) error {
	conf := k.confOf(e.Node)
	holds := func(v string) bool {
		sn := k.c.lookup(v)
		return sn != nil && uint64(len(sn.check.hashes)) > e.Index && sn.check.hashes[e.Index] == h
	}
	if !conf.HasQuorum(holds) {
		var held []string
		for _, v := range conf.AllVoters() {
			if holds(v) {
				held = append(held, v)
			}
		}
		return fmt.Errorf("Configuration: %s committed index %d in term %d held by voters %v of its configuration (%s), not a quorum%s",
			e.Node, e.Index, e.Term, held, conf, quorumWords(conf))
	}
	k.commitConf, k.commitAt = conf, e.Index
	return nil
}

// quorumWords says what a quorum of conf is.
func quorumWords(conf raft.Configuration) string {
	if conf.Joint() {
		return fmt.Sprintf("; a quorum is %d of %s and %d of %s", len(conf.Outgoing)/2+1, strings.Join(conf.Outgoing, ","), len(conf.Voters)/2+1, strings.Join(conf.Voters, ","))
	}
	return fmt.Sprintf("; a majority is %d", len(conf.Voters)/2+1)
}

func (k *checker) commit(e *raft.Event) error {
	nc := k.node(e.Node)
	c := e.Index
	if c < nc.commit {
		return fmt.Errorf("commit: %s moved its commit index back from %d to %d", e.Node, nc.commit, c)
	}
	if c >= uint64(len(nc.hashes)) {
		return fmt.Errorf("commit: %s committed %d but its log ends at %d", e.Node, c, len(nc.hashes)-1)
	}
	nc.commit = c
	if k.leaders[e.Term] == e.Node && e.Term > 0 {
		if s, _ := k.c.lookup(e.Node).node.Role(); s == raft.Leader {
			if err := k.committedByItsConfiguration(e, nc.hashes[c]); err != nil {
				return err
			}
		}
	}
	last := uint64(len(k.committed) - 1)
	if c <= last {
		if nc.hashes[c] != k.committed[c] {
			return fmt.Errorf("State Machine Safety: %s committed a different entry at %d than another node", e.Node, c)
		}
		return nil
	}
	if nc.hashes[last] != k.committed[last] {
		return fmt.Errorf("State Machine Safety: %s committed up to %d over entries that differ from the committed ones at %d", e.Node, c, last)
	}
	n := k.c.lookup(e.Node).node
	for i := last + 1; i <= c; i++ {
		k.committed = append(k.committed, nc.hashes[i])
		ent, _ := n.Entry(i)
		k.terms = append(k.terms, ent.Term)
		k.commitTerms = append(k.commitTerms, e.Term)
		switch ent.Type {
		case raft.EntryCommand:
			k.committedCommands++
		case raft.EntryConfig:
			k.changes++
		}
	}
	return nil
}

// applied checks a committed entry handed to a node's application: in order, each once per
// lifetime, and only once committed.
func (k *checker) applied(sn *simNode, e raft.CommitEntry) {
	if k.c.violation != nil {
		return // the run stopped: the committed log is no longer followed
	}
	nc := k.node(sn.id)
	var err error
	switch {
	case e.Index != nc.applied+1:
		err = fmt.Errorf("apply: %s delivered entry %d after %d", sn.id, e.Index, nc.applied)
	case e.Index > nc.commit:
		err = fmt.Errorf("apply: %s delivered entry %d above its commit index %d", sn.id, e.Index, nc.commit)
	case entryHash(k.committed[e.Index-1], e.Index, raft.Entry{Term: e.Term, Type: e.Type, Command: e.Command}) != k.committed[e.Index]:
		err = fmt.Errorf("State Machine Safety: %s applied an entry at %d that is not the committed one", sn.id, e.Index)
	}
	nc.applied = e.Index
	if err != nil && k.c.violation == nil {
		k.c.violation = fmt.Errorf("sim: seed=%d: %w (at %v)", k.c.opts.Seed, err, k.c.now)
	}
}

// stateHash hashes an application state as its snapshot encodes it.
func stateHash(data []byte) uint64 { return mixString(0x5ca1ab1e, string(data)) }

// sameState records the application state of node at index, or checks it against the state
// recorded there before: every node's application passes through the same states.
func (k *checker) sameState(node string, index uint64, h uint64, how string) {
	seen, ok := k.states[index]
	if !ok {
		k.states[index] = h
		return
	}
	if seen != h {
		k.c.fail(fmt.Errorf("State Machine Safety: %s's application state at %d (%s) differs from another node's at the same index", node, index, how))
	}
}

// compacted records the state a node's snapshot holds.
func (k *checker) compacted(sn *simNode, data []byte) {
	index, _ := sn.node.Compacted()
	k.sameState(sn.id, index, stateHash(data), "in the snapshot it took")
}

// restoredApp checks an application restored from a snapshot: the snapshot the node holds, in
// the same state as every other node at that index.
func (k *checker) restoredApp(sn *simNode, s *raft.Snapshot) {
	nc := k.node(sn.id)
	if s.Index != nc.applied {
		k.c.fail(fmt.Errorf("snapshot: %s handed its application a snapshot up to %d with %d applied", sn.id, s.Index, nc.applied))
		return
	}
	k.sameState(sn.id, s.Index, stateHash(s.Data), "in the snapshot it restored")
	k.sameState(sn.id, s.Index, stateHash(sn.app.Snapshot()), "after restoring the snapshot")
}

// appliedState checks a node's application after it applied the entry at index, where a
// snapshot recorded the state.
func (k *checker) appliedState(sn *simNode, index uint64) {
	if _, ok := k.states[index]; ok {
		k.sameState(sn.id, index, stateHash(sn.app.Snapshot()), "after applying the log")
	}
}
