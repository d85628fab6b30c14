//go:build !js

package hub_test

import (
	"context"
	"net"
	"testing"
	"time"

	"raftlab/server/internal/hub"
	"raftlab/server/internal/member"
)

// TestDirectLinksOutliveTheHub: native members announce their direct-link addresses through
// the hub (an unspecified host completed with the connection's address), link up with each
// other, and once the hub is gone the majority still elects and commits.
func TestDirectLinksOutliveTheHub(t *testing.T) {
	s := newServer(t, hub.Config{}, map[string][]string{"demo": {"n1", "n2", "n3"}})
	ms := map[string]*member.Member{}
	for _, id := range []string{"n1", "n2", "n3"} {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		// n3 listens on every interface: the hub tells the others the address it connects from.
		addr := ""
		if id == "n3" {
			addr = "0.0.0.0:0"
		}
		m, err := member.Start(ctx, member.Config{URL: s.url, Cluster: "demo", ID: id, Raft: fastRaft, StatusEvery: 20 * time.Millisecond, Logf: s.log.logf, PeerAddr: addr})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		ms[id] = m
		t.Cleanup(func() { m.Close() })
	}
	waitFor(t, "every direct link up", 10*time.Second, func() bool {
		for id, m := range ms {
			for other := range ms {
				if other != id && !m.Peer().Up(other) {
					return false
				}
			}
		}
		return true
	})
	_, port, _ := net.SplitHostPort(ms["n3"].Peer().Addr())
	if got, want := ms["n1"].Peer().Peers()["n3"], "127.0.0.1:"+port; got != want {
		t.Errorf("n1 dials n3 at %q; want %q (the hub completes an unspecified host)", got, want)
	}
	// The hub goes away: the members keep each other's addresses.
	s.srv.CloseClientConnections()
	s.srv.Close()
	s.hub.Close()
	waitFor(t, "the members to lose the hub", 10*time.Second, func() bool {
		for _, m := range ms {
			if m.Link().Connected() {
				return false
			}
		}
		return true
	})
	// Stop the leader: the two left elect one and commit without a hub.
	var leader string
	waitFor(t, "a leader", 10*time.Second, func() bool {
		for id, m := range ms {
			if st := m.Node().Status(); st.Leader == id {
				leader = id
			}
		}
		return leader != ""
	})
	ms[leader].Close()
	delete(ms, leader)
	waitFor(t, "a command committed by the two left", 20*time.Second, func() bool {
		for _, m := range ms {
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err := m.Node().Submit(ctx, []byte("put x 1"))
			cancel()
			if err == nil {
				return true
			}
		}
		return false
	})
	for id, m := range ms {
		if m.Peer().Up(leader) {
			t.Errorf("%s still has a link up to the stopped %s", id, leader)
		}
	}
}
