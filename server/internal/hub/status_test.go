//go:build !js

package hub_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/raft/wire"
	"raftlab/server/internal/hub"
	"raftlab/server/native"
)

// localMember runs member id of cluster inside the test's "server", attached to the hub, with
// the key-value store as its state machine.
func localMember(t *testing.T, s *server, cluster, id string, members []string, st raft.Storage) *native.Node {
	t.Helper()
	sm := kv.NewStore()
	n, err := native.Start(native.Config{
		Raft: raft.Config{ID: id, Members: members, Storage: st, Seed: uint64(len(id) + int(id[len(id)-1])),
			ElectionTimeoutMin: fastRaft.ElectionTimeoutMin, ElectionTimeoutMax: fastRaft.ElectionTimeoutMax, HeartbeatInterval: fastRaft.HeartbeatInterval},
		Send: func(msgs []raft.Message) { s.hub.Route(cluster, msgs) },
		Apply: func(e raft.CommitEntry) []byte {
			o, err := sm.Apply(e)
			if err != nil {
				return nil
			}
			return wire.KVValue(o)
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.hub.AttachLocal(cluster, id, n); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Stop() })
	return n
}

func post(t *testing.T, s *server, path, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(s.srv.URL+path, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestCommandStatusCodes proves each row of the README's table of status codes: 200 applied,
// 400 malformed, 404 no cluster, 413 too large, 503 certainly not appended (and so never
// applied), 504 not known to be committed in time (and here applied later).
func TestCommandStatusCodes(t *testing.T) {
	members := []string{"n1", "n2", "n3"}
	s := newServer(t, hub.Config{}, map[string][]string{"demo": members, "alone": members})

	for _, tc := range []struct {
		path, body string
		code       int
		want       string
	}{
		{"/api/clusters/demo/commands", "put", http.StatusBadRequest, "malformed command"},
		{"/api/clusters/demo/commands?timeout=soon", "put x 1", http.StatusBadRequest, "want a duration"},
		{"/api/clusters/nope/commands", "put x 1", http.StatusNotFound, `no cluster \"nope\"`},
		{"/api/clusters/demo/commands", strings.Repeat("x", 20<<10), http.StatusRequestEntityTooLarge, "command over"},
	} {
		if code, body := post(t, s, tc.path, tc.body); code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("POST %s %.20q = %d %s; want %d and %q", tc.path, tc.body, code, body, tc.code, tc.want)
		}
	}

	// 503: nobody can take the command. First nobody hosts any member; then one member runs,
	// alone of three, and can never lead: it refuses the command every time it is asked.
	if code, body := post(t, s, "/api/clusters/alone/commands?timeout=200ms", "put k lost"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not applied and never will be") {
		t.Errorf("POST with no member reachable = %d %s; want 503", code, body)
	}
	stores := map[string]raft.Storage{}
	for _, id := range members {
		stores[id] = raft.NewMapStorage()
	}
	localMember(t, s, "alone", "n1", members, stores["n1"])
	if code, body := post(t, s, "/api/clusters/alone/commands?timeout=500ms", "put k lost"); code != http.StatusServiceUnavailable || !strings.Contains(body, "not applied and never will be") {
		t.Errorf("POST to a member that cannot lead = %d %s; want 503", code, body)
	}
	// n1's RequestVotes to the members nobody hosts were dropped, and the API says so.
	if d := getInfo(t, s, "alone").Members[1].Dropped; d["unreachable"] == 0 {
		t.Errorf("n2's dropped messages = %v; want n1's RequestVotes counted as unreachable", d)
	}
	// The others join, a leader is elected: k was never appended, so it is not there.
	localMember(t, s, "alone", "n2", members, stores["n2"])
	localMember(t, s, "alone", "n3", members, stores["n3"])
	if code, body := post(t, s, "/api/clusters/alone/commands?timeout=10s", "get k"); code != http.StatusOK || !strings.Contains(body, `"found": false`) {
		t.Errorf("get k after the 503s = %d %s; want 200 and not found", code, body)
	}

	// 504: the leader takes the command but cannot commit it (its followers are stopped). The
	// followers restart from their storage, and the command commits after all: a 504 may
	// still apply.
	nodes := map[string]*native.Node{}
	for _, id := range members {
		stores[id] = raft.NewMapStorage()
		nodes[id] = localMember(t, s, "demo", id, members, stores[id])
	}
	if code, body := post(t, s, "/api/clusters/demo/commands?timeout=10s", "put x 1"); code != http.StatusOK {
		t.Fatalf("put x 1 = %d %s; want 200", code, body)
	}
	var leader string
	waitFor(t, "a leader", 10*time.Second, func() bool { leader = getInfo(t, s, "demo").Leader; return leader != "" })
	for _, id := range members {
		if id != leader {
			nodes[id].Stop()
			s.hub.DetachLocal("demo", id)
		}
	}
	if code, body := post(t, s, "/api/clusters/demo/commands?timeout=300ms", "put x 2"); code != http.StatusGatewayTimeout || !strings.Contains(body, "it may still be applied") {
		t.Fatalf("POST to a leader without followers = %d %s; want 504", code, body)
	}
	for _, id := range members {
		if id != leader {
			nodes[id] = localMember(t, s, "demo", id, members, stores[id])
		}
	}
	waitFor(t, "the 504'd put x 2 to apply", 10*time.Second, func() bool {
		code, body := post(t, s, "/api/clusters/demo/commands?timeout=2s", "get x")
		return code == http.StatusOK && strings.Contains(body, `"value": "2"`)
	})
}
