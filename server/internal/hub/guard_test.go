//go:build !js

// Tests of who may do what: every refusal of the API and of hello, and that a refused request
// changes nothing; a fuzz target over raw HTTP requests to the API.
package hub_test

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/raft/wire"
	"raftlab/server/internal/hub"
	"raftlab/server/native"
)

const testToken = "s3cret-token"

// fakeLeader is a member inside the server that leads and takes every command at once, so that
// a test sees exactly which requests reached a node.
type fakeLeader struct {
	id      string
	submits atomic.Int64
	mu      sync.Mutex
	cmds    []string
}

func (f *fakeLeader) Deliver([]raft.Message) bool { return true }

func (f *fakeLeader) Submit(_ context.Context, cmd []byte) (native.Result, error) {
	n := f.submits.Add(1)
	f.mu.Lock()
	f.cmds = append(f.cmds, string(cmd))
	f.mu.Unlock()
	return native.Result{Index: uint64(n), Term: 1, Value: []byte(`{"outcome":"applied","found":false}`)}, nil
}

// ProposeChange takes a membership change like a command: counted, answered at once.
func (f *fakeLeader) ProposeChange(ctx context.Context, op raft.ChangeOp, id string) (native.Result, error) {
	return f.Submit(ctx, []byte(fmt.Sprintf("change %v %s", op, id)))
}

func (f *fakeLeader) Status() native.Status {
	return native.Status{Status: raft.Status{ID: f.id, State: raft.Leader, Term: 1, Leader: f.id}}
}

// guarded is a server with a token, one allowed foreign origin, and cluster demo (n1, a fake
// leader in the server; b1 and b2 for pages).
func guarded(t testing.TB, cfg hub.Config) (*server, *fakeLeader) {
	t.Helper()
	if cfg.AllowOrigins == nil {
		cfg.AllowOrigins = []string{"http://course.example"}
	}
	s := newServer(t, cfg, map[string][]string{"demo": {"n1", "b1", "b2"}})
	f := &fakeLeader{id: "n1"}
	if err := s.hub.AttachLocal("demo", "n1", f); err != nil {
		t.Fatal(err)
	}
	return s, f
}

func request(t testing.TB, method, url, body string, hdr map[string]string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func TestAPIRefusesWhatItMust(t *testing.T) {
	s, f := guarded(t, hub.Config{Token: testToken})
	cmdURL := s.srv.URL + "/api/clusters/demo/commands"
	own := s.srv.URL // the server's own origin
	for _, tc := range []struct {
		name   string
		method string
		hdr    map[string]string
		status int
		says   string
	}{
		{"cross-origin POST", "POST", map[string]string{"Origin": "http://evil.example"}, 403, "-allow-origin http://evil.example"},
		{"cross-origin POST with the token", "POST", map[string]string{"Origin": "http://evil.example", "Authorization": "Bearer " + testToken}, 403, "-allow-origin"},
		{"cross-origin POST as a form", "POST", map[string]string{"Origin": "http://evil.example", "Content-Type": "application/x-www-form-urlencoded"}, 403, "-allow-origin"},
		{"POST from an opaque origin", "POST", map[string]string{"Origin": "null"}, 403, "-allow-origin"},
		{"POST from another port of the same host", "POST", map[string]string{"Origin": "http://127.0.0.1:1"}, 403, "-allow-origin"},
		{"missing token", "POST", nil, 401, "needs its cluster token"},
		{"wrong token", "POST", map[string]string{"Authorization": "Bearer nope"}, 401, "wrong cluster token"},
		{"token of another scheme", "POST", map[string]string{"Authorization": "Basic " + testToken}, 401, "wrong cluster token"},
		{"wrong token from an allowed origin", "POST", map[string]string{"Origin": own, "Authorization": "Bearer nope"}, 401, "wrong cluster token"},
		{"cross-origin preflight", "OPTIONS", map[string]string{"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"}, 403, "-allow-origin"},
		{"PUT without token", "PUT", nil, 401, "token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, hdr, body := request(t, tc.method, cmdURL, "put x 1", tc.hdr)
			if status != tc.status || !strings.Contains(body, tc.says) {
				t.Errorf("%s: %d %s; want %d saying %q", tc.name, status, body, tc.status, tc.says)
			}
			if got := hdr.Get("Access-Control-Allow-Origin"); got != "" && tc.hdr["Origin"] != own {
				t.Errorf("%s: Access-Control-Allow-Origin %q on a refusal to a foreign origin", tc.name, got)
			}
		})
	}
	// Membership changes are refused alike.
	for _, tc := range []struct {
		hdr    map[string]string
		status int
	}{
		{map[string]string{"Origin": "http://evil.example"}, 403},
		{nil, 401},
		{map[string]string{"Authorization": "Bearer nope"}, 401},
	} {
		if status, _, body := request(t, "POST", s.srv.URL+"/api/clusters/demo/members", "remove n1", tc.hdr); status != tc.status {
			t.Errorf("membership change with %v: %d %s; want %d", tc.hdr, status, body, tc.status)
		}
	}
	// Nothing reached the node, and the log names no token.
	if n := f.submits.Load(); n != 0 {
		t.Fatalf("%d commands reached the leader through refused requests: %v", n, f.cmds)
	}
	if l := s.log.String(); strings.Contains(l, testToken) || !strings.Contains(l, "api: refused POST /api/clusters/demo/commands") {
		t.Errorf("log: %q; want the refusals logged without the token", l)
	}

	// What is allowed: the page's own origin, an allowed origin (with CORS headers), the token.
	for _, hdr := range []map[string]string{
		{"Origin": own},
		{"Origin": "http://course.example"},
		{"Authorization": "Bearer " + testToken},
		{"Origin": own, "Authorization": "Bearer " + testToken},
	} {
		status, h, body := request(t, "POST", cmdURL, "put x 1", hdr)
		if status != http.StatusOK {
			t.Errorf("POST with %v: %d %s; want 200", hdr, status, body)
		}
		if o := hdr["Origin"]; o != "" && h.Get("Access-Control-Allow-Origin") != o {
			t.Errorf("POST from %s: Access-Control-Allow-Origin %q", o, h.Get("Access-Control-Allow-Origin"))
		}
	}
	if n := f.submits.Load(); n != 4 {
		t.Errorf("%d commands reached the leader; want the 4 allowed ones", n)
	}
	// Reads stay open, with CORS headers for allowed origins only.
	if status, h, _ := request(t, "GET", s.srv.URL+"/api/clusters/demo", "", map[string]string{"Origin": "http://evil.example"}); status != 200 || h.Get("Access-Control-Allow-Origin") != "" {
		t.Errorf("GET from a foreign origin: %d, Access-Control-Allow-Origin %q; want 200 without it", status, h.Get("Access-Control-Allow-Origin"))
	}
	if status, h, _ := request(t, "GET", s.srv.URL+"/api/clusters/demo", "", map[string]string{"Origin": "http://course.example"}); status != 200 || h.Get("Access-Control-Allow-Origin") != "http://course.example" {
		t.Errorf("GET from an allowed origin: %d, Access-Control-Allow-Origin %q", status, h.Get("Access-Control-Allow-Origin"))
	}
	if status, h, _ := request(t, "OPTIONS", cmdURL, "", map[string]string{"Origin": "http://course.example", "Access-Control-Request-Method": "POST"}); status != 204 || !strings.Contains(h.Get("Access-Control-Allow-Methods"), "POST") {
		t.Errorf("preflight from an allowed origin: %d %v; want 204 allowing POST", status, h)
	}
}

// Without a token (a server on loopback), a process may still submit, and a foreign origin
// still may not; nor may a DNS-rebound name that points at loopback.
func TestAPIOnLoopbackWithoutToken(t *testing.T) {
	s, f := guarded(t, hub.Config{LoopbackOnly: true})
	cmdURL := s.srv.URL + "/api/clusters/demo/commands"
	port := s.srv.URL[strings.LastIndex(s.srv.URL, ":")+1:]
	for _, hdr := range []map[string]string{
		{"Origin": "http://evil.example"},
		{"Origin": "http://rebound.example:" + port, "Host": "rebound.example:" + port},
	} {
		if status, _, body := request(t, "POST", cmdURL, "put x 1", hdr); status != 403 {
			t.Errorf("POST with %v: %d %s; want 403", hdr, status, body)
		}
	}
	if n := f.submits.Load(); n != 0 {
		t.Fatalf("%d commands reached the leader through refused requests", n)
	}
	for _, hdr := range []map[string]string{nil, {"Origin": "http://localhost:" + port, "Host": "localhost:" + port}} {
		if status, _, body := request(t, "POST", cmdURL, "put x 1", hdr); status != 200 {
			t.Errorf("POST with %v: %d %s; want 200", hdr, status, body)
		}
	}
}

// helloWith sends a hello on a raw connection.
func helloWith(t *testing.T, s *server, origin string, e *wire.Envelope) *rawClient {
	t.Helper()
	var hdr http.Header
	if origin != "" {
		hdr = http.Header{"Origin": {origin}}
	}
	c := dial(t, s.url, hdr)
	e.Type, e.Cluster = wire.TypeHello, "demo"
	if err := c.send(e); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestHelloRefusesWhatItMust(t *testing.T) {
	s, _ := guarded(t, hub.Config{Token: testToken})
	own := strings.Replace(s.url, "ws://", "http://", 1)
	own = own[:strings.LastIndex(own, "/ws")]
	// A member that ran as a native process once: a page may not take it over.
	if err := s.hub.AddCluster("other", []string{"m1", "p1"}); err != nil {
		t.Fatal(err)
	}
	c := dial(t, s.url, nil)
	c.send(&wire.Envelope{Type: wire.TypeHello, Cluster: "other", Kind: wire.KindNative, Members: []string{"m1"}, Token: testToken})
	if e := c.next(); e == nil || e.Type != wire.TypeWelcome {
		t.Fatalf("a native host with the token: %+v; want a welcome", e)
	}
	c.ws.Close()
	waitFor(t, "m1 unhosted", 10*time.Second, func() bool { info, _ := s.hub.Info("other"); return !info.Members[0].Reachable })

	before, _ := s.hub.Info("demo")
	for _, tc := range []struct {
		name, origin, cluster string
		e                     wire.Envelope
		says                  string
	}{
		{"missing token", "", "demo", wire.Envelope{Kind: wire.KindNative, Members: []string{"b1"}}, "needs its cluster token"},
		{"missing token, kind browser", "", "demo", wire.Envelope{Kind: wire.KindBrowser, Members: []string{"b1"}}, "needs its cluster token"},
		{"wrong token", "", "demo", wire.Envelope{Kind: wire.KindNative, Members: []string{"b1"}, Token: "nope"}, "wrong cluster token"},
		{"a page as a native host", own, "demo", wire.Envelope{Kind: wire.KindNative, Members: []string{"b1"}}, "needs its cluster token"},
		{"a page joining as a new member", own, "demo", wire.Envelope{Kind: wire.KindBrowser, Members: []string{"b9"}, Add: true}, "-allow-join"},
		{"a page taking a native member", own, "other", wire.Envelope{Kind: wire.KindBrowser, Members: []string{"m1"}}, "runs as a native process"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var hdr http.Header
			if tc.origin != "" {
				hdr = http.Header{"Origin": {tc.origin}}
			}
			c := dial(t, s.url, hdr)
			e := tc.e
			e.Type, e.Cluster = wire.TypeHello, tc.cluster
			if err := c.send(&e); err != nil {
				t.Fatal(err)
			}
			c.expectError(wire.CodeAuth, tc.says)
		})
	}
	// Nothing changed: no member hosted, every kind as before; the log names no token.
	after, _ := s.hub.Info("demo")
	for i, m := range after.Members {
		b := before.Members[i]
		if m.ID != b.ID || m.Kind != b.Kind || m.Host != b.Host || m.Reachable != b.Reachable || m.State != b.State || m.Term != b.Term || m.Last != b.Last {
			t.Errorf("member %s after the refused hellos: %+v; before: %+v", m.ID, m, before.Members[i])
		}
	}
	if other, _ := s.hub.Info("other"); other.Members[0].Reachable || other.Members[0].Kind != wire.KindNative {
		t.Errorf("m1 after a page tried to take it: %+v", other.Members[0])
	}
	if strings.Contains(s.log.String(), testToken) {
		t.Errorf("the log names the token: %s", s.log)
	}
	// Allowed: a page hosting the browser members offered; a process with the token.
	p := dial(t, s.url, http.Header{"Origin": {own}})
	p.hello("demo", "b1")
	n := dial(t, s.url, nil)
	n.send(&wire.Envelope{Type: wire.TypeHello, Cluster: "demo", Kind: wire.KindNative, Members: []string{"b2"}, Token: testToken})
	if e := n.next(); e == nil || e.Type != wire.TypeWelcome {
		t.Fatalf("a native host with the token: %+v; want a welcome", e)
	}
}

// With AllowJoin, a page may ask to be added as a new member: it is welcomed, and the hub
// asks the leader to add it.
func TestHelloAllowJoin(t *testing.T) {
	s, _ := guarded(t, hub.Config{AllowJoin: true})
	own := strings.Replace(s.url, "ws://", "http://", 1)
	own = own[:strings.LastIndex(own, "/ws")]
	c := helloWith(t, s, own, &wire.Envelope{Kind: wire.KindBrowser, Members: []string{"b9"}, Add: true})
	if e := c.next(); e == nil || e.Type != wire.TypeWelcome {
		t.Fatalf("a page asking to join with AllowJoin: %+v; want a welcome", e)
	}
}

// FuzzAPIRequest feeds raw HTTP requests to the API of a server with a token: none may panic,
// and a command or a membership change reaches the leader only from an allowed origin or with
// the token.
func FuzzAPIRequest(f *testing.F) {
	for _, seed := range []string{
		"POST /api/clusters/demo/commands HTTP/1.1\r\nHost: lab.test\r\nContent-Length: 7\r\n\r\nput x 1",
		"POST /api/clusters/demo/commands HTTP/1.1\r\nHost: lab.test\r\nOrigin: http://evil.example\r\nContent-Type: text/plain\r\nContent-Length: 7\r\n\r\nput x 1",
		"POST /api/clusters/demo/commands HTTP/1.1\r\nHost: lab.test\r\nOrigin: http://lab.test\r\nContent-Length: 7\r\n\r\nput x 1",
		"POST /api/clusters/demo/commands?timeout=2s HTTP/1.1\r\nHost: lab.test\r\nAuthorization: Bearer " + testToken + "\r\nContent-Length: 9\r\n\r\nappend x ",
		"POST /api/clusters/demo/commands?timeout=-1 HTTP/1.1\r\nHost: lab.test\r\nAuthorization: bearer  " + testToken + " \r\nContent-Length: 5\r\n\r\nget x",
		"POST /api/clusters/demo/commands HTTP/1.1\r\nHost: lab.test\r\nAuthorization: Bearer wrong\r\nOrigin: http://course.example\r\nContent-Length: 8\r\n\r\ndelete x",
		"POST /api/clusters/nope/commands HTTP/1.1\r\nHost: lab.test\r\nOrigin: http://course.example\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nget\r\n0\r\n\r\n",
		"GET /api/clusters/demo HTTP/1.1\r\nHost: lab.test\r\nOrigin: http://evil.example\r\n\r\n",
		"OPTIONS /api/clusters/demo/commands HTTP/1.1\r\nHost: lab.test\r\nOrigin: http://course.example\r\nAccess-Control-Request-Method: POST\r\n\r\n",
		"DELETE /api/clusters/demo HTTP/1.1\r\nHost: lab.test\r\nOrigin: null\r\n\r\n",
		"POST /api/clusters/demo/commands HTTP/1.1\r\nHost: lab.test\r\nOrigin: http://lab.test\r\nContent-Length: 14\r\n\r\nput \"a key\" \"\"",
		"POST /api/clusters/demo/members HTTP/1.1\r\nHost: lab.test\r\nContent-Length: 6\r\n\r\nadd n4",
		"POST /api/clusters/demo/members HTTP/1.1\r\nHost: lab.test\r\nOrigin: http://evil.example\r\nContent-Length: 9\r\n\r\nremove n1",
		"POST /api/clusters/demo/members HTTP/1.1\r\nHost: lab.test\r\nAuthorization: Bearer " + testToken + "\r\nContent-Length: 6\r\n\r\nadd n4",
		"POST /api/clusters/demo/members HTTP/1.1\r\nHost: lab.test\r\nOrigin: http://course.example\r\nContent-Length: 6\r\n\r\nadd n5",
	} {
		f.Add([]byte(seed))
	}
	logs := &logBuf{}
	h := hub.New(hub.Config{Token: testToken, AllowOrigins: []string{"http://course.example"}, Logf: logs.logf})
	defer h.Close()
	if err := h.AddCluster("demo", []string{"n1"}); err != nil {
		f.Fatal(err)
	}
	leader := &fakeLeader{id: "n1"}
	if err := h.AttachLocal("demo", "n1", leader); err != nil {
		f.Fatal(err)
	}
	api := h.APIHandler()
	f.Fuzz(func(t *testing.T, raw []byte) {
		req, err := http.ReadRequest(bufio.NewReader(bytes.NewReader(raw)))
		if err != nil {
			return // not HTTP: the server's own parser answers 400
		}
		req.RemoteAddr = "192.0.2.1:1234"
		if req.Body == nil {
			req.Body = http.NoBody
		}
		before := leader.submits.Load()
		w := httptest.NewRecorder()
		api.ServeHTTP(w, req)
		if leader.submits.Load() == before {
			return
		}
		origin := req.Header.Get("Origin")
		auth := req.Header.Get("Authorization")
		tokenOK := auth != "" && strings.EqualFold(strings.Fields(auth)[0], "bearer") && len(strings.Fields(auth)) == 2 && strings.Fields(auth)[1] == testToken
		originOK := origin == "http://"+req.Host || strings.EqualFold(origin, "http://course.example")
		switch {
		case origin != "" && !originOK:
			t.Errorf("a command from origin %q reached the leader (%d %s)", origin, w.Code, w.Body)
		case auth != "" && !tokenOK:
			t.Errorf("a command with Authorization %q reached the leader (%d %s)", auth, w.Code, w.Body)
		case origin == "" && !tokenOK:
			t.Errorf("a command without an origin or the token reached the leader (%d %s)", w.Code, w.Body)
		}
	})
}

// TestReserveNative: members reserved for server node processes (server -processes) are native
// from the start, before any process has joined: the API says so (a page picks only browser
// members to host), a page that asks for one anyway is refused, and a process hosts it.
func TestReserveNative(t *testing.T) {
	s, _ := guarded(t, hub.Config{})
	own := strings.Replace(s.url, "ws://", "http://", 1)
	own = own[:strings.LastIndex(own, "/ws")]
	if err := s.hub.AddCluster("procs", []string{"p1", "p2", "b1"}); err != nil {
		t.Fatal(err)
	}
	if err := s.hub.ReserveNative("procs", []string{"p9"}); err == nil || !strings.Contains(err.Error(), "p9 is not a member") {
		t.Errorf("reserving a stranger: %v; want an error naming it", err)
	}
	if err := s.hub.ReserveNative("procs", []string{"p1", "p2"}); err != nil {
		t.Fatal(err)
	}
	kinds := map[string]string{}
	info, _ := s.hub.Info("procs")
	for _, m := range info.Members {
		kinds[m.ID] = m.Kind
	}
	if kinds["p1"] != wire.KindNative || kinds["p2"] != wire.KindNative || kinds["b1"] != wire.KindBrowser {
		t.Errorf("kinds before anyone joined: %v; want p1 and p2 native, b1 browser", kinds)
	}
	c := dial(t, s.url, http.Header{"Origin": {own}})
	c.send(&wire.Envelope{Type: wire.TypeHello, Cluster: "procs", Kind: wire.KindBrowser, Members: []string{"p1"}})
	c.expectError(wire.CodeAuth, "member p1 runs as a native process")
	p := dial(t, s.url, http.Header{"Origin": {own}})
	p.hello("procs", "b1")
	n := dial(t, s.url, nil)
	n.send(&wire.Envelope{Type: wire.TypeHello, Cluster: "procs", Kind: wire.KindNative, Members: []string{"p1"}})
	if e := n.next(); e == nil || e.Type != wire.TypeWelcome {
		t.Fatalf("a process hosting p1: %+v; want a welcome", e)
	}
}

// TestNativeHelloSaysOtherNatives: a native host says in its hello the other native members it
// links to. A hub that restarted learns from the first that reconnects that the others run
// natively: its API says so, and no page takes them before they are back (a page hosts the
// members nobody hosts, and took them). What a member's own host said stands; only a native
// host may say others' presence, and only native ones.
func TestNativeHelloSaysOtherNatives(t *testing.T) {
	s := newServer(t, hub.Config{}, map[string][]string{"demo": {"n1", "n2", "n3", "n4", "b1"}})
	own := strings.Replace(s.url, "ws://", "http://", 1)
	own = own[:strings.LastIndex(own, "/ws")]
	native := func(id, addr string) wire.Presence { return wire.Presence{ID: id, Kind: wire.KindNative, Addr: addr} }

	helloWith(t, s, own, &wire.Envelope{Kind: wire.KindBrowser, Members: []string{"b1"}, Presence: []wire.Presence{native("n1", "127.0.0.1:7001")}}).
		expectError(wire.CodeBadFrame, "hello: a browser host says no other members' presence")
	helloWith(t, s, "", &wire.Envelope{Kind: wire.KindNative, Members: []string{"n4"}, Presence: []wire.Presence{{ID: "b1", Kind: wire.KindBrowser}}}).
		expectError(wire.CodeBadFrame, "hello: presence of b1: a host says only the native members it links to, not browser ones")

	// b1 runs in a page; then n2 comes back first, saying it links to n1, n3 and b1.
	page := dial(t, s.url, nil)
	page.hello("demo", "b1")
	c := helloWith(t, s, "", &wire.Envelope{Kind: wire.KindNative, Members: []string{"n2"}, Addr: "127.0.0.1:7002",
		Presence: []wire.Presence{native("n1", "127.0.0.1:7001"), native("n3", "127.0.0.1:7003"), native("b1", "127.0.0.1:7009")}})
	if e := c.next(); e == nil || e.Type != wire.TypeWelcome {
		t.Fatalf("n2's hello: %+v; want a welcome", e)
	}
	kinds := map[string]string{}
	for _, m := range getInfo(t, s, "demo").Members {
		kinds[m.ID] = m.Kind
	}
	if want := map[string]string{"n1": "native", "n2": "native", "n3": "native", "n4": "browser", "b1": "browser"}; !maps.Equal(kinds, want) {
		t.Errorf("kinds %v; want %v", kinds, want)
	}
	// A page cannot take n1 now.
	helloWith(t, s, own, &wire.Envelope{Kind: wire.KindBrowser, Members: []string{"n1"}}).
		expectError(wire.CodeAuth, "member n1 runs as a native process")
}
