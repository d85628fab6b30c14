// Package driver is what every wall-clock driver of a raft.Node does the same way: the native
// node's goroutine (server/native) and the page's event loop (wasm/mixed_js.go) both follow
// the proposals waiting for their entries to commit (Tracker) and hand out each Ready in the
// order Raft's safety asks for (Node.Handle). What differs between them, how messages leave,
// how the application applies and snapshots, how storage writes are grouped, how an outcome
// reaches whoever proposed, comes in as Hooks.
//
// Like the core it is deterministic: no goroutines, no clock (time is passed in), no I/O of
// its own. A driver calls it from the one place that owns the node; nothing here is safe for
// concurrent use.
package driver

import (
	"errors"

	"raftlab/raft"
)

// ErrReplaced is a proposal's outcome when the entry at its index was not the one proposed (a
// later leader's entry replaced it): it was not committed.
var ErrReplaced = errors.New("the command was lost to a leader change; it was not committed")

// ErrInSnapshot is a proposal's outcome when, after a leader change, a snapshot from the new
// leader replaced the log up to and past its index: the entry may or may not have been
// committed, and its answer is not known.
var ErrInSnapshot = errors.New("after a leader change the command's entry was replaced by the new leader's snapshot; whether it was committed is unknown")

// Outcome is what became of a proposal.
type Outcome struct {
	Index, Term uint64 // the committed entry's (0 when Err is set)
	// Value is the application's answer for a command, or for a membership change the new
	// configuration, as the raft.EntryConfig entry's command (raft.ParseConfiguration reads it).
	Value []byte
	// Err is nil when the proposal was committed and applied; else ErrReplaced, ErrInSnapshot,
	// the application's error applying the entry, or why the driver stopped (Tracker.Fail).
	Err error
}

// Tracker follows proposals by the log index of their entry until their outcome: the entry
// committed in the term it was proposed in (the answer), another term's entry at that index
// (ErrReplaced), a snapshot covering the index (ErrInSnapshot), or the driver stopping. Its
// zero value is ready to use once Answer is set.
type Tracker struct {
	// Answer is called with each proposal's outcome, exactly once per proposal, with the ref
	// it was added with.
	Answer  func(ref any, o Outcome)
	pending map[uint64]proposal
}

type proposal struct {
	term   uint64
	change bool
	ref    any
}

// Add waits for the entry a node appended at index in term: a command, or a membership change
// (change), whose outcome goes to Answer with ref. A proposal still waiting at that index is
// answered ErrReplaced: the node's log no longer holds its entry (a leader of a later term
// truncated it, so it was not committed; §5.3, §5.4.1).
func (t *Tracker) Add(index, term uint64, change bool, ref any) {
	if t.pending == nil {
		t.pending = make(map[uint64]proposal)
	}
	if old, ok := t.pending[index]; ok {
		t.Answer(old.ref, Outcome{Err: ErrReplaced})
	}
	t.pending[index] = proposal{term: term, change: change, ref: ref}
}

// Len reports how many proposals wait.
func (t *Tracker) Len() int { return len(t.pending) }

// Waits reports whether a proposal waits for the entry at index.
func (t *Tracker) Waits(index uint64) bool {
	_, ok := t.pending[index]
	return ok
}

// Commit answers the proposal waiting at e's index, if any, now that e is committed and
// applied: value and err are what the application made of it. The entry is the one proposed
// when its term is the proposal's (Log Matching, §5.3) and it is of the kind proposed; a
// membership change's value is the configuration itself.
func (t *Tracker) Commit(e *raft.CommitEntry, value []byte, err error) {
	p, ok := t.pending[e.Index]
	if !ok {
		return
	}
	delete(t.pending, e.Index)
	switch {
	case p.term != e.Term || p.change != (e.Type == raft.EntryConfig):
		t.Answer(p.ref, Outcome{Err: ErrReplaced})
	case p.change:
		t.Answer(p.ref, Outcome{Index: e.Index, Term: e.Term, Value: e.Command})
	case err != nil:
		t.Answer(p.ref, Outcome{Err: err})
	default:
		t.Answer(p.ref, Outcome{Index: e.Index, Term: e.Term, Value: value})
	}
}

// Cover answers every proposal at or below index with ErrInSnapshot: a snapshot from the
// leader replaced those entries, so whether each was committed, and its answer, is not known.
func (t *Tracker) Cover(index uint64) {
	for i, p := range t.pending {
		if i <= index {
			delete(t.pending, i)
			t.Answer(p.ref, Outcome{Err: ErrInSnapshot})
		}
	}
}

// Fail answers every waiting proposal with err: the driver stopped the node (a crash, a
// failed storage write, a plain stop). Each entry may still commit, but no one will say.
func (t *Tracker) Fail(err error) {
	for i, p := range t.pending {
		delete(t.pending, i)
		t.Answer(p.ref, Outcome{Err: err})
	}
}
