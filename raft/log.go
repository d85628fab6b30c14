// The in-memory log, indexed from 1, with room for a compacted prefix.

package raft

import (
	"slices"
	"strconv"
)

// raftLog holds entries offset+1 … offset+len(entries). Entries up to offset have been
// compacted away (snapshots are future work; today offset stays 0), and offsetTerm is the term
// of the entry at offset.
type raftLog struct {
	offset     uint64
	offsetTerm uint64
	entries    []Entry
}

func (l *raftLog) lastIndex() uint64 { return l.offset + uint64(len(l.entries)) }

func (l *raftLog) lastTerm() uint64 { return l.term(l.lastIndex()) }

// term returns the term of the entry at i, 0 for index 0 or an index outside the log.
func (l *raftLog) term(i uint64) uint64 {
	switch {
	case i == l.offset:
		return l.offsetTerm
	case i < l.offset || i > l.lastIndex():
		return 0
	}
	return l.entries[i-l.offset-1].Term
}

// entry returns the entry at i; i must be in the log.
func (l *raftLog) entry(i uint64) Entry { return l.entries[i-l.offset-1] }

// slice returns a copy of the entries lo … hi-1, safe to hand to another node.
func (l *raftLog) slice(lo, hi uint64) []Entry {
	return slices.Clone(l.entries[lo-l.offset-1 : hi-l.offset-1])
}

// truncate removes the entries from index from on.
func (l *raftLog) truncate(from uint64) {
	clear(l.entries[from-l.offset-1:])
	l.entries = l.entries[:from-l.offset-1]
}

func (l *raftLog) append(es []Entry) { l.entries = append(l.entries, es...) }

// firstIndexOfTerm returns the first index of the run of entries sharing the term of the entry
// at i (the conflict hint a follower gives).
func (l *raftLog) firstIndexOfTerm(i uint64) uint64 {
	t := l.term(i)
	for i > l.offset+1 && l.term(i-1) == t {
		i--
	}
	return i
}

// lastIndexOfTerm returns the last index at or below from holding an entry of term t, or 0.
func (l *raftLog) lastIndexOfTerm(t, from uint64) uint64 {
	for i := from; i > l.offset; i-- {
		switch lt := l.term(i); {
		case lt == t:
			return i
		case lt < t:
			return 0
		}
	}
	return 0
}

// uintBytes is u in decimal, in a buffer of its own (one allocation).
func uintBytes(u uint64) []byte { return strconv.AppendUint(make([]byte, 0, 20), u, 10) }
