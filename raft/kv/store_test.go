// Tests of the state machine: order, sessions, duplicates, invalid entries.

package kv

import (
	"bytes"
	"fmt"
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

// A retried request whose first attempt was applied before a snapshot still applies once on a
// store restored from that snapshot: the snapshot carries the client sessions. With the
// ForgetSessions bug it applies twice.
func TestRetryAfterSnapshotAppliesOnce(t *testing.T) {
	req := Request{ClientID: "c1", Seq: 1, Command: Append("x", "a;")}.Encode()
	for _, forget := range []bool{false, true} {
		s := NewStore()
		s.ForgetSessions = forget
		if _, err := s.Apply(raft.CommitEntry{Index: 1, Term: 1, Type: raft.EntryCommand, Command: req}); err != nil {
			t.Fatal(err)
		}
		r := NewStore()
		if err := r.Restore(1, s.Snapshot()); err != nil {
			t.Fatalf("Restore: %v", err)
		}
		// The retry of c1#1, committed again at index 2 (its first answer was lost).
		out, err := r.Apply(raft.CommitEntry{Index: 2, Term: 1, Type: raft.EntryCommand, Command: req})
		if err != nil {
			t.Fatal(err)
		}
		v, _ := r.Get("x")
		switch {
		case !forget && (out.Kind != Duplicate || v != "a;"):
			t.Errorf("retry after a snapshot: %s, x = %q; want a duplicate and x = \"a;\"", out.Kind, v)
		case forget && (out.Kind != Applied || v != "a;a;"):
			t.Errorf("with ForgetSessions: %s, x = %q; want the retry applied again, x = \"a;a;\"", out.Kind, v)
		}
	}
}

func TestSnapshotRoundTrip(t *testing.T) {
	s := NewStore()
	for i, c := range []Command{Put("x", "1"), Append("y", "2"), Delete("x"), Get("y")} {
		req := Request{ClientID: fmt.Sprintf("c%d", i%2+1), Seq: uint64(i + 1), Command: c}.Encode()
		if _, err := s.Apply(raft.CommitEntry{Index: uint64(i + 1), Term: 1, Type: raft.EntryCommand, Command: req}); err != nil {
			t.Fatal(err)
		}
	}
	snap := s.Snapshot()
	r := NewStore()
	if err := r.Restore(4, snap); err != nil {
		t.Fatal(err)
	}
	if got := r.Snapshot(); !bytes.Equal(got, snap) {
		t.Errorf("restored store encodes as %s; want %s", got, snap)
	}
	if r.Applied() != 4 || r.Len() != 1 {
		t.Errorf("restored: applied %d, %d keys; want 4, 1", r.Applied(), r.Len())
	}
	for _, tc := range []struct {
		index uint64
		data  string
	}{
		{5, string(snap)},
		{4, "not json"},
		{4, `{"applied":4,"data":{},"sessions":{},"extra":1}`},
		{4, `{"applied":4,"data":{},"sessions":{"bad id!":{"seq":1}}}`},
		{4, string(snap) + "{}"},
	} {
		before := r.Snapshot()
		if err := r.Restore(tc.index, []byte(tc.data)); err == nil {
			t.Errorf("Restore(%d, %q) = nil; want an error", tc.index, tc.data)
		}
		if !bytes.Equal(r.Snapshot(), before) {
			t.Errorf("a failed Restore(%d, %q) changed the store", tc.index, tc.data)
		}
	}
}

// FirstKeys gives the smallest keys in order, as Keys' first ones are.
func TestFirstKeys(t *testing.T) {
	s := NewStore()
	var texts []string
	for _, k := range []int{7, 3, 42, 11, 0, 99, 5, 20, 1} {
		texts = append(texts, fmt.Sprintf("put k%02d v", k))
	}
	applyAll(t, s, entries(texts...))
	for _, n := range []int{0, 1, 4, 9, 20} {
		want := s.Keys()[:min(n, s.Len())]
		if got := s.FirstKeys(n); !reflect.DeepEqual(got, want) {
			t.Errorf("FirstKeys(%d) = %v; want %v", n, got, want)
		}
	}
}
