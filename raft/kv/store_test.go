// Tests of the state machine: order, sessions, duplicates, invalid entries.

package kv

import (
	"reflect"
	"strings"
	"testing"

	"raftlab/raft"
)

// log builds committed entries from request texts; "noop" makes a no-op entry.
func entries(texts ...string) []raft.CommitEntry {
	es := make([]raft.CommitEntry, len(texts))
	for i, s := range texts {
		es[i] = raft.CommitEntry{Index: uint64(i + 1), Term: 1, Type: raft.EntryCommand, Command: []byte(s)}
		if s == "noop" {
			es[i] = raft.CommitEntry{Index: uint64(i + 1), Term: 1, Type: raft.EntryNoop}
		}
	}
	return es
}

func applyAll(t *testing.T, s *Store, es []raft.CommitEntry) []Outcome {
	t.Helper()
	var outs []Outcome
	for _, e := range es {
		o, err := s.Apply(e)
		if err != nil {
			t.Fatalf("Apply(%d) = %v", e.Index, err)
		}
		outs = append(outs, o)
	}
	return outs
}

func TestStoreApply(t *testing.T) {
	s := NewStore()
	outs := applyAll(t, s, entries(
		"noop",
		"c1#1 put x 1",
		"c2#1 get x",
		"c1#2 append x 2",
		"c1#2 append x 2", // c1 retried after a timeout: applied once
		"c2#2 get x",
		"c2#1 get x", // a stale copy of c2's first request
		"get y",      // outside any session
		"c2#3 delete x",
		"c2#4 delete x",
		"c2#5 get x",
		"c3#1 bogus x", // submitted around ParseCommand
	))
	want := []struct {
		kind OutcomeKind
		res  Result
	}{
		{Noop, Result{}},
		{Applied, Result{}},
		{Applied, Result{Value: "1", Found: true}},
		{Applied, Result{}},
		{Duplicate, Result{}},
		{Applied, Result{Value: "12", Found: true}},
		{Superseded, Result{}},
		{Applied, Result{}},
		{Applied, Result{Found: true}},
		{Applied, Result{Found: false}},
		{Applied, Result{}},
		{Invalid, Result{}},
	}
	for i, w := range want {
		if outs[i].Kind != w.kind || outs[i].Result != w.res || outs[i].Index != uint64(i+1) {
			t.Errorf("entry %d: outcome %v (%+v); want %v with %+v", i+1, outs[i], outs[i], w.kind, w.res)
		}
	}
	if outs[11].Err == nil || !strings.Contains(outs[11].Err.Error(), "bogus") {
		t.Errorf("invalid entry's error = %v; want it to name the command", outs[11].Err)
	}
	if s.Applied() != 12 || s.Len() != 0 {
		t.Errorf("Applied() = %d, Len() = %d; want 12, 0", s.Applied(), s.Len())
	}
	if seq, ok := s.Session("c2"); !ok || seq != 5 {
		t.Errorf("Session(c2) = %d, %t; want 5, true", seq, ok)
	}
	if _, ok := s.Session("c3"); ok {
		t.Errorf("an invalid entry opened a session")
	}
}

// A duplicate of the latest request answers with the first answer even when the state has
// changed since (the retried get must not see a later write).
func TestDuplicateAnsweredFromSession(t *testing.T) {
	s := NewStore()
	outs := applyAll(t, s, entries("c1#1 put x a", "c2#1 get x", "c1#2 put x b", "c2#1 get x"))
	if outs[3].Kind != Duplicate || outs[3].Result != (Result{Value: "a", Found: true}) {
		t.Errorf("retried get = %v; want the first answer \"a\" from the session", outs[3])
	}
	if v, _ := s.Get("x"); v != "b" {
		t.Errorf("x = %q; want b", v)
	}
}

func TestApplyOutOfOrder(t *testing.T) {
	s := NewStore()
	es := entries("c1#1 put x 1", "c1#2 put x 2")
	if _, err := s.Apply(es[1]); err == nil {
		t.Errorf("Apply(index 2) on an empty store succeeded; want an error")
	}
	applyAll(t, s, es[:1])
	if _, err := s.Apply(es[0]); err == nil {
		t.Errorf("applying index 1 twice succeeded; want an error")
	}
	if v, _ := s.Get("x"); v != "1" || s.Applied() != 1 {
		t.Errorf("after refused applies: x = %q, Applied() = %d; want 1, 1", v, s.Applied())
	}
}

// Nodes that apply the same log agree, whatever the retries and duplicates in it.
func TestStoresAgree(t *testing.T) {
	es := entries("c1#1 put a 1", "c2#1 append a x", "c1#1 put a 1", "c1#2 put b 2", "c2#2 delete a", "c2#2 delete a", "c3#1 append b 3")
	a, b := NewStore(), NewStore()
	oa, ob := applyAll(t, a, es), applyAll(t, b, es)
	if !reflect.DeepEqual(oa, ob) || !reflect.DeepEqual(a.Data(), b.Data()) {
		t.Errorf("two stores fed the same log differ: %v vs %v", a.Data(), b.Data())
	}
	if got, want := a.Data(), map[string]string{"b": "23"}; !reflect.DeepEqual(got, want) {
		t.Errorf("Data() = %v; want %v", got, want)
	}
	if got := a.Keys(); !reflect.DeepEqual(got, []string{"b"}) {
		t.Errorf("Keys() = %v", got)
	}
}

func TestOutcomeString(t *testing.T) {
	s := NewStore()
	outs := applyAll(t, s, entries("noop", "c1#1 put x 1", "c1#2 get x", "c1#2 get x", "c1#3 delete y", "junk"))
	want := []string{"1 noop", "2 c1#1 put x 1 → ok", `3 c1#2 get x → "1"`, `4 c1#2 get x → "1" (duplicate)`,
		"5 c1#3 delete y → not found", `6 invalid entry: kv: unknown command "junk"; want put, append, get or delete`}
	for i, o := range outs {
		if got := o.String(); got != want[i] {
			t.Errorf("Outcome.String() = %q; want %q", got, want[i])
		}
	}
}
