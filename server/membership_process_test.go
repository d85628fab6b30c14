//go:build !js

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// apiConfig is the configuration part of GET /api/clusters/NAME.
type apiConfig struct {
	Leader      string
	Voters      []string
	Learners    []string
	ConfigIndex uint64
	Members     []struct {
		ID        string
		Voter     bool
		Learner   bool
		Joining   bool
		Reachable bool
		State     string
		Applied   uint64
	}
}

func configInfo(t *testing.T, base string) apiConfig {
	t.Helper()
	resp, err := http.Get("http://" + base + "/api/clusters/demo")
	if err != nil {
		return apiConfig{}
	}
	defer resp.Body.Close()
	var c apiConfig
	json.NewDecoder(resp.Body).Decode(&c)
	return c
}

// change posts a membership change and returns the status code and the body (an error's
// text).
func change(t *testing.T, base, body string) (int, string) {
	t.Helper()
	resp, err := http.Post("http://"+base+"/api/clusters/demo/members?timeout=30s", "text/plain", strings.NewReader(body))
	if err != nil {
		t.Fatalf("POST members %q: %v", body, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var e struct{ Error string }
	if json.Unmarshal(b, &e) == nil && e.Error != "" {
		return resp.StatusCode, e.Error
	}
	return resp.StatusCode, string(b)
}

// TestMembershipProcesses: the server runs n1, n2, n3; a `server node -add` process n4 asks to
// join, is added as a learner, catches up and becomes a voter; n1 is removed through the API
// and the server stops it; commands commit with voters n2, n3, n4. Bad changes are refused and
// change nothing. Finally n4 is removed too, and its process says so and exits 0. The members
// left forget each removed member's direct link.
func TestMembershipProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	srv, base := startServer(t, "127.0.0.1:0", "-cluster", "demo", "-members", "n1,n2,n3", "-native", "n1,n2,n3", "-data", dir)
	waitUntil(t, "a leader", func() bool { return configInfo(t, base).Leader != "" })
	mustCommand(t, base, "put x 1")

	// Bad input: a clear error, and the configuration stays.
	for _, tc := range []struct {
		body string
		code int
		want string
	}{
		{"remove n9", http.StatusConflict, "n9 is not a member"},
		{"add n2", http.StatusConflict, "n2 is already a member"},
		{"add b@d", http.StatusBadRequest, `"b@d"`},
		{"promote n4", http.StatusBadRequest, `want "add ID" or "remove ID"`},
		{"add", http.StatusBadRequest, `want "add ID" or "remove ID"`},
	} {
		code, body := change(t, base, tc.body)
		if code != tc.code || !strings.Contains(body, tc.want) {
			t.Errorf("POST members %q = %d %s; want %d and %q", tc.body, code, body, tc.code, tc.want)
		}
	}
	if c := configInfo(t, base); !slices.Equal(c.Voters, []string{"n1", "n2", "n3"}) || len(c.Learners) > 0 || c.ConfigIndex != 0 {
		t.Fatalf("after refused changes: voters %v learners %v index %d; want n1,n2,n3 from the start", c.Voters, c.Learners, c.ConfigIndex)
	}

	// n4 asks to be added: a learner first, then a voter.
	n4 := startProc(t, "n4", "node", "-cluster", "demo", "-id", "n4", "-join", "ws://"+base+"/ws", "-data", filepath.Join(dir, "n4"), "-add")
	n4.waitOutput(t, regexp.MustCompile(`n4: not in cluster demo's configuration .*: asked the leader to add it`))
	n4.waitOutput(t, regexp.MustCompile(`n4: configuration entry \d+: .*voters n1,n2,n3 learners n4\b.*\(in use now`))
	n4.waitOutput(t, regexp.MustCompile(`n4: configuration entry \d+: .*voters n1,n2,n3,n4\b.*\(in use now`))
	n4.waitOutput(t, regexp.MustCompile(`n4: now a voter of cluster demo \(voters n1,n2,n3,n4, set at index \d+\)`))
	waitUntil(t, "n4 a voter in the API", func() bool {
		c := configInfo(t, base)
		return slices.Equal(c.Voters, []string{"n1", "n2", "n3", "n4"})
	})
	srv.waitOutput(t, regexp.MustCompile(`hub: n4 asked to be added to cluster demo`))
	// The server's members dial n4 once their nodes use a configuration naming it: n4 dialed
	// them before it was added, and they held its address. (They look twice a second: without
	// this wait the whole test can run in less, and n4 be removed before they ever linked.)
	for _, id := range []string{"n2", "n3"} {
		srv.waitOutput(t, regexp.MustCompile(id+`: n4 is in cluster demo's configuration \(.*n4.*\): dialing it at 127\.0\.0\.1:\d+`))
	}
	mustCommand(t, base, "put x 2")

	// Remove n1 (perhaps the leader): the server stops it.
	code, body := change(t, base, "remove n1")
	if code != http.StatusOK {
		t.Fatalf("remove n1: %d %s", code, body)
	}
	var res struct {
		Change string
		Voters []string
	}
	if err := json.Unmarshal([]byte(body), &res); err != nil || res.Change != "remove n1" || !slices.Equal(res.Voters, []string{"n2", "n3", "n4"}) {
		t.Fatalf("remove n1 answered %s; want voters n2,n3,n4", body)
	}
	srv.waitOutput(t, regexp.MustCompile(`member n1 was removed from cluster demo: stopped it`))
	// n4's direct link to n1 is closed, and n1 no longer dialed.
	n4.waitOutput(t, regexp.MustCompile(`n4: n1 is not in cluster demo's configuration \(voters n2,n3,n4, committed at index \d+\): closed the direct link to it and stopped dialing it, until it is added back`))
	c := configInfo(t, base)
	if !slices.Equal(c.Voters, []string{"n2", "n3", "n4"}) {
		t.Fatalf("voters after removing n1: %v", c.Voters)
	}
	for _, m := range c.Members {
		if m.ID == "n1" {
			t.Errorf("n1 still listed after its removal: %+v", c.Members)
		}
		if !m.Voter {
			t.Errorf("member %s is not a voter: %+v", m.ID, m)
		}
	}
	// Commands commit with voters n2, n3, n4 (a new election may be needed if n1 led).
	for _, cmd := range []string{"put y 3", "put z 4", "get x"} {
		mustCommand(t, base, cmd)
	}
	if code, body := change(t, base, "remove n1"); code != http.StatusConflict || !strings.Contains(body, "n1 is not a member") {
		t.Errorf("removing n1 again = %d %s; want 409 not a member", code, body)
	}

	// Remove n4: its process says so and exits 0; n2 and n3 go on.
	code, body = change(t, base, "remove n4")
	if code != http.StatusOK {
		t.Fatalf("remove n4: %d %s", code, body)
	}
	select {
	case <-n4.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("n4 kept running after its removal:\n%s", n4.output())
	}
	if code := n4.cmd.ProcessState.ExitCode(); code != 0 || !strings.Contains(n4.output(), "member n4 was removed from cluster demo") {
		t.Errorf("n4 after its removal: exit %d:\n%s\nwant exit 0 and a message", code, n4.output())
	}
	mustCommand(t, base, "put w 5")
	// The server's members forget n4: nobody dials its address again.
	for _, id := range []string{"n2", "n3"} {
		srv.waitOutput(t, regexp.MustCompile(id+`: n4 is not in cluster demo's configuration \(voters n2,n3, committed at index \d+\): closed the direct link to it and stopped dialing it, until it is added back`))
	}
	// A removed member that comes back without -add is refused.
	again := startProc(t, "n4 again", "node", "-cluster", "demo", "-id", "n4", "-join", "ws://"+base+"/ws", "-data", filepath.Join(dir, "n4"))
	select {
	case <-again.done:
	case <-time.After(30 * time.Second):
		t.Fatalf("a removed n4 without -add kept running:\n%s", again.output())
	}
	if code := again.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(again.output(), "n4 is not a member of cluster") {
		t.Errorf("a removed n4 without -add: exit %d:\n%s", code, again.output())
	}

	// The server restarted with the same flags: the configuration is in the logs, not in
	// -members. The server stops n1 again, and n2 and n3 go on.
	srv.stop(t)
	srv, base = startServer(t, "127.0.0.1:0", "-cluster", "demo", "-members", "n1,n2,n3", "-native", "n1,n2,n3", "-data", dir)
	srv.waitOutput(t, regexp.MustCompile(`member n1 was removed from cluster demo: stopped it`))
	waitUntil(t, "voters n2,n3 after the restart", func() bool { return slices.Equal(configInfo(t, base).Voters, []string{"n2", "n3"}) })
	mustCommand(t, base, "put v 6")
	if out := mustCommand(t, base, "get y"); out["value"] != "3" {
		t.Errorf("get y after the restart = %v; want 3", out)
	}
}
