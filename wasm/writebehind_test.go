package main

import (
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	"raftlab/raft"
)

func TestWriteBehindHoldsWritesUntilFlush(t *testing.T) {
	mem := NewMemStore()
	mem.SetItem("k/old", "1")
	w := newWriteBehind(mem)
	w.SetItem("k/a", "1")
	w.SetItem("k/a", "2")
	w.SetItem("k/gone", "x")
	w.RemoveItem("k/gone")
	w.RemoveItem("k/old")
	if _, ok := mem.GetItem("k/a"); ok {
		t.Errorf("a held write reached the store before the flush")
	}
	if v, ok := w.GetItem("k/a"); !ok || v != "2" {
		t.Errorf("GetItem(k/a) = %q, %v; want the held 2", v, ok)
	}
	if _, ok := w.GetItem("k/old"); ok {
		t.Errorf("a held removal is read as present")
	}
	w.Flush()
	if got := mem.Keys(); !slices.Equal(got, []string{"k/a"}) {
		t.Errorf("after the flush the store holds %v; want [k/a] (the probe and k/gone never left behind)", got)
	}
	if w.writes != 2 {
		t.Errorf("%d writes reached the store; want 2 (k/a once, the removal of k/old)", w.writes)
	}
}

func TestWriteBehindWithoutRoomWritesThrough(t *testing.T) {
	mem := NewMemStore()
	mem.Quota = probeSize / 2 // the probe does not fit
	w := newWriteBehind(mem)
	if err := w.SetItem("k/a", "1"); err != nil {
		t.Fatal(err)
	}
	if v, _ := mem.GetItem("k/a"); v != "1" {
		t.Errorf("without room a write waits for the flush; want it written through")
	}
	if err := w.SetItem("k/b", strings.Repeat("x", probeSize)); err == nil {
		t.Errorf("a write over the quota: no error")
	}
	if w.Err() != nil {
		t.Errorf("a write refused on its own stops the store: %v", w.Err())
	}
	// Room again (a reset, another tab's data gone): writes are held again, after a probe.
	mem.Quota = 0
	for range probeEvery {
		w.Flush()
	}
	w.SetItem("k/c", "1")
	if _, ok := mem.GetItem("k/c"); ok {
		t.Errorf("with room again, a write still goes straight through")
	}
}

func TestWriteBehindRefusedFlushIsUndone(t *testing.T) {
	mem := NewMemStore()
	w := newWriteBehind(mem)
	w.SetItem("k/a", "1")
	w.SetItem("k/b", "1")
	w.Flush()
	before := maps.Clone(mem.m)
	w.SetItem("k/a", "2")
	w.RemoveItem("k/b")
	w.SetItem("k/c", strings.Repeat("x", 1000))
	mem.Quota = mem.used + 10 // another tab filled the store since the probe
	w.Flush()
	if w.Err() == nil || !strings.Contains(w.Err().Error(), "QuotaExceededError") {
		t.Fatalf("Err after a refused flush = %v; want the quota error", w.Err())
	}
	if !maps.Equal(mem.m, before) {
		t.Errorf("a refused flush left %v; want the store as before it, %v", mem.m, before)
	}
	if err := w.SetItem("k/d", "1"); err == nil {
		t.Errorf("a write after a refused flush: no error")
	}
	// Every node stops on it.
	s := newLabStorage(w, "lab3", "n1", nil)
	if s.Err() == nil {
		t.Errorf("a node's storage over a failed store reports no error")
	}
}

// A lab over write-behind leaves, at the end of every call, what a lab writing straight
// through leaves: the same keys and values, so a reload between calls restores the same.
func TestLabWriteBehindStoresWhatWriteThroughDoes(t *testing.T) {
	direct, under := NewMemStore(), NewMemStore()
	w := newWriteBehind(under)
	a := newTestLab(t, direct, 5)
	w.Flush()
	b := newTestLab(t, w, 5)
	w.Flush()
	for _, l := range []*Lab{a, b} {
		if err := l.Do(Action{Kind: "load", On: true}); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	held := 0
	for i := range 60 {
		a.Advance(time.Second, time.Hour)
		b.Advance(time.Second, time.Hour)
		held += len(w.held)
		w.Flush()
		if !maps.Equal(direct.m, under.m) {
			t.Fatalf("after %d calls: the store under write-behind differs from one written straight through", i+1)
		}
	}
	t.Logf("write-behind: %d writes to the store; straight through: %d", w.writes, direct.writes())
	if held == 0 || w.writes*3 > direct.writes() {
		t.Errorf("write-behind held %d writes and made %d; want far fewer than the %d made straight through", held, w.writes, direct.writes())
	}
	// A reload now restores the cluster.
	if _, err := NewLab(under, Config{Nodes: 5, Seed: 7}); err != nil {
		t.Fatalf("reload: %v", err)
	}
}

// A lab over write-behind that runs out of room stops the node that met the full store, as
// without it.
func TestLabWriteBehindQuota(t *testing.T) {
	mem := NewMemStore()
	w := newWriteBehind(mem)
	l := newTestLab(t, w, 3)
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	w.Flush()
	mem.Quota = mem.used + probeSize/2 + 4000
	w.Flush()
	if err := l.Do(Action{Kind: "load", On: true}); err != nil {
		t.Fatal(err)
	}
	s := runUntil(t, l, 120*time.Second, "a storage failure", func(s Snapshot) bool { w.Flush(); return s.Error != "" })
	if !strings.Contains(s.Error, "QuotaExceededError") || !strings.Contains(s.Error, "Reset") {
		t.Errorf("error %q: want the quota error and the way out", s.Error)
	}
	if w.Err() != nil {
		t.Errorf("the store stopped (%v); want only the node that met the full store stopped", w.Err())
	}
	dead := 0
	for _, n := range s.Nodes {
		if n.Error != "" {
			dead++
			if n.State != "dead" {
				t.Errorf("%s: state %s after its storage failed; want dead", n.ID, n.State)
			}
		}
	}
	if dead == 0 || dead == len(s.Nodes) {
		t.Errorf("%d of %d nodes stopped; want the one or few that met the full store", dead, len(s.Nodes))
	}
	l.Advance(5*time.Second, time.Hour)
	w.Flush()
	if err := l.c.Violation(); err != nil {
		t.Fatalf("safety: %v", err)
	}
	mem.Quota = 0
	if _, err := NewLab(mem, Config{Nodes: 3, Seed: 8}); err != nil {
		t.Fatalf("restoring after the failed write: %v", err)
	}
}

func (s *MemStore) writes() int { return s.nw }

func TestLogChunkEncoding(t *testing.T) {
	var c logChunk
	c.set(1, "1 noop")
	c.set(2, "1 cmd put a b\\c\nd")
	c.set(63, "2 cmd put x \\n")
	v := encodeChunk(&c)
	var d logChunk
	decodeChunk(v, &d)
	if d != c {
		t.Errorf("decode(encode) = %q; want %q (encoded %q)", d.e, c.e, v)
	}
	c = logChunk{}
	c.set(0, "1 noop")
	c.set(1, "1 cmd put a 1")
	if v := encodeChunk(&c); v != "1 noop\n1 cmd put a 1" {
		t.Errorf("encode = %q; want one entry a line", v)
	}
}

// A cluster stored a key per entry (the format before chunks, which the mixed page keeps)
// restores, and its entries move into chunks as they are written or compacted away.
func TestLabReadsPerEntryFormat(t *testing.T) {
	mem := NewMemStore()
	// Write a cluster the old way: nodes on nodeStorage without chunks.
	old := newTestLab(t, mem, 3)
	runUntil(t, old, 5*time.Second, "a leader election", hasLeader)
	for i := range 20 {
		if err := old.Do(Action{Kind: "submit", Command: "put k" + itoa(uint64(i)) + " v"}); err != nil {
			t.Fatal(err)
		}
		old.Advance(20*time.Millisecond, time.Hour)
	}
	want := map[string]uint64{}
	for _, n := range old.Snapshot(0, 0).Nodes {
		want[n.ID] = n.Last
	}
	for _, k := range mem.Keys() {
		first, ok := strings.CutSuffix(k, "-63")
		if !ok {
			continue
		}
		v, _ := mem.GetItem(k)
		var c logChunk
		decodeChunk(v, &c)
		for i, e := range c.e {
			if e != "" {
				mem.SetItem(strings.TrimSuffix(first, "0")+itoa(uint64(i)), e)
			}
		}
		mem.RemoveItem(k)
	}
	mem.SetItem("raftlab/lab3/cluster", formatRecord(formatVersion, []string{"n1", "n2", "n3"}))

	l, err := NewLab(mem, Config{Nodes: 3, Seed: 7, Compact: 30})
	if err != nil {
		t.Fatalf("NewLab on the per-entry format: %v", err)
	}
	for _, n := range l.Snapshot(0, 0).Nodes {
		if n.Last != want[n.ID] {
			t.Errorf("%s restored with last %d; want %d", n.ID, n.Last, want[n.ID])
		}
	}
	if v, _ := mem.GetItem("raftlab/lab3/cluster"); !strings.HasPrefix(v, labFormatVersion+" ") {
		t.Errorf("cluster record %q; want it moved on to %s", v, labFormatVersion)
	}
	if err := l.Do(Action{Kind: "load", On: true}); err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, 60*time.Second, "the per-entry keys compacted away", func(Snapshot) bool {
		return !slices.ContainsFunc(mem.Keys(), func(k string) bool {
			i, ok := entryIndex(k[strings.Index(k, "/log/")+1:])
			return ok && !strings.Contains(k, "-") && i > 0
		})
	})
	if _, err := NewLab(mem, Config{Nodes: 3, Seed: 7, Compact: 30}); err != nil {
		t.Fatalf("reload: %v", err)
	}
}

var _ raft.BatchStorage = (*nodeStorage)(nil)
