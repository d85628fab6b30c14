//go:build !js

package hub_test

import (
	"net/http"
	"strings"
	"testing"

	"raftlab/server/internal/hub"
	"raftlab/server/wire"
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
