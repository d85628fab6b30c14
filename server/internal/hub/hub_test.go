//go:build !js

// Tests for the hub over real sockets on loopback: native members forming a cluster through it,
// the scripting API, misbehaving clients, origins, slow readers, and many connections.
package hub_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/server/internal/hub"
	"raftlab/server/internal/member"
)

// fastRaft keeps elections short so that tests finish quickly.
var fastRaft = raft.Config{ElectionTimeoutMin: 100 * time.Millisecond, ElectionTimeoutMax: 200 * time.Millisecond, HeartbeatInterval: 20 * time.Millisecond}

type server struct {
	hub *hub.Hub
	srv *httptest.Server
	url string // ws://…/ws
	log *logBuf
}

type logBuf struct {
	mu    sync.Mutex
	lines []string
}

func (l *logBuf) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logBuf) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}

func newServer(t testing.TB, cfg hub.Config, clusters map[string][]string) *server {
	t.Helper()
	lb := &logBuf{}
	if cfg.Logf == nil {
		cfg.Logf = lb.logf
	}
	h := hub.New(cfg)
	for name, members := range clusters {
		if err := h.AddCluster(name, members); err != nil {
			t.Fatal(err)
		}
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	mux.Handle("/api/", h.APIHandler())
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		h.Close()
		srv.Close()
	})
	return &server{hub: h, srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws", log: lb}
}

func startMembers(t testing.TB, s *server, cluster string, ids ...string) map[string]*member.Member {
	t.Helper()
	ms := map[string]*member.Member{}
	for _, id := range ids {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m, err := member.Start(ctx, member.Config{URL: s.url, Cluster: cluster, ID: id, Raft: fastRaft, StatusEvery: 20 * time.Millisecond, Logf: s.log.logf})
		cancel()
		if err != nil {
			t.Fatalf("member.Start(%s): %v", id, err)
		}
		ms[id] = m
		t.Cleanup(func() { m.Close() })
	}
	return ms
}

func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func getInfo(t testing.TB, s *server, cluster string) hub.ClusterInfo {
	t.Helper()
	resp, err := http.Get(s.srv.URL + "/api/clusters/" + cluster)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info hub.ClusterInfo
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("GET /api/clusters/%s: %s: %s", cluster, resp.Status, b)
	}
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	return info
}

func postCommand(t testing.TB, s *server, cluster, cmd string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post(s.srv.URL+"/api/clusters/"+cluster+"/commands", "text/plain", strings.NewReader(cmd))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("POST %q: undecodable answer: %v", cmd, err)
	}
	return resp.StatusCode, out
}

func TestNativeClusterThroughHub(t *testing.T) {
	s := newServer(t, hub.Config{}, map[string][]string{"demo": {"n1", "n2", "n3"}})
	ms := startMembers(t, s, "demo", "n1", "n2", "n3")

	waitFor(t, "a leader", 10*time.Second, func() bool { return getInfo(t, s, "demo").Leader != "" })
	code, out := postCommand(t, s, "demo", "put x 1")
	if code != http.StatusOK || out["outcome"] != "applied" || out["index"].(float64) < 2 {
		t.Fatalf("POST put x 1 = %d %v", code, out)
	}
	code, out = postCommand(t, s, "demo", "append x 2")
	if code != http.StatusOK {
		t.Fatalf("POST append = %d %v", code, out)
	}
	code, out = postCommand(t, s, "demo", "get x")
	if code != http.StatusOK || out["value"] != "12" || out["found"] != true {
		t.Fatalf("POST get x = %d %v; want value 12", code, out)
	}
	code, out = postCommand(t, s, "demo", "frobnicate x")
	if code != http.StatusBadRequest || !strings.Contains(out["error"].(string), "malformed command") {
		t.Fatalf("POST frobnicate = %d %v; want 400 malformed command", code, out)
	}

	info := getInfo(t, s, "demo")
	for _, m := range info.Members {
		if !m.Reachable || m.Kind != "native" || m.State == "" {
			t.Errorf("member %+v: want reachable native with a state", m)
		}
	}

	// Close the leader's member: another takes over and commands keep committing.
	old := info.Leader
	ms[old].Close()
	waitFor(t, "a new leader", 10*time.Second, func() bool {
		l := getInfo(t, s, "demo").Leader
		return l != "" && l != old
	})
	code, out = postCommand(t, s, "demo", "get x")
	if code != http.StatusOK || out["value"] != "12" {
		t.Fatalf("after failover: POST get x = %d %v", code, out)
	}
	for _, m := range getInfo(t, s, "demo").Members {
		if m.ID == old && m.Reachable {
			t.Errorf("closed member %s reported reachable", old)
		}
	}
	code, out = postCommand(t, s, "nope", "get x")
	if code != http.StatusNotFound {
		t.Errorf("POST to an unknown cluster = %d %v; want 404", code, out)
	}
	_ = runtime.NumGoroutine
}
