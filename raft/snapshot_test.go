// Tests of log compaction and InstallSnapshot: the writes' order under crashes, chunking,
// what the application is handed, and damaged snapshots.

package raft

import (
	"bytes"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"testing"
)

// delStorage is seqStorage with the Deleter extension: every write and deletion recorded.
type delStorage struct{ seqStorage }

func (s *delStorage) Delete(key string) {
	s.log = append(s.log, KV{Key: key, Delete: true})
	s.m.Delete(key)
}

// replayAll is seqStorage.replay with deletions.
func (s *delStorage) replayAll(k int) *delStorage {
	r := &delStorage{}
	for _, kv := range s.log[:k] {
		if kv.Delete {
			r.m.Delete(kv.Key)
		} else {
			r.m.Set(kv.Key, kv.Value)
		}
	}
	return r
}

// durable is what a node restores: its term, its snapshot and its log.
type durable struct {
	Term      uint64
	SnapIndex uint64
	SnapTerm  uint64
	SnapData  string
	Log       []string
}

func durableOf(p persisted) durable {
	d := durable{Term: p.term}
	if p.snap != nil {
		d.SnapIndex, d.SnapTerm, d.SnapData = p.snap.Index, p.snap.Term, string(p.snap.Data)
	}
	for _, e := range p.log {
		d.Log = append(d.Log, fmt.Sprintf("%d:%s", e.Term, e.Command))
	}
	return d
}

func cmds(term uint64, cs ...string) []Entry {
	es := make([]Entry, len(cs))
	for i, c := range cs {
		es[i] = Entry{Term: term, Type: EntryCommand, Command: []byte(c)}
	}
	return es
}

// TestCrashDuringCompaction stops a follower's storage after every single write of a run with
// compactions and snapshot installations of every kind (beyond its log, within it keeping the
// rest, conflicting with it) and restores from it: each state restores without error to
// exactly the state before the call or after it, never a mix; and once the restored node has
// cleaned up, the storage holds only the keys the state needs.
func TestCrashDuringCompaction(t *testing.T) {
	s := &delStorage{}
	n := newTestNode(t, "b", []string{"a", "b", "c"}, s)
	n.cfg.SnapshotChunkSize = 3
	states := []durable{durableOf(must(restore(s.replayAll(len(s.log)))))}
	writes := []int{len(s.log)}
	appends := []bool{false} // an AppendEntries call may also stop with part of its entries
	appending := false
	call := func(f func()) {
		appending = false
		f()
		n.Ready()
		states = append(states, durableOf(must(restore(s.replayAll(len(s.log))))))
		writes = append(writes, len(s.log))
		appends = append(appends, appending)
	}
	app := func(term, prev, prevTerm, commit uint64, es []Entry, from string) func() {
		return func() {
			appending = true
			n.Step(0, Message{Type: MsgApp, From: from, To: "b", Term: term, PrevLogIndex: prev, PrevLogTerm: prevTerm, Entries: es, Commit: commit})
		}
	}
	snap := func(term, index, snapTerm uint64, data, from string) func() {
		return func() {
			for off := 0; off < len(data); off += 3 {
				end := min(off+3, len(data))
				n.Step(0, Message{Type: MsgSnap, From: from, To: "b", Term: term, LastLogIndex: index, LastLogTerm: snapTerm,
					Members: []string{"a", "b", "c"}, Offset: uint64(off), Data: []byte(data[off:end]), Done: end == len(data)})
			}
		}
	}
	compact := func(data string) func() {
		return func() {
			if err := n.Compact(0, []byte(data)); err != nil {
				t.Fatal(err)
			}
		}
	}
	call(app(1, 0, 0, 3, cmds(1, "x", "y", "z", "w"), "a"))
	call(compact("state@3"))
	call(app(1, 4, 1, 7, cmds(1, "5", "6", "7", "8"), "a"))
	call(compact("state@7"))
	// c leads term 2 with a snapshot beyond b's log: the log is discarded.
	call(snap(2, 12, 2, "state@12", "c"))
	call(app(2, 12, 2, 13, cmds(2, "13", "14", "15"), "c"))
	// A snapshot within the log, whose last entry b holds: entry 15 stays.
	call(snap(2, 14, 2, "state@14", "c"))
	call(app(2, 15, 2, 14, cmds(2, "16", "17"), "c"))
	// a leads term 3 with a snapshot whose last entry conflicts with b's: all of b's log goes.
	call(snap(3, 17, 3, "state@17 of term 3", "a"))
	if got := states[len(states)-1]; got.SnapIndex != 17 || got.SnapTerm != 3 || len(got.Log) != 0 {
		t.Fatalf("final state %+v; want a snapshot 17/3 and an empty log", got)
	}

	for j := 1; j < len(states); j++ {
		before, after := states[j-1], states[j]
		for k := writes[j-1]; k <= writes[j]; k++ {
			r := s.replayAll(k)
			p, err := restore(r)
			if err != nil {
				t.Fatalf("call %d, crash after write %d: restore: %v", j, k, err)
			}
			got := durableOf(p)
			cmp := got
			if appends[j] && got.SnapIndex == after.SnapIndex && len(got.Log) <= len(after.Log) && slices.Equal(got.Log, after.Log[:len(got.Log)]) {
				cmp = after // entries written one by one: a prefix of them
			}
			// A newer term in the message is recorded first, on its own: compare the rest.
			if cmp.Term < before.Term || cmp.Term > after.Term {
				t.Fatalf("call %d, crash after write %d: restored term %d outside %d–%d", j, k, cmp.Term, before.Term, after.Term)
			}
			b, a := before, after
			cmp.Term, b.Term, a.Term = 0, 0, 0
			if !reflect.DeepEqual(cmp, b) && !reflect.DeepEqual(cmp, a) {
				t.Fatalf("call %d, crash after write %d (%+v): restored %+v\nwant before %+v\n  or after  %+v", j, k, s.log[k-1], got, before, after)
			}
			// The restarted node cleans up: its storage then holds only the keys it needs.
			rn, err := NewNode(Config{ID: "b", Members: []string{"a", "b", "c"}, Storage: r}, 0)
			if err != nil {
				t.Fatalf("call %d, crash after write %d: NewNode: %v", j, k, err)
			}
			keys, _ := r.m.Len()
			want := 3 + len(got.Log) // currentTerm, votedFor, log/last
			if got.SnapIndex > 0 {
				want += 2 // the snapshot's metadata and state
			}
			if keys != want {
				t.Errorf("call %d, crash after write %d: %d keys stored after restart (%q); want %d", j, k, keys, r.m.Keys(), want)
			}
			if again := durableOf(must(restore(r))); !reflect.DeepEqual(again, got) {
				t.Fatalf("call %d, crash after write %d: cleaning up changed the state to %+v", j, k, again)
			}
			_ = rn
		}
	}
}

func must(p persisted, err error) persisted {
	if err != nil {
		panic(err)
	}
	return p
}

// TestInstallSnapshot: a follower far behind a leader that compacted is caught up by its
// snapshot, sent in chunks one at a time; its application gets the snapshot exactly once,
// before the entries that follow it.
func TestInstallSnapshot(t *testing.T) {
	ls, fs := NewMapStorage(), NewMapStorage()
	members := []string{"a", "b", "c"}
	l, err := NewNode(Config{ID: "a", Members: members, Storage: ls, Seed: 1, SnapshotChunkSize: 4}, 0)
	if err != nil {
		t.Fatal(err)
	}
	f := newTestNode(t, "b", members, fs)
	l.Ready()
	elect(t, l, "c")
	// c takes every entry; b hears nothing.
	for i := 0; i < 10; i++ {
		if _, _, err := l.Submit(l.now, []byte(fmt.Sprint("c", i))); err != nil {
			t.Fatal(err)
		}
	}
	l.Step(l.now, Message{Type: MsgAppReply, From: "c", To: "a", Term: 1, Success: true, Index: 11})
	if rd := l.Ready(); len(rd.Committed) != 11 {
		t.Fatalf("leader applied %d entries; want 11", len(rd.Committed))
	}
	if err := l.Compact(l.now, []byte("state after 11")); err != nil {
		t.Fatal(err)
	}
	if k, _ := ls.Len(); k != 5 {
		t.Errorf("leader stores %d keys after compacting everything (%q); want 5", k, ls.Keys())
	}
	// The next heartbeat finds b needing compacted entries: the snapshot flows, one chunk at a
	// time, each answered.
	l.Tick(l.now + l.cfg.HeartbeatInterval)
	chunks, installs := 0, 0
	for round := 0; round < 20; round++ {
		for _, m := range l.Ready().Messages {
			if m.To != "b" {
				continue
			}
			if m.Type == MsgSnap {
				chunks++
				if len(m.Data) > 4 {
					t.Errorf("chunk of %d bytes; want at most 4", len(m.Data))
				}
			}
			f.Step(l.now, m)
		}
		rd := f.Ready()
		if rd.Snapshot != nil {
			installs++
			if rd.Snapshot.Index != 11 || string(rd.Snapshot.Data) != "state after 11" {
				t.Errorf("follower got snapshot %d %q; want 11 %q", rd.Snapshot.Index, rd.Snapshot.Data, "state after 11")
			}
		}
		if len(rd.Committed) > 0 {
			t.Errorf("follower applied %+v besides the snapshot", rd.Committed)
		}
		for _, m := range rd.Messages {
			l.Step(l.now, m)
		}
	}
	if chunks != 4 || installs != 1 {
		t.Errorf("%d chunks, %d installs; want 4 chunks (14 bytes by 4), 1 install", chunks, installs)
	}
	if st := f.Status(); st.SnapshotIndex != 11 || st.LastIndex != 11 || st.CommitIndex != 11 {
		t.Errorf("follower status %+v; want snapshot 11, last 11, commit 11", st)
	}
	if pr := l.Status().Progress["b"]; pr.Match != 11 || pr.Snapshot != 0 {
		t.Errorf("leader's progress of b %+v; want match 11, no snapshot under way", pr)
	}
	if _, _, err := l.Submit(l.now, []byte("after")); err != nil {
		t.Fatal(err)
	}
	var applied []uint64
	for range 3 {
		for _, m := range l.Ready().Messages {
			if m.To == "b" {
				f.Step(l.now, m)
			}
		}
		rd := f.Ready()
		for _, e := range rd.Committed {
			applied = append(applied, e.Index)
		}
		if rd.Snapshot != nil {
			t.Error("the snapshot was handed out again")
		}
		for _, m := range rd.Messages {
			l.Step(l.now, m)
		}
	}
	if !slices.Equal(applied, []uint64{12}) {
		t.Errorf("after the snapshot, the follower applied %v; want entry 12 only", applied)
	}
	// Restarted, the follower hands its application the snapshot first.
	r, err := NewNode(Config{ID: "b", Members: members, Storage: fs}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rd := r.Ready(); rd.Snapshot == nil || rd.Snapshot.Index != 11 || !bytes.Equal(rd.Snapshot.Data, []byte("state after 11")) {
		t.Errorf("restarted follower's first Ready has snapshot %+v; want the one up to 11", rd.Snapshot)
	}
	if rd := r.Ready(); rd.Snapshot != nil {
		t.Error("the snapshot was handed out twice")
	}
}

// TestCorruptSnapshot: damaged snapshot keys give a StorageError naming the key.
func TestCorruptSnapshot(t *testing.T) {
	base := NewMapStorage()
	n := newTestNode(t, "a", []string{"a"}, base)
	n.Campaign(0)
	n.Submit(0, []byte("x"))
	n.Ready()
	if err := n.Compact(0, []byte("state")); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, key, value string
		delete           bool
	}{
		{"meta garbage", KeySnapshot, "nonsense", false},
		{"meta zero index", KeySnapshot, "0 1 0 a", false},
		{"meta bad slot", KeySnapshot, "2 1 7 a", false},
		{"meta empty member", KeySnapshot, "2 1 0 a,,b", false},
		{"meta future term", KeySnapshot, "2 9 0 a", false},
		{"state missing", KeySnapshotData(0), "", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := base.Clone()
			if tc.delete {
				s.Delete(tc.key)
			} else {
				s.Set(tc.key, []byte(tc.value))
			}
			_, err := NewNode(Config{ID: "a", Members: []string{"a"}, Storage: s}, 0)
			var se *StorageError
			if !errors.As(err, &se) || se.Key != tc.key {
				t.Errorf("NewNode = %v; want a StorageError naming %q", err, tc.key)
			}
		})
	}
}

// TestCheckSnapshotRefuses: a snapshot that Config.CheckSnapshot refuses is not installed and
// nothing is written; the leader sends it again after its loss detection, and once the check
// accepts it, it is installed.
func TestCheckSnapshotRefuses(t *testing.T) {
	ls, fs := NewMapStorage(), NewMapStorage()
	members := []string{"a", "b", "c"}
	l, err := NewNode(Config{ID: "a", Members: members, Storage: ls, Seed: 1, SnapshotChunkSize: 4}, 0)
	if err != nil {
		t.Fatal(err)
	}
	var checked []string
	refuse := true
	f, err := NewNode(Config{ID: "b", Members: members, Storage: fs, Seed: 2, CheckSnapshot: func(s *Snapshot) error {
		checked = append(checked, fmt.Sprintf("%d %s", s.Index, s.Data))
		if refuse {
			return errors.New("not a state I can restore")
		}
		return nil
	}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.Ready()
	l.Ready()
	elect(t, l, "c")
	for i := 0; i < 10; i++ {
		if _, _, err := l.Submit(l.now, []byte(fmt.Sprint("c", i))); err != nil {
			t.Fatal(err)
		}
	}
	l.Step(l.now, Message{Type: MsgAppReply, From: "c", To: "a", Term: 1, Success: true, Index: 11})
	l.Ready()
	if err := l.Compact(l.now, []byte("state after 11")); err != nil {
		t.Fatal(err)
	}
	before := fs.Clone()
	beforeStatus := f.Status()
	// Exchange messages between a and b for a number of heartbeats.
	exchange := func(heartbeats int) (installs int) {
		for range heartbeats {
			l.Tick(l.now + l.cfg.HeartbeatInterval)
			for round := 0; round < 20; round++ {
				for _, m := range l.Ready().Messages {
					if m.To == "b" {
						f.Step(l.now, m)
					}
				}
				rd := f.Ready()
				if rd.Snapshot != nil {
					installs++
				}
				for _, m := range rd.Messages {
					l.Step(l.now, m)
				}
			}
		}
		return installs
	}
	if n := exchange(2); n != 0 {
		t.Fatalf("a refused snapshot was handed to the application %d times", n)
	}
	if len(checked) != 1 || checked[0] != "11 state after 11" {
		t.Fatalf("CheckSnapshot saw %q; want the whole snapshot up to 11 once", checked)
	}
	if st := f.Status(); st.SnapshotIndex != 0 || st.LastIndex != beforeStatus.LastIndex || st.CommitIndex != beforeStatus.CommitIndex {
		t.Errorf("after refusing, the follower's status is %+v; before it was %+v", st, beforeStatus)
	}
	if !slices.Equal(fs.Keys(), before.Keys()) {
		t.Errorf("after refusing, stored keys %q; before %q", fs.Keys(), before.Keys())
	}
	for _, k := range before.Keys() {
		if a, _ := fs.Get(k); !bytes.Equal(a, must2(before.Get(k))) && k != KeyCurrentTerm && k != KeyVotedFor {
			t.Errorf("after refusing, %s = %q; before %q", k, a, must2(before.Get(k)))
		}
	}
	// The leader tries again; accepted now, it is installed.
	refuse = false
	if n := exchange(4); n != 1 {
		t.Fatalf("after the check accepts it, the snapshot was installed %d times; want once", n)
	}
	if len(checked) < 2 {
		t.Errorf("the leader did not send the refused snapshot again: checks %q", checked)
	}
	if st := f.Status(); st.SnapshotIndex != 11 || st.CommitIndex < 11 {
		t.Errorf("follower status %+v; want the snapshot up to 11 installed", st)
	}
}

func must2(v []byte, _ bool) []byte { return v }

// A follower whose store cannot delete installs a snapshot whose last entry conflicts with
// its log, then appends and acknowledges entries after it: a restart must keep them.
func TestInstallConflictWithoutDeleterKeepsLaterEntries(t *testing.T) {
	s := &seqStorage{}
	members := []string{"a", "b", "c"}
	n := newTestNode(t, "b", members, s)
	n.Step(0, Message{Type: MsgApp, From: "a", To: "b", Term: 1, Entries: cmds(1, "x", "y", "z", "w")})
	n.Ready()
	n.Step(0, Message{Type: MsgSnap, From: "c", To: "b", Term: 2, LastLogIndex: 3, LastLogTerm: 2,
		Members: members, Data: []byte("state@3"), Done: true})
	n.Ready()
	n.Step(0, Message{Type: MsgApp, From: "c", To: "b", Term: 2, PrevLogIndex: 3, PrevLogTerm: 2, Entries: cmds(2, "4", "5")})
	rd := n.Ready()
	acked := false
	for _, m := range rd.Messages {
		if m.Type == MsgAppReply && m.Success && m.Index == 5 {
			acked = true
		}
	}
	if !acked {
		t.Fatalf("b did not acknowledge entries 4–5: %+v", rd.Messages)
	}
	r, err := NewNode(Config{ID: "b", Members: members, Storage: s}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st := r.Status(); st.LastIndex != 5 {
		t.Fatalf("restarted b has last index %d; want 5 (entries 4–5 were acknowledged)", st.LastIndex)
	}
}

// A crash in the middle of installing a conflicting snapshot, then a crash in the middle of
// the restarted node's clean-up: every state restores to the snapshot with an empty log.
func TestCrashDuringCleanUpAfterInstall(t *testing.T) {
	s := &delStorage{}
	members := []string{"a", "b", "c"}
	n := newTestNode(t, "b", members, s)
	n.Step(0, Message{Type: MsgApp, From: "a", To: "b", Term: 1, Entries: cmds(1, "x", "y", "z", "w", "v")})
	n.Ready()
	before := len(s.log)
	n.Step(0, Message{Type: MsgSnap, From: "c", To: "b", Term: 2, LastLogIndex: 3, LastLogTerm: 2,
		Members: members, Data: []byte("state@3"), Done: true})
	n.Ready()
	for k := before; k <= len(s.log); k++ {
		r := s.replayAll(k)
		p, err := restore(r)
		if err != nil {
			t.Fatalf("crash after write %d: %v", k, err)
		}
		if p.snap == nil {
			continue
		}
		if _, err := NewNode(Config{ID: "b", Members: members, Storage: r}, 0); err != nil {
			t.Fatal(err)
		}
		for j := 0; j <= len(r.log); j++ {
			rr := &delStorage{}
			rr.log = append(append([]KV{}, s.log[:k]...), r.log...)
			rr = rr.replayAll(k + j)
			p, err := restore(rr)
			if err != nil {
				t.Fatalf("crash after write %d, then after clean-up write %d (%+v): %v", k, j, r.log[:j], err)
			}
			if d := durableOf(p); d.SnapIndex != 3 || len(d.Log) != 0 {
				t.Fatalf("crash after write %d, then after clean-up write %d (%+v): restored %+v; want snapshot 3, empty log", k, j, r.log[:j], d)
			}
		}
	}
}

// The same with a store that cannot delete: after a crash in the middle of a conflicting
// installation, the restarted node appends and acknowledges entries; a second restart keeps them.
func TestCrashDuringInstallWithoutDeleterThenAppend(t *testing.T) {
	s := &seqStorage{}
	members := []string{"a", "b", "c"}
	n := newTestNode(t, "b", members, s)
	n.Step(0, Message{Type: MsgApp, From: "a", To: "b", Term: 1, Entries: cmds(1, "x", "y", "z", "w", "v")})
	n.Ready()
	before := len(s.log)
	n.Step(0, Message{Type: MsgSnap, From: "c", To: "b", Term: 2, LastLogIndex: 3, LastLogTerm: 2,
		Members: members, Data: []byte("state@3"), Done: true})
	n.Ready()
	for k := before; k <= len(s.log); k++ {
		r := &seqStorage{}
		for _, kv := range s.log[:k] {
			r.Set(kv.Key, kv.Value)
		}
		p, err := restore(r)
		if err != nil || p.snap == nil {
			continue
		}
		rn, err := NewNode(Config{ID: "b", Members: members, Storage: r}, 0)
		if err != nil {
			t.Fatal(err)
		}
		rn.Ready()
		rn.Step(0, Message{Type: MsgApp, From: "c", To: "b", Term: 2, PrevLogIndex: 3, PrevLogTerm: 2, Entries: cmds(2, "4")})
		rn.Ready()
		if st := rn.Status(); st.LastIndex != 4 {
			t.Fatalf("crash after write %d: restarted node's last index %d after an append; want 4", k, st.LastIndex)
		}
		again, err := NewNode(Config{ID: "b", Members: members, Storage: r}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if st := again.Status(); st.LastIndex != 4 {
			t.Fatalf("crash after write %d: after a second restart, last index %d; want 4 (entry 4 was acknowledged)", k, st.LastIndex)
		}
	}
}

// A store that cannot delete keeps what a truncation drops above log/last. A snapshot beyond
// the log whose index holds such a leftover, of another term, is installed; entries appended
// after it and acknowledged must survive a restart.
func TestInstallOverTruncatedLeftoverWithoutDeleter(t *testing.T) {
	s := &seqStorage{}
	members := []string{"a", "b", "c"}
	n := newTestNode(t, "b", members, s)
	n.Step(0, Message{Type: MsgApp, From: "a", To: "b", Term: 1, Entries: cmds(1, "1", "2", "3", "4", "5")})
	n.Step(0, Message{Type: MsgApp, From: "c", To: "b", Term: 2, PrevLogIndex: 1, PrevLogTerm: 1, Entries: cmds(2, "2'")})
	n.Step(0, Message{Type: MsgSnap, From: "c", To: "b", Term: 2, LastLogIndex: 5, LastLogTerm: 2,
		Members: members, Data: []byte("state@5"), Done: true})
	n.Step(0, Message{Type: MsgApp, From: "c", To: "b", Term: 2, PrevLogIndex: 5, PrevLogTerm: 2, Entries: cmds(2, "6")})
	if st := n.Status(); st.LastIndex != 6 || st.SnapshotIndex != 5 {
		t.Fatalf("b's status %+v; want snapshot 5, last 6", st)
	}
	r, err := NewNode(Config{ID: "b", Members: members, Storage: s}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if st := r.Status(); st.LastIndex != 6 {
		t.Fatalf("restarted b has last index %d; want 6 (entry 6 was acknowledged)", st.LastIndex)
	}
}

// TestStaleSnapshotChunkKeepsTransfer: a late copy of a chunk of a snapshot the follower
// already has does not throw away the newer snapshot it is receiving.
func TestStaleSnapshotChunkKeepsTransfer(t *testing.T) {
	members := []string{"a", "b", "c"}
	n := newTestNode(t, "b", members, NewMapStorage())
	chunk := func(index uint64, off uint64, data string, done bool) Message {
		n.Step(0, Message{Type: MsgSnap, From: "a", To: "b", Term: 1, LastLogIndex: index, LastLogTerm: 1,
			Members: members, Offset: off, Data: []byte(data), Done: done})
		ms := msgsOfType(n.Ready(), MsgSnapReply)
		if len(ms) != 1 {
			t.Fatalf("%d answers to a chunk; want 1", len(ms))
		}
		return ms[0]
	}
	if r := chunk(5, 0, "state@5", true); !r.Success || r.Index != 5 {
		t.Fatalf("snapshot 5 not installed: %+v", r)
	}
	if r := chunk(9, 0, "stat", false); r.Offset != 4 {
		t.Fatalf("first chunk of snapshot 9 answered %+v; want offset 4", r)
	}
	if r := chunk(5, 0, "state@5", true); !r.Success || r.Index != 5 {
		t.Fatalf("a late copy of snapshot 5 answered %+v; want success", r)
	}
	if r := chunk(9, 4, "e@9", true); !r.Success || r.Index != 9 {
		t.Fatalf("last chunk of snapshot 9 answered %+v; want it installed", r)
	}
}
