//go:build !js

package member

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/raft/wire"
	"raftlab/server/internal/hub"
)

// apiCluster starts a hub and three members, each serving its API on loopback, with election
// timeouts long enough (2–4 s) that a partition of a second elects nobody else.
func apiCluster(t *testing.T) (ms []*Member, apis map[string]string) {
	t.Helper()
	return apiClusterToken(t, "")
}

// apiClusterToken is apiCluster with a cluster token ("" for none): the hub's, the members'
// and their APIs'.
func apiClusterToken(t *testing.T, token string) (ms []*Member, apis map[string]string) {
	t.Helper()
	h := hub.New(hub.Config{Logf: t.Logf, Token: token})
	ids := []string{"n1", "n2", "n3"}
	if err := h.AddCluster("api", ids); err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	srv := httptest.NewServer(mux)
	t.Cleanup(func() {
		for _, m := range ms {
			m.Close()
		}
		h.Close()
		srv.Close()
	})
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	apis = map[string]string{}
	for _, id := range ids {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		cfg := Config{URL: url, Cluster: "api", ID: id, Logf: t.Logf, API: ln.Addr().String(), Token: token}
		cfg.Raft.ElectionTimeoutMin, cfg.Raft.ElectionTimeoutMax = 2*time.Second, 4*time.Second
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		m, err := Start(ctx, cfg)
		cancel()
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
		hs := &http.Server{Handler: m.APIHandler()}
		go hs.Serve(ln)
		t.Cleanup(func() { hs.Close() })
		apis[id] = ln.Addr().String()
	}
	// Every member learns where the others serve their API (presence frames).
	deadline := time.Now().Add(10 * time.Second)
	for _, m := range ms {
		for _, id := range ids {
			for m.APIAddr(id) != apis[id] {
				if time.Now().After(deadline) {
					t.Fatalf("%s does not know %s's API address (%q)", m.cfg.ID, id, m.APIAddr(id))
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
	}
	return ms, apis
}

func apiLeader(t *testing.T, ms []*Member) *Member {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range ms {
			if m.Node().Status().State == raft.Leader {
				return m
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatal("no leader within 15s")
	return nil
}

type apiAnswer struct {
	Error   string `json:"error"`
	Member  string `json:"member"`
	Outcome string `json:"outcome"`
	Value   string `json:"value"`
	Index   uint64 `json:"index"`
}

func post(t *testing.T, addr, query, cmd string) (int, apiAnswer) {
	t.Helper()
	resp, err := http.Post("http://"+addr+"/api/clusters/api/commands"+query, "text/plain", strings.NewReader(cmd))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var a apiAnswer
	if err := json.Unmarshal(b, &a); err != nil {
		t.Fatalf("POST %s %q: %d %s: %v", query, cmd, resp.StatusCode, b, err)
	}
	return resp.StatusCode, a
}

// TestNodeAPI: a follower's API forwards a command to the leader's; GET reports the member's
// view; bad requests are refused with the server's answers.
// getInfo reads GET /api/clusters/api from the member API at addr.
func getInfo(t *testing.T, addr string) hub.ClusterInfo {
	t.Helper()
	resp, err := http.Get("http://" + addr + "/api/clusters/api")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var info hub.ClusterInfo
	if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
		t.Fatal(err)
	}
	return info
}

func TestNodeAPI(t *testing.T) {
	ms, apis := apiCluster(t)
	l := apiLeader(t, ms)
	var f *Member
	for _, m := range ms {
		if m != l {
			f = m
			break
		}
	}
	code, a := post(t, apis[f.cfg.ID], "", "put x 1")
	if code != http.StatusOK || a.Member != l.cfg.ID || a.Outcome != "applied" {
		t.Fatalf("put through follower %s: %d %+v; want 200, applied by the leader %s", f.cfg.ID, code, a, l.cfg.ID)
	}
	code, a = post(t, apis[f.cfg.ID], "", "get x")
	if code != http.StatusOK || a.Value != "1" {
		t.Fatalf("get x: %d %+v", code, a)
	}

	info := getInfo(t, apis[f.cfg.ID])
	if info.Leader != l.cfg.ID || len(info.Members) != 3 || len(info.Voters) != 3 {
		t.Errorf("GET on %s: %+v; want leader %s and three voters", f.cfg.ID, info, l.cfg.ID)
	}
	// The others are native members, reachable over the direct links this member has to them.
	for deadline := time.Now().Add(10 * time.Second); ; {
		var bad []hub.MemberInfo
		for _, mi := range info.Members {
			if mi.Kind != "native" || !mi.Reachable {
				bad = append(bad, mi)
			}
		}
		if len(bad) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("GET on %s: members %+v; want native and reachable (their direct links are up)", f.cfg.ID, bad)
		}
		time.Sleep(50 * time.Millisecond)
		info = getInfo(t, apis[f.cfg.ID])
	}
	// What the README says of the others in a node's GET: no state, term, commit or applied
	// (this member does not know them); last is a leader's match index for each, 0 on a follower.
	for _, m := range []*Member{f, l} {
		var most uint64 // the highest last of the others
		for _, mi := range getInfo(t, apis[m.cfg.ID]).Members {
			switch {
			case mi.ID == m.cfg.ID:
				if mi.State == "" || mi.Term == 0 || mi.Commit < 2 || mi.Last < 2 {
					t.Errorf("GET on %s: itself %+v; want its state, term and indexes", m.cfg.ID, mi)
				}
			case mi.State != "" || mi.Term != 0 || mi.Commit != 0 || mi.Applied != 0:
				t.Errorf("GET on %s: %s is %+v; want no state, term, commit or applied", m.cfg.ID, mi.ID, mi)
			default:
				most = max(most, mi.Last)
			}
		}
		// On the leader, a follower that stored put x 1 and get x (committed, so one did at
		// least) has a match index of 2 or more.
		if m == f && most != 0 || m == l && most < 2 {
			t.Errorf("GET on %s (leader: %v): the others' highest last is %d; want 0 on a follower, the match index (2 or more) on the leader", m.cfg.ID, m == l, most)
		}
	}

	// A command forwarded to a member that does not lead is refused, not forwarded again.
	req, _ := http.NewRequest(http.MethodPost, "http://"+apis[f.cfg.ID]+"/api/clusters/api/commands", strings.NewReader("put y 1"))
	req.Header.Set(forwardedHeader, "n9")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("forwarded command on follower: %d; want 503", resp.StatusCode)
	}

	// The leader's API refuses the forwarded command with its own plain-text answer (a 429):
	// the follower answers with that status and the reason, as JSON.
	busy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "too many requests in progress from 127.0.0.1 (at most 64 at a time)", http.StatusTooManyRequests)
	}))
	defer busy.Close()
	leaderAPI := f.APIAddr(l.cfg.ID)
	f.noteAPI(l.cfg.ID, strings.TrimPrefix(busy.URL, "http://"))
	if code, a := post(t, apis[f.cfg.ID], "", "put z 1"); code != http.StatusTooManyRequests || !strings.Contains(a.Error, "forwarded to "+l.cfg.ID) || !strings.Contains(a.Error, "too many requests in progress") {
		t.Errorf("a command the leader's API refuses with 429: %d %+v; want 429 with the leader's reason", code, a)
	}
	f.noteAPI(l.cfg.ID, leaderAPI)

	for _, c := range []struct {
		path, query, body string
		want              int
	}{
		{"/api/clusters/other/commands", "", "put x 1", http.StatusNotFound},
		{"/api/clusters/api/commands", "", "put", http.StatusBadRequest},
		{"/api/clusters/api/commands", "?client=c1", "put x 1", http.StatusBadRequest},
		{"/api/clusters/api/commands", "?client=c1&seq=0", "put x 1", http.StatusBadRequest},
		{"/api/clusters/api/commands", "?client=no%20spaces&seq=1", "put x 1", http.StatusBadRequest},
		{"/api/clusters/api/commands", "?timeout=forever", "put x 1", http.StatusBadRequest},
	} {
		resp, err := http.Post("http://"+apis[f.cfg.ID]+c.path+c.query, "text/plain", strings.NewReader(c.body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.want {
			t.Errorf("POST %s%s %q: %d; want %d", c.path, c.query, c.body, resp.StatusCode, c.want)
		}
	}
}

// TestNodeAPI504AppliesOnce tests what the README says of a 504: "not known to be committed
// in time: the command may still be applied later, exactly once". A partitioned leader takes
// a command with a client id and sequence number, cannot commit it in time and answers 504;
// the partition heals, and the command applies once; a retry with the same pair is answered
// "duplicate" and applies nothing.
func TestNodeAPI504AppliesOnce(t *testing.T) {
	ms, apis := apiCluster(t)
	l := apiLeader(t, ms)
	if code, a := post(t, apis[l.cfg.ID], "", "put k a"); code != http.StatusOK {
		t.Fatalf("put k a: %d %+v", code, a)
	}
	l.cut.Store(true)
	code, a := post(t, apis[l.cfg.ID], "?client=script&seq=1&timeout=300ms", "append k b")
	if code != http.StatusGatewayTimeout {
		t.Fatalf("append on the partitioned leader: %d %+v; want 504", code, a)
	}
	// Through a follower, the leader's own 504 comes back, with its reason: the follower
	// leaves it all but a tenth of the time (see reserve).
	for _, m := range ms {
		if m != l {
			code, a := post(t, apis[m.cfg.ID], "?client=script2&seq=1&timeout=1s", "append k c")
			want := regexp.MustCompile(`^forwarded to ` + l.cfg.ID + ` at [^ ]+: timeout: the command was not known to be committed in time; it may still be applied, once`)
			if code != http.StatusGatewayTimeout || !want.MatchString(a.Error) {
				t.Fatalf("append through %s to the partitioned leader: %d %q; want 504 and %s", m.cfg.ID, code, a.Error, want)
			}
			break
		}
	}
	l.cut.Store(false)
	// The entries in the leader's log commit once the partition heals (nobody else was
	// elected: the election timeout is longer than the partition).
	deadline := time.Now().Add(10 * time.Second)
	for {
		code, a = post(t, apis[l.cfg.ID], "", "get k")
		if code == http.StatusOK && a.Value == "abc" {
			break
		}
		if code == http.StatusOK && a.Value != "a" && a.Value != "ab" || time.Now().After(deadline) {
			t.Fatalf("get k after the partition healed: %d %+v; want abc", code, a)
		}
		time.Sleep(20 * time.Millisecond)
	}
	// The retry with the same client and sequence number, through a follower this time.
	var f *Member
	for _, m := range ms {
		if m != l {
			f = m
		}
	}
	code, a = post(t, apis[f.cfg.ID], "?client=script&seq=1", "append k b")
	if code != http.StatusOK || a.Outcome != "duplicate" {
		t.Fatalf("retry: %d %+v; want 200 duplicate", code, a)
	}
	if code, a = post(t, apis[f.cfg.ID], "", "get k"); code != http.StatusOK || a.Value != "abc" {
		t.Fatalf("get k after the retry: %d %+v; want abc (applied once)", code, a)
	}
}

// TestForwardToDeadAddress: a leader whose API address refuses connections leaves the command
// certainly in no log (503), not unknown.
func TestForwardToDeadAddress(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	m := &Member{cfg: Config{Cluster: "api", ID: "n1"}}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, _, sent, err := m.forward(ctx, addr, kv.Request{ClientID: "c", Seq: 1, Command: kv.Put("x", "1")})
	if err == nil || sent {
		t.Errorf("forward to a closed port: sent %v, %v; want not sent and an error", sent, err)
	}
}

// TestNodeAPIDetail: a member's own GET ?detail=1 serves its node card as the server's does
// (its newest log entries with the commands, its key-value contents, a leader's view of its
// followers, its recent events), and no card for the others, whose reports go to the server;
// a plain GET has no card, and another value of detail is refused.
func TestNodeAPIDetail(t *testing.T) {
	ms, apis := apiCluster(t)
	l := apiLeader(t, ms)
	if code, a := post(t, apis[l.cfg.ID], "", "put x 1"); code != http.StatusOK {
		t.Fatalf("put x 1: %d %+v", code, a)
	}
	get := func(id, query string) (int, hub.ClusterInfo) {
		t.Helper()
		resp, err := http.Get("http://" + apis[id] + "/api/clusters/api" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var info hub.ClusterInfo
		if resp.StatusCode == http.StatusOK {
			if err := json.NewDecoder(resp.Body).Decode(&info); err != nil {
				t.Fatal(err)
			}
		}
		return resp.StatusCode, info
	}
	for _, m := range ms {
		id := m.cfg.ID
		// A follower applies the put once the leader's next heartbeat says it is committed.
		var self hub.MemberInfo
		deadline := time.Now().Add(10 * time.Second)
		for {
			code, info := get(id, "?detail=1")
			if code != http.StatusOK {
				t.Fatalf("GET ?detail=1 on %s: %d", id, code)
			}
			for _, mi := range info.Members {
				switch {
				case mi.ID == id:
					self = mi
				case mi.Detail != nil:
					t.Errorf("GET ?detail=1 on %s: a card for %s: %+v; want none (its reports go to the server)", id, mi.ID, mi.Detail)
				}
			}
			d := self.Detail
			if d != nil && len(d.KV) == 1 && d.KV[0] == [2]string{"x", "1"} {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("GET ?detail=1 on %s: its own member %+v, card %+v; want x=1 in its contents", id, self, d)
			}
			time.Sleep(20 * time.Millisecond)
		}
		d := self.Detail
		if d.KVLen != 1 || d.Config != "n1,n2,n3" || len(d.Events) == 0 || self.Applied < 2 || self.Commit < self.Applied {
			t.Errorf("%s's card: %+v (member %+v); want one key, the configuration n1,n2,n3, events, and the put applied", id, d, self)
		}
		if !slices.ContainsFunc(d.Log, func(e wire.LogLine) bool { return strings.Contains(e.Text, "put x 1") }) {
			t.Errorf("%s's card has no log entry with the put: %+v", id, d.Log)
		}
		if m == l {
			if len(d.Progress) != 2 || !slices.ContainsFunc(d.Events, func(e wire.StatusEvent) bool { return strings.Contains(e.Text, "leader") }) {
				t.Errorf("the leader %s's card: progress %+v, events %+v; want its two followers and its election", id, d.Progress, d.Events)
			}
		} else if len(d.Progress) != 0 {
			t.Errorf("follower %s's card has a leader's view: %+v", id, d.Progress)
		}
		if _, info := get(id, ""); slices.ContainsFunc(info.Members, func(mi hub.MemberInfo) bool { return mi.Detail != nil }) {
			t.Errorf("plain GET on %s has cards", id)
		}
		if code, _ := get(id, "?detail=yes"); code != http.StatusBadRequest {
			t.Errorf("GET ?detail=yes on %s: %d; want 400", id, code)
		}
	}
}

// TestNodeAPITransfer: POST /api/clusters/NAME/transfer?to=ID on a member's own API hands the
// leadership to ID, through a follower's API (forwarded once to the leader's, with the token)
// and through the leader's, and answers as the server does: 200 with the new leader, the old
// one and the term once ID leads (at once, without from, when ID leads already); another
// member's GET then names ID. Refused requests (no token, an Origin header, a member that is
// not a voter, a bad ?to= or ?timeout, another cluster, a forwarded request reaching a
// follower) change nothing.
func TestNodeAPITransfer(t *testing.T) {
	const token = "s3cret"
	ms, apis := apiClusterToken(t, token)
	transfer := func(id, cluster, query string, header map[string]string) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, "http://"+apis[id]+"/api/clusters/"+cluster+"/transfer"+query, nil)
		req.Header.Set("Authorization", "Bearer "+token)
		for k, v := range header {
			if v == "" {
				req.Header.Del(k)
			} else {
				req.Header.Set(k, v)
			}
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		if b, _ := io.ReadAll(resp.Body); json.Unmarshal(b, &out) != nil {
			t.Fatalf("POST transfer%s on %s: %d %s", query, id, resp.StatusCode, b)
		}
		return resp.StatusCode, out
	}
	get := func(id string) hub.ClusterInfo { return getInfo(t, apis[id]) }
	others := func(ids ...string) []string {
		return slices.DeleteFunc([]string{"n1", "n2", "n3"}, func(id string) bool { return slices.Contains(ids, id) })
	}
	l := apiLeader(t, ms).cfg.ID
	var lastTerm uint64
	// Through a follower's API (forwarded to the leader's), then through the leader's own.
	for _, c := range []struct{ via, to string }{{others(l)[0], others(l)[1]}, {others(l)[1], l}} {
		before := get(c.via)
		code, out := transfer(c.via, "api", "?to="+c.to+"&timeout=20s", nil)
		term, _ := out["term"].(float64)
		if code != http.StatusOK || out["transfer"] != c.to || out["from"] != before.Leader || uint64(term) <= before.Term {
			t.Fatalf("transfer to %s through %s (leader %s, term %d): %d %v; want 200 from %s in a later term", c.to, c.via, before.Leader, before.Term, code, out, before.Leader)
		}
		lastTerm = uint64(term)
		// The third member, neither asked nor the new leader, names it once it hears from it.
		third := others(c.via, c.to)[0]
		for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
			info := get(third)
			if info.Leader == c.to && info.Term == lastTerm {
				break
			}
			if info.Term > lastTerm || time.Now().After(deadline) {
				t.Fatalf("after the transfer to %s: GET on %s says leader %q in term %d; want %s in %d", c.to, third, info.Leader, info.Term, c.to, lastTerm)
			}
		}
	}
	// l leads again: asking for it answers at once, with no handover.
	if code, out := transfer(others(l)[0], "api", "?to="+l, nil); code != http.StatusOK || out["transfer"] != l || out["from"] != nil || uint64(out["term"].(float64)) != lastTerm {
		t.Errorf("transfer to the leader %s: %d %v; want 200 in term %d, no from", l, code, out, lastTerm)
	}

	f := others(l)[0]
	for _, c := range []struct {
		id, cluster, query string
		header             map[string]string
		code               int
		want               string
	}{
		{f, "api", "?to=" + others(l)[1], map[string]string{"Authorization": ""}, http.StatusUnauthorized, "cluster token"},
		{f, "api", "?to=" + others(l)[1], map[string]string{"Authorization": "Bearer wrong"}, http.StatusUnauthorized, "cluster token"},
		{f, "api", "?to=" + others(l)[1], map[string]string{"Origin": "http://example.org"}, http.StatusForbidden, "not from pages"},
		{f, "api", "?to=n9", nil, http.StatusConflict, "n9 is not a voter of cluster api"},
		{l, "api", "?to=n9", nil, http.StatusConflict, "n9 is not a voter of cluster api"},
		{f, "api", "", nil, http.StatusBadRequest, "?to=: the member to lead"},
		{f, "api", "?to=b@d", nil, http.StatusBadRequest, "?to=: the member to lead"},
		{f, "api", "?to=" + f + "&timeout=forever", nil, http.StatusBadRequest, "timeout"},
		{f, "other", "?to=" + f, nil, http.StatusNotFound, `no cluster "other" here`},
		{f, "api", "?to=" + f, map[string]string{forwardedHeader: "n9"}, http.StatusServiceUnavailable, f + " does not lead"},
	} {
		if code, out := transfer(c.id, c.cluster, c.query, c.header); code != c.code || !strings.Contains(fmt.Sprint(out["error"]), c.want) {
			t.Errorf("POST %s transfer%s on %s with %v: %d %v; want %d and %q", c.cluster, c.query, c.id, c.header, code, out, c.code, c.want)
		}
	}
	for _, m := range ms {
		if info := get(m.cfg.ID); info.Leader != l || info.Term != lastTerm {
			t.Errorf("after the refused transfers: GET on %s says leader %s in term %d; want %s in %d", m.cfg.ID, info.Leader, info.Term, l, lastTerm)
		}
	}
}

// TestNodeAPITransfer504: a partitioned leader begins the handover a follower's API forwards
// to it, but the target is not seen leading in time: 504, with the server's sentence. While that handover
// is under way the leader refuses another one, asked directly or forwarded by a follower: 409.
func TestNodeAPITransfer504(t *testing.T) {
	ms, apis := apiCluster(t)
	l := apiLeader(t, ms)
	var f []string
	for _, m := range ms {
		if m != l {
			f = append(f, m.cfg.ID)
		}
	}
	transfer := func(id, query string) (int, string) {
		t.Helper()
		resp, err := http.Post("http://"+apis[id]+"/api/clusters/api/transfer"+query, "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out struct{ Error string }
		b, _ := io.ReadAll(resp.Body)
		if err := json.Unmarshal(b, &out); err != nil {
			t.Fatalf("POST transfer%s on %s: %d %s", query, id, resp.StatusCode, b)
		}
		return resp.StatusCode, out.Error
	}
	l.cut.Store(true)
	defer l.cut.Store(false)
	term := l.Node().Status().Term
	// Through a follower, which gives the leader the time left but a tenth (here 100 ms), so
	// that the leader's own 504 comes back in time.
	code, msg := transfer(f[1], "?to="+f[0]+"&timeout=1s")
	want := regexp.MustCompile(fmt.Sprintf(`^forwarded to %s at \S+: %s began handing its leadership \(term %d\) to %s, which was not seen leading within 9\d\dms: it may still take over`, l.cfg.ID, l.cfg.ID, term, f[0]))
	if code != http.StatusGatewayTimeout || !want.MatchString(msg) {
		t.Fatalf("transfer from a partitioned leader through %s: %d %q; want 504 and %s", f[1], code, msg, want)
	}
	// The handover stays under way for an election timeout (at least 2 s here).
	if code, msg := transfer(l.cfg.ID, "?to="+f[1]); code != http.StatusConflict || !strings.Contains(msg, "handing over its leadership") {
		t.Errorf("a second transfer on the leader: %d %q; want 409, a handover under way", code, msg)
	}
	if code, msg := transfer(f[1], "?to="+f[1]); code != http.StatusConflict || !strings.Contains(msg, "forwarded to "+l.cfg.ID) || !strings.Contains(msg, "handing over its leadership") {
		t.Errorf("a second transfer through %s: %d %q; want 409 from the leader, a handover under way", f[1], code, msg)
	}
}

// TestServerAPIBase: where a member sends a request for a leader that serves no API of its own.
func TestServerAPIBase(t *testing.T) {
	for in, want := range map[string]string{
		"ws://127.0.0.1:8080/ws":     "http://127.0.0.1:8080",
		"wss://lab.example.org/ws":   "https://lab.example.org",
		"ws://[::1]:8080/raftlab/ws": "http://[::1]:8080/raftlab",
		"ws://host:8080/ws/":         "http://host:8080",
		"ftp://host/ws":              "",
		"not a url":                  "",
		"ws:///ws":                   "",
	} {
		if got := serverAPIBase(in); got != want {
			t.Errorf("serverAPIBase(%q) = %q; want %q", in, got, want)
		}
	}
}
