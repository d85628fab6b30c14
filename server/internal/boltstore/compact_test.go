//go:build !js

// Tests and figures for log compaction on bbolt: deletions inside a batch, in one transaction;
// a compacting node leaves only the log since its snapshot in the file and restarts from the
// snapshot; the file's size and the restart time stay flat however many commands were applied.
package boltstore

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/raft/wire"
)

// keys lists the raft bucket's keys.
func (s *Store) keys(t testing.TB) []string {
	t.Helper()
	var ks []string
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.Bucket(bucketRaft).ForEach(func(k, _ []byte) error {
			ks = append(ks, string(k))
			return nil
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestDeleteInBatch(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n1.db")
	s := open(t, path, "demo", "n1")
	s.SetBatch([]raft.KV{{Key: "a", Value: []byte("1")}, {Key: "b", Value: []byte("2")}, {Key: "c", Value: []byte("3")}})
	// In order: c is deleted then written again; b deleted; a missing key's deletion is no error.
	s.SetBatch([]raft.KV{{Key: "c", Delete: true}, {Key: "b", Delete: true}, {Key: "c", Value: []byte("4")}, {Key: "zz", Delete: true}})
	s.Delete("a")
	if err := s.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	s.Close()
	s = open(t, path, "demo", "n1")
	if got := s.keys(t); !slices.Equal(got, []string{"c"}) {
		t.Errorf("keys after deletions and reopen = %q; want [c]", got)
	}
	if v, _ := s.Get("c"); string(v) != "4" {
		t.Errorf("Get(c) = %q; want 4", v)
	}
	// A batch that fails part-way (bbolt refuses an empty key) changes nothing: its deletion
	// is rolled back with it, and the store takes no more writes.
	s.SetBatch([]raft.KV{{Key: "c", Delete: true}, {Key: "", Value: []byte("x")}})
	if err := s.Err(); err == nil || !strings.Contains(err.Error(), "write to") {
		t.Errorf("Err() after a failed batch = %v; want the write failure", err)
	}
	s.Close()
	s = open(t, path, "demo", "n1")
	defer s.Close()
	if v, ok := s.Get("c"); !ok || string(v) != "4" {
		t.Errorf("after a failed batch: Get(c) = %q, %t; want 4: the deletion must roll back", v, ok)
	}
}

// kvNode is a one-member cluster on a bbolt file with the key-value store as its application,
// compacting as a native member does.
type kvNode struct {
	tb    testing.TB
	path  string
	st    *Store
	node  *raft.Node
	sm    *kv.Store
	now   time.Duration
	cfg   raft.Config
	snaps int
}

func startKVNode(tb testing.TB, path string, threshold int) *kvNode {
	tb.Helper()
	k := &kvNode{tb: tb, path: path}
	k.cfg = raft.Config{ID: "n1", Members: []string{"n1"}, Seed: 1, CompactThreshold: threshold}
	k.restart()
	return k
}

// restart opens the file and starts the node from it, restoring the store from the snapshot
// the node hands over first.
func (k *kvNode) restart() {
	k.tb.Helper()
	st, err := Open(k.path, "demo", "n1")
	if err != nil {
		k.tb.Fatal(err)
	}
	k.st, k.cfg.Storage, k.sm = st, st, kv.NewStore()
	if k.node, err = raft.NewNode(k.cfg, k.now); err != nil {
		k.tb.Fatal(err)
	}
	k.ready()
	if k.node.Status().State != raft.Leader {
		k.now += time.Millisecond
		k.node.Campaign(k.now)
		k.ready()
	}
}

// ready applies what the node hands over and compacts when due.
func (k *kvNode) ready() {
	rd := k.node.Ready()
	if rd.Snapshot != nil {
		if err := k.sm.Restore(rd.Snapshot.Index, rd.Snapshot.Data); err != nil {
			k.tb.Fatal(err)
		}
	}
	for _, e := range rd.Committed {
		if _, err := k.sm.Apply(e); err != nil {
			k.tb.Fatal(err)
		}
	}
	if k.node.CompactDue() {
		if err := k.node.Compact(k.now, k.sm.Snapshot()); err != nil {
			k.tb.Fatal(err)
		}
		k.snaps++
	}
	if err := k.st.Err(); err != nil {
		k.tb.Fatal(err)
	}
}

// submit applies n commands in batches of batch: 64 clients with their sessions, each putting
// one of 1,000 keys, as a load test's clients would.
func (k *kvNode) submit(from, n, batch int) {
	k.tb.Helper()
	cmds := make([][]byte, 0, batch)
	for i := from; i < from+n; i++ {
		r := kv.Request{ClientID: fmt.Sprintf("c%d", i%64), Seq: uint64(i/64 + 1), Command: kv.Put(fmt.Sprintf("k%d", i%1000), fmt.Sprintf("v%d", i))}
		cmds = append(cmds, r.Encode())
		if len(cmds) == batch || i == from+n-1 {
			k.now += time.Millisecond
			if _, _, _, err := k.node.SubmitBatch(k.now, cmds); err != nil {
				k.tb.Fatal(err)
			}
			k.ready()
			cmds = cmds[:0]
		}
	}
}

func (k *kvNode) close() { k.st.Close() }

func fileSize(tb testing.TB, path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatal(err)
	}
	return fi.Size()
}

// TestCompactionDeletesKeys: compaction leaves the log since the snapshot and one snapshot
// slot in the file, and a restart restores the store from the snapshot plus that log.
func TestCompactionDeletesKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n1.db")
	k := startKVNode(t, path, 50)
	k.submit(0, 1000, 7)
	want := k.sm.Data()
	snapIndex, _ := k.node.Compacted()
	last := k.node.Status().LastIndex
	if snapIndex == 0 || last-snapIndex > 50+7 {
		t.Fatalf("after 1000 commands with threshold 50: snapshot at %d, last %d", snapIndex, last)
	}
	var logKeys []string
	for _, key := range k.st.keys(t) {
		if strings.HasPrefix(key, "log/") && key != raft.KeyLogLast {
			logKeys = append(logKeys, key)
		}
		if strings.HasPrefix(key, "snapshot/") && key != raft.KeySnapshotData(0) && key != raft.KeySnapshotData(1) {
			t.Errorf("unexpected key %q", key)
		}
	}
	if len(logKeys) != int(last-snapIndex) {
		t.Errorf("the file holds %d log entries; want %d (snapshot at %d, last %d): %q", len(logKeys), last-snapIndex, snapIndex, last, logKeys)
	}
	if got := k.st.keys(t); slices.Contains(got, raft.KeySnapshotData(0)) && slices.Contains(got, raft.KeySnapshotData(1)) {
		t.Errorf("both snapshot slots are stored; the old one should be deleted")
	}
	k.close()

	k.restart()
	defer k.close()
	if got, _ := k.node.Compacted(); got != snapIndex {
		t.Errorf("restarted from a snapshot at %d; want %d", got, snapIndex)
	}
	// The restarted leader commits its log again: the store then matches the one before.
	k.submit(1000, 1, 1)
	want["k0"] = "v1000"
	if got := k.sm.Data(); !mapsEqual(got, want) {
		t.Errorf("restarted store differs: %d keys; want %d", len(got), len(want))
	}
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// TestFileSizeFlat: with compaction the file stops growing; without, it grows with the log.
func TestFileSizeFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 40,000 commands to two files")
	}
	dir := t.TempDir()
	compacting := startKVNode(t, filepath.Join(dir, "c.db"), 1000)
	defer compacting.close()
	growing := startKVNode(t, filepath.Join(dir, "g.db"), 0)
	defer growing.close()
	compacting.submit(0, 5000, 256)
	growing.submit(0, 5000, 256)
	c1, g1 := fileSize(t, compacting.path), fileSize(t, growing.path)
	compacting.submit(5000, 15000, 256)
	growing.submit(5000, 15000, 256)
	c2, g2 := fileSize(t, compacting.path), fileSize(t, growing.path)
	t.Logf("file after 5,000 and 20,000 commands: compacting %d → %d bytes; not compacting %d → %d", c1, c2, g1, g2)
	if c2 > c1*3/2 {
		t.Errorf("compacting: the file grew from %d to %d bytes from 5,000 to 20,000 commands; want flat", c1, c2)
	}
	if g2 < g1*2 {
		t.Errorf("not compacting: the file grew only from %d to %d bytes; the comparison shows nothing", g1, g2)
	}
}

// BenchmarkCompactedFile reports the file's size after 10k, 100k and 1M commands with the
// native members' default threshold (and without compaction, up to 100k), and how long a
// restart from it takes: opening the file, restoring the node, and the store from its
// snapshot (the median of five). Run with -benchtime 1x.
func BenchmarkCompactedFile(b *testing.B) {
	for _, n := range []int{10_000, 100_000, 1_000_000} {
		for _, threshold := range []int{wire.DefaultCompact, 0} {
			if threshold == 0 && n > 100_000 {
				continue // without compaction 1M commands is a 200 MB file; 10k and 100k show the slope
			}
			name := fmt.Sprintf("commands=%d/threshold=%d", n, threshold)
			b.Run(name, func(b *testing.B) {
				for b.Loop() {
					path := filepath.Join(b.TempDir(), "n1.db")
					k := startKVNode(b, path, threshold)
					k.submit(0, n, 256)
					st := k.node.Status()
					k.close()
					size := fileSize(b, path)
					// The median of five restarts: the machine is shared.
					var restarts []time.Duration
					for range 5 {
						start := time.Now()
						k.restart()
						restarts = append(restarts, time.Since(start))
						k.close()
					}
					slices.Sort(restarts)
					restart := restarts[len(restarts)/2]
					b.ReportMetric(float64(size), "file-bytes")
					b.ReportMetric(float64(restart.Microseconds())/1000, "restart-ms")
					b.ReportMetric(float64(k.snaps), "snapshots")
					b.ReportMetric(float64(st.LastIndex-st.SnapshotIndex), "log-after-snapshot")
				}
			})
		}
	}
}
