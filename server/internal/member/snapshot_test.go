//go:build !js

// Catching up by snapshot over real sockets: a browser-kind member that joins far behind a
// native leader gets the leader's snapshot in InstallSnapshot chunks through the hub, and a
// figure for a native follower 100,000 entries behind.
package member_test

import (
	"context"
	"fmt"
	"maps"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/raft/wire"
	"raftlab/server/internal/hub"
	"raftlab/server/internal/link"
	"raftlab/server/internal/member"
	"raftlab/server/native"
)

// startHub serves a hub with one cluster on loopback and returns its /ws URL.
func startHub(tb testing.TB, cluster string, members []string, o wire.Options) string {
	tb.Helper()
	h := hub.New(hub.Config{Logf: tb.Logf})
	if err := h.AddCluster(cluster, members); err != nil {
		tb.Fatal(err)
	}
	if err := h.SetOptions(cluster, o); err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	srv := httptest.NewServer(mux)
	tb.Cleanup(func() { h.Close(); srv.Close() })
	return "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
}

func startMember(tb testing.TB, url, cluster, id, dir string) *member.Member {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	m, err := member.Start(ctx, member.Config{URL: url, Cluster: cluster, ID: id, DataDir: dir, Logf: tb.Logf})
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// pageMember is one member hosted the way a page hosts it: a browser connection to the hub,
// its options from the welcome, a key-value store that the test can read.
type pageMember struct {
	link     *link.Link
	mu       sync.Mutex
	node     *native.Node
	sm       *kv.Store
	installs int
}

func startPageMember(t *testing.T, url, cluster, id string) *pageMember {
	t.Helper()
	p := &pageMember{sm: kv.NewStore()}
	started := make(chan error, 1)
	p.link = link.Start(link.Config{
		URL: url, Cluster: cluster, Kind: wire.KindBrowser, Members: []string{id}, Logf: t.Logf,
		OnWelcome: func(e *wire.Envelope) error {
			p.mu.Lock()
			defer p.mu.Unlock()
			if p.node != nil {
				return nil
			}
			rc := raft.Config{ID: id, Members: e.Members, Storage: raft.NewMapStorage(), Seed: 3}
			e.Options.Apply(&rc)
			n, err := native.Start(native.Config{
				Raft: rc,
				Send: func(msgs []raft.Message) { p.link.SendMsgs(msgs) },
				Apply: func(e raft.CommitEntry) []byte {
					p.mu.Lock()
					defer p.mu.Unlock()
					if _, err := p.sm.Apply(e); err != nil {
						t.Errorf("%s: %v", id, err)
					}
					return nil
				},
				Snapshot: func() []byte { p.mu.Lock(); defer p.mu.Unlock(); return p.sm.Snapshot() },
				Restore: func(s *raft.Snapshot) error {
					p.mu.Lock()
					defer p.mu.Unlock()
					return p.sm.Restore(s.Index, s.Data)
				},
				OnEvent: func(e raft.Event) {
					if e.Kind == raft.EvInstall {
						p.mu.Lock()
						p.installs++
						p.mu.Unlock()
					}
				},
			})
			p.node = n
			started <- err
			return err
		},
		OnMsgs: func(msgs []raft.Message) {
			p.mu.Lock()
			n := p.node
			p.mu.Unlock()
			if n != nil {
				n.Deliver(msgs)
			}
		},
	})
	select {
	case err := <-started:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no welcome")
	}
	t.Cleanup(func() { p.link.Close(); p.node.Stop() })
	return p
}

func (p *pageMember) state() (data map[string]string, installs int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sm.Data(), p.installs
}

func waitUntil(tb testing.TB, what string, d time.Duration, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestPageMemberCaughtUpBySnapshot: two native members commit 1,000 commands with a
// compaction threshold of 50 from the hub's welcome; a browser member that joins then is far
// behind entries the leader no longer has, and is caught up by its snapshot over the hub.
func TestPageMemberCaughtUpBySnapshot(t *testing.T) {
	url := startHub(t, "demo", []string{"n1", "n2", "b1"}, wire.Options{Compact: 50})
	n1 := startMember(t, url, "demo", "n1", "")
	defer n1.Close()
	n2 := startMember(t, url, "demo", "n2", "")
	defer n2.Close()
	c := &cluster{ms: []*member.Member{n1, n2}}
	leader := c.leader(t)
	var changes atomic.Int64
	want := map[string]string{}
	for i := range 1000 {
		// One client session: a retry after a leader change applies once.
		k, v := "k"+strconv.Itoa(i%40), strings.Repeat("v", i%100)+strconv.Itoa(i)
		c.submit(t, &leader, kv.Request{ClientID: "c1", Seq: uint64(i + 1), Command: kv.Put(k, v)}.Encode(), &changes)
		want[k] = v
	}
	leader = c.leader(t)
	st := leader.Status()
	if st.SnapshotIndex < 900 || st.LastIndex-st.SnapshotIndex > 60 {
		t.Fatalf("leader after 1,000 commands with threshold 50: snapshot at %d, last index %d", st.SnapshotIndex, st.LastIndex)
	}
	b1 := startPageMember(t, url, "demo", "b1")
	waitUntil(t, "b1 to catch up", 10*time.Second, func() bool {
		data, _ := b1.state()
		return maps.Equal(data, want)
	})
	if _, installs := b1.state(); installs == 0 {
		t.Error("b1 caught up without installing a snapshot")
	}
	if got := b1.node.Status().SnapshotIndex; got < st.SnapshotIndex {
		t.Errorf("b1's snapshot covers up to %d; want the leader's, %d or later", got, st.SnapshotIndex)
	}
}

// BenchmarkCatchUp measures how long a native follower 100,000 entries behind takes to catch
// up: three members on loopback, one stopped while the others commit 100,000 commands (64
// submitters), then started again with empty storage. With the default compaction threshold it
// is caught up by the leader's snapshot; without compaction by 100,000 entries. Reports the
// time until it has applied the leader's last index.
func BenchmarkCatchUp(b *testing.B) {
	for _, compact := range []int{0, -1} {
		name := "compact=default"
		if compact < 0 {
			name = "compact=never"
		}
		b.Run(name, func(b *testing.B) {
			for b.Loop() {
				catchUp(b, compact, 100_000)
			}
		})
	}
}

func catchUp(b *testing.B, compact, behind int) {
	url := startHub(b, "bench", []string{"n1", "n2", "n3"}, wire.Options{Compact: compact})
	n1 := startMember(b, url, "bench", "n1", "")
	defer n1.Close()
	n2 := startMember(b, url, "bench", "n2", "")
	defer n2.Close()
	c := &cluster{ms: []*member.Member{n1, n2}}
	var next, changes atomic.Int64
	var wg sync.WaitGroup
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			leader := c.leader(b)
			for i := next.Add(1); i <= int64(behind); i = next.Add(1) {
				cmd := kv.Request{ClientID: fmt.Sprintf("c%d", i%64), Seq: uint64(i), Command: kv.Put("k"+strconv.FormatInt(i%1000, 10), "v")}.Encode()
				c.submit(b, &leader, cmd, &changes)
			}
		}()
	}
	wg.Wait()
	st := c.leader(b).Status()
	start := time.Now()
	n3 := startMember(b, url, "bench", "n3", "")
	defer n3.Close()
	waitUntil(b, "n3 to catch up", 60*time.Second, func() bool { return n3.Node().Status().Applied >= st.LastIndex })
	elapsed := time.Since(start)
	b.ReportMetric(float64(elapsed.Milliseconds()), "catch-up-ms")
	b.ReportMetric(float64(st.SnapshotSize), "snapshot-bytes")
	b.ReportMetric(float64(st.LastIndex-st.SnapshotIndex), "entries-after-snapshot")
	b.ReportMetric(float64(changes.Load()), "leader-changes")
}
