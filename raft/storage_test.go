// Persistence tests: round trips, crashes between any two writes, corrupt data, fuzzing, and
// the cost of appending to a long log.

package raft

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"testing"
)

// seqStorage is a Storage without the batch extension that records every write, so that a test
// can stop the world between any two of them.
type seqStorage struct {
	m   MapStorage
	log []KV
}

func (s *seqStorage) Set(key string, value []byte) {
	s.log = append(s.log, KV{Key: key, Value: bytes.Clone(value)})
	s.m.Set(key, value)
}
func (s *seqStorage) Get(key string) ([]byte, bool) { return s.m.Get(key) }
func (s *seqStorage) HasData() bool                 { return s.m.HasData() }

// replay returns a storage holding the first k writes.
func (s *seqStorage) replay(k int) *MapStorage {
	m := NewMapStorage()
	for _, kv := range s.log[:k] {
		m.Set(kv.Key, kv.Value)
	}
	return m
}

// A node whose first initialization was cut short (storage without the batch extension, a
// crash between its writes) starts empty and completes it, instead of reporting damage.
func TestUnfinishedInitialization(t *testing.T) {
	s := &seqStorage{}
	newTestNode(t, "a", []string{"a"}, s)
	for k := 1; k < len(s.log); k++ {
		m := s.replay(k)
		n, err := NewNode(Config{ID: "a", Members: []string{"a"}, Storage: m}, 0)
		if err != nil {
			t.Fatalf("crash after init write %d: %v", k, err)
		}
		if _, err := restore(m); err != nil || n.term != 0 || n.log.lastIndex() != 0 {
			t.Fatalf("crash after init write %d: term %d, %d entries, then restore: %v", k, n.term, n.log.lastIndex(), err)
		}
	}
	// The same keys with other values are damage, not an unfinished start.
	m := NewMapStorage()
	m.Set(KeyCurrentTerm, []byte("3"))
	if _, err := restore(m); err == nil {
		t.Error("currentTerm 3 without the other keys restored without error")
	}
}

func TestEntryRoundTrip(t *testing.T) {
	for _, e := range []Entry{
		{Term: 1, Type: EntryCommand, Command: []byte("put x 1")},
		{Term: 7, Type: EntryCommand, Command: []byte{}},
		{Term: 1 << 40, Type: EntryCommand, Command: []byte{0, 0xff, ' ', '\n'}},
		{Term: 3, Type: EntryNoop},
	} {
		got, err := DecodeEntry(EncodeEntry(e))
		if err != nil || got.Term != e.Term || got.Type != e.Type || !bytes.Equal(got.Command, e.Command) {
			t.Errorf("DecodeEntry(EncodeEntry(%+v)) = %+v, %v", e, got, err)
		}
	}
	if got := string(EncodeEntry(Entry{Term: 6, Type: EntryCommand, Command: []byte("put x 1")})); got != "6 cmd put x 1" {
		t.Errorf("EncodeEntry = %q; want readable %q", got, "6 cmd put x 1")
	}
}

// TestCrashBetweenWrites stops a follower's storage after every single write of a run with
// votes, appends, a conflicting leader and truncation, and restores from it: each such state
// must restore without error to a log that is a prefix of the log before or after the call
// that was writing, with a term no older than before that call.
func TestCrashBetweenWrites(t *testing.T) {
	s := &seqStorage{}
	n := newTestNode(t, "b", []string{"a", "b", "c"}, s)
	type snap struct {
		writes int
		term   uint64
		log    []Entry
	}
	// From write 0: a crash during the very first initialization counts too.
	snaps := []snap{{0, 0, nil}, {len(s.log), 0, nil}}
	step := func(m Message) {
		n.Step(0, m)
		n.Ready()
		snaps = append(snaps, snap{len(s.log), n.term, n.log.slice(1, n.log.lastIndex()+1)})
	}
	e := func(term uint64, c string) Entry { return Entry{Term: term, Type: EntryCommand, Command: []byte(c)} }
	step(Message{Type: MsgVote, From: "a", To: "b", Term: 1})
	step(Message{Type: MsgApp, From: "a", To: "b", Term: 1, Entries: []Entry{e(1, "x"), e(1, "y"), e(1, "z")}})
	step(Message{Type: MsgVote, From: "c", To: "b", Term: 2, LastLogIndex: 1, LastLogTerm: 1}) // refused: log behind
	step(Message{Type: MsgVote, From: "c", To: "b", Term: 3, LastLogIndex: 3, LastLogTerm: 1})
	// c leads term 3 and overwrites b's entries 2–3 with its own.
	step(Message{Type: MsgApp, From: "c", To: "b", Term: 3, PrevLogIndex: 1, PrevLogTerm: 1, Entries: []Entry{e(3, "p"), e(3, "q"), e(3, "r"), e(3, "s")}})
	step(Message{Type: MsgApp, From: "c", To: "b", Term: 3, PrevLogIndex: 5, PrevLogTerm: 3, Entries: []Entry{e(3, "t")}})

	isPrefix := func(p, of []Entry) bool {
		if len(p) > len(of) {
			return false
		}
		for i := range p {
			if p[i].Term != of[i].Term || !bytes.Equal(p[i].Command, of[i].Command) {
				return false
			}
		}
		return true
	}
	for j := 1; j < len(snaps); j++ {
		before, after := snaps[j-1], snaps[j]
		for k := before.writes; k <= after.writes; k++ {
			got, err := restore(s.replay(k))
			if err != nil {
				t.Fatalf("call %d, crash after write %d (%q): restore: %v", j, k, s.log[k-1].Key, err)
			}
			if !isPrefix(got.log, before.log) && !isPrefix(got.log, after.log) {
				t.Fatalf("call %d, crash after write %d: restored log %v is a prefix of neither %v nor %v", j, k, got.log, before.log, after.log)
			}
			if got.term < before.term {
				t.Fatalf("call %d, crash after write %d: restored term %d < %d", j, k, got.term, before.term)
			}
		}
		// A crash after a call restores exactly that call's state.
		got, _ := restore(s.replay(after.writes))
		if len(got.log) != len(after.log) || got.term != after.term {
			t.Fatalf("after call %d: restored %d entries term %d; want %d entries term %d", j, len(got.log), got.term, len(after.log), after.term)
		}
	}
}

// TestCorruptStorage: every kind of damage gives a StorageError naming the damaged key.
func TestCorruptStorage(t *testing.T) {
	good := func() *MapStorage {
		s := NewMapStorage()
		s.Set(KeyCurrentTerm, []byte("4"))
		s.Set(KeyVotedFor, []byte("4 n2"))
		s.Set(KeyLogEntry(1), []byte("1 cmd a"))
		s.Set(KeyLogEntry(2), []byte("3 noop"))
		s.Set(KeyLogLast, []byte("2"))
		return s
	}
	if p, err := restore(good()); err != nil || p.term != 4 || p.votedFor != "n2" || len(p.log) != 2 {
		t.Fatalf("restore(good) = %+v, %v", p, err)
	}
	for _, tc := range []struct{ key, value string }{
		{KeyCurrentTerm, ""},
		{KeyCurrentTerm, "four"},
		{KeyCurrentTerm, "-1"},
		{KeyCurrentTerm, "007"},
		{KeyVotedFor, "n2"},
		{KeyVotedFor, "9 n2"},
		{KeyLogLast, "3"},
		{KeyLogLast, "x"},
		{KeyLogLast, "99999999999999999999"},
		{KeyLogEntry(1), "1 cmd"},
		{KeyLogEntry(1), "1 gob \x00\x01"},
		{KeyLogEntry(1), "0 cmd a"},
		{KeyLogEntry(1), "5 cmd a"}, // newer than currentTerm
		{KeyLogEntry(2), "1"},
		{KeyLogEntry(2), "3 noop extra"},
		{KeyLogEntry(1), "{\"term\":1}"},
	} {
		s := good()
		s.Set(tc.key, []byte(tc.value))
		_, err := restore(s)
		var se *StorageError
		if !errors.As(err, &se) {
			t.Errorf("%s=%q: restore error %v; want a *StorageError", tc.key, tc.value, err)
			continue
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("%q", se.Key)) {
			t.Errorf("%s=%q: error %q does not name the key", tc.key, tc.value, err)
		}
	}
	for _, key := range []string{KeyCurrentTerm, KeyVotedFor, KeyLogLast, KeyLogEntry(2)} {
		s := good()
		s.remove(key)
		_, err := restore(s)
		var se *StorageError
		if !errors.As(err, &se) || se.Key != key {
			t.Errorf("missing %s: error %v; want a StorageError for that key", key, err)
		}
	}
	// Through NewNode, too: an error, never a panic.
	s := good()
	s.Set(KeyLogEntry(2), []byte("garbage"))
	if _, err := NewNode(Config{ID: "n1", Members: []string{"n1"}, Storage: s}, 0); err == nil || !strings.Contains(err.Error(), "log/2") {
		t.Fatalf("NewNode on corrupt storage: %v; want an error naming log/2", err)
	}
}

func FuzzDecodeEntry(f *testing.F) {
	for _, s := range []string{"1 cmd put x 1", "3 noop", "", "1", "1 cmd", "0 noop", "18446744073709551616 cmd x", "1 cmd \xff\x00"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEntry(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to the same bytes.
		if again := EncodeEntry(e); !bytes.Equal(again, b) {
			t.Fatalf("DecodeEntry(%q) = %+v, which encodes to %q", b, e, again)
		}
	})
}

// FuzzRestore feeds arbitrary values for every key: restore returns state or an error, never
// panics, and what it returns is a valid log.
func FuzzRestore(f *testing.F) {
	f.Add([]byte("4"), []byte("4 n2"), []byte("2"), []byte("1 cmd a"), []byte("3 noop"))
	f.Add([]byte("0"), []byte(""), []byte("0"), []byte(""), []byte(""))
	f.Add([]byte("1"), []byte("1 n1"), []byte("1000000000"), []byte("1 cmd"), []byte("x"))
	f.Fuzz(func(t *testing.T, term, vote, last, e1, e2 []byte) {
		s := NewMapStorage()
		s.Set(KeyCurrentTerm, term)
		s.Set(KeyVotedFor, vote)
		s.Set(KeyLogLast, last)
		s.Set(KeyLogEntry(1), e1)
		s.Set(KeyLogEntry(2), e2)
		p, err := restore(s)
		if err != nil {
			var se *StorageError
			if !errors.As(err, &se) {
				t.Fatalf("error %v is not a StorageError", err)
			}
			return
		}
		for i, e := range p.log {
			if e.Term == 0 || e.Term > p.term || (i > 0 && e.Term < p.log[i-1].Term) {
				t.Fatalf("restored an invalid log %+v with term %d", p.log, p.term)
			}
		}
	})
}

// BenchmarkPersistAppend measures what persisting one appended entry costs on a leader whose
// log already holds 100 or 100,000 entries: the writes are per entry, so the two match.
func BenchmarkPersistAppend(b *testing.B) {
	for _, size := range []int{100, 100_000} {
		b.Run(fmt.Sprintf("log=%d", size), func(b *testing.B) {
			s := NewMapStorage()
			n := newTestNode(b, "a", []string{"a"}, s)
			n.Tick(n.Deadline())
			cmd := []byte("put key value")
			batch := make([][]byte, 1000)
			for i := range batch {
				batch[i] = cmd
			}
			for n.log.lastIndex() < uint64(size) {
				n.SubmitBatch(0, batch[:min(len(batch), size-int(n.log.lastIndex()))])
				n.Ready()
			}
			w0, by0 := s.Writes, s.Bytes
			b.ResetTimer()
			for range b.N {
				n.Submit(0, cmd)
				n.Ready()
			}
			b.ReportMetric(float64(s.Writes-w0)/float64(b.N), "writes/op")
			b.ReportMetric(float64(s.Bytes-by0)/float64(b.N), "bytes/op")
		})
	}
}

// MapStorage keeps log entries apart from the other keys; what goes in comes out under the same
// key whatever its shape, and Keys lists everything.
func TestMapStorageKeys(t *testing.T) {
	s := NewMapStorage()
	if s.HasData() {
		t.Fatal("empty storage has data")
	}
	keys := []string{KeyLogEntry(3), KeyLogEntry(12), "log/0", "log/007", "log/x", "log/", "log/1234567890123", KeyLogLast, "other"}
	for i, k := range keys {
		s.Set(k, []byte{byte('a' + i)})
	}
	for i, k := range keys {
		if v, ok := s.Get(k); !ok || string(v) != string(rune('a'+i)) {
			t.Errorf("Get(%q) = %q, %v", k, v, ok)
		}
	}
	for _, k := range []string{KeyLogEntry(4), "log/00", KeyLogEntry(1 << 40)} {
		if _, ok := s.Get(k); ok {
			t.Errorf("Get(%q) found a value never set", k)
		}
	}
	want := slices.Clone(keys)
	slices.Sort(want)
	if got := s.Keys(); !slices.Equal(got, want) {
		t.Errorf("Keys() = %q; want %q", got, want)
	}
	c := s.Clone()
	s.remove(KeyLogEntry(3))
	if _, ok := s.Get(KeyLogEntry(3)); ok {
		t.Error("removed entry still there")
	}
	if v, ok := c.Get(KeyLogEntry(3)); !ok || string(v) != "a" {
		t.Errorf("clone lost %s: %q, %v", KeyLogEntry(3), v, ok)
	}
}

// remove deletes key, for tests of damaged storage.
func (s *MapStorage) remove(key string) {
	if i, ok := logIndex(key); ok {
		if k := i - s.base; k >= 0 && k < len(s.log) {
			s.log[k] = nil
		}
		return
	}
	delete(s.m, key)
}

// TestMapStorageLogBounded: a log written at the top and deleted from the bottom, as
// compaction does, keeps MapStorage's memory bounded by what it holds, not by history.
func TestMapStorageLogBounded(t *testing.T) {
	s := NewMapStorage()
	for i := uint64(1); i <= 100_000; i++ {
		s.Set(KeyLogEntry(i), []byte("1 noop"))
		if i > 10 {
			s.Delete(KeyLogEntry(i - 10))
		}
	}
	if c := cap(s.log); c > 1024 {
		t.Errorf("holding 10 entries after 100,000 written, the log slice has room for %d", c)
	}
	if k, _ := s.Len(); k != 10 {
		t.Errorf("%d keys; want 10", k)
	}
	if _, ok := s.Get(KeyLogEntry(99_991)); !ok {
		t.Error("entry 99,991 missing")
	}
	if _, ok := s.Get(KeyLogEntry(99_990)); ok {
		t.Error("entry 99,990 still there")
	}
}

// TestMapStorageMatchesMap: MapStorage's log window holds what a plain map would, under random
// writes and deletions anywhere.
func TestMapStorageMatchesMap(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	s, ref := NewMapStorage(), map[string]string{}
	for step := range 20_000 {
		k := KeyLogEntry(uint64(1 + rng.IntN(200)))
		if rng.IntN(7) == 0 {
			k = fmt.Sprint("other", rng.IntN(3))
		}
		if rng.IntN(2) == 0 {
			v := fmt.Sprint(step)
			s.Set(k, []byte(v))
			ref[k] = v
		} else {
			s.Delete(k)
			delete(ref, k)
		}
		if step%97 == 0 {
			c := s.Clone()
			for _, st := range []*MapStorage{s, c} {
				keys := st.Keys()
				if len(keys) != len(ref) {
					t.Fatalf("step %d: keys %q; want %d of them", step, keys, len(ref))
				}
				for _, k := range keys {
					if v, ok := st.Get(k); !ok || string(v) != ref[k] {
						t.Fatalf("step %d: %s = %q, %v; want %q", step, k, v, ok, ref[k])
					}
				}
			}
		}
	}
}
