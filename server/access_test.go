//go:build !js

// Who may change a cluster, end to end and flag by flag: the token's defaults, refusals by a
// real server process, and the bound on requests per client.
package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestTokenDefaults(t *testing.T) {
	t.Setenv("RAFTLAB_TOKEN", "")
	start := func(loopback bool, f clusterFlags) (*mixed, error) {
		t.Helper()
		if f.cluster == "" && f.members == "" {
			f.cluster, f.members = "demo", "b1,b2,b3"
		}
		m, err := f.start(t.Logf, loopback)
		if err == nil {
			t.Cleanup(func() { m.close() })
		}
		return m, err
	}
	access := func(m *mixed) string { return strings.Join(m.access(), "\n") }

	m, err := start(true, clusterFlags{})
	if err != nil || m.generatedToken != "" || access(m) != "" {
		t.Errorf("on loopback: token %q, lines %q, %v; want no token", m.generatedToken, access(m), err)
	}
	m, err = start(false, clusterFlags{})
	if err != nil || len(m.generatedToken) != 32 || !strings.Contains(access(m), m.generatedToken) {
		t.Errorf("beyond loopback: token %q, lines %q, %v; want a generated token, printed", m.generatedToken, access(m), err)
	}
	if m2, _ := start(false, clusterFlags{}); m2.generatedToken == m.generatedToken {
		t.Errorf("two starts generated the same token %q", m.generatedToken)
	}
	m, err = start(false, clusterFlags{insecure: true})
	if err != nil || m.generatedToken != "" || !strings.Contains(access(m), "-insecure") {
		t.Errorf("-insecure: token %q, lines %q, %v; want none and a warning", m.generatedToken, access(m), err)
	}
	m, err = start(false, clusterFlags{token: "given"})
	if err != nil || m.generatedToken != "" || strings.Contains(access(m), "given") {
		t.Errorf("-token: generated %q, lines %q, %v; want the given one, never printed", m.generatedToken, access(m), err)
	}
	if m, err = (&clusterFlags{}).start(t.Logf, false); err != nil || m.generatedToken != "" {
		t.Errorf("no cluster beyond loopback: token %q, %v; want none (nothing to change)", m.generatedToken, err)
	}
	for _, f := range []clusterFlags{{token: "x", insecure: true}, {token: "has space"}, {token: strings.Repeat("x", 300)}} {
		if _, err := start(false, f); err == nil {
			t.Errorf("flags %+v: no error; want a usage error", f)
		} else if _, ok := err.(*usageError); !ok {
			t.Errorf("flags %+v: %v; want a usage error", f, err)
		}
	}
	t.Setenv("RAFTLAB_TOKEN", "from-env")
	if _, err := start(false, clusterFlags{insecure: true}); err == nil {
		t.Errorf("RAFTLAB_TOKEN with -insecure: no error")
	}
	if m, err := start(false, clusterFlags{}); err != nil || m.generatedToken != "" {
		t.Errorf("RAFTLAB_TOKEN: generated %q, %v; want the environment's token", m.generatedToken, err)
	}
}

var tokenRE = regexp.MustCompile(`cluster token \(generated; printed only now\): ([0-9a-f]{32})`)

// TestProcessRefusesStrangers: a server on every interface makes up a token and prints it; a
// cross-origin POST, a tokenless one, one with a wrong token and node processes without or with
// a wrong token are all refused and change nothing; the token opens the way.
func TestProcessRefusesStrangers(t *testing.T) {
	dir := t.TempDir()
	srv, base := startServer(t, "0.0.0.0:0", "-cluster", "demo", "-members", "n1,n2,n3", "-native", "n1,n2", "-data", dir, "-election-timeout", "150ms")
	token := srv.waitOutput(t, tokenRE)[1]
	waitUntil(t, "a leader", func() bool { return clusterInfo(t, base).Leader != "" })
	post := func(cmd string, hdr map[string]string) (int, string) {
		req, _ := http.NewRequest("POST", "http://"+base+"/api/clusters/demo/commands?timeout=10s", strings.NewReader(cmd))
		req.Header.Set("Content-Type", "text/plain")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	for _, tc := range []struct {
		hdr    map[string]string
		status int
	}{
		{map[string]string{"Origin": "http://evil.example"}, 403},
		{map[string]string{"Origin": "http://evil.example", "Authorization": "Bearer " + token}, 403},
		{nil, 401},
		{map[string]string{"Authorization": "Bearer " + strings.Repeat("0", 32)}, 401},
	} {
		if status, body := post("put x stolen", tc.hdr); status != tc.status {
			t.Errorf("POST with %v: %d %s; want %d", tc.hdr, status, body, tc.status)
		}
	}
	for _, args := range [][]string{nil, {"-token", "wrong"}} {
		p := startProc(t, "n3", append([]string{"node", "-cluster", "demo", "-id", "n3", "-join", "ws://" + base + "/ws", "-data", filepath.Join(dir, "n3")}, args...)...)
		p.waitOutput(t, regexp.MustCompile(`unauthorized: (this server needs its cluster token|wrong cluster token)`))
		select {
		case <-p.done:
		case <-time.After(30 * time.Second):
			t.Fatalf("node %v refused but still running", args)
		}
		if code := p.cmd.ProcessState.ExitCode(); code != 1 {
			t.Errorf("node %v refused: exit %d; want 1", args, code)
		}
	}
	if n3 := clusterInfo(t, base).member("n3"); n3.Reachable || n3.Kind != "browser" {
		t.Errorf("n3 after refused node processes: %+v; want unreachable and never native", n3)
	}
	// Nothing was written: x is absent. The token opens the API and the hub.
	if status, body := post("get x", map[string]string{"Authorization": "Bearer " + token}); status != 200 || !strings.Contains(body, `"found": false`) {
		t.Errorf("get x with the token: %d %s; want 200, not found", status, body)
	}
	if status, body := post("put x 1", map[string]string{"Authorization": "Bearer " + token}); status != 200 {
		t.Errorf("put x 1 with the token: %d %s", status, body)
	}
	if status, body := post("put x 2", map[string]string{"Origin": "http://" + base}); status != 200 {
		t.Errorf("put x 2 from the page's own origin: %d %s", status, body)
	}
	startProc(t, "n3", "node", "-cluster", "demo", "-id", "n3", "-join", "ws://"+base+"/ws", "-data", filepath.Join(dir, "n3"), "-token", token)
	waitUntil(t, "n3 joined with the token", func() bool { return clusterInfo(t, base).member("n3").Reachable })
	if strings.Count(srv.output(), token) != 1 {
		t.Errorf("the server printed its token %d times; want once:\n%s", strings.Count(srv.output(), token), srv.output())
	}
}

// TestPerClientLimit: one client address gets at most max requests in progress; the next is
// answered 429 at once, other clients and /ws are not held up, and a finished request frees its
// place.
func TestPerClientLimit(t *testing.T) {
	const max = 4
	entered, release := make(chan struct{}, 2*max), make(chan struct{})
	lim := limitPerClient(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}), max, "/ws")
	serve := func(addr, path string) *httptest.ResponseRecorder {
		r := httptest.NewRequest("GET", path, nil)
		r.RemoteAddr = addr
		w := httptest.NewRecorder()
		lim.ServeHTTP(w, r)
		return w
	}
	var wg sync.WaitGroup
	for i := range max {
		wg.Add(1)
		go func() { defer wg.Done(); serve(fmt.Sprintf("192.0.2.1:%d", 1000+i), "/") }()
	}
	for range max {
		<-entered
	}
	if w := serve("192.0.2.1:2000", "/api/clusters/demo"); w.Code != http.StatusTooManyRequests || w.Header().Get("Retry-After") == "" ||
		w.Header().Get("Content-Type") != "application/json" || !strings.Contains(w.Body.String(), `"error": "too many requests in progress`) {
		t.Errorf("request %d from one client: %d %q; want 429 with Retry-After, and the API's JSON error", max+1, w.Code, w.Body)
	}
	// Another client, and the same client's WebSocket, go through (and wait in the handler).
	for _, c := range []struct{ addr, path string }{{"192.0.2.2:1000", "/"}, {"192.0.2.1:3000", "/ws"}} {
		wg.Add(1)
		go func() { defer wg.Done(); serve(c.addr, c.path) }()
		<-entered
	}
	close(release)
	wg.Wait()
	if w := serve("192.0.2.1:4000", "/"); w.Code != http.StatusOK {
		t.Errorf("after the requests finished: %d; want 200", w.Code)
	}
	lim.mu.Lock()
	defer lim.mu.Unlock()
	if len(lim.inflight) != 0 {
		t.Errorf("in flight after everything finished: %v", lim.inflight)
	}
}

// TestHardenedServer: the server and a node process's -http share one http.Server setup: its
// timeouts (a body sent slowly, a reader that never reads, an idle connection are cut off) and
// the per-client bound on requests in progress.
func TestHardenedServer(t *testing.T) {
	srv := hardenedServer(http.NotFoundHandler(), "")
	if srv.ReadHeaderTimeout == 0 || srv.ReadTimeout == 0 || srv.WriteTimeout == 0 || srv.IdleTimeout == 0 {
		t.Errorf("timeouts: header %v, read %v, write %v, idle %v; want each set", srv.ReadHeaderTimeout, srv.ReadTimeout, srv.WriteTimeout, srv.IdleTimeout)
	}
	if srv.WriteTimeout <= time.Minute {
		t.Errorf("write timeout %v: a command may wait up to a minute to commit", srv.WriteTimeout)
	}
	if lim, ok := srv.Handler.(*perClient); !ok || lim.max != maxRequestsPerClient {
		t.Errorf("handler %T; want the per-client limit of %d", srv.Handler, maxRequestsPerClient)
	}
}
