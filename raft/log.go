// The in-memory log, indexed from 1, with room for a compacted prefix.

package raft

import (
	"strconv"
)

// raftLog holds entries offset+1 … offset+n. Entries up to offset have been compacted away
// into a snapshot, and offsetTerm is the term of the entry at offset (the snapshot's last
// included entry). The entries live in chunks of chunkSize, every chunk full but the last, so that a
// long log grows without ever being copied.
type raftLog struct {
	offset     uint64
	offsetTerm uint64
	chunks     [][]Entry
	n          int
	// truncations counts truncations, so that copies of a range can tell they are still good.
	truncations uint64
}

const (
	chunkBits = 10
	chunkSize = 1 << chunkBits
)

func (l *raftLog) lastIndex() uint64 { return l.offset + uint64(l.n) }

func (l *raftLog) lastTerm() uint64 { return l.term(l.lastIndex()) }

// at returns the k-th entry held (0-based, after offset).
func (l *raftLog) at(k uint64) *Entry { return &l.chunks[k>>chunkBits][k&(chunkSize-1)] }

// term returns the term of the entry at i, 0 for index 0 or an index outside the log.
func (l *raftLog) term(i uint64) uint64 {
	switch {
	case i == l.offset:
		return l.offsetTerm
	case i < l.offset || i > l.lastIndex():
		return 0
	}
	return l.at(i - l.offset - 1).Term
}

// entry returns the entry at i; i must be in the log.
func (l *raftLog) entry(i uint64) Entry { return *l.at(i - l.offset - 1) }

// slice returns a copy of the entries lo … hi-1, safe to hand to another node.
func (l *raftLog) slice(lo, hi uint64) []Entry {
	if hi <= lo {
		return nil
	}
	out := make([]Entry, 0, hi-lo)
	for k, end := lo-l.offset-1, hi-l.offset-1; k < end; {
		c := l.chunks[k>>chunkBits]
		from := k & (chunkSize - 1)
		take := min(uint64(len(c))-from, end-k)
		out = append(out, c[from:from+take]...)
		k += take
	}
	return out
}

// truncate removes the entries from index from on.
func (l *raftLog) truncate(from uint64) {
	k := from - l.offset - 1 // entries kept
	if k >= uint64(l.n) {
		return
	}
	l.truncations++
	ci, within := int(k>>chunkBits), int(k&(chunkSize-1))
	for j := ci; j < len(l.chunks); j++ {
		if j == ci {
			clear(l.chunks[j][within:]) // let the commands go
		} else {
			clear(l.chunks[j])
		}
	}
	keep := ci
	if within > 0 {
		l.chunks[ci] = l.chunks[ci][:within]
		keep++
	}
	clear(l.chunks[keep:])
	l.chunks = l.chunks[:keep]
	l.n = int(k)
}

// compact drops the entries up to index, which must be in the log, keeping those after it.
func (l *raftLog) compact(index uint64) {
	term := l.term(index)
	rest := l.slice(index+1, l.lastIndex()+1)
	l.reset(index, term)
	l.append(rest)
}

// reset empties the log, which now follows a snapshot up to index of term.
func (l *raftLog) reset(index, term uint64) {
	clear(l.chunks) // let the commands go
	*l = raftLog{offset: index, offsetTerm: term, truncations: l.truncations + 1}
}

func (l *raftLog) append(es []Entry) {
	for len(es) > 0 {
		last := len(l.chunks) - 1
		if last < 0 || len(l.chunks[last]) == chunkSize {
			size := chunkSize
			if last < 0 {
				size = min(chunkSize, max(len(es), 16)) // small logs stay small
			}
			l.chunks = append(l.chunks, make([]Entry, 0, size))
			last++
		}
		take := min(len(es), chunkSize-len(l.chunks[last]))
		l.chunks[last] = append(l.chunks[last], es[:take]...)
		l.n += take
		es = es[take:]
	}
}

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
