// Tests for the real-time driver: three nodes wired by an in-memory network elect, commit,
// fail over and catch up; a failing store stops a node cleanly.
package native

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"raftlab/raft"
)

// net is an in-memory network between nodes of one test.
type net struct {
	mu    sync.Mutex
	nodes map[string]*Node
}

func (nw *net) send(msgs []raft.Message) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	for _, m := range msgs {
		if to := nw.nodes[m.To]; to != nil {
			to.Deliver([]raft.Message{m})
		}
	}
}

func (nw *net) set(id string, n *Node) {
	nw.mu.Lock()
	defer nw.mu.Unlock()
	nw.nodes[id] = n
}

type applied struct {
	mu  sync.Mutex
	log map[string][]string
}

func (a *applied) get(id string) []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]string(nil), a.log[id]...)
}

func startNode(t *testing.T, nw *net, ap *applied, id string, members []string, st raft.Storage) *Node {
	t.Helper()
	ap.mu.Lock()
	ap.log[id] = nil // a restarted node applies from index 1 again
	ap.mu.Unlock()
	n, err := Start(Config{
		Raft: raft.Config{ID: id, Members: members, Storage: st, Seed: 7,
			ElectionTimeoutMin: 50 * time.Millisecond, ElectionTimeoutMax: 100 * time.Millisecond, HeartbeatInterval: 10 * time.Millisecond},
		Send: nw.send,
		Apply: func(e raft.CommitEntry) []byte {
			if e.Type != raft.EntryCommand {
				return nil
			}
			ap.mu.Lock()
			ap.log[id] = append(ap.log[id], string(e.Command))
			ap.mu.Unlock()
			return []byte("applied " + string(e.Command))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	nw.set(id, n)
	return n
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func leaderOf(nodes map[string]*Node) (string, bool) {
	for id, n := range nodes {
		if n != nil && n.Status().State == raft.Leader {
			return id, true
		}
	}
	return "", false
}

func submitTo(ctx context.Context, nodes map[string]*Node, cmd string) (Result, error) {
	var err error
	for range 100 {
		id, ok := leaderOf(nodes)
		if !ok {
			time.Sleep(10 * time.Millisecond)
			continue
		}
		var res Result
		res, err = nodes[id].Submit(ctx, []byte(cmd))
		if err == nil {
			return res, nil
		}
		if ctx.Err() != nil {
			return res, err
		}
		time.Sleep(10 * time.Millisecond)
	}
	return Result{}, fmt.Errorf("no leader took %q: %v", cmd, err)
}

func TestClusterFailover(t *testing.T) {
	before := runtime.NumGoroutine()
	members := []string{"n1", "n2", "n3"}
	nw := &net{nodes: map[string]*Node{}}
	ap := &applied{log: map[string][]string{}}
	stores := map[string]*raft.MapStorage{}
	nodes := map[string]*Node{}
	for _, id := range members {
		stores[id] = raft.NewMapStorage()
		nodes[id] = startNode(t, nw, ap, id, members, stores[id])
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	var want []string
	for i := range 20 {
		cmd := fmt.Sprintf("put k%d %d", i, i)
		res, err := submitTo(ctx, nodes, cmd)
		if err != nil {
			t.Fatal(err)
		}
		if string(res.Value) != "applied "+cmd || res.Index == 0 || res.Term == 0 {
			t.Fatalf("Submit(%q) = %+v", cmd, res)
		}
		want = append(want, cmd)
	}

	// Stop the leader: the others elect a new one and keep committing.
	old, _ := leaderOf(nodes)
	oldTerm := nodes[old].Status().Term
	if err := nodes[old].Stop(); err != nil {
		t.Fatalf("Stop: %v", err)
	}
	if st := nodes[old].Status(); st.State != raft.Dead {
		t.Errorf("stopped node reports %v; want dead", st.State)
	}
	if _, err := nodes[old].Submit(ctx, []byte("x")); !errors.Is(err, ErrStopped) {
		t.Errorf("Submit on a stopped node = %v; want ErrStopped", err)
	}
	nw.set(old, nil)
	delete(nodes, old)
	for i := 20; i < 30; i++ {
		cmd := fmt.Sprintf("put k%d %d", i, i)
		if _, err := submitTo(ctx, nodes, cmd); err != nil {
			t.Fatal(err)
		}
		want = append(want, cmd)
	}
	if id, _ := leaderOf(nodes); nodes[id].Status().Term <= oldTerm {
		t.Errorf("new leader %s in term %d; want a term after %d", id, nodes[id].Status().Term, oldTerm)
	}

	// Restart it from its storage: it catches up with everything.
	nodes[old] = startNode(t, nw, ap, old, members, stores[old])
	for _, id := range members {
		waitFor(t, id+" to apply every command", 10*time.Second, func() bool { return len(ap.get(id)) == len(want) })
		if got := ap.get(id); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s applied %q; want %q", id, got, want)
		}
	}
	for _, n := range nodes {
		n.Stop()
	}
	waitFor(t, "goroutines to exit", 5*time.Second, func() bool { return runtime.NumGoroutine() <= before })
}

// failingStore fails every write after the first failAfter batches.
type failingStore struct {
	*raft.MapStorage
	mu        sync.Mutex
	failAfter int
	err       error
}

func (s *failingStore) SetBatch(kvs []raft.KV) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	if s.failAfter == 0 {
		s.err = errors.New("disk full")
		return
	}
	s.failAfter--
	s.MapStorage.SetBatch(kvs)
}

func (s *failingStore) Set(k string, v []byte) { s.SetBatch([]raft.KV{{Key: k, Value: v}}) }

func (s *failingStore) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

func TestStorageFailureStopsNode(t *testing.T) {
	var sent []raft.Message
	var mu sync.Mutex
	st := &failingStore{MapStorage: raft.NewMapStorage(), failAfter: 2}
	var events []raft.Event
	n, err := Start(Config{
		Raft: raft.Config{ID: "n1", Members: []string{"n1", "n2", "n3"}, Storage: st,
			ElectionTimeoutMin: 10 * time.Millisecond, ElectionTimeoutMax: 20 * time.Millisecond, HeartbeatInterval: 5 * time.Millisecond},
		Send:    func(m []raft.Message) { mu.Lock(); sent = append(sent, m...); mu.Unlock() },
		OnEvent: func(e raft.Event) { mu.Lock(); events = append(events, e); mu.Unlock() },
	})
	if err != nil {
		t.Fatal(err)
	}
	// The initial state and the first election's term and vote are written; the second
	// election's write fails, so its RequestVotes must never leave.
	select {
	case <-n.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("node did not stop after its storage failed")
	}
	if err := n.Stop(); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Stop() = %v; want the storage error", err)
	}
	if got := n.Err(); got == nil || !contains(got.Error(), "disk full") {
		t.Errorf("Err() = %v; want it to say disk full", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(sent) == 0 {
		t.Error("no RequestVote of term 1 was sent")
	}
	for _, m := range sent {
		if m.Term > 1 {
			t.Errorf("sent %v after the write of term %d failed", m, m.Term)
		}
	}
	if last := events[len(events)-1]; last.Kind != raft.EvStorageError {
		t.Errorf("last event %v; want a storage-error event", last)
	}
	if _, err := n.Submit(context.Background(), []byte("x")); !errors.Is(err, ErrStopped) || !contains(err.Error(), "disk full") {
		t.Errorf("Submit after the failure = %v; want ErrStopped saying disk full", err)
	}
}

func contains(s, sub string) bool { return strings.Contains(s, sub) }

func TestUnreliable(t *testing.T) {
	// Each message is told apart by its Commit field. A message the wrapper passes on at once
	// arrives inside the call that sent it; a delayed one arrives afterwards, from a timer, at
	// least UnreliableLag after it was sent. (Measured this way, not by arrival times alone,
	// a loaded machine cannot make a prompt message look delayed.)
	var mu sync.Mutex
	var got []raft.Message
	sentAt := map[uint64]time.Time{}
	calling := uint64(0) // the Commit of the message being sent, +1; 0 between calls
	late, early := 0, 0  // arrivals after their call; of those, sooner than UnreliableLag
	reported := 0
	send := Unreliable(func(ms []raft.Message) {
		mu.Lock()
		defer mu.Unlock()
		for _, m := range ms {
			got = append(got, m)
			if m.Commit+1 != calling {
				late++
				if time.Since(sentAt[m.Commit]) < UnreliableLag {
					early++
				}
			}
		}
	}, 1, func(ms []raft.Message) { mu.Lock(); reported += len(ms); mu.Unlock() })
	const n = 2000
	for i := range uint64(n) {
		mu.Lock()
		sentAt[i], calling = time.Now(), i+1
		mu.Unlock()
		send([]raft.Message{{Type: raft.MsgApp, From: "a", To: "b", Term: 1, Commit: i}})
		mu.Lock()
		calling = 0
		mu.Unlock()
	}
	// The delayed ones arrive 75 ms later: poll.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		total := len(got) + reported
		mu.Unlock()
		if total >= n || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if early > 0 {
		t.Errorf("%d delayed messages arrived sooner than %v after they were sent", early, UnreliableLag)
	}
	mu.Lock()
	defer mu.Unlock()
	dropped := n - len(got)
	if dropped < n*5/100 || dropped > n*15/100 {
		t.Errorf("dropped %d of %d; want about 10%%", dropped, n)
	}
	if reported != dropped {
		t.Errorf("reported %d drops; %d were dropped", reported, dropped)
	}
	if late < n*5/100 || late > n*15/100 {
		t.Errorf("delayed %d of %d by %v; want about 10%%", late, n, UnreliableLag)
	}
}

// The server's members' send reuses a buffer of its own, so the wrapper must never run it on
// two goroutines at once, though delayed messages leave from timers (a data race once, in
// unreliable mode only).
func TestUnreliableSendsOneAtATime(t *testing.T) {
	var inside, overlaps, sent atomic.Int64
	send := Unreliable(func(ms []raft.Message) {
		if inside.Add(1) > 1 {
			overlaps.Add(1)
		}
		for range 20 { // widen the window a timer's send could overlap in
			runtime.Gosched()
		}
		sent.Add(int64(len(ms)))
		inside.Add(-1)
	}, 7, nil)
	// Send for a while past UnreliableLag, so the first delayed messages leave from their
	// timers while the loop still sends.
	start, n := time.Now(), int64(0)
	for time.Since(start) < 3*UnreliableLag || n < 1000 {
		send([]raft.Message{{Type: raft.MsgApp, From: "a", To: "b", Term: 1, Commit: uint64(n)}})
		n++
	}
	deadline := time.Now().Add(10 * time.Second)
	for sent.Load() < n*8/10 && time.Now().Before(deadline) { // about 90% arrive, late ones included
		time.Sleep(10 * time.Millisecond)
	}
	if o := overlaps.Load(); o > 0 {
		t.Errorf("send ran on two goroutines at once %d times; want never", o)
	}
}
