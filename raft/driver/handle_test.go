package driver

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"raftlab/raft"
)

// lone is a one-member cluster driven by Handle, whose calls of the hooks go to calls.
type lone struct {
	t     *testing.T
	d     *Node
	now   time.Duration
	calls []string
	got   map[string]Outcome
	state []string // the application: the commands applied
}

func newLone(t *testing.T, s raft.Storage, threshold int) *lone {
	t.Helper()
	rn, err := raft.NewNode(raft.Config{ID: "n1", Members: []string{"n1"}, Storage: s, Seed: 1, CompactThreshold: threshold}, 0)
	if err != nil {
		t.Fatal(err)
	}
	l := &lone{t: t, got: map[string]Outcome{}}
	l.d = &Node{Raft: rn, Hooks: Hooks{
		Send: func(msgs []raft.Message) { l.calls = append(l.calls, fmt.Sprintf("send %d", len(msgs))) },
		Events: func(evs []raft.Event) {
			if len(evs) > 0 {
				l.calls = append(l.calls, fmt.Sprintf("events %d", len(evs)))
			}
		},
		Restore: func(s *raft.Snapshot) error {
			l.calls = append(l.calls, fmt.Sprintf("restore %d", s.Index))
			l.state = strings.Fields(string(s.Data))
			return nil
		},
		Apply: func(e raft.CommitEntry, answer bool) ([]byte, error) {
			l.calls = append(l.calls, fmt.Sprintf("apply %d %v", e.Index, answer))
			if e.Type != raft.EntryCommand {
				return nil, nil
			}
			l.state = append(l.state, string(e.Command))
			return []byte(fmt.Sprintf("%s is #%d", e.Command, len(l.state))), nil
		},
	}}
	l.d.Tracker.Answer = func(ref any, o Outcome) { l.got[ref.(string)] = o }
	return l
}

// lead times the node out and hands out the Ready: a lone voter wins its election at once.
func (l *lone) lead() {
	l.t.Helper()
	l.now = l.d.Raft.Deadline()
	l.d.Raft.Tick(l.now)
	l.handle()
	if st, _ := l.d.Raft.Role(); st != raft.Leader {
		l.t.Fatalf("n1 is %s after its election timeout; want leader", st)
	}
}

func (l *lone) handle() {
	l.t.Helper()
	l.calls = l.calls[:0]
	if err := l.d.Handle(l.now); err != nil {
		l.t.Fatalf("Handle: %v", err)
	}
}

func (l *lone) submit(cmd string) {
	l.t.Helper()
	index, term, err := l.d.Raft.Submit(l.now, []byte(cmd))
	if err != nil {
		l.t.Fatalf("Submit(%q): %v", cmd, err)
	}
	l.d.Tracker.Add(index, term, false, cmd)
}

// A command and a membership change, proposed and committed through Handle: each is answered
// with its entry's index and term, the command with what Apply returned, the change with the
// new configuration; Apply learns which entries someone waits for.
func TestHandleCommits(t *testing.T) {
	l := newLone(t, raft.NewMapStorage(), 0)
	l.lead()
	l.submit("put x 1")
	l.handle()
	if want := []string{"events 2", "apply 2 true"}; !slices.Equal(l.calls, want) {
		t.Errorf("hooks called %q; want %q", l.calls, want)
	}
	if o := l.got["put x 1"]; o.Err != nil || o.Index != 2 || o.Term != 1 || string(o.Value) != "put x 1 is #1" {
		t.Errorf("the command's outcome %+v; want index 2, term 1, Apply's value", o)
	}
	index, err := l.d.Raft.ProposeChange(l.now, raft.AddServer, "n2")
	if err != nil {
		t.Fatal(err)
	}
	_, term := l.d.Raft.Role()
	l.d.Tracker.Add(index, term, true, "add n2")
	l.handle()
	o := l.got["add n2"]
	c, err := raft.ParseConfiguration(o.Value)
	if o.Err != nil || o.Index != 3 || err != nil || !c.IsMember("n2") {
		t.Errorf("the change's outcome %+v (configuration %v, %v); want index 3 and a configuration with n2", o, c, err)
	}
	if l.d.Applied != 3 || l.d.Tracker.Len() != 0 {
		t.Errorf("Applied %d with %d proposals waiting; want 3 and none", l.d.Applied, l.d.Tracker.Len())
	}
}

// Writes held back: a leader's AppendEntries leave before the flush, a candidate's vote
// requests after it, and a write that failed in the flush stops the node before they leave.
func TestHandleHeldWrites(t *testing.T) {
	rn, err := raft.NewNode(raft.Config{ID: "n1", Members: []string{"n1", "n2", "n3"}, Storage: raft.NewMapStorage(), Seed: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var calls []string
	var failed error
	d := &Node{Raft: rn, Hooks: Hooks{
		Send: func(msgs []raft.Message) {
			for _, m := range msgs {
				calls = append(calls, "send "+m.Type.String()+" to "+m.To)
			}
		},
		Held:       func() bool { return true },
		Flush:      func() { calls = append(calls, "flush") },
		StorageErr: func() error { return failed },
	}}
	now := rn.Deadline()
	rn.Tick(now) // a candidate: it asks for votes, which depend on the term and vote it wrote
	if err := d.Handle(now); err != nil {
		t.Fatal(err)
	}
	want := []string{"flush", "send RequestVote to n2", "send RequestVote to n3"}
	if !slices.Equal(calls, want) {
		t.Errorf("a candidate's turn: %q; want %q", calls, want)
	}
	calls = nil
	for _, from := range []string{"n2", "n3"} {
		rn.Step(now, raft.Message{Type: raft.MsgVoteReply, From: from, To: "n1", Term: 1, Success: true})
	}
	if err := d.Handle(now); err != nil {
		t.Fatal(err)
	}
	// The new leader's no-op goes out before its own write of it.
	want = []string{"send AppendEntries to n2", "send AppendEntries to n3", "flush"}
	if !slices.Equal(calls, want) {
		t.Errorf("a new leader's turn: %q; want %q", calls, want)
	}
	calls = nil
	rn.Step(now, raft.Message{Type: raft.MsgVote, From: "n3", To: "n1", Term: 5, LastLogIndex: 9, LastLogTerm: 4})
	failed = errors.New("disk full")
	if err := d.Handle(now); err != failed {
		t.Errorf("Handle with a failed write = %v; want the storage's error", err)
	}
	if len(calls) != 0 {
		t.Errorf("with a failed write: %q; want nothing sent", calls)
	}
}

// A snapshot restored from storage comes before the entries after it and answers the
// proposals it covers; compaction waits for CompactNow; a snapshot that does not restore
// stops the node with a *RestoreError.
func TestHandleSnapshots(t *testing.T) {
	s := raft.NewMapStorage()
	l := newLone(t, s, 3)
	hold := true
	l.d.Hooks.CompactNow = func() bool { return !hold }
	l.d.Hooks.Snapshot = func() []byte { return []byte(strings.Join(l.state, " ")) }
	l.lead()
	for _, c := range []string{"a", "b", "c", "d"} {
		l.submit(c)
	}
	l.handle()
	if st := l.d.Raft.Status(); st.SnapshotIndex != 0 {
		t.Fatalf("compacted up to %d while CompactNow held off", st.SnapshotIndex)
	}
	hold = false
	l.handle()
	if st := l.d.Raft.Status(); st.SnapshotIndex != 5 {
		t.Fatalf("snapshot up to %d once CompactNow agreed; want 5", st.SnapshotIndex)
	}

	// Restarted from the storage: the snapshot, then what follows it.
	r := newLone(t, s, 3)
	r.d.Tracker.Add(4, 1, false, "covered") // as if proposed before a leader's snapshot came
	r.d.Tracker.Add(6, 1, false, "after")
	r.handle()
	if !slices.Contains(r.calls, "restore 5") || r.d.Applied != 5 || !slices.Equal(r.state, []string{"a", "b", "c", "d"}) {
		t.Errorf("restart: hooks %q, Applied %d, state %q; want the snapshot up to 5 restored", r.calls, r.d.Applied, r.state)
	}
	if o := r.got["covered"]; o.Err != ErrInSnapshot {
		t.Errorf("a proposal under the snapshot: %+v; want ErrInSnapshot", o)
	}
	if _, ok := r.got["after"]; ok || !r.d.Tracker.Waits(6) {
		t.Errorf("a proposal after the snapshot was answered: %+v", r.got["after"])
	}

	bad := newLone(t, s, 3)
	broken := errors.New("bad magic")
	bad.d.Hooks.Restore = func(*raft.Snapshot) error { return broken }
	err := bad.d.Handle(0)
	var re *RestoreError
	if !errors.As(err, &re) || re.Index != 5 || !errors.Is(err, broken) || err.Error() != "restoring the snapshot up to 5: bad magic" {
		t.Errorf("Handle with a snapshot that does not restore = %v; want a *RestoreError up to 5", err)
	}
	if strings.Contains(strings.Join(bad.calls, " "), "apply") {
		t.Errorf("entries applied after a failed restore: %q", bad.calls)
	}
}
