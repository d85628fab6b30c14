// Tests of the lab driver and its storage, with an in-memory store (natively and under Node).

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"raftlab/raft"
)

func newTestLab(t *testing.T, store KeyValue, nodes int) *Lab {
	t.Helper()
	l, err := NewLab(store, Config{Nodes: nodes, Seed: 7})
	if err != nil {
		t.Fatalf("NewLab: %v", err)
	}
	return l
}

// runUntil advances the lab in 10 ms slices of simulated time until cond holds, for at most
// limit of simulated time.
func runUntil(t testing.TB, l *Lab, limit time.Duration, what string, cond func(Snapshot) bool) Snapshot {
	t.Helper()
	for end := l.c.Now() + limit; l.c.Now() < end; {
		l.Advance(10*time.Millisecond, time.Hour)
		if s := l.Snapshot(0, 0); cond(s) {
			return s
		}
	}
	t.Fatalf("after %v of simulated time: %s did not happen", limit, what)
	return Snapshot{}
}

func hasLeader(s Snapshot) bool { return s.Leader != "" }

func node(s Snapshot, id string) nodeView {
	for _, n := range s.Nodes {
		if n.ID == id {
			return n
		}
	}
	return nodeView{}
}

func kvHas(n nodeView, k, v string) bool {
	for _, p := range n.KV {
		if p == [2]string{k, v} {
			return true
		}
	}
	return false
}

// TestSnapshotHasNoNulls: the page iterates every list of a snapshot; JSON null would throw.
func TestSnapshotHasNoNulls(t *testing.T) {
	l := newTestLab(t, NewMemStore(), 3)
	for i := 0; i < 3; i++ {
		b, err := json.Marshal(l.Snapshot(0, 0))
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "null") {
			t.Fatalf("snapshot %d has a null: %s", i, b)
		}
		l.Advance(time.Second, time.Hour)
	}
	if err := l.Do(Action{Kind: "submit", Command: "put a 1"}); err != nil {
		t.Fatal(err)
	}
	l.Advance(time.Second, time.Hour)
	light := l.LightSnapshot(0, 0)
	b, _ := json.Marshal(light)
	if light.Detail || strings.Contains(string(b), "null") || strings.Contains(string(b), `"log"`) || light.Leader == "" || len(light.Nodes) != 3 {
		t.Errorf("light snapshot %s: want roles and no details, no nulls", b)
	}
	if full := l.Snapshot(0, 0); !full.Detail || len(full.Nodes[0].Log) == 0 {
		t.Errorf("full snapshot without details: %+v", full.Nodes[0])
	}
}

func TestLabElectsAndCommitsOnEveryNode(t *testing.T) {
	l := newTestLab(t, NewMemStore(), 5)
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	if err := l.Do(Action{Kind: "submit", Command: "put x 42"}); err != nil {
		t.Fatalf("submit: %v", err)
	}
	s := runUntil(t, l, 2*time.Second, "x=42 on every node", func(s Snapshot) bool {
		for _, n := range s.Nodes {
			if !kvHas(n, "x", "42") {
				return false
			}
		}
		return true
	})
	for _, n := range s.Nodes {
		if len(n.Log) == 0 || n.Log[len(n.Log)-1].Cmd != "put x 42" || n.Commit != n.Last {
			t.Errorf("%s: log %v commit %d last %d; want put x 42 committed last", n.ID, n.Log, n.Commit, n.Last)
		}
		if len(n.Applied) == 0 || !strings.Contains(n.Applied[len(n.Applied)-1], "put x 42 → ok") {
			t.Errorf("%s: applied %q; want put x 42 → ok last", n.ID, n.Applied)
		}
	}
	if len(s.Events) == 0 || !strings.Contains(eventTexts(s), "became leader") {
		t.Errorf("events %q: want a leader change among them", eventTexts(s))
	}
}

func eventTexts(s Snapshot) string {
	var b strings.Builder
	for _, e := range s.Events {
		b.WriteString(e.Text + "\n")
	}
	return b.String()
}

func TestLabRestoresFromStorage(t *testing.T) {
	store := NewMemStore()
	l := newTestLab(t, store, 3)
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	if err := l.Do(Action{Kind: "batch", Commands: []string{"put a 1", "append a 2", "put b 3"}}); err != nil {
		t.Fatal(err)
	}
	before := runUntil(t, l, 2*time.Second, "the batch committed everywhere", func(s Snapshot) bool {
		for _, n := range s.Nodes {
			if !kvHas(n, "a", "12") || !kvHas(n, "b", "3") {
				return false
			}
		}
		return true
	})
	// Stored values are the core's readable text, under raftlab/<cluster>/<node>/.
	if v, ok := store.GetItem("raftlab/lab3/n1/currentTerm"); !ok || v != itoa(node(before, "n1").Term) {
		t.Errorf("raftlab/lab3/n1/currentTerm = %q, %v; want %d", v, ok, node(before, "n1").Term)
	}

	// A reload: a new lab on the same storage restores every node.
	l2 := newTestLab(t, store, 3)
	after := l2.Snapshot(0, 0)
	for _, b := range before.Nodes {
		a := node(after, b.ID)
		if a.Term != b.Term || a.Last != b.Last || len(a.Log) != len(b.Log) {
			t.Errorf("%s after restart: term %d last %d; want term %d last %d", b.ID, a.Term, a.Last, b.Term, b.Last)
		}
		entries := itoa(b.Last) + " log entries"
		if b.Last == 1 {
			entries = "1 log entry"
		}
		want := "restored term " + itoa(b.Term) + " and " + entries
		if !strings.Contains(eventTexts(after), b.ID+" "+want) {
			t.Errorf("events %q: want %q", eventTexts(after), b.ID+" "+want)
		}
	}
	runUntil(t, l2, 5*time.Second, "committed data back on every node", func(s Snapshot) bool {
		for _, n := range s.Nodes {
			if !kvHas(n, "a", "12") || !kvHas(n, "b", "3") {
				return false
			}
		}
		return true
	})
}

func itoa(u uint64) string { return strconv.FormatUint(u, 10) }

func TestLabCorruptAndForeignStorage(t *testing.T) {
	tests := []struct {
		name    string
		corrupt func(s *MemStore)
		want    string // the error must say this
	}{
		{"bad log entry", func(s *MemStore) { s.SetItem("raftlab/lab3/n2/log/0-63", "\ngarbage") }, `"log/1"`},
		{"bad term", func(s *MemStore) { s.SetItem("raftlab/lab3/n3/currentTerm", "-1") }, `"currentTerm"`},
		{"missing entry", func(s *MemStore) { s.RemoveItem("raftlab/lab3/n1/log/0-63") }, `"log/1": missing`},
		{"bad log entry of the per-entry format", func(s *MemStore) {
			s.RemoveItem("raftlab/lab3/n2/log/0-63")
			s.SetItem("raftlab/lab3/n2/log/1", "garbage")
		}, `"log/1"`},
		{"other format", func(s *MemStore) { s.SetItem("raftlab/lab3/cluster", "raftlab-storage-0 members=a,b") }, "not written by this version"},
		{"no cluster record", func(s *MemStore) { s.RemoveItem("raftlab/lab3/cluster") }, "without the cluster record"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := NewMemStore()
			l := newTestLab(t, store, 3)
			runUntil(t, l, 5*time.Second, "a leader election", func(s Snapshot) bool {
				return s.Leader != "" && node(s, "n1").Last > 0 && node(s, "n2").Last > 0 && node(s, "n3").Last > 0
			})
			tt.corrupt(store)
			_, err := NewLab(store, Config{Nodes: 3, Seed: 7})
			var se *StartError
			if !errors.As(err, &se) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("NewLab on corrupt storage = %v; want a StartError saying %s", err, tt.want)
			}
			// Other clusters are untouched, and a reset clears this one.
			store.SetItem("raftlab/lab5/n1/keep", "x")
			if n := Reset(store, 3); n == 0 {
				t.Errorf("Reset removed nothing")
			}
			if _, ok := store.GetItem("raftlab/lab5/n1/keep"); !ok {
				t.Errorf("Reset of lab3 removed a key of lab5")
			}
			l = newTestLab(t, store, 3)
			runUntil(t, l, 5*time.Second, "an election after the reset", hasLeader)
		})
	}
}

func TestLabStorageQuota(t *testing.T) {
	store := NewMemStore()
	l := newTestLab(t, store, 3)
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	store.Quota = store.used + 2000
	if err := l.Do(Action{Kind: "load", On: true}); err != nil {
		t.Fatal(err)
	}
	s := runUntil(t, l, 60*time.Second, "a storage failure", func(s Snapshot) bool { return s.Error != "" })
	if !strings.Contains(s.Error, "QuotaExceededError") || !strings.Contains(s.Error, "Reset") {
		t.Errorf("error %q: want the quota error and the way out", s.Error)
	}
	var failed string
	for _, n := range s.Nodes {
		if n.Error != "" {
			failed = n.ID
			if n.State != "dead" {
				t.Errorf("%s: state %s after its storage failed; want dead", n.ID, n.State)
			}
		}
	}
	if failed == "" {
		t.Fatal("no node reports the storage failure")
	}
	if err := l.Do(Action{Kind: "restart", Node: failed}); err == nil {
		t.Errorf("restart of %s after its storage failed: no error", failed)
	}
	// Its last messages may still be on the wire: healing must not let them through.
	for _, a := range []Action{{Kind: "heal-all"}, {Kind: "partition", Groups: [][]string{{"n1", "n2", "n3"}}}, {Kind: "reconnect", Node: failed}} {
		l.Do(a)
		for _, p := range l.c.IDs() {
			if p != failed && l.c.Connected(failed, p) {
				t.Errorf("after %s: link %s–%s is up", a.Kind, failed, p)
			}
		}
	}
	// The cluster goes on safely, and what the failed node stored restores.
	l.Advance(5*time.Second, time.Hour)
	if err := l.c.Violation(); err != nil {
		t.Fatalf("safety: %v", err)
	}
	store.Quota = 0
	if _, err := NewLab(store, Config{Nodes: 3, Seed: 8}); err != nil {
		t.Fatalf("restoring after the failed write: %v", err)
	}
}

func TestNodeStorageBatchIsAllOrNothing(t *testing.T) {
	store := NewMemStore()
	s := newNodeStorage(store, "lab3", "n1", nil)
	s.SetBatch([]raft.KV{{Key: "currentTerm", Value: []byte("1")}, {Key: "votedFor", Value: []byte("")}})
	store.Quota = store.used + 10
	s.SetBatch([]raft.KV{{Key: "currentTerm", Value: []byte("2")}, {Key: "log/1", Value: []byte("2 cmd a long command")}})
	if s.Err() == nil {
		t.Fatal("a batch over the quota reported no error")
	}
	if v, _ := s.Get("currentTerm"); string(v) != "1" {
		t.Errorf("currentTerm = %q after a failed batch; want the old value 1", v)
	}
	if _, ok := s.Get("log/1"); ok {
		t.Errorf("log/1 written by a failed batch")
	}
	store.Quota = 0
	s.Set("currentTerm", []byte("3"))
	if v, _ := s.Get("currentTerm"); string(v) != "1" {
		t.Errorf("a failed storage took a later write: currentTerm = %q", v)
	}
}

func TestLabActionErrors(t *testing.T) {
	l := newTestLab(t, NewMemStore(), 3)
	if err := l.Do(Action{Kind: "submit", Command: "put x 1"}); err == nil || !strings.Contains(err.Error(), "no leader") {
		t.Errorf("submit before any election = %v; want a no-leader error", err)
	}
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	tests := []struct {
		a    Action
		want string
	}{
		{Action{Kind: "submit", Command: "pt x 1"}, `unknown command "pt"`},
		{Action{Kind: "submit", Command: ""}, "empty command"},
		{Action{Kind: "batch", Commands: []string{"put a 1", "get"}}, "command 2"},
		{Action{Kind: "crash", Node: "n9"}, "unknown node"},
		{Action{Kind: "crash"}, "which node"},
		{Action{Kind: "cut", Node: "n1", Peer: "zz"}, "unknown node"},
		{Action{Kind: "latency", MinMs: 5, MaxMs: 1}, "not a range"},
		{Action{Kind: "restart", Node: "n1"}, "already running"},
		{Action{Kind: "fly"}, "unknown action"},
	}
	for _, tt := range tests {
		if err := l.Do(tt.a); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Do(%+v) = %v; want an error saying %s", tt.a, err, tt.want)
		}
	}
	if _, err := NewLab(NewMemStore(), Config{Nodes: 4}); err == nil {
		t.Errorf("NewLab with 4 nodes: no error")
	}
}

func TestLabFaultsShowInSnapshot(t *testing.T) {
	l := newTestLab(t, NewMemStore(), 5)
	s := runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	old := s.Leader
	if err := l.Do(Action{Kind: "crash", Node: old}); err != nil {
		t.Fatal(err)
	}
	s = runUntil(t, l, 5*time.Second, "a new leader", func(s Snapshot) bool { return s.Leader != "" && s.Leader != old })
	if st := node(s, old).State; st != "dead" {
		t.Errorf("crashed %s reports %s; want dead", old, st)
	}
	if err := l.Do(Action{Kind: "partition", Groups: [][]string{{"n1", "n2"}, {"n3", "n4", "n5"}}}); err != nil {
		t.Fatal(err)
	}
	s = l.Snapshot(0, 0)
	if len(s.Cut) != 6 {
		t.Errorf("cut links %v after a 2|3 partition; want 6", s.Cut)
	}
	if err := l.Do(Action{Kind: "unreliable", On: true}); err != nil {
		t.Fatal(err)
	}
	l.Advance(2*time.Second, time.Hour)
	s = l.Snapshot(0, 0)
	if !s.Unreliable || s.Stats.Dropped == 0 || len(s.Drops) == 0 {
		t.Errorf("unreliable %v, dropped %d, drops %d; want drops reported", s.Unreliable, s.Stats.Dropped, len(s.Drops))
	}
	// Flights: in-flight messages have sensible times.
	for _, f := range s.Flights {
		if f.Deliver < f.Sent || f.Sent > s.Now {
			t.Errorf("flight %+v at %v: times out of order", f, s.Now)
		}
	}
}

func TestLabAdvanceBudgetAndStep(t *testing.T) {
	l := newTestLab(t, NewMemStore(), 9)
	start := l.c.Now()
	if l.Advance(time.Hour, 0) {
		t.Errorf("Advance(1h) with no wall budget reported it caught up")
	}
	if l.c.Now() >= start+time.Hour {
		t.Errorf("clock at %v; want it short of the target", l.c.Now())
	}
	// Every step records something, stale timers or not.
	for i := range 200 {
		events, now := l.c.Events(), l.c.Now()
		if !l.Step() {
			t.Fatalf("step %d: nothing pending", i)
		}
		if l.c.Events() == events || l.c.Now() < now {
			t.Fatalf("step %d: events %d -> %d, clock %v -> %v; want a new event, the clock not going back", i, events, l.c.Events(), now, l.c.Now())
		}
	}
}

// Milliseconds as the page passes them convert back to the very nanosecond they came from.
func TestMsRoundTrip(t *testing.T) {
	for _, d := range []time.Duration{0, 1, 999, 1049999979, 1234567891, 3*time.Hour + 7} {
		if got := msDur(ms(d)); got != d {
			t.Errorf("msDur(ms(%d)) = %d", d, got)
		}
	}
	for ns := time.Duration(1_000_000_000); ns < 1_000_100_000; ns += 7 {
		if got := msDur(ms(ns)); got != ns {
			t.Fatalf("msDur(ms(%d)) = %d", ns, got)
		}
	}
}

// TestLabCompactionKeepsStorageSmall: with the page's default compaction and the client load
// on, the stored characters stay flat however long the lab runs (without compaction they grow
// with every command, and the page's cluster once died of a full localStorage), and a reload
// restores every node from its snapshot and the log after it.
func TestLabCompactionKeepsStorageSmall(t *testing.T) {
	if runtime.GOOS == "js" {
		t.Skip("160 simulated seconds with the load take a minute under Node; the same code runs natively")
	}
	store := NewMemStore()
	l, err := NewLab(store, Config{Nodes: 5, Seed: 3, Compact: DefaultCompact})
	if err != nil {
		t.Fatal(err)
	}
	if err := l.Do(Action{Kind: "load", On: true}); err != nil {
		t.Fatal(err)
	}
	var sizes []int
	for range 4 {
		l.Advance(40*time.Second, time.Hour)
		if err := l.c.Violation(); err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, store.used)
	}
	s := l.Snapshot(0, 0)
	if s.Error != "" || s.Stats.Committed < 1400 {
		t.Fatalf("after 160 s with the load: error %q, %d commands committed; want none and about 1,600", s.Error, s.Stats.Committed)
	}
	// 1,600 commands stored uncompacted on five nodes take about 300,000 characters.
	if sizes[3] > 40_000 || sizes[3] > sizes[0]*3/2 {
		t.Errorf("stored characters after 40, 80, 120, 160 s: %v; want flat and under 40,000", sizes)
	}
	for _, n := range s.Nodes {
		if n.SnapIndex == 0 || n.Last-n.SnapIndex > 2*DefaultCompact {
			t.Errorf("%s: snapshot up to %d, log up to %d; want a snapshot and at most %d entries after it", n.ID, n.SnapIndex, n.Last, 2*DefaultCompact)
		}
		if n.LogFrom <= n.SnapIndex && len(n.Log) > 0 {
			t.Errorf("%s: log window from %d, at or below its snapshot %d", n.ID, n.LogFrom, n.SnapIndex)
		}
	}
	before := node(s, "n1")
	// Reload: every node restores its snapshot and log; the stores are as they were.
	l2, err := NewLab(store, Config{Nodes: 5, Seed: 3, Compact: DefaultCompact})
	if err != nil {
		t.Fatal(err)
	}
	after := node(l2.Snapshot(0, 0), "n1")
	if after.SnapIndex != before.SnapIndex || after.Last != before.Last || after.Term != before.Term {
		t.Errorf("n1 after reload: snapshot %d last %d term %d; want %d %d %d", after.SnapIndex, after.Last, after.Term, before.SnapIndex, before.Last, before.Term)
	}
	if want := "a snapshot up to index " + itoa(before.SnapIndex); !strings.Contains(eventTexts(l2.Snapshot(0, 0)), want) {
		t.Errorf("events after reload: want %q", want)
	}
	if got := l2.states["n1"].Applied(); got != before.SnapIndex {
		t.Errorf("n1's store after reload has applied %d; want the snapshot's %d", got, before.SnapIndex)
	}
	if l.states["n1"].Len() != l2.states["n1"].Len() {
		t.Errorf("n1's store after reload holds %d keys; want %d", l2.states["n1"].Len(), l.states["n1"].Len())
	}
}

// BenchmarkLabClientLoad runs the page's lab (simulator, storage through the KeyValue
// interface, event log, timeline, client history) with the client load on, as the page does
// at max speed, and reports simulated seconds per wall second. Storage is in memory: the
// browser's localStorage and drawing come on top.
func BenchmarkLabClientLoad(b *testing.B) {
	for _, n := range []int{5, 9} {
		b.Run(fmt.Sprintf("%d-nodes", n), func(b *testing.B) {
			l, err := NewLab(NewMemStore(), Config{Nodes: n, Seed: 1})
			if err != nil {
				b.Fatal(err)
			}
			runUntil(b, l, 5*time.Second, "a leader election", hasLeader)
			if err := l.Do(Action{Kind: "load", On: true}); err != nil {
				b.Fatal(err)
			}
			var sim time.Duration
			for b.Loop() {
				l.Advance(time.Second, time.Hour)
				l.LightSnapshot(1e15, 1e15)
				sim += time.Second
			}
			b.ReportMetric(sim.Seconds()/b.Elapsed().Seconds(), "sim-s/wall-s")
		})
	}
}

func TestRingKeepsTheNewest(t *testing.T) {
	var r ring[uint64]
	for n := uint64(1); n <= 1000; n++ {
		r.push(n, 7)
		got := r.items()
		want := []uint64{}
		for v := max(1, int(n)-6); v <= int(n); v++ {
			want = append(want, uint64(v))
		}
		if !slices.Equal(got, want) {
			t.Fatalf("after %d pushes of a ring of 7: %v; want %v", n, got, want)
		}
		if len(r.buf) > 7 {
			t.Fatalf("after %d pushes the ring holds %d values; want at most 7", n, len(r.buf))
		}
		if a := after(&r, n-3, func(v *uint64) uint64 { return *v }); n > 3 && !slices.Equal(a, want[max(0, len(want)-3):]) {
			t.Fatalf("after(%d) = %v; want the newest 3", n-3, a)
		}
	}
}

// countingStore counts the calls that reach the store (localStorage in the page).
type countingStore struct {
	KeyValue
	gets, sets, removes int
}

func (s *countingStore) GetItem(k string) (string, bool) { s.gets++; return s.KeyValue.GetItem(k) }
func (s *countingStore) SetItem(k, v string) error       { s.sets++; return s.KeyValue.SetItem(k, v) }
func (s *countingStore) RemoveItem(k string)             { s.removes++; s.KeyValue.RemoveItem(k) }

// TestStorageWritesDoNotRead: under the client load, the nodes write to storage without
// reading it back (each node mirrors its keys), and what they wrote restores the cluster.
func TestStorageWritesDoNotRead(t *testing.T) {
	st := &countingStore{KeyValue: NewMemStore()}
	l := newTestLab(t, st, 5)
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	do(t, l, Action{Kind: "load", On: true})
	l.Advance(2*time.Second, time.Hour)
	st.gets, st.sets = 0, 0
	l.Advance(3*time.Second, time.Hour)
	if st.sets < 100 || st.gets != 0 {
		t.Fatalf("in 3 s of client load: %d writes, %d reads of storage; want many writes and no reads", st.sets, st.gets)
	}
	commit := l.Snapshot(0, 0).Nodes[0].Commit
	r := newTestLab(t, st.KeyValue, 5) // a reload: every node restores from what was written
	for _, n := range r.Snapshot(0, 0).Nodes {
		if n.Last < commit {
			t.Fatalf("after a reload %s holds up to index %d; the cluster had committed %d", n.ID, n.Last, commit)
		}
	}
}

// TestLabMembership: the page adds a node (a learner, then a voter once caught up) and removes
// one, the cards report each node's part, the event log tells the story, and a reload brings
// the added node back from localStorage.
func TestLabMembership(t *testing.T) {
	store := NewMemStore()
	l, err := NewLab(store, Config{Nodes: 3, Seed: 7, Compact: DefaultCompact})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	l.Advance(100*time.Millisecond, time.Hour) // the leader commits its no-op
	if err := l.Do(Action{Kind: "add-server"}); err != nil {
		t.Fatal(err)
	}
	s := runUntil(t, l, 2*time.Second, "n4 a voter", func(s Snapshot) bool { return node(s, "n4").Role == "voter" && node(s, s.Leader).ConfigCommitted })
	if !strings.Contains(eventTexts(s), "n4 joins as a learner") || !strings.Contains(eventTexts(s), "n4 caught up and becomes a voter") {
		t.Errorf("events %q: want n4 joining as a learner, then becoming a voter", eventTexts(s))
	}
	for _, bad := range []Action{{Kind: "add-server", Node: "n4"}, {Kind: "add-server", Node: "x1"}, {Kind: "remove-server", Node: "n9"}, {Kind: "remove-server"}} {
		if err := l.Do(bad); err == nil {
			t.Errorf("%+v: no error", bad)
		}
	}
	if err := l.Do(Action{Kind: "remove-server", Node: "n1"}); err != nil {
		t.Fatal(err)
	}
	s = runUntil(t, l, 3*time.Second, "n1 gone and a leader", func(s Snapshot) bool {
		return s.Leader != "" && s.Leader != "n1" && !strings.Contains(node(s, s.Leader).Config, "n1") && node(s, s.Leader).ConfigCommitted
	})
	if n := node(s, "n1"); n.State != "dead" || n.Role != "removed" {
		t.Errorf("n1 is %s, %s after its removal committed; want stopped and shown removed", n.State, n.Role)
	}
	if ev := eventTexts(s); !strings.Contains(ev, "n1 was removed from the cluster and stopped") || strings.Contains(ev, "n1 crashed") {
		t.Errorf("events %q: want n1's removal told as such, not as a crash", ev)
	}
	// Restart does not bring a removed server back (adding it does), and says so.
	if err := l.Do(Action{Kind: "restart", Node: "n1"}); err == nil || !strings.Contains(err.Error(), "n1 was removed from the cluster") {
		t.Errorf("restarting removed n1: %v; want it refused with the reason", err)
	}
	if err := l.Do(Action{Kind: "submit", Command: "put x 1"}); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, 2*time.Second, "x=1 on n2, n3, n4", func(s Snapshot) bool {
		return kvHas(node(s, "n2"), "x", "1") && kvHas(node(s, "n3"), "x", "1") && kvHas(node(s, "n4"), "x", "1")
	})
	// Reload: n4 comes back from localStorage with the cluster.
	l2, err := NewLab(store, Config{Nodes: 3, Seed: 7, Compact: DefaultCompact})
	if err != nil {
		t.Fatal(err)
	}
	s = runUntil(t, l2, 5*time.Second, "a leader after the reload", hasLeader)
	if n := node(s, "n4"); n.Role != "voter" {
		t.Errorf("n4 after the reload: %+v; want a voter", n)
	}
	// Removed n1 stays stopped (it ran again, outside the cluster, campaigning), until added again.
	l2.Advance(2*time.Second, time.Hour)
	s = l2.Snapshot(0, 0)
	if n := node(s, "n1"); n.State != "dead" || n.Role != "removed" {
		t.Errorf("removed n1 after the reload: %s, %s; want stopped and shown removed", n.State, n.Role)
	}
	if ev := eventTexts(s); !strings.Contains(ev, "n1 stays stopped: it was removed from the cluster") || strings.Contains(ev, "n1 crashed") {
		t.Errorf("events %q: want n1 staying stopped, not crashing", ev)
	}
	if err := l2.Do(Action{Kind: "add-server", Node: "n1"}); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l2, 2*time.Second, "n1 a voter again", func(s Snapshot) bool { return node(s, "n1").Role == "voter" && node(s, "n1").State != "dead" })
	if v, ok := store.GetItem(removedKey(l2.cluster)); ok {
		t.Errorf("%s = %q after n1 was added again; want it gone", removedKey(l2.cluster), v)
	}
	if err := l2.c.Violation(); err != nil {
		t.Fatal(err)
	}
}

// TestLabRefusedChanges: a change the leader refuses is told plainly (no "sim:" or "raft:"),
// with where to turn joint consensus on, and leaves the cluster as it was: no server started.
func TestLabRefusedChanges(t *testing.T) {
	l, err := NewLab(NewMemStore(), Config{Nodes: 3, Seed: 7, Compact: DefaultCompact})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	l.Advance(100*time.Millisecond, time.Hour)
	for _, c := range []struct {
		a    Action
		want string
	}{
		{Action{Kind: "set-voters", Voters: []string{"n4", "n5", "n6"}}, "refused to change the voters to n4,n5,n6: single-server changes add or remove one voter at a time; several at once need joint consensus (n1,n2,n3 to n4,n5,n6); turn it on under Options"},
		{Action{Kind: "set-voters", Voters: []string{"n1"}}, "several at once need joint consensus"},
		{Action{Kind: "set-voters", Voters: []string{"n2", "n1", "n2", "n3"}}, "set voters: n2 is named twice"},
		{Action{Kind: "remove-server", Node: "n9"}, "refused to remove n9: n9 is not a member"},
		{Action{Kind: "add-server", Node: "n2"}, "n2 is already a member"},
	} {
		err := l.Do(c.a)
		if err == nil || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "sim:") || strings.Contains(err.Error(), "raft:") {
			t.Errorf("%+v: %v; want an error saying %q, without package prefixes", c.a, err, c.want)
		}
	}
	if ids := strings.Join(l.c.IDs(), ","); ids != "n1,n2,n3" {
		t.Errorf("servers %s after refused changes; want n1,n2,n3", ids)
	}
}
