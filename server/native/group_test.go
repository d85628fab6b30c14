package native

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"raftlab/raft"
)

// gateStore is a MapStorage whose SetBatch can be held, as a slow synced write would be.
type gateStore struct {
	*raft.MapStorage
	hold    atomic.Bool
	entered chan struct{} // a token each time a write is held
	release chan struct{}
	batches atomic.Int64
}

func newGateStore() *gateStore {
	return &gateStore{MapStorage: raft.NewMapStorage(), entered: make(chan struct{}, 16), release: make(chan struct{})}
}

func (g *gateStore) SetBatch(kvs []raft.KV) {
	g.batches.Add(1)
	if g.hold.Load() {
		g.entered <- struct{}{}
		<-g.release
	}
	g.MapStorage.SetBatch(kvs)
}

// TestGroupWritesLeaderSendsFirst: with GroupWrites, a leader's AppendEntries leave before its
// own write of the entries they carry completes, and the followers store them meanwhile; the
// leader commits only after its write (it counts its own copy in a later turn), and then the
// command's Submit answers.
func TestGroupWritesLeaderSendsFirst(t *testing.T) {
	nw := &net{nodes: map[string]*Node{}}
	members := []string{"n1", "n2", "n3"}
	stores := map[string]*gateStore{}
	nodes := map[string]*Node{}
	for _, id := range members {
		stores[id] = newGateStore()
		n, err := Start(Config{
			// Elections take a second or more: no follower stands while the leader's write is held.
			Raft: raft.Config{ID: id, Members: members, Storage: stores[id], Seed: 11,
				ElectionTimeoutMin: time.Second, ElectionTimeoutMax: 2 * time.Second, HeartbeatInterval: 10 * time.Millisecond},
			Send:        nw.send,
			GroupWrites: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		nw.set(id, n)
		nodes[id] = n
		defer n.Stop()
	}
	var leader *Node
	waitFor(t, "a leader", 10*time.Second, func() bool {
		for _, n := range nodes {
			if n.Status().State == raft.Leader {
				leader = n
				return true
			}
		}
		return false
	})
	if _, err := leader.Submit(context.Background(), []byte("first")); err != nil {
		t.Fatal(err)
	}
	st := leader.Status()
	idx, term := st.LastIndex+1, st.Term
	gate := stores[leader.ID()]
	var once sync.Once
	release := func() {
		once.Do(func() {
			gate.hold.Store(false)
			close(gate.release)
		})
	}
	defer release() // before the nodes stop, should the test fail while the write is held
	gate.hold.Store(true)
	var res Result
	var err error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		res, err = leader.Submit(context.Background(), []byte("second"))
	}()
	select {
	case <-gate.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the leader's write was not held")
	}
	// The leader's goroutine is inside its write; the followers get the entry meanwhile.
	waitFor(t, "a follower storing the entry while the leader writes it", 10*time.Second, func() bool {
		for _, n := range nodes {
			if n == leader {
				continue // its Status waits for its goroutine, which is in the write
			}
			if s := n.Status(); s.LastIndex >= idx && s.LastTerm == term {
				return true
			}
		}
		return false
	})
	if c := leader.stats.commit.Load(); c >= idx {
		t.Fatalf("the leader committed %d before its own write of %d completed", c, idx)
	}
	release()
	wg.Wait()
	if err != nil || res.Index != idx {
		t.Fatalf("Submit: %+v, %v; want index %d", res, err, idx)
	}
	if v, ok := gate.Get(raft.KeyLogEntry(idx)); !ok || len(v) == 0 {
		t.Errorf("entry %d is not in the leader's store", idx)
	}
}

// TestGroupStore: writes wait in memory until flush, reads see them, and a store that cannot
// delete is not wrapped (the core would hand the wrapper deletions the store cannot do).
func TestGroupStore(t *testing.T) {
	ms := raft.NewMapStorage()
	bs, ok := groupable(ms)
	if !ok {
		t.Fatal("a MapStorage is groupable")
	}
	g := &groupStore{s: bs}
	if g.HasData() {
		t.Fatal("HasData on an empty store")
	}
	v := []byte("1")
	g.Set("a", v)
	v[0] = '9' // the caller may reuse its buffer
	g.SetBatch([]raft.KV{{Key: "b", Value: []byte("2")}, {Key: "a", Value: []byte("3")}})
	g.Delete("b")
	if got, ok := g.Get("a"); !ok || string(got) != "3" {
		t.Errorf("Get(a) = %q, %v; want the pending 3", got, ok)
	}
	if _, ok := g.Get("b"); ok {
		t.Error("Get(b) after a pending delete found it")
	}
	if !g.HasData() || ms.HasData() {
		t.Fatal("pending writes: HasData on the wrapper only")
	}
	g.flush()
	if got, _ := ms.Get("a"); string(got) != "3" {
		t.Errorf("after flush the store has a=%q; want 3", got)
	}
	if _, ok := ms.Get("b"); ok {
		t.Error("after flush the store has b")
	}
	if _, ok := groupable(struct{ raft.Storage }{ms}); ok {
		t.Error("a store without SetBatch and Delete was called groupable")
	}
}
