//go:build !js

package member

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/server/internal/hub"
	"raftlab/server/internal/linkstats"
	"raftlab/server/internal/peer"
)

func (l *logLines) count(sub string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

func (l *logLines) text() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

// freeAddr returns a loopback address nobody listens on now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestMessagesBeforeTheWelcome: a member waiting for the hub's welcome already listens for
// direct links, and another member's messages reach it before its node runs. They are dropped
// as not_running, not unreachable, and the member says so once, with what it waits for; once
// the hub answers, the node starts and the same link's messages are delivered.
func TestMessagesBeforeTheWelcome(t *testing.T) {
	h := hub.New(hub.Config{Logf: t.Logf})
	if err := h.AddCluster("demo", []string{"n1", "n2"}); err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	var down atomic.Bool
	down.Store(true)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if down.Load() {
			http.Error(w, "the server is down", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	addr := freeAddr(t)
	var lg logLines
	links := linkstats.New(lg.logf)
	type started struct {
		m   *Member
		err error
	}
	done := make(chan started, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	go func() {
		m, err := Start(ctx, Config{URL: "ws" + strings.TrimPrefix(srv.URL, "http"), Cluster: "demo", ID: "n2", PeerAddr: addr, Logf: lg.logf, Links: links})
		done <- started{m, err}
	}()

	// n1, as a bare transport, links to n2 and sends it heartbeats.
	n1, err := peer.Listen(peer.Config{Cluster: "demo", ID: "n1", Deliver: func([]raft.Message) bool { return true }, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	defer n1.Close()
	n1.SetPeer("n2", addr)
	send := func() {
		if n1.Up("n2") {
			n1.Send(&raft.Message{Type: raft.MsgApp, From: "n1", To: "n2", Term: 1})
		}
	}
	const said = "n2: n1's messages arrive over its direct link before this member runs: dropping them until it starts (it waits for the hub's welcome at ws://"
	deadline := time.Now().Add(15 * time.Second)
	for links.DroppedTo("demo", "n2")[linkstats.NotRunning] < 20 {
		if time.Now().After(deadline) {
			t.Fatalf("n2 dropped %v before its welcome; logged:\n%s", links.DroppedTo("demo", "n2"), lg.text())
		}
		send()
		time.Sleep(5 * time.Millisecond)
	}
	if d := links.DroppedTo("demo", "n2"); len(d) != 1 {
		t.Errorf("n2 dropped %v before its welcome; want not_running only", d)
	}
	if lg.count(said) != 1 || lg.count("unreachable") != 0 {
		t.Errorf("want one line %q and none saying unreachable; logged:\n%s", said, lg.text())
	}

	// The hub answers: n2 starts, and n1's messages are delivered.
	down.Store(false)
	var m *Member
	select {
	case s := <-done:
		if s.err != nil {
			t.Fatal(s.err)
		}
		m = s.m
	case <-time.After(20 * time.Second):
		t.Fatalf("n2 did not start once the hub answered; logged:\n%s", lg.text())
	}
	defer m.Close()
	delivered := func() uint64 {
		ms, _ := links.Snapshot()
		for _, x := range ms {
			if x.ID == "n2" {
				return x.Delivered
			}
		}
		return 0
	}
	for delivered() == 0 {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatalf("nothing delivered to n2 after it started; logged:\n%s", lg.text())
		}
		send()
		time.Sleep(5 * time.Millisecond)
	}
	if lg.count(said) != 1 {
		t.Errorf("the line %q said %d times", said, lg.count(said))
	}
}

// TestRemovedMemberForgotten: once a configuration without a member commits, the others'
// transports forget it (its link is closed and nobody dials it), and do not dial it back when
// it dials in, as a removed member that has not heard of its removal does; when it is added
// back, they dial it again.
func TestRemovedMemberForgotten(t *testing.T) {
	h := hub.New(hub.Config{Logf: t.Logf})
	ids := []string{"n1", "n2", "n3"}
	if err := h.AddCluster("demo", ids); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	mux.Handle("/api/", h.APIHandler())
	srv := httptest.NewServer(mux)
	defer srv.Close()
	defer h.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	var lg logLines
	start := func(id string, add bool) *Member {
		cfg := Config{URL: url, Cluster: "demo", ID: id, Add: add, Logf: lg.logf, StatusEvery: 50 * time.Millisecond}
		cfg.Raft.ElectionTimeoutMin, cfg.Raft.ElectionTimeoutMax = 300*time.Millisecond, 600*time.Millisecond
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m, err := Start(ctx, cfg)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ms := map[string]*Member{}
	for _, id := range ids {
		ms[id] = start(id, false)
	}
	defer func() {
		for _, m := range ms {
			m.Close()
		}
	}()
	wait := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s; logged:\n%s", what, lg.text())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	linked := func(to string) func() bool {
		return func() bool {
			for _, id := range ids {
				if !ms[id].Peer().Up(to) {
					return false
				}
			}
			return true
		}
	}
	change := func(body string) {
		t.Helper()
		resp, err := http.Post(srv.URL+"/api/clusters/demo/members?timeout=20s", "text/plain", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %s; logged:\n%s", body, resp.Status, lg.text())
		}
	}

	// n4 joins and becomes a voter; everyone links to it (once they know their configuration,
	// with no link to n4 before it is in it).
	wait("the members to know their configuration", func() bool {
		for _, id := range ids {
			if !ms[id].roster.knows() {
				return false
			}
		}
		return true
	})
	n4 := start("n4", true)
	wait("n4 a voter", func() bool { return n4.Node().Status().Config.IsVoter("n4") })
	wait("links to n4", linked("n4"))

	// n4 is removed: it is told so and stops, and the others forget it.
	change("remove n4")
	select {
	case <-n4.Failed():
	case <-time.After(10 * time.Second):
		t.Fatal("n4 was not told it was removed")
	}
	n4.Close()
	forgot := func() bool {
		for _, id := range ids {
			if _, ok := ms[id].Peer().Peers()["n4"]; ok {
				return false
			}
		}
		return true
	}
	wait("every member to forget n4", forgot)
	for _, id := range ids {
		if lg.count(id+": n4 is not in cluster demo's configuration") != 1 || lg.count(id+": n4 is not in cluster demo's configuration (voters n1,n2,n3, committed at index 4)") != 1 {
			t.Errorf("%s does not say once that it forgot n4 (%d times); logged:\n%s", id, lg.count(id+": n4 is not in cluster demo's configuration"), lg.text())
		}
	}

	// A removed n4 that did not hear of it (the hub was down) keeps running and dials n1: n1
	// serves the link, and does not dial n4 back.
	ghost, err := peer.Listen(peer.Config{Cluster: "demo", ID: "n4", Deliver: func([]raft.Message) bool { return true }, Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	ghost.SetPeer("n1", ms["n1"].Peer().Addr())
	wait("n1 to refuse to dial the removed n4 back", func() bool {
		return lg.count("n1: n4 dialed in over a direct link, but it is not in cluster demo's configuration (n1,n2,n3): not dialing it back") == 1
	})
	if _, ok := ms["n1"].Peer().Peers()["n4"]; ok {
		t.Errorf("n1 dials the removed n4 back: %v", ms["n1"].Peer().Peers())
	}
	ghost.Close()

	// n4 is added back (a new process, asking to join): everyone dials it again.
	n4 = start("n4", true)
	ms["n4"] = n4
	wait("n4 a voter again", func() bool { return n4.Node().Status().Config.IsVoter("n4") })
	wait("links to n4 again", linked("n4"))
}
