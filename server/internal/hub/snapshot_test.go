//go:build !js

// A malformed or oversized InstallSnapshot from a connection is refused like any bad frame,
// and the member it was sent to keeps its state.
package hub_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/raft/wire"
	"raftlab/server/internal/hub"
)

func TestBadSnapshotRefused(t *testing.T) {
	s := newServer(t, hub.Config{}, map[string][]string{"demo": {"n1", "n2", "n3", "b1"}})
	ms := startMembers(t, s, "demo", "n1", "n2", "n3")
	waitFor(t, "a leader", 10*time.Second, func() bool { return getInfo(t, s, "demo").Leader != "" })
	if code, out := postCommand(t, s, "demo", "put x 1"); code != http.StatusOK {
		t.Fatalf("POST = %d %v", code, out)
	}
	type state struct{ term, commit, snap uint64 }
	states := func() map[string]state {
		st := map[string]state{}
		for id, m := range ms {
			s := m.Node().Status()
			st[id] = state{s.Term, s.CommitIndex, s.SnapshotIndex}
		}
		return st
	}
	waitFor(t, "every member to commit the put", 5*time.Second, func() bool {
		for _, st := range states() {
			if st.commit < 2 {
				return false
			}
		}
		return true
	})
	before := states()
	// Accepted, a frame of this term would depose the leader and move every term to it; far
	// enough ahead that elections on a loaded machine (or under -race) never reach it.
	term := before["n1"].term + 1000
	snap := func(mod func(m *raft.Message)) raft.Message {
		m := raft.Message{Type: raft.MsgSnap, From: "b1", To: "n1", Term: term, LastLogIndex: 100, LastLogTerm: term,
			Members: []string{"n1", "n2", "n3", "b1"}, Data: []byte(`{"applied":100,"data":{},"sessions":{}}`), Done: true}
		mod(&m)
		return m
	}
	for _, tc := range []struct {
		name, text string
		m          raft.Message
	}{
		{"oversized chunk", fmt.Sprintf("chunk of %d bytes; at most %d", wire.MaxSnapshotChunk+1, wire.MaxSnapshotChunk),
			snap(func(m *raft.Message) { m.Data = make([]byte, wire.MaxSnapshotChunk+1) })},
		{"past the snapshot limit", "reaches past", snap(func(m *raft.Message) { m.Offset = wire.MaxSnapshotBytes - 3 })},
		{"member list with a comma", `"n2,n3": use letters`, snap(func(m *raft.Message) { m.Members = []string{"n1", "n2,n3", "b1"} })},
		{"no member list", "without the snapshot's members", snap(func(m *raft.Message) { m.Members = nil })},
		{"member listed twice", "listed twice", snap(func(m *raft.Message) { m.Members = []string{"n1", "n1"} })},
		{"no snapshot index", "InstallSnapshot of index 0", snap(func(m *raft.Message) { m.LastLogIndex = 0 })},
		{"snapshot term past the message's", "term at most the message's", snap(func(m *raft.Message) { m.LastLogTerm = term + 1 })},
		{"snapshot data in AppendEntries", "carries snapshot members, data or done", snap(func(m *raft.Message) { m.Type = raft.MsgApp })},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := helloWhenFree(t, s.url, "b1")
			if err := c.send(&wire.Envelope{Type: wire.TypeMsgs, Cluster: "demo", Msgs: []raft.Message{tc.m}}); err != nil {
				t.Fatal(err)
			}
			c.expectError(wire.CodeBadFrame, tc.text)
		})
	}
	t.Run("version 1 frame", func(t *testing.T) {
		c := helloWhenFree(t, s.url, "b1")
		c.sendText(`{"v":1,"type":"msgs","cluster":"demo","msgs":[{"Type":8,"From":"b1","To":"n1","Term":` + fmt.Sprint(term) +
			`,"LastLogIndex":100,"LastLogTerm":1,"Members":["n1","n2","n3","b1"],"Data":"e30=","Done":true}]}`)
		c.expectError(wire.CodeVersion, "protocol version 1 is not supported; this server speaks version 2")
	})
	// No member learned the frames' term (elections under load may move terms, not that far)
	// or installed anything; the cluster still commits.
	for id, st := range states() {
		if b := before[id]; st.term >= term || st.snap != b.snap || st.commit < b.commit {
			t.Errorf("%s: term %d, commit %d, snapshot %d after the refused frames of term %d; before: term %d, commit %d, snapshot %d", id, st.term, st.commit, st.snap, term, b.term, b.commit, b.snap)
		}
	}
	if code, out := postCommand(t, s, "demo", "get x"); code != http.StatusOK || !strings.Contains(fmt.Sprint(out), "value:1") {
		t.Errorf("get x after the refused frames = %d %v", code, out)
	}
}

// helloWhenFree connects as the host of member id of demo, retrying while the hub still holds
// the member for a connection it is closing.
func helloWhenFree(t *testing.T, url, id string) *rawClient {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		c := dial(t, url, nil)
		if err := c.send(&wire.Envelope{Type: wire.TypeHello, Cluster: "demo", Kind: wire.KindBrowser, Members: []string{id}}); err != nil {
			t.Fatal(err)
		}
		e := c.next()
		if e != nil && e.Type == wire.TypeWelcome {
			return c
		}
		if time.Now().After(deadline) {
			t.Fatalf("hello %s: got %+v; want welcome", id, e)
		}
		c.ws.Close()
		time.Sleep(10 * time.Millisecond)
	}
}
