//go:build !js

// Misbehaving clients get an error frame and a close while everyone else keeps working; origins
// are checked; a client that does not read is dropped.
package hub_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"raftlab/raft"
	"raftlab/raft/wire"
	"raftlab/server/internal/hub"
)

type rawClient struct {
	t  testing.TB
	ws *websocket.Conn
}

func dial(t testing.TB, url string, hdr http.Header) *rawClient {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(url, hdr)
	if err != nil {
		status := ""
		if resp != nil {
			status = resp.Status
		}
		t.Fatalf("dial %s: %v %s", url, err, status)
	}
	t.Cleanup(func() { ws.Close() })
	return &rawClient{t, ws}
}

func (c *rawClient) sendText(s string) error {
	return c.ws.WriteMessage(websocket.TextMessage, []byte(s))
}

func (c *rawClient) send(e *wire.Envelope) error {
	b, err := wire.Encode(e)
	if err != nil {
		c.t.Fatal(err)
	}
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *rawClient) hello(cluster string, members ...string) {
	c.t.Helper()
	if err := c.send(&wire.Envelope{Type: wire.TypeHello, Cluster: cluster, Kind: wire.KindBrowser, Members: members}); err != nil {
		c.t.Fatal(err)
	}
	e := c.next()
	if e == nil || e.Type != wire.TypeWelcome {
		c.t.Fatalf("hello %v: got %+v; want welcome", members, e)
	}
}

// next reads the next frame, or returns nil when the connection closes.
func (c *rawClient) next() *wire.Envelope {
	c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, b, err := c.ws.ReadMessage()
	if err != nil {
		return nil
	}
	e, err := wire.Decode(b)
	if err != nil {
		c.t.Fatalf("undecodable frame from the hub: %v: %s", err, b)
	}
	return e
}

// expectError reads until an error frame with code arrives and the connection then closes.
func (c *rawClient) expectError(code, text string) {
	c.t.Helper()
	for {
		e := c.next()
		if e == nil {
			c.t.Fatalf("connection closed without an error frame; want code %q", code)
		}
		if e.Type != wire.TypeError {
			continue
		}
		if e.Code != code || !strings.Contains(e.Error, text) {
			c.t.Fatalf("error frame %s: %s; want code %q with %q", e.Code, e.Error, code, text)
		}
		break
	}
	c.ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := c.ws.ReadMessage()
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		c.t.Fatalf("after the error frame: %v; want a close frame", err)
	}
}

func TestMisbehavingClients(t *testing.T) {
	cfg := hub.Config{MaxFrameBytes: 64 << 10, Rate: 500, Burst: 500}
	s := newServer(t, cfg, map[string][]string{"demo": {"n1", "n2", "n3", "b1", "b2"}, "other": {"x1", "x2"}})
	startMembers(t, s, "demo", "n1", "n2", "n3")
	waitFor(t, "a leader", 10*time.Second, func() bool { return getInfo(t, s, "demo").Leader != "" })

	// A well-behaved browser host of b2 that keeps reading what it is sent.
	good := dial(t, s.url, nil)
	good.hello("demo", "b2")
	var goodMsgs atomic.Int64
	goodDone := make(chan struct{})
	go func() {
		defer close(goodDone)
		for {
			_, b, err := good.ws.ReadMessage()
			if err != nil {
				return
			}
			if e, err := wire.Decode(b); err == nil && e.Type == wire.TypeMsgs {
				goodMsgs.Add(1)
			}
		}
	}()

	bigCmd := strings.Repeat("x", 70<<10)
	vote := raft.Message{Type: raft.MsgVoteReply, From: "b1", To: "n1", Term: 1}
	for _, tc := range []struct {
		name  string
		hello []string // members to host first, if any
		act   func(c *rawClient) error
		code  string
		text  string
	}{
		{"not json", nil, func(c *rawClient) error { return c.sendText("hello there") }, wire.CodeBadFrame, "not a JSON object"},
		{"unknown version", nil, func(c *rawClient) error { return c.sendText(`{"v":9,"type":"hello"}`) }, wire.CodeVersion, "version 9"},
		{"msgs before hello", nil, func(c *rawClient) error {
			return c.send(&wire.Envelope{Type: wire.TypeMsgs, Cluster: "demo", Msgs: []raft.Message{vote}})
		}, wire.CodeType, "before hello"},
		{"unknown cluster", nil, func(c *rawClient) error {
			return c.send(&wire.Envelope{Type: wire.TypeHello, Cluster: "nope", Kind: wire.KindBrowser, Members: []string{"b1"}})
		}, wire.CodeCluster, `no cluster "nope"`},
		{"not a member", nil, func(c *rawClient) error {
			return c.send(&wire.Envelope{Type: wire.TypeHello, Cluster: "demo", Kind: wire.KindBrowser, Members: []string{"zz"}})
		}, wire.CodeMember, "zz is not a member"},
		{"member taken", nil, func(c *rawClient) error {
			return c.send(&wire.Envelope{Type: wire.TypeHello, Cluster: "demo", Kind: wire.KindBrowser, Members: []string{"n1"}})
		}, wire.CodeTaken, "member n1 is already hosted by a native connection"},
		{"member taken by a page", nil, func(c *rawClient) error {
			return c.send(&wire.Envelope{Type: wire.TypeHello, Cluster: "demo", Kind: wire.KindNative, Members: []string{"b2"}})
		}, wire.CodeTaken, "member b2 is already hosted by a browser connection from 127.0.0.1:"},
		{"member taken by a page: what to do", nil, func(c *rawClient) error {
			return c.send(&wire.Envelope{Type: wire.TypeHello, Cluster: "demo", Kind: wire.KindNative, Members: []string{"b2"}})
		}, wire.CodeTaken, "; a page hosts the members nobody hosts when it opens: close that page (reopen it once this process has joined), then this process can join"},
		{"impersonation", []string{"b1"}, func(c *rawClient) error {
			m := vote
			m.From, m.To = "n2", "n1"
			return c.send(&wire.Envelope{Type: wire.TypeMsgs, Cluster: "demo", Msgs: []raft.Message{m}})
		}, wire.CodeImpersonate, "message from n2"},
		{"status of another member", []string{"b1"}, func(c *rawClient) error {
			return c.send(&wire.Envelope{Type: wire.TypeStatus, Cluster: "demo", Status: []wire.MemberStatus{{ID: "n1", State: "leader", Term: 99}}})
		}, wire.CodeImpersonate, "status of n1"},
		{"message to a stranger", []string{"b1"}, func(c *rawClient) error {
			m := vote
			m.To = "x1"
			return c.send(&wire.Envelope{Type: wire.TypeMsgs, Cluster: "demo", Msgs: []raft.Message{m}})
		}, wire.CodeMember, "x1, which is not a member"},
		{"wrong cluster", []string{"b1"}, func(c *rawClient) error {
			return c.send(&wire.Envelope{Type: wire.TypeMsgs, Cluster: "other", Msgs: []raft.Message{vote}})
		}, wire.CodeCluster, `frame for cluster "other"`},
		{"second hello", []string{"b1"}, func(c *rawClient) error {
			return c.send(&wire.Envelope{Type: wire.TypeHello, Cluster: "demo", Kind: wire.KindBrowser, Members: []string{"b1"}})
		}, wire.CodeType, "second hello"},
		{"server frame from a client", []string{"b1"}, func(c *rawClient) error {
			return c.send(&wire.Envelope{Type: wire.TypeSubmit, Cluster: "demo", Req: 1, Member: "n1", Command: []byte("put x 1")})
		}, wire.CodeType, "does not send submit"},
		{"oversized", []string{"b1"}, func(c *rawClient) error {
			m := raft.Message{Type: raft.MsgApp, From: "b1", To: "n1", Term: 1, Entries: []raft.Entry{{Term: 1, Command: []byte(bigCmd)}}}
			c.send(&wire.Envelope{Type: wire.TypeMsgs, Cluster: "demo", Msgs: []raft.Message{m}})
			return nil // the hub may close before it has read it all
		}, wire.CodeTooBig, "over the limit of 65536 bytes"},
		{"binary", []string{"b1"}, func(c *rawClient) error { return c.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}) }, wire.CodeBadFrame, "binary frame"},
		{"flood", []string{"b1"}, func(c *rawClient) error {
			st := &wire.Envelope{Type: wire.TypeStatus, Cluster: "demo", Status: []wire.MemberStatus{{ID: "b1", State: "follower", Term: 1}}}
			for range 2000 {
				if err := c.send(st); err != nil {
					return nil // the hub has closed on us: the error frame is waiting
				}
			}
			return nil
		}, wire.CodeRate, "more than 500 frames a second"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := dial(t, s.url, nil)
			if tc.hello != nil {
				c.hello("demo", tc.hello...)
			}
			if err := tc.act(c); err != nil {
				t.Fatalf("send: %v", err)
			}
			c.expectError(tc.code, tc.text)
			if !strings.Contains(s.log.String(), tc.code) {
				t.Errorf("the server did not log %q:\n%s", tc.code, s.log)
			}
			// The member it hosted is free again.
			if tc.hello != nil {
				waitFor(t, "b1 to be free", 5*time.Second, func() bool {
					for _, m := range getInfo(t, s, "demo").Members {
						if m.ID == "b1" {
							return !m.Reachable
						}
					}
					return false
				})
			}
		})
	}

	// Everyone else kept working: the cluster commits, and the good client is still served.
	before := goodMsgs.Load()
	// A client retries what was not known to commit in time (503, 504), as a script would: under
	// the race detector on a loaded machine an election can still be running.
	deadline := time.Now().Add(20 * time.Second)
	for {
		code, out := postCommand(t, s, "demo", "put after abuse")
		if code == http.StatusOK {
			break
		}
		if (code != http.StatusServiceUnavailable && code != http.StatusGatewayTimeout) || time.Now().After(deadline) {
			t.Fatalf("POST after the abuse = %d %v", code, out)
		}
	}
	waitFor(t, "the good client to keep receiving messages", 5*time.Second, func() bool { return goodMsgs.Load() > before })
	select {
	case <-goodDone:
		t.Fatal("the well-behaved connection was closed")
	default:
	}
}

func TestOrigins(t *testing.T) {
	s := newServer(t, hub.Config{AllowOrigins: []string{"http://course.example"}}, map[string][]string{"demo": {"b1"}})
	same := http.Header{"Origin": {strings.Replace(s.srv.URL, "127.0.0.1", "127.0.0.1", 1)}}
	dial(t, s.url, same).hello("demo", "b1")

	_, resp, err := websocket.DefaultDialer.Dial(s.url, http.Header{"Origin": {"http://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("dial from a foreign origin: %v %v; want 403", err, resp)
	}
	ws, _, err := websocket.DefaultDialer.Dial(s.url, http.Header{"Origin": {"http://course.example"}})
	if err != nil {
		t.Fatalf("dial from an allowed origin: %v", err)
	}
	ws.Close()
}

// TestSlowReaderIsClosed: a client that never reads fills its queue, loses frames, and is
// closed once it stays slow.
func TestSlowReaderIsClosed(t *testing.T) {
	s := newServer(t, hub.Config{SendQueue: 4, SlowTimeout: 300 * time.Millisecond}, map[string][]string{"demo": {"n1", "b1"}})
	c := dial(t, s.url, nil)
	c.hello("demo", "b1")
	big := bytes.Repeat([]byte("y"), 256<<10)
	m := raft.Message{Type: raft.MsgApp, From: "n1", To: "b1", Term: 1, Entries: []raft.Entry{{Term: 1, Command: big}}}
	deadline := time.Now().Add(20 * time.Second)
	for s.hub.Conns() > 0 {
		if time.Now().After(deadline) {
			t.Fatal("a client that never reads was not closed")
		}
		s.hub.Route("demo", []raft.Message{m})
		time.Sleep(5 * time.Millisecond)
	}
	if !strings.Contains(s.log.String(), wire.CodeSlow) {
		t.Errorf("the server did not log why it closed the slow client:\n%s", s.log)
	}
	info := getInfo(t, s, "demo")
	b, _ := json.Marshal(info)
	if info.Members[1].Reachable {
		t.Errorf("the slow client's member is still reachable: %s", b)
	}
}

// TestCommandErrors: no reachable member answers 503; a leader that never commits, 504.
func TestCommandErrors(t *testing.T) {
	s := newServer(t, hub.Config{}, map[string][]string{"demo": {"b1", "b2", "b3"}})
	resp, err := http.Post(s.srv.URL+"/api/clusters/demo/commands?timeout=300ms", "text/plain", strings.NewReader("put x 1"))
	if err != nil {
		t.Fatal(err)
	}
	var out map[string]string
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || !strings.Contains(out["error"], "no leader") {
		t.Errorf("POST with nobody connected = %d %v; want 503 no leader", resp.StatusCode, out)
	}

	// A host that claims b1 leads, then never answers its submits.
	c := dial(t, s.url, nil)
	c.hello("demo", "b1")
	c.send(&wire.Envelope{Type: wire.TypeStatus, Cluster: "demo", Status: []wire.MemberStatus{{ID: "b1", State: "leader", Term: 2, Leader: "b1"}}})
	waitFor(t, "b1 reported leader", 5*time.Second, func() bool { return getInfo(t, s, "demo").Leader == "b1" })
	resp, err = http.Post(s.srv.URL+"/api/clusters/demo/commands?timeout=300ms", "text/plain", strings.NewReader("put x 1"))
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(resp.Body).Decode(&out)
	resp.Body.Close()
	if resp.StatusCode != http.StatusGatewayTimeout || !strings.Contains(out["error"], "may still be applied") {
		t.Errorf("POST to a silent leader = %d %v; want 504 saying it may still be applied", resp.StatusCode, out)
	}
	for _, q := range []string{"timeout=banana", "timeout=2h"} {
		resp, _ := http.Post(s.srv.URL+"/api/clusters/demo/commands?"+q, "text/plain", strings.NewReader("put x 1"))
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("POST ?%s = %d; want 400", q, resp.StatusCode)
		}
	}
	resp, _ = http.Post(s.srv.URL+"/api/clusters/demo/commands", "text/plain", strings.NewReader(strings.Repeat("x", 20<<10)))
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("POST of 20 KiB = %d; want 413", resp.StatusCode)
	}
}

// A cluster's options of Raft travel in every welcome; without options the welcome has none,
// and an unknown cluster cannot be given options.
func TestWelcomeCarriesOptions(t *testing.T) {
	s := newServer(t, hub.Config{}, map[string][]string{"demo": {"b1", "b2"}, "plain": {"b1"}})
	if err := s.hub.SetOptions("demo", wire.Options{PreVote: true, CheckQuorum: true}); err != nil {
		t.Fatal(err)
	}
	if err := s.hub.SetOptions("nope", wire.Options{PreVote: true}); err == nil {
		t.Error("options for an unknown cluster: no error")
	}
	for cluster, want := range map[string]*wire.Options{"demo": {PreVote: true, CheckQuorum: true}, "plain": nil} {
		c := dial(t, s.url, nil)
		if err := c.send(&wire.Envelope{Type: wire.TypeHello, Cluster: cluster, Kind: wire.KindBrowser, Members: []string{"b1"}}); err != nil {
			t.Fatal(err)
		}
		e := c.next()
		if e == nil || e.Type != wire.TypeWelcome {
			t.Fatalf("%s: got %+v; want a welcome", cluster, e)
		}
		if (e.Options == nil) != (want == nil) || (want != nil && *e.Options != *want) {
			t.Errorf("%s: welcome options %+v; want %+v", cluster, e.Options, want)
		}
	}
	// A client may not send options.
	c := dial(t, s.url, nil)
	c.sendText(`{"v":2,"type":"hello","cluster":"demo","kind":"browser","members":["b2"],"options":{"preVote":true}}`)
	c.expectError(wire.CodeBadFrame, "options come only in a welcome")
}
