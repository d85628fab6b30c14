//go:build !js

package hub_test

import (
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"raftlab/raft/wire"
	"raftlab/server/internal/hub"
)

// A hello asking to be added needs what hosting needs (the token from a process, -allow-join
// from a page); without Add a stranger is refused as before; and the members API is guarded
// like the commands API. None of the refusals changes the configuration.
func TestMembershipChangesAreGuarded(t *testing.T) {
	s, f := guarded(t, hub.Config{Token: testToken})
	own := strings.Replace(s.url, "ws://", "http://", 1)
	own = own[:strings.LastIndex(own, "/ws")]
	for _, tc := range []struct {
		name, origin string
		e            wire.Envelope
		code, says   string
	}{
		{"a process asking to be added without the token", "", wire.Envelope{Kind: wire.KindNative, Members: []string{"n4"}, Add: true}, wire.CodeAuth, "needs its cluster token"},
		{"a process asking with a wrong token", "", wire.Envelope{Kind: wire.KindNative, Members: []string{"n4"}, Add: true, Token: "nope"}, wire.CodeAuth, "wrong cluster token"},
		{"a page asking to be added without -allow-join", own, wire.Envelope{Kind: wire.KindBrowser, Members: []string{"b9"}, Add: true}, wire.CodeAuth, "-allow-join"},
		{"a stranger not asking to be added", "", wire.Envelope{Kind: wire.KindNative, Members: []string{"n4"}, Token: testToken}, wire.CodeMember, "n4 is not a member"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := helloWith(t, s, tc.origin, &tc.e)
			c.expectError(tc.code, tc.says)
		})
	}
	for _, hdr := range []map[string]string{
		{},
		{"Authorization": "Bearer nope"},
		{"Origin": "http://evil.example", "Authorization": "Bearer " + testToken},
	} {
		if code, _, body := request(t, "POST", s.srv.URL+"/api/clusters/demo/members", "remove n1", hdr); code != http.StatusUnauthorized && code != http.StatusForbidden {
			t.Errorf("POST members with %v = %d %s; want 401 or 403", hdr, code, body)
		}
	}
	info, _ := s.hub.Info("demo")
	if strings.Join(info.Voters, ",") != "b1,b2,n1" || info.ConfigIndex != 0 {
		t.Errorf("configuration after refused changes: %v at %d", info.Voters, info.ConfigIndex)
	}
	for _, m := range info.Members {
		if m.Joining || !m.Voter {
			t.Errorf("member after refused changes: %+v", m)
		}
	}
	if n := f.submits.Load(); n != 0 {
		t.Errorf("%d submits reached the leader", n)
	}
}

func postChange(t testing.TB, s *server, cluster, body, timeout string) (int, string) {
	t.Helper()
	resp, err := http.Post(s.srv.URL+"/api/clusters/"+cluster+"/members?timeout="+timeout, "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The members endpoint's status codes with members in node processes (the change goes to the
// leader over the wire): 409 for the last voter, 504 for a change the leader took but could
// not commit, then 409 while that change is in flight; none of them changes the configuration
// the server reports.
func TestMembersStatusCodes(t *testing.T) {
	s := newServer(t, hub.Config{}, map[string][]string{"demo": {"n1", "n2", "n3"}, "solo": {"s1"}})
	startMembers(t, s, "solo", "s1")
	waitFor(t, "a leader of solo", 10*time.Second, func() bool { return getInfo(t, s, "solo").Leader != "" })
	if code, body := postChange(t, s, "solo", "remove s1", "5s"); code != http.StatusConflict || !strings.Contains(body, "s1 is the last voter") {
		t.Errorf("removing the last voter = %d %s; want 409", code, body)
	}

	ms := startMembers(t, s, "demo", "n1", "n2", "n3")
	var leader string
	waitFor(t, "a leader that has committed in its term", 10*time.Second, func() bool {
		leader = getInfo(t, s, "demo").Leader
		code, _ := postCommand(t, s, "demo", "put x 1")
		return leader != "" && code == http.StatusOK && getInfo(t, s, "demo").Leader == leader
	})
	for id, m := range ms {
		if id != leader {
			m.Close()
		}
	}
	if code, body := postChange(t, s, "demo", "add n9", "1s"); code != http.StatusGatewayTimeout || !strings.Contains(body, "it may still be made") {
		t.Fatalf("add n9 with the followers stopped = %d %s; want 504", code, body)
	}
	if code, body := postChange(t, s, "demo", "remove n2", "5s"); code != http.StatusConflict || !strings.Contains(body, "in flight") {
		t.Errorf("a change while another is in flight = %d %s; want 409", code, body)
	}
	info := getInfo(t, s, "demo")
	if strings.Join(info.Voters, ",") != "n1,n2,n3" || len(info.Learners) > 0 || info.ConfigIndex != 0 {
		t.Errorf("configuration the server reports: voters %v learners %v at %d; want the initial one", info.Voters, info.Learners, info.ConfigIndex)
	}
}
