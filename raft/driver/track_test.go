package driver

import (
	"errors"
	"reflect"
	"testing"

	"raftlab/raft"
)

// Every outcome a proposal can have, each given exactly once.
func TestTrackerOutcomes(t *testing.T) {
	type add struct {
		index, term uint64
		change      bool
		ref         string
	}
	conf := []byte("n1,n2,n3;n4")
	cmd := func(index, term uint64) *raft.CommitEntry {
		return &raft.CommitEntry{Index: index, Term: term, Type: raft.EntryCommand, Command: []byte("put x 1")}
	}
	errStop := errors.New("n1 crashed")
	errApply := errors.New("kv: apply index 5 after 3")
	for _, tc := range []struct {
		name    string
		adds    []add
		then    func(t *Tracker)
		want    map[string]Outcome
		waiting int
	}{{
		name: "committed command",
		adds: []add{{5, 2, false, "a"}},
		then: func(t *Tracker) { t.Commit(cmd(5, 2), []byte(`{"outcome":"applied"}`), nil) },
		want: map[string]Outcome{"a": {Index: 5, Term: 2, Value: []byte(`{"outcome":"applied"}`)}},
	}, {
		name: "committed membership change carries the configuration",
		adds: []add{{7, 3, true, "a"}},
		then: func(t *Tracker) {
			t.Commit(&raft.CommitEntry{Index: 7, Term: 3, Type: raft.EntryConfig, Command: conf}, []byte("the application's"), nil)
		},
		want: map[string]Outcome{"a": {Index: 7, Term: 3, Value: conf}},
	}, {
		name: "replaced by another term's entry",
		adds: []add{{5, 2, false, "a"}, {6, 2, false, "b"}},
		then: func(t *Tracker) { t.Commit(cmd(5, 3), []byte("x"), nil) },
		want: map[string]Outcome{"a": {Err: ErrReplaced}}, waiting: 1,
	}, {
		name: "replaced by an entry of another kind",
		adds: []add{{5, 2, true, "a"}},
		then: func(t *Tracker) { t.Commit(cmd(5, 2), nil, nil) },
		want: map[string]Outcome{"a": {Err: ErrReplaced}},
	}, {
		name: "replaced by a later proposal at the same index",
		adds: []add{{5, 2, false, "a"}, {5, 4, false, "b"}},
		then: func(t *Tracker) {},
		want: map[string]Outcome{"a": {Err: ErrReplaced}}, waiting: 1,
	}, {
		name: "covered by a snapshot",
		adds: []add{{4, 2, false, "a"}, {5, 2, true, "b"}, {7, 2, false, "c"}},
		then: func(t *Tracker) { t.Cover(5) },
		want: map[string]Outcome{"a": {Err: ErrInSnapshot}, "b": {Err: ErrInSnapshot}}, waiting: 1,
	}, {
		name: "failed on stop",
		adds: []add{{4, 2, false, "a"}, {5, 2, true, "b"}},
		then: func(t *Tracker) { t.Fail(errStop) },
		want: map[string]Outcome{"a": {Err: errStop}, "b": {Err: errStop}},
	}, {
		name: "the application's error",
		adds: []add{{5, 2, false, "a"}},
		then: func(t *Tracker) { t.Commit(cmd(5, 2), nil, errApply) },
		want: map[string]Outcome{"a": {Err: errApply}},
	}, {
		name: "an entry no one waits for",
		adds: []add{{5, 2, false, "a"}},
		then: func(t *Tracker) { t.Commit(cmd(4, 2), nil, nil); t.Commit(cmd(6, 2), nil, nil) },
		want: map[string]Outcome{}, waiting: 1,
	}} {
		t.Run(tc.name, func(t *testing.T) {
			got := map[string]Outcome{}
			tr := Tracker{Answer: func(ref any, o Outcome) {
				r := ref.(string)
				if _, twice := got[r]; twice {
					t.Errorf("%s answered twice: %+v, then %+v", r, got[r], o)
				}
				got[r] = o
			}}
			for _, a := range tc.adds {
				tr.Add(a.index, a.term, a.change, a.ref)
			}
			tc.then(&tr)
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("outcomes %+v; want %+v", got, tc.want)
			}
			if tr.Len() != tc.waiting {
				t.Errorf("%d proposals still wait; want %d", tr.Len(), tc.waiting)
			}
		})
	}
}

// The zero Tracker waits for nothing and answers nothing.
func TestTrackerZero(t *testing.T) {
	var tr Tracker
	tr.Commit(&raft.CommitEntry{Index: 1, Term: 1}, nil, nil)
	tr.Cover(10)
	tr.Fail(errors.New("stopped"))
	if tr.Len() != 0 || tr.Waits(1) {
		t.Errorf("a zero Tracker waits for %d proposals", tr.Len())
	}
}

// The outcomes' sentences, as the page sends them to the hub (and server/native prefixes).
func TestOutcomeTexts(t *testing.T) {
	for err, want := range map[error]string{
		ErrReplaced:   "the command was lost to a leader change; it was not committed",
		ErrInSnapshot: "after a leader change the command's entry was replaced by the new leader's snapshot; whether it was committed is unknown",
	} {
		if err.Error() != want {
			t.Errorf("%q; want %q", err, want)
		}
	}
}
