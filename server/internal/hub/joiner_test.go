//go:build !js

package hub_test

import (
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/raft/wire"
	"raftlab/server/internal/hub"
)

func detailNow(t *testing.T, s *server) hub.ClusterInfo {
	info, _ := getDetail(t, s, "demo")
	return info
}

func memberInfo(info hub.ClusterInfo, id string) (hub.MemberInfo, bool) {
	for _, m := range info.Members {
		if m.ID == id {
			return m, true
		}
	}
	return hub.MemberInfo{}, false
}

// TestJoinerThatLeftIsForgotten: a native process that asks to join (hello with add), says
// where it serves its API and reports a status, then leaves before it is added, leaves nothing
// behind: the API no longer lists it, and when a configuration with it commits later (someone
// else added it), it is a member nobody hosts, of the default kind, with no API address and no
// report, not the ghost of the process that left.
func TestJoinerThatLeftIsForgotten(t *testing.T) {
	s := newServer(t, hub.Config{AllowJoin: true}, map[string][]string{"demo": {"n1", "n2", "n3"}})
	// Nobody hosts n1..n3: there is no leader, so the join is never made.
	x := dial(t, s.url, nil)
	if err := x.send(&wire.Envelope{Type: wire.TypeHello, Cluster: "demo", Kind: wire.KindNative, Members: []string{"x9"}, Add: true,
		API: "127.0.0.1:9999", Addr: "127.0.0.1:9998"}); err != nil {
		t.Fatal(err)
	}
	if e := x.next(); e == nil || e.Type != wire.TypeWelcome {
		t.Fatalf("hello with add: %+v; want a welcome", e)
	}
	if err := x.send(&wire.Envelope{Type: wire.TypeStatus, Cluster: "demo", Status: []wire.MemberStatus{{ID: "x9", State: "follower", Term: 3}}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "x9 joining, with its report", 5*time.Second, func() bool {
		m, ok := memberInfo(detailNow(t, s), "x9")
		return ok && m.Joining && m.Kind == wire.KindNative && m.Reachable && m.State == "follower" && m.Detail != nil
	})
	x.ws.Close()
	waitFor(t, "x9 gone from the API", 5*time.Second, func() bool {
		_, ok := memberInfo(detailNow(t, s), "x9")
		return !ok
	})

	// A page hosting n1 reports a committed configuration with x9 as a learner.
	p := dial(t, s.url, nil)
	p.hello("demo", "n1")
	conf := raft.EncodeConfiguration(raft.Configuration{Voters: []string{"n1", "n2", "n3"}, Learners: []string{"x9"}})
	if err := p.send(&wire.Envelope{Type: wire.TypeStatus, Cluster: "demo", Status: []wire.MemberStatus{
		{ID: "n1", State: "leader", Term: 4, Commit: 5, Applied: 5, Last: 5, Config: conf, ConfigIndex: 5}}}); err != nil {
		t.Fatal(err)
	}
	var info hub.ClusterInfo
	waitFor(t, "x9 added by the configuration", 5*time.Second, func() bool {
		info = detailNow(t, s)
		m, ok := memberInfo(info, "x9")
		return ok && m.Learner
	})
	m, _ := memberInfo(info, "x9")
	if m.Kind != wire.KindBrowser || m.Reachable || m.Host != "" || m.State != "" || m.Term != 0 || m.Detail != nil || m.Joining {
		t.Errorf("x9, added after its process left: %+v; want a member nobody hosts, of the default kind, with no report", m)
	}
	// The presence frames the hub sends say no API or link address for it.
	for {
		e := p.next()
		if e == nil {
			t.Fatal("no presence frame with x9 as a member")
		}
		if e.Type != wire.TypePresence {
			continue
		}
		var found bool
		for _, ps := range e.Presence {
			if ps.ID == "x9" {
				found = true
				if ps.API != "" || ps.Addr != "" || ps.Kind != wire.KindBrowser {
					t.Errorf("presence of x9: %+v; want no API or link address, kind browser", ps)
				}
			}
		}
		if found {
			break
		}
	}
}
