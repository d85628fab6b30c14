package wire

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"raftlab/raft"
	"raftlab/raft/kv"
)

// The recorder keeps the kinds a person follows, at most its size, updates a member's commit
// in place while commits follow within a second, and numbers events above an earlier run's.
func TestRecorder(t *testing.T) {
	t0 := time.Date(2026, 12, 2, 23, 0, 0, 0, time.UTC)
	r := NewRecorder(4, t0)
	r.Record(raft.Event{Kind: raft.EvAppend, Node: "n1", Index: 1, Last: 1}, t0) // not kept
	r.Record(raft.Event{Kind: raft.EvState, Node: "n1", State: raft.Leader, Term: 2}, t0)
	r.Record(raft.Event{Kind: raft.EvCommit, Node: "n1", Index: 1}, t0)
	r.Record(raft.Event{Kind: raft.EvCommit, Node: "n2", Index: 1}, t0)
	r.Record(raft.Event{Kind: raft.EvCommit, Node: "n1", Index: 5}, t0.Add(500*time.Millisecond))
	ev := r.Events()
	if len(ev) != 3 || ev[0].Kind != "state" || ev[0].State != "leader" || ev[0].Text != "n1 became leader in term 2" {
		t.Fatalf("events %+v", ev)
	}
	if ev[1].Node != "n1" || ev[1].Index != 5 || ev[1].Text != "n1 committed up to index 5" || ev[1].At != t0.Add(500*time.Millisecond).UnixMilli() {
		t.Errorf("n1's commits not updated in place: %+v", ev[1])
	}
	seq := ev[1].Seq
	r.Record(raft.Event{Kind: raft.EvCommit, Node: "n1", Index: 6}, t0.Add(2*time.Second)) // over a second later: a new line
	r.Record(raft.Event{Kind: raft.EvVote, Node: "n1", Peer: "n2", Term: 3}, t0.Add(2*time.Second))
	ev = r.Events()
	if len(ev) != 4 || ev[0].Seq != seq || ev[2].Index != 6 || ev[2].Seq <= seq || ev[3].Kind != "vote" {
		t.Errorf("after a commit a second later and a vote: %+v", ev)
	}
	if r2 := NewRecorder(4, t0.Add(3*time.Second)); r2.seq < ev[3].Seq {
		t.Errorf("a new run's numbers start at %d, below the last run's %d", r2.seq, ev[3].Seq)
	}
}

func TestClip(t *testing.T) {
	for _, s := range []string{"short", strings.Repeat("é", 100), "ab\xffcd" + strings.Repeat("x", 200)} {
		c := Clip(s, 20)
		if len(c) > 20 || !utf8.ValidString(c) || (len(s) <= 20 && utf8.ValidString(s) && c != s) {
			t.Errorf("Clip(%q, 20) = %q", s, c)
		}
	}
}

// A card's keys are read again when the store changed; a store of more than a thousand keys
// is read at most once a second.
func TestKVShown(t *testing.T) {
	sm := kv.NewStore()
	i := uint64(0)
	put := func(k string) {
		i++
		if _, err := sm.Apply(raft.CommitEntry{Index: i, Term: 1, Type: raft.EntryCommand, Command: []byte("put " + k + " v")}); err != nil {
			t.Fatal(err)
		}
	}
	var c KVShown
	now := time.Date(2026, 12, 2, 23, 0, 0, 0, time.UTC)
	put("b")
	if kvs, n := c.Of(sm, now); n != 1 || len(kvs) != 1 || kvs[0] != [2]string{"b", "v"} {
		t.Fatalf("Of = %v, %d", kvs, n)
	}
	put("a")
	if kvs, n := c.Of(sm, now); n != 2 || kvs[0][0] != "a" {
		t.Errorf("a small store's change not shown: %v, %d", kvs, n)
	}
	for j := range 1000 {
		put(fmt.Sprintf("k%04d", j))
	}
	if _, n := c.Of(sm, now.Add(100*time.Millisecond)); n != 2 {
		t.Errorf("a large store read again within a second: %d keys", n)
	}
	if _, n := c.Of(sm, now.Add(1100*time.Millisecond)); n != 1002 {
		t.Errorf("Of a second after 1000 puts: %d keys", n)
	}
	put("c")
	if _, n := c.Of(sm, now.Add(1500*time.Millisecond)); n != 1002 {
		t.Errorf("a large store read again within a second: %d keys", n)
	}
	if kvs, n := c.Of(sm, now.Add(2200*time.Millisecond)); n != 1003 || len(kvs) != StatusKVShown {
		t.Errorf("a large store not read again after a second: %d keys, %d shown", n, len(kvs))
	}
}
