// Tests for log compaction in the real-time driver: nodes compact at the threshold, a follower
// that was down while the leader compacted is caught up by a snapshot in several chunks, a
// node restarts from its snapshot, and a snapshot the application cannot restore stops the node.
package native

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"strings"
	"sync"
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv"
)

// kvNodes runs nodes whose application is a kv.Store, and counts snapshot events.
type kvNodes struct {
	t       *testing.T
	nw      *net
	members []string
	mu      sync.Mutex
	stores  map[string]*kv.Store
	events  map[raft.EventKind]int
	// badSnapshots makes every node's snapshot bytes garbage; refused counts the snapshots
	// that followers' CheckSnapshot refused.
	badSnapshots bool
	refused      int
	// slowElections: election timeouts of 1–2 s instead of 50–100 ms, for tests that need
	// one leader throughout on a loaded machine.
	slowElections bool
}

// newKVNodes returns the harness for a cluster of n1, n2 and n3 on an in-memory network.
func newKVNodes(t *testing.T) *kvNodes {
	return &kvNodes{t: t, nw: &net{nodes: map[string]*Node{}}, members: []string{"n1", "n2", "n3"},
		stores: map[string]*kv.Store{}, events: map[raft.EventKind]int{}}
}

// startAll starts every member on storage of its own with the given compaction threshold; the
// nodes in the returned map when the test ends (restarted ones included) are stopped then.
func (k *kvNodes) startAll(threshold int) (map[string]*raft.MapStorage, map[string]*Node) {
	storage := map[string]*raft.MapStorage{}
	nodes := map[string]*Node{}
	for _, id := range k.members {
		storage[id] = raft.NewMapStorage()
		nodes[id] = k.start(id, storage[id], threshold)
	}
	k.t.Cleanup(func() {
		for _, n := range nodes {
			n.Stop()
		}
	})
	return storage, nodes
}

func (k *kvNodes) start(id string, st raft.Storage, threshold int) *Node {
	k.t.Helper()
	sm := kv.NewStore()
	k.mu.Lock()
	k.stores[id] = sm
	k.mu.Unlock()
	emin := 50 * time.Millisecond
	if k.slowElections {
		emin = time.Second
	}
	n, err := Start(Config{
		Raft: raft.Config{ID: id, Members: k.members, Storage: st, Seed: 7, CompactThreshold: threshold, SnapshotChunkSize: 100,
			ElectionTimeoutMin: emin, ElectionTimeoutMax: 2 * emin, HeartbeatInterval: 10 * time.Millisecond,
			CheckSnapshot: func(s *raft.Snapshot) error {
				err := kv.NewStore().Restore(s.Index, s.Data)
				if err != nil {
					k.mu.Lock()
					k.refused++
					k.mu.Unlock()
				}
				return err
			}},
		Send: k.nw.send,
		Apply: func(e raft.CommitEntry) []byte {
			k.mu.Lock()
			defer k.mu.Unlock()
			if _, err := sm.Apply(e); err != nil {
				k.t.Errorf("%s: %v", id, err)
			}
			return nil
		},
		Snapshot: func() []byte {
			k.mu.Lock()
			defer k.mu.Unlock()
			if k.badSnapshots {
				return []byte("this is no snapshot of a key-value store")
			}
			return sm.Snapshot()
		},
		Restore: func(s *raft.Snapshot) error {
			k.mu.Lock()
			defer k.mu.Unlock()
			return sm.Restore(s.Index, s.Data)
		},
		OnEvent: func(e raft.Event) { k.mu.Lock(); k.events[e.Kind]++; k.mu.Unlock() },
	})
	if err != nil {
		k.t.Fatal(err)
	}
	k.nw.set(id, n)
	return n
}

func (k *kvNodes) data(id string) map[string]string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.stores[id].Data()
}

func (k *kvNodes) count(kind raft.EventKind) int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.events[kind]
}

func TestCompactionCatchUpAndRestart(t *testing.T) {
	k := newKVNodes(t)
	storage, nodes := k.startAll(20)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	submit := func(from, to int) {
		for i := from; i < to; i++ {
			cmd := kv.Request{ClientID: "c1", Seq: uint64(i + 1), Command: kv.Put(fmt.Sprintf("k%d", i%10), strings.Repeat("v", i))}.Encode()
			if _, err := submitTo(ctx, nodes, string(cmd)); err != nil {
				t.Fatal(err)
			}
		}
	}
	submit(0, 10)
	// Stop a follower; the others compact several times while it is down.
	leader, _ := leaderOf(nodes)
	down := k.members[0]
	if down == leader {
		down = k.members[1]
	}
	nodes[down].Stop()
	k.nw.set(down, nil)
	delete(nodes, down)
	submit(10, 200)
	leader, _ = leaderOf(nodes)
	if si := nodes[leader].Status().SnapshotIndex; si < 150 {
		t.Fatalf("leader %s compacted up to %d after 200 commands with threshold 20", leader, si)
	}
	if st := nodes[leader].Status(); st.LastIndex-st.SnapshotIndex > 40 {
		t.Errorf("leader keeps %d entries after its snapshot at %d; want at most about the threshold", st.LastIndex-st.SnapshotIndex, st.SnapshotIndex)
	}
	// It comes back from its storage: the leader has compacted what it lacks, so it is caught
	// up by the snapshot (in chunks of 100 bytes) and then by entries.
	nodes[down] = k.start(down, storage[down], 20)
	want := k.data(leader)
	waitFor(t, down+" to catch up", 10*time.Second, func() bool {
		return maps.Equal(k.data(down), want) && nodes[down].Status().Applied == nodes[leader].Status().Applied
	})
	if k.count(raft.EvInstall) == 0 {
		t.Errorf("%s caught up without installing a snapshot", down)
	}
	if got := nodes[down].Status().SnapshotIndex; got == 0 {
		t.Errorf("%s has no snapshot after catching up", down)
	}
	// Restart the leader from its storage: it restores its store from its snapshot plus the log
	// since, and agrees with the others.
	nodes[leader].Stop()
	k.nw.set(leader, nil)
	nodes[leader] = k.start(leader, storage[leader], 20)
	submit(200, 210)
	for _, id := range k.members {
		waitFor(t, id+" to apply every command", 10*time.Second, func() bool {
			return len(k.data(id)) == 10 && k.data(id)["k9"] == strings.Repeat("v", 209)
		})
	}
}

// TestLeaderWaitsForAFollowerCloseBehind: a leader due to compact holds off while a follower
// less than the threshold behind has not been sent the entries the snapshot would replace, so
// that the follower, back, catches up by entries and not by snapshot; the other follower
// compacts at the threshold as usual, and once the follower is a threshold behind the leader
// compacts too.
func TestLeaderWaitsForAFollowerCloseBehind(t *testing.T) {
	k := newKVNodes(t)
	k.slowElections = true
	storage, nodes := k.startAll(20)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	seq := 0
	submit := func() {
		seq++
		cmd := kv.Request{ClientID: "c1", Seq: uint64(seq), Command: kv.Put(fmt.Sprintf("k%d", seq%10), fmt.Sprint(seq))}.Encode()
		if _, err := submitTo(ctx, nodes, string(cmd)); err != nil {
			t.Fatal(err)
		}
	}
	for range 8 {
		submit()
	}
	leader, _ := leaderOf(nodes)
	term := nodes[leader].Status().Term
	down, up := "", ""
	for _, id := range k.members {
		if id != leader && down == "" {
			down = id
		} else if id != leader {
			up = id
		}
	}
	waitFor(t, down+" to hold every entry", 5*time.Second, func() bool {
		return nodes[leader].Status().Progress[down].Match == nodes[leader].Status().LastIndex
	})
	nodes[down].Stop()
	k.nw.set(down, nil)
	delete(nodes, down)
	match := nodes[leader].Status().Progress[down].Match
	// Past the threshold (20 entries applied since no snapshot), less than one behind down.
	for nodes[leader].Status().Applied < match+15 {
		submit()
	}
	st := nodes[leader].Status()
	if st.Term != term || st.State != raft.Leader {
		t.Fatalf("%s lost its leadership (term %d, was %d) with election timeouts of 1–2 s", leader, st.Term, term)
	}
	if st.Applied <= 20 {
		t.Fatalf("the leader applied %d entries; the test needs more than the threshold, 20", st.Applied)
	}
	if st.SnapshotIndex != 0 {
		t.Errorf("leader compacted up to %d with %s at %d, less than the threshold behind", st.SnapshotIndex, down, match)
	}
	waitFor(t, up+" to compact at the threshold", 5*time.Second, func() bool { return nodes[up].Status().SnapshotIndex > 0 })

	// Back, down catches up by entries.
	nodes[down] = k.start(down, storage[down], 20)
	want := k.data(leader)
	waitFor(t, down+" to catch up", 10*time.Second, func() bool {
		return maps.Equal(k.data(down), want) && nodes[down].Status().Applied == nodes[leader].Status().Applied
	})
	if n := k.count(raft.EvInstall); n != 0 {
		t.Errorf("%d snapshots installed; %s was less than the threshold behind", n, down)
	}
	waitFor(t, "the leader to compact once its followers hold its entries", 5*time.Second, func() bool {
		submit()
		return nodes[leader].Status().SnapshotIndex > 0
	})

	// A follower a threshold behind is not waited for.
	nodes[down].Stop()
	k.nw.set(down, nil)
	delete(nodes, down)
	si := nodes[leader].Status().SnapshotIndex
	for range 60 {
		submit()
	}
	if st := nodes[leader].Status(); st.SnapshotIndex <= si || st.LastIndex-st.SnapshotIndex > 41 {
		t.Errorf("with %s down the leader's snapshot is at %d (was %d) and its log at %d; want it to compact, keeping at most twice the threshold", down, st.SnapshotIndex, si, st.LastIndex)
	}
}

// TestBadSnapshotRefused: a follower refuses a leader's snapshot that does not restore, keeps
// its state and log, and keeps running, while the leader tries again.
func TestBadSnapshotRefused(t *testing.T) {
	k := newKVNodes(t)
	k.badSnapshots = true
	storage, nodes := k.startAll(20)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	submit := func(from, to int) {
		for i := from; i < to; i++ {
			if _, err := submitTo(ctx, nodes, string(kv.Request{Command: kv.Put(fmt.Sprintf("k%d", i), "v")}.Encode())); err != nil {
				t.Fatal(err)
			}
		}
	}
	submit(0, 5)
	leader, _ := leaderOf(nodes)
	down := k.members[0]
	if down == leader {
		down = k.members[1]
	}
	waitFor(t, down+" to apply the first commands", 5*time.Second, func() bool { return len(k.data(down)) == 5 })
	nodes[down].Stop()
	k.nw.set(down, nil)
	delete(nodes, down)
	submit(5, 100)
	nodes[down] = k.start(down, storage[down], 20)
	before := nodes[down].Status()
	waitFor(t, "the leader to send its snapshot twice", 10*time.Second, func() bool {
		k.mu.Lock()
		defer k.mu.Unlock()
		return k.refused >= 2
	})
	st := nodes[down].Status()
	if st.State == raft.Dead || nodes[down].Err() != nil {
		t.Fatalf("%s stopped: %v", down, nodes[down].Err())
	}
	// Its log is what it restarted with: the leader has compacted the entries that follow.
	if st.SnapshotIndex != before.SnapshotIndex || st.LastIndex != before.LastIndex || st.Applied > before.LastIndex {
		t.Errorf("%s after refusing the snapshot: %+v; before: %+v", down, st, before)
	}
	if k.count(raft.EvInstall) != 0 {
		t.Errorf("%d snapshots installed; want none", k.count(raft.EvInstall))
	}
}

// TestRestoreFailureStopsNode: a snapshot its application refuses stops the node with an error
// naming it; nothing is applied after it.
func TestRestoreFailureStopsNode(t *testing.T) {
	st := raft.NewMapStorage()
	// A node that compacted once: its restart hands the snapshot to Restore.
	n1, err := raft.NewNode(raft.Config{ID: "n1", Members: []string{"n1"}, Storage: st}, 0)
	if err != nil {
		t.Fatal(err)
	}
	n1.Campaign(time.Millisecond)
	n1.Submit(time.Millisecond, []byte("x"))
	n1.Ready()
	if err := n1.Compact(time.Millisecond, []byte("state")); err != nil {
		t.Fatal(err)
	}
	applied := 0
	n, err := Start(Config{
		Raft: raft.Config{ID: "n1", Members: []string{"n1"}, Storage: st, CompactThreshold: 10},
		Send: func([]raft.Message) {},
		Apply: func(raft.CommitEntry) []byte {
			applied++
			return nil
		},
		Snapshot: func() []byte { return nil },
		Restore:  func(s *raft.Snapshot) error { return errors.New("not a snapshot of mine") },
	})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-n.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the node did not stop")
	}
	if err := n.Err(); err == nil || !strings.Contains(err.Error(), "restoring the snapshot up to 2: not a snapshot of mine") {
		t.Errorf("Err() = %v; want the restore error", err)
	}
	if applied != 0 {
		t.Errorf("applied %d entries after a failed restore", applied)
	}
}

func TestCompactionNeedsSnapshotHooks(t *testing.T) {
	_, err := Start(Config{Raft: raft.Config{ID: "n1", Members: []string{"n1"}, Storage: raft.NewMapStorage(), CompactThreshold: 5},
		Send: func([]raft.Message) {}})
	if err == nil || !strings.Contains(err.Error(), "needs Snapshot and Restore") {
		t.Errorf("Start with a threshold and no Snapshot = %v; want an error", err)
	}
}
