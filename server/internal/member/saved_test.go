//go:build !js

package member

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"raftlab/raft/wire"
	"raftlab/server/internal/hub"
)

type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

// demoHub serves a hub with cluster demo of n1, n2 and n3 (pre-vote, 300 ms election timeout);
// url is its WebSocket endpoint.
func demoHub(t *testing.T) (*hub.Hub, *httptest.Server, string) {
	h := hub.New(hub.Config{Logf: t.Logf})
	if err := h.AddCluster("demo", []string{"n1", "n2", "n3"}); err != nil {
		t.Fatal(err)
	}
	h.SetOptions("demo", wire.Options{PreVote: true, ElectionTimeoutMs: 300})
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	srv := httptest.NewServer(mux)
	return h, srv, "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
}

// TestStartWithoutTheHub: a member saves the hub's welcome beside its file; restarted when
// the hub is gone, it starts from it after OfflineAfter, links to the others directly and
// commits with them. A saved file that is not one is ignored: the member waits for the hub.
func TestStartWithoutTheHub(t *testing.T) {
	h, srv, url := demoHub(t)
	ids := []string{"n1", "n2", "n3"}
	dir := t.TempDir()
	start := func(id string) *Member {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		m, err := Start(ctx, Config{URL: url, Cluster: "demo", ID: id, DataDir: dir, Logf: t.Logf, OfflineAfter: 300 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	ms := map[string]*Member{}
	for _, id := range ids {
		ms[id] = start(id)
	}
	t.Cleanup(func() {
		for _, m := range ms {
			m.Close()
		}
	})
	// n3's file holds the welcome and the others' addresses once it has heard of them all.
	var s saved
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(SavedPath(dir, "n3"))
		s = saved{}
		json.Unmarshal(b, &s)
		if len(s.Peers) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n3's saved welcome: %s", b)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if s.Cluster != "demo" || !slices.Equal(s.Members, ids) || s.Options == nil || s.Options.ElectionTimeoutMs != 300 {
		t.Errorf("n3 saved %+v", s)
	}

	// The hub goes away; n3 restarts without it.
	h.Close()
	srv.Close()
	ms["n3"].Close()
	ms["n3"] = start("n3")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for ctx.Err() == nil {
		var done bool
		for _, m := range ms {
			sctx, scancel := context.WithTimeout(ctx, 500*time.Millisecond)
			_, err := m.Node().Submit(sctx, []byte("put x 1"))
			scancel()
			if err == nil {
				done = true
				break
			}
		}
		if done {
			break
		}
	}
	if ctx.Err() != nil {
		t.Fatal("nothing committed with n3 restarted without the hub")
	}
	waitUp := func(from, to string) {
		for !ms[from].Peer().Up(to) {
			if ctx.Err() != nil {
				t.Fatalf("%s has no link to %s", from, to)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitUp("n3", "n1")
	waitUp("n1", "n3") // n1 learned n3's new address from its dial
	// n3's API calls the others native, as the hub would have: their direct-link addresses
	// say so (it said "" when the hub had not said).
	for _, mi := range ms["n3"].info(false).Members {
		if mi.Kind != wire.KindNative {
			t.Errorf("n3, started without the hub, gives %s kind %q; want native", mi.ID, mi.Kind)
		}
	}

	// A saved file that is not one: ignored, and without a hub nothing starts.
	os.WriteFile(SavedPath(dir, "n9"), []byte("{garbage"), 0o644)
	var l logLines
	sctx, scancel := context.WithTimeout(context.Background(), time.Second)
	defer scancel()
	if _, err := Start(sctx, Config{URL: url, Cluster: "demo", ID: "n9", DataDir: dir, Logf: l.logf, OfflineAfter: 100 * time.Millisecond}); err == nil || !strings.Contains(err.Error(), "no welcome from the hub") {
		t.Errorf("start with a garbage saved welcome and no hub: %v", err)
	}
	if !slices.ContainsFunc(l.lines, func(s string) bool { return strings.Contains(s, "ignoring") }) {
		t.Errorf("the garbage file was not reported: %q", l.lines)
	}
}

// TestSecondProcessForARunningMember: a second member started with the file of a member that
// runs (kill -9 of `go run` leaves its child running, and the same command is run again), here
// with the hub gone, fails on the file's lock before it listens or dials: it never takes the
// running member's direct links from it, and the cluster goes on.
func TestSecondProcessForARunningMember(t *testing.T) {
	h, srv, url := demoHub(t)
	ids := []string{"n1", "n2", "n3"}
	dir := t.TempDir()
	logs := map[string]*logLines{}
	ms := map[string]*Member{}
	for _, id := range ids {
		logs[id] = &logLines{}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := Start(ctx, Config{URL: url, Cluster: "demo", ID: id, DataDir: dir, Logf: logs[id].logf, OfflineAfter: 300 * time.Millisecond})
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		ms[id] = m
	}
	t.Cleanup(func() {
		for _, m := range ms {
			m.Close()
		}
	})
	// n1 has saved the others' addresses: a second n1 would dial them.
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, _ := os.ReadFile(SavedPath(dir, "n1"))
		var s saved
		json.Unmarshal(b, &s)
		if len(s.Peers) == 2 && ms["n2"].Peer().Up("n1") && ms["n3"].Peer().Up("n1") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("n1's saved welcome: %s; links to n1 up: n2 %v, n3 %v", b, ms["n2"].Peer().Up("n1"), ms["n3"].Peer().Up("n1"))
		}
		time.Sleep(10 * time.Millisecond)
	}
	h.Close()
	srv.Close()
	linked := func() int { return logs["n2"].count("direct link to n1 at") + logs["n3"].count("direct link to n1 at") }
	before := linked()

	var dup logLines
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := Start(ctx, Config{URL: url, Cluster: "demo", ID: "n1", DataDir: dir, Logf: dup.logf, OfflineAfter: 300 * time.Millisecond})
	if err == nil {
		m.Close()
		t.Fatal("a second n1 on n1's file started")
	}
	if !strings.Contains(err.Error(), "is locked: is another raftlab process using it?") {
		t.Errorf("a second n1 on n1's file: %v; want the file's lock", err)
	}
	if n := dup.count("direct link"); n != 0 {
		t.Errorf("the second n1 logged %d direct-link lines:\n%s", n, dup.text())
	}
	if after := linked(); after != before {
		t.Errorf("n2 and n3 logged %d lines about links to n1 while the second n1 ran; want none:\nn2:\n%s\nn3:\n%s",
			after-before, logs["n2"].text(), logs["n3"].text())
	}
	// The running n1 keeps its links and the cluster commits.
	for ctx.Err() == nil {
		committed := false
		for _, m := range ms {
			sctx, scancel := context.WithTimeout(ctx, 500*time.Millisecond)
			_, err := m.Node().Submit(sctx, []byte("put x 1"))
			scancel()
			if err == nil {
				committed = true
				break
			}
		}
		if committed {
			break
		}
	}
	if ctx.Err() != nil || !ms["n2"].Peer().Up("n1") || !ms["n3"].Peer().Up("n1") {
		t.Fatalf("after the second n1: committed %v, links to n1 up: n2 %v, n3 %v", ctx.Err() == nil, ms["n2"].Peer().Up("n1"), ms["n3"].Peer().Up("n1"))
	}
}
