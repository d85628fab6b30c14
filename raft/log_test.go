// Tests of the chunked in-memory log against a plain slice.

package raft

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestLogMatchesSlice(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	var l raftLog
	var model []Entry
	for step := range 3000 {
		switch r := rng.IntN(10); {
		case r < 7:
			es := make([]Entry, rng.IntN(700))
			for i := range es {
				es[i] = Entry{Term: uint64(step), Type: EntryCommand, Command: []byte(fmt.Sprint(step, i))}
			}
			l.append(es)
			model = append(model, es...)
		default:
			from := uint64(rng.IntN(len(model)+2) + 1)
			l.truncate(from)
			if int(from-1) < len(model) {
				model = model[:from-1]
			}
		}
		if l.lastIndex() != uint64(len(model)) {
			t.Fatalf("step %d: lastIndex %d; want %d", step, l.lastIndex(), len(model))
		}
		for _, c := range l.chunks[:max(0, len(l.chunks)-1)] {
			if len(c) != chunkSize {
				t.Fatalf("step %d: a chunk before the last holds %d entries", step, len(c))
			}
		}
		if len(model) == 0 {
			continue
		}
		lo := uint64(rng.IntN(len(model)) + 1)
		hi := lo + uint64(rng.IntN(len(model)-int(lo)+2))
		got := l.slice(lo, hi)
		if !slices.EqualFunc(got, model[lo-1:hi-1], func(a, b Entry) bool {
			return a.Term == b.Term && string(a.Command) == string(b.Command)
		}) {
			t.Fatalf("step %d: slice(%d, %d) differs from the model", step, lo, hi)
		}
		i := lo
		if e := l.entry(i); e.Term != model[i-1].Term || string(e.Command) != string(model[i-1].Command) || l.term(i) != e.Term {
			t.Fatalf("step %d: entry %d differs", step, i)
		}
	}
	if l.term(0) != 0 || l.term(l.lastIndex()+1) != 0 {
		t.Error("term outside the log is not 0")
	}
}
