//go:build !js

// A mixed cluster without a browser: two native members inside the "server" (attached to the
// hub) and one connection hosting three members, as a page does.
package hub_test

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/raft/wire"
	"raftlab/server/internal/hub"
	"raftlab/server/internal/link"
	"raftlab/server/native"
)

// pageHost hosts several members over one link, as a browser tab does.
type pageHost struct {
	link  *link.Link
	mu    sync.Mutex
	nodes map[string]*native.Node
}

func startPageHost(t *testing.T, s *server, ids ...string) *pageHost {
	t.Helper()
	p := &pageHost{nodes: map[string]*native.Node{}}
	welcomed := make(chan []string, 1)
	p.link = link.Start(link.Config{
		URL: s.url, Cluster: "demo", Kind: wire.KindBrowser, Members: ids, Logf: s.log.logf,
		OnWelcome: func(e *wire.Envelope) error {
			select {
			case welcomed <- e.Members:
			default:
			}
			return nil
		},
		OnMsgs: func(msgs []raft.Message) {
			p.mu.Lock()
			defer p.mu.Unlock()
			for _, m := range msgs {
				if n := p.nodes[m.To]; n != nil {
					n.Deliver([]raft.Message{m})
				}
			}
		},
		OnSubmit: func(e *wire.Envelope) {
			p.mu.Lock()
			n := p.nodes[e.Member]
			p.mu.Unlock()
			go func() {
				res, err := n.Submit(context.Background(), e.Command)
				out := &wire.Envelope{Type: wire.TypeResult, Cluster: "demo", Req: e.Req, Member: e.Member, Index: res.Index, Term: res.Term, Value: res.Value}
				if err != nil {
					out.Code, out.Error = wire.CodeFailed, err.Error()
					if nl, ok := err.(*raft.NotLeaderError); ok {
						out.Code, out.Leader = wire.CodeNotLeader, nl.Leader
					}
				}
				p.link.Send(out)
			}()
		},
	})
	var members []string
	select {
	case members = <-welcomed:
	case <-time.After(5 * time.Second):
		t.Fatal("no welcome")
	}
	for _, id := range ids {
		n, err := native.Start(native.Config{
			Raft:  raft.Config{ID: id, Members: members, Storage: raft.NewMapStorage(), ElectionTimeoutMin: fastRaft.ElectionTimeoutMin, ElectionTimeoutMax: fastRaft.ElectionTimeoutMax, HeartbeatInterval: fastRaft.HeartbeatInterval},
			Send:  func(msgs []raft.Message) { p.link.SendMsgs(msgs) },
			Apply: func(raft.CommitEntry) []byte { return []byte(`{"outcome":"applied","found":false}`) },
		})
		if err != nil {
			t.Fatal(err)
		}
		p.mu.Lock()
		p.nodes[id] = n
		p.mu.Unlock()
	}
	// Report status like a page, so that the API can find a browser leader.
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
			var st []wire.MemberStatus
			p.mu.Lock()
			for id, n := range p.nodes {
				s := n.Status()
				st = append(st, wire.MemberStatus{ID: id, State: s.State.String(), Term: s.Term, Leader: s.Leader, Commit: s.CommitIndex, Applied: s.Applied, Last: s.LastIndex})
			}
			p.mu.Unlock()
			p.link.Send(&wire.Envelope{Type: wire.TypeStatus, Cluster: "demo", Status: st})
		}
	}()
	t.Cleanup(func() {
		close(stop)
		<-done
		p.link.Close()
		for _, n := range p.nodes {
			n.Stop()
		}
	})
	return p
}

func TestMixedClusterLocalAndPage(t *testing.T) {
	s := newServer(t, hub.Config{}, map[string][]string{"demo": {"n1", "n2", "b1", "b2", "b3"}})
	var locals []*native.Node
	for _, id := range []string{"n1", "n2"} {
		n, err := native.Start(native.Config{
			Raft:  raft.Config{ID: id, Members: []string{"n1", "n2", "b1", "b2", "b3"}, Storage: raft.NewMapStorage(), ElectionTimeoutMin: fastRaft.ElectionTimeoutMin, ElectionTimeoutMax: fastRaft.ElectionTimeoutMax, HeartbeatInterval: fastRaft.HeartbeatInterval},
			Send:  func(msgs []raft.Message) { s.hub.Route("demo", msgs) },
			Apply: func(raft.CommitEntry) []byte { return []byte(`{"outcome":"applied","found":false}`) },
		})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.hub.AttachLocal("demo", id, n); err != nil {
			t.Fatal(err)
		}
		locals = append(locals, n)
	}
	if err := s.hub.AttachLocal("demo", "n1", locals[0]); err == nil || !strings.Contains(err.Error(), "already hosted by the server") {
		t.Errorf("attaching n1 twice = %v; want already hosted", err)
	}
	startPageHost(t, s, "b1", "b2", "b3")
	waitFor(t, "a leader", 10*time.Second, func() bool { return getInfo(t, s, "demo").Leader != "" })
	for _, cmd := range []string{"put a 1", "put b 2"} {
		if code, out := postCommand(t, s, "demo", cmd); code != http.StatusOK {
			t.Fatalf("POST %q = %d %v", cmd, code, out)
		}
	}
	// Followers learn the commit index with the next AppendEntries, and hosts report it
	// every 20 ms: wait for every member to show both commands.
	waitFor(t, "every member to report both commands committed", 5*time.Second, func() bool {
		for _, m := range getInfo(t, s, "demo").Members {
			want := "browser"
			if strings.HasPrefix(m.ID, "n") {
				want = "native"
			}
			if !m.Reachable || m.Kind != want || m.Commit < 3 {
				return false
			}
		}
		return true
	})

	// Stop the native members: the page's three are a majority and carry on.
	for i, n := range locals {
		n.Stop()
		s.hub.DetachLocal("demo", []string{"n1", "n2"}[i])
	}
	waitFor(t, "a browser leader", 10*time.Second, func() bool { return strings.HasPrefix(getInfo(t, s, "demo").Leader, "b") })
	if code, out := postCommand(t, s, "demo", "put c 3"); code != http.StatusOK {
		t.Fatalf("POST with only the page's members = %d %v", code, out)
	}
	for _, m := range getInfo(t, s, "demo").Members {
		if strings.HasPrefix(m.ID, "n") && m.Reachable {
			t.Errorf("stopped native %s reported reachable", m.ID)
		}
	}
}
