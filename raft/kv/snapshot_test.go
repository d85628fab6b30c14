package kv

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"raftlab/raft"
)

// TestSnapshotEncoding: Snapshot writes exactly what encoding/json writes for the store's
// snapshotState (sorted keys, escaping), so snapshots are the bytes they always were; and
// AppendJSONString agrees with encoding/json on strings that need escaping and those that do
// not.
func TestSnapshotEncoding(t *testing.T) {
	tricky := []string{"", "x", "plain-key_1", `q"uote`, `back\slash`, "<html>&", "tab\tnew\nline", "\x00\x1f\x7f", "é", "日本", "\u2028\u2029", "bad\xffutf8", " spaced "}
	r := rand.New(rand.NewPCG(1, 2))
	pick := func() string {
		if r.IntN(3) == 0 {
			return tricky[r.IntN(len(tricky))]
		}
		b := make([]byte, r.IntN(12))
		for i := range b {
			b[i] = byte(r.IntN(256))
		}
		if r.IntN(2) == 0 {
			for i := range b {
				b[i] = 'a' + b[i]%26
			}
		}
		return string(b)
	}
	for _, s := range tricky {
		want, _ := json.Marshal(s)
		if got := AppendJSONString(nil, s); string(got) != string(want) {
			t.Errorf("AppendJSONString(%q) = %s; want %s", s, got, want)
		}
	}
	for i := range 300 {
		s := NewStore()
		s.applied = r.Uint64N(1 << 40)
		for range r.IntN(20) {
			s.data[pick()] = pick()
		}
		for range r.IntN(5) {
			s.sessions["c"+pick()] = session{seq: r.Uint64N(100) + 1, result: Result{Value: pick(), Found: r.IntN(2) == 0}}
		}
		s.ForgetSessions = i%7 == 0
		st := snapshotState{Applied: s.applied, Data: s.data, Sessions: map[string]snapshotSession{}}
		if !s.ForgetSessions {
			for id, ss := range s.sessions {
				st.Sessions[id] = snapshotSession{Seq: ss.seq, Value: ss.result.Value, Found: ss.result.Found}
			}
		}
		want, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.Snapshot(); string(got) != string(want) {
			t.Fatalf("store %d: Snapshot\n%s\nwant encoding/json's\n%s", i, got, want)
		}
	}
}

// TestSnapshotSortedKeysCache: Snapshot reuses the keys it sorted last time until a command
// adds or removes a key or a client session, or a snapshot is restored; a store that applied a
// run of commands, with snapshots taken in between, snapshots to the same bytes as one that
// sorts afresh (a store restored from json.Marshal's encoding of its state).
func TestSnapshotSortedKeysCache(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	s := NewStore()
	keys := []string{"a", "b", "c", "d", "e", "f"}
	for i := range 2000 {
		k := keys[r.IntN(len(keys))]
		var c Command
		switch r.IntN(4) {
		case 0:
			c = Put(k, "v"+k)
		case 1:
			c = Append(k, "+")
		case 2:
			c = Get(k)
		default:
			c = Delete(k)
		}
		req := Request{Command: c}
		if r.IntN(2) == 0 {
			req.ClientID, req.Seq = "c"+keys[r.IntN(len(keys))], uint64(i+1)
		}
		if _, err := s.Apply(raft.CommitEntry{Index: uint64(i + 1), Type: raft.EntryCommand, Command: req.Encode()}); err != nil {
			t.Fatal(err)
		}
		if r.IntN(5) > 0 {
			continue
		}
		got := s.Snapshot()
		st := snapshotState{Applied: s.applied, Data: s.data, Sessions: map[string]snapshotSession{}}
		for id, ss := range s.sessions {
			st.Sessions[id] = snapshotSession{Seq: ss.seq, Value: ss.result.Value, Found: ss.result.Found}
		}
		want, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		if string(got) != string(want) {
			t.Fatalf("after entry %d: Snapshot() = %s; want %s", i+1, got, want)
		}
		if r.IntN(4) == 0 {
			// A restore replaces the keys: the next snapshot sorts the restored ones.
			o := NewStore()
			o.exec(Put("zz", "left over"))
			o.Snapshot()
			if err := o.Restore(s.applied, got); err != nil {
				t.Fatal(err)
			}
			if again := o.Snapshot(); string(again) != string(want) {
				t.Fatalf("restored at %d: Snapshot() = %s; want %s", i+1, again, want)
			}
		}
	}
}
