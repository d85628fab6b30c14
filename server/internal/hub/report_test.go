//go:build !js

package hub_test

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/raft/wire"
	"raftlab/server/internal/hub"
	"raftlab/server/internal/member"
	"raftlab/server/native"
)

func getDetail(t *testing.T, s *server, cluster string) (hub.ClusterInfo, int) {
	t.Helper()
	resp, err := http.Get(s.srv.URL + "/api/clusters/" + cluster + "?detail=1")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info hub.ClusterInfo
	var buf strings.Builder
	if err := json.NewDecoder(io.TeeReader(resp.Body, &buf)).Decode(&info); err != nil {
		t.Fatal(err)
	}
	return info, buf.Len()
}

// The node cards of the mixed page: a member process's status report and a member in the
// server both carry their newest log entries, their key-value contents, a leader's followers
// and their recent events (an election among them); GET ?detail=1 serves them, and plain GET
// does not.
func TestStatusReportDetails(t *testing.T) {
	members := []string{"n1", "n2", "n3"}
	s := newServer(t, hub.Config{}, map[string][]string{"demo": members})
	startMembers(t, s, "demo", "n1", "n2")
	// n3 runs in the "server", as server/mixed.go runs its members.
	nc := native.Config{Raft: raft.Config{ID: "n3", Members: members, Storage: raft.NewMapStorage(), Seed: 3,
		ElectionTimeoutMin: fastRaft.ElectionTimeoutMin, ElectionTimeoutMax: fastRaft.ElectionTimeoutMax, HeartbeatInterval: fastRaft.HeartbeatInterval},
		Send: func(msgs []raft.Message) { s.hub.Route("demo", msgs) }}
	rep := member.KVApp(&nc, t.Logf)
	n3, err := native.Start(nc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n3.Stop() })
	if err := s.hub.AttachLocal("demo", "n3", member.LocalNode{Node: n3, Reporter: rep}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "a leader", 10*time.Second, func() bool { return getInfo(t, s, "demo").Leader != "" })
	for i := range 20 {
		if code, body := postCommand(t, s, "demo", fmt.Sprintf("put k%02d v%d", i, i)); code != http.StatusOK {
			t.Fatalf("put: %d %v", code, body)
		}
	}
	if code, body := postCommand(t, s, "demo", "put x 1"); code != http.StatusOK {
		t.Fatalf("put: %d %v", code, body)
	}

	var info hub.ClusterInfo
	var size int
	waitFor(t, "every member's card to show put x 1 committed and applied", 10*time.Second, func() bool {
		info, size = getDetail(t, s, "demo")
		for _, m := range info.Members {
			d := m.Detail
			if d == nil || len(d.Log) == 0 || d.Log[len(d.Log)-1].Text != "put x 1" || m.Commit < d.LogFrom+uint64(len(d.Log))-1 || d.KVLen != 21 {
				return false
			}
		}
		return true
	})
	elected := false
	for _, m := range info.Members {
		d := m.Detail
		if len(d.Log) != wire.StatusLogShown || len(d.KV) != wire.StatusKVShown {
			t.Errorf("%s shows %d log entries and %d keys; want the newest %d and the first %d", m.ID, len(d.Log), len(d.KV), wire.StatusLogShown, wire.StatusKVShown)
		}
		if d.KV[0] != [2]string{"k00", "v0"} {
			t.Errorf("%s's first key is %v; want k00=v0", m.ID, d.KV[0])
		}
		if d.Config != "n1,n2,n3" {
			t.Errorf("%s's configuration %q; want n1,n2,n3", m.ID, d.Config)
		}
		for _, e := range d.Events {
			if e.Kind == "state" && e.State == "leader" && strings.Contains(e.Text, m.ID+" became leader in term") {
				elected = true
			}
			if e.At <= 0 || e.Seq == 0 {
				t.Errorf("%s's event %+v has no time or sequence number", m.ID, e)
			}
		}
		if m.ID == info.Leader && len(d.Progress) != 2 {
			t.Errorf("leader %s shows %d followers' progress; want 2", m.ID, len(d.Progress))
		}
	}
	if !elected {
		t.Errorf("no member's events tell its election: %+v", info.Members)
	}
	// Bounded: three members' cards fit in a few KB.
	t.Logf("GET ?detail=1: %d bytes for three members (16 entries, 16 keys and up to 16 events each)", size)
	if size > 3*8<<10 {
		t.Errorf("GET ?detail=1 is %d bytes for three members", size)
	}
	if plain := getInfo(t, s, "demo"); plain.Members[0].Detail != nil {
		t.Errorf("GET without ?detail=1 carries the cards: %+v", plain.Members[0])
	}
	if code, _, body := request(t, "GET", s.srv.URL+"/api/clusters/demo?detail=yes", "", nil); code != http.StatusBadRequest || !strings.Contains(body, "detail: want 1") {
		t.Errorf("?detail=yes: %d %s; want 400", code, body)
	}
}

// A status whose card details are malformed, unbounded or inconsistent is refused with a
// bad-frame error, as any bad frame is.
func TestStatusDetailsValidated(t *testing.T) {
	s := newServer(t, hub.Config{}, map[string][]string{"demo": {"b1", "b2", "b3"}})
	base := func() wire.MemberStatus {
		return wire.MemberStatus{ID: "b1", State: "follower", Term: 2, Commit: 3, Applied: 3, Last: 5}
	}
	lines := func(n int) []wire.LogLine {
		out := make([]wire.LogLine, n)
		for i := range out {
			out[i] = wire.LogLine{Term: 1, Text: "put x 1"}
		}
		return out
	}
	for _, tc := range []struct {
		name string
		edit func(s *wire.MemberStatus)
		text string
	}{
		{"too many log entries", func(s *wire.MemberStatus) { s.Last, s.LogFrom, s.Log = 40, 1, lines(17) }, "17 log entries; at most 16"},
		{"entries past the last index", func(s *wire.MemberStatus) { s.LogFrom, s.Log = 4, lines(3) }, "outside the log"},
		{"entries inside the snapshot", func(s *wire.MemberStatus) { s.Snapshot, s.LogFrom, s.Log = 3, 2, lines(2) }, "outside the log"},
		{"a long command", func(s *wire.MemberStatus) {
			s.LogFrom, s.Log = 1, []wire.LogLine{{Term: 1, Text: strings.Repeat("x", wire.StatusTextMax+1)}}
		}, "at most 160 bytes"},
		{"a long event", func(s *wire.MemberStatus) {
			s.Events = []wire.StatusEvent{{Seq: 1, At: 1, Kind: "note", Text: strings.Repeat("é", wire.StatusTextMax)}}
		}, "events[0]: want at most 160 bytes"},
		{"more keys shown than held", func(s *wire.MemberStatus) { s.KV, s.KVLen = [][2]string{{"a", "1"}, {"b", "2"}}, 1 }, "2 keys shown of 1"},
		{"an event without a time", func(s *wire.MemberStatus) {
			s.Events = []wire.StatusEvent{{Seq: 1, Kind: "state", Text: "b1 became leader"}}
		}, "want seq, at and kind"},
		{"an event of an unknown state", func(s *wire.MemberStatus) {
			s.Events = []wire.StatusEvent{{Seq: 1, At: 1, Kind: "state", State: "king", Text: "b1 became king"}}
		}, `unknown state "king"`},
		{"a bad vote", func(s *wire.MemberStatus) { s.Vote = "b 2" }, "status vote"},
		{"a bad follower id", func(s *wire.MemberStatus) { s.Progress = []wire.ProgressLine{{ID: ""}} }, "status progress id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s.url, nil)
			c.hello("demo", "b1")
			st := base()
			tc.edit(&st)
			if err := c.send(&wire.Envelope{Type: wire.TypeStatus, Cluster: "demo", Status: []wire.MemberStatus{st}}); err != nil {
				t.Fatal(err)
			}
			c.expectError(wire.CodeBadFrame, tc.text)
			waitFor(t, "b1 free again", 5*time.Second, func() bool { return !getInfo(t, s, "demo").Members[0].Reachable })
		})
	}
	// A well-formed one is served as sent.
	c := dial(t, s.url, nil)
	c.hello("demo", "b1")
	st := base()
	st.Vote, st.LogFrom, st.Log = "b2", 4, lines(2)
	st.KV, st.KVLen = [][2]string{{"x", "1"}}, 3
	st.Events = []wire.StatusEvent{{Seq: 7, At: time.Now().UnixMilli(), Kind: "state", State: "follower", Term: 2, Text: "b1 became follower in term 2"}}
	if err := c.send(&wire.Envelope{Type: wire.TypeStatus, Cluster: "demo", Status: []wire.MemberStatus{st}}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b1's card", 5*time.Second, func() bool {
		info, _ := getDetail(t, s, "demo")
		d := info.Members[0].Detail
		return d != nil && d.Vote == "b2" && len(d.Log) == 2 && d.KVLen == 3 && len(d.Events) == 1 && d.Events[0].Seq == 7
	})
}
