package wire

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"raftlab/raft"
)

// The recorder keeps the kinds a person follows, at most its size, updates a member's commit
// in place while commits follow within a second, and numbers events above an earlier run's.
func TestRecorder(t *testing.T) {
	t0 := time.Now()
	r := NewRecorder(4)
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
	if r2 := NewRecorder(4); r2.seq < ev[3].Seq {
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
