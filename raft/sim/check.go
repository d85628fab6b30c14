// Safety checks run after every event: Election Safety, Log Matching, Leader Completeness,
// State Machine Safety, and no committed entry lost across crashes and restarts.

package sim

import (
	"fmt"

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

	elections         int
	committedCommands int
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
}

func newChecker(c *Cluster) *checker {
	return &checker{
		c:         c,
		leaders:   make(map[uint64]string),
		byEntry:   make(map[entryKey]uint64),
		committed: []uint64{0},
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
		return k.restored(e)
	case raft.EvCrash:
		nc := k.node(e.Node)
		nc.crashed = true
		nc.crash = k.c.lookup(e.Node).last
		nc.crashH = nc.hashes[len(nc.hashes)-1]
	case raft.EvState:
		if e.State != raft.Leader {
			return nil
		}
		k.elections++
		if other, ok := k.leaders[e.Term]; ok && other != e.Node {
			return fmt.Errorf("Election Safety: %s and %s are both leaders of term %d", other, e.Node, e.Term)
		}
		k.leaders[e.Term] = e.Node
		// Leader Completeness: the new leader holds every committed entry.
		nc := k.node(e.Node)
		last := uint64(len(k.committed) - 1)
		if uint64(len(nc.hashes)) <= last || nc.hashes[last] != k.committed[last] {
			return fmt.Errorf("Leader Completeness: %s leads term %d without the committed entries up to %d", e.Node, e.Term, last)
		}
	case raft.EvTruncate:
		nc := k.node(e.Node)
		if e.Index < uint64(len(k.committed)) && e.Index < uint64(len(nc.hashes)) && nc.hashes[e.Index] == k.committed[e.Index] {
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
	case raft.EvCommit:
		return k.commit(e)
	}
	return nil
}

func (k *checker) restored(e *raft.Event) error {
	nc := k.node(e.Node)
	n := k.c.lookup(e.Node).node
	nc.hashes = nc.hashes[:1]
	for i := uint64(1); i <= e.Index; i++ {
		ent, ok := n.Entry(i)
		if !ok {
			return fmt.Errorf("restore: %s reports %d entries but lacks entry %d", e.Node, e.Index, i)
		}
		nc.hashes = append(nc.hashes, entryHash(nc.hashes[i-1], i, ent))
	}
	nc.commit, nc.applied = 0, 0
	if !nc.crashed {
		return nil
	}
	nc.crashed = false
	st := n.Status()
	// A lost vote is left for Election Safety to catch: that is the harm it does.
	switch {
	case st.Term != nc.crash.Term:
		return fmt.Errorf("persistence: %s restarted in term %d; it crashed in term %d", e.Node, st.Term, nc.crash.Term)
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
	if e.Index > 1 {
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
		if ent, _ := n.Entry(i); ent.Type == raft.EntryCommand {
			k.committedCommands++
		}
	}
	return nil
}

// applied checks a committed entry handed to a node's application: in order, each once per
// lifetime, and only once committed.
func (k *checker) applied(sn *simNode, e raft.CommitEntry) {
	nc := k.node(sn.id)
	var err error
	switch {
	case e.Index != nc.applied+1:
		err = fmt.Errorf("apply: %s delivered entry %d after %d", sn.id, e.Index, nc.applied)
	case e.Index > nc.commit:
		err = fmt.Errorf("apply: %s delivered entry %d above its commit index %d", sn.id, e.Index, nc.commit)
	}
	nc.applied = e.Index
	if err != nil && k.c.violation == nil {
		k.c.violation = fmt.Errorf("sim: seed=%d: %w (at %v)", k.c.opts.Seed, err, k.c.now)
	}
}
