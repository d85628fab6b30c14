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
