//go:build !js

package main

import (
	"encoding/json"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// transfer posts POST /api/clusters/demo/transfer with query and returns the status code and
// the decoded answer.
func transfer(t *testing.T, base, query string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post("http://"+base+"/api/clusters/demo/transfer"+query, "text/plain", nil)
	if err != nil {
		t.Fatalf("POST transfer%s: %v", query, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("POST transfer%s: %s: %s", query, resp.Status, b)
	}
	return resp.StatusCode, out
}

// TestTransferProcesses: POST /api/clusters/demo/transfer?to=ID hands the leadership to ID,
// wherever the leader runs: n1 inside the server, n2 and n3 as node processes. Each answer
// comes once ID leads a later term, as the API then says; asking for the leader that leads
// answers at once; bad requests are refused, and commands commit throughout.
func TestTransferProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	srv, base := startServer(t, "127.0.0.1:0", "-cluster", "demo", "-members", "n1,n2,n3", "-native", "n1", "-data", dir)
	for _, id := range []string{"n2", "n3"} {
		startNodeProc(t, base, dir, id)
	}
	waitUntil(t, "a leader", func() bool { return clusterInfo(t, base).Leader != "" })
	mustCommand(t, base, "put x 1")

	var lastTerm uint64
	// From whichever leads to n2 (a process), n2 to n1 (a process leader hands over to the
	// server's member), n1 to n3 (the server's member hands over), n3 to n2.
	for i, to := range []string{"n2", "n1", "n3", "n2"} {
		before := clusterInfo(t, base)
		code, out := transfer(t, base, "?to="+to+"&timeout=20s")
		if code != http.StatusOK || out["transfer"] != to {
			t.Fatalf("transfer %d to %s (leader %s): %d %v\n%s", i, to, before.Leader, code, out, srv.output())
		}
		term := uint64(out["term"].(float64))
		if before.Leader != to && (out["from"] != before.Leader || term <= before.Term) {
			t.Errorf("transfer to %s: %v; want from %s, a term after %d", to, out, before.Leader, before.Term)
		}
		if term < lastTerm {
			t.Errorf("transfer to %s: term %d after %d", to, term, lastTerm)
		}
		lastTerm = term
		if c := clusterInfo(t, base); c.Leader != to || c.Term != term {
			t.Errorf("after the transfer to %s: the API says leader %s in term %d; want %s in %d", to, c.Leader, c.Term, to, term)
		}
		mustCommand(t, base, "put x "+to)
	}
	// n2 leads: asking again answers at once, with no handover.
	if code, out := transfer(t, base, "?to=n2"); code != http.StatusOK || out["transfer"] != "n2" || out["from"] != nil || uint64(out["term"].(float64)) != lastTerm {
		t.Errorf("transfer to the leader n2: %d %v; want 200, term %d, no from", code, out, lastTerm)
	}
	srv.waitOutput(t, regexp.MustCompile(`api: n3 began handing its leadership of cluster demo \(term \d+\) to n2`))

	for _, c := range []struct {
		query string
		code  int
		want  string
	}{
		{"", http.StatusBadRequest, "?to=: the member to lead"},
		{"?to=b@d", http.StatusBadRequest, "?to=: the member to lead"},
		{"?to=n9", http.StatusConflict, "n9 is not a voter of cluster demo"},
		{"?to=n1&timeout=forever", http.StatusBadRequest, "timeout"},
	} {
		if code, out := transfer(t, base, c.query); code != c.code || !strings.Contains(out["error"].(string), c.want) {
			t.Errorf("POST transfer%s: %d %v; want %d and %q", c.query, code, out, c.code, c.want)
		}
	}
	if code, out := func() (int, string) {
		resp, err := http.Post("http://"+base+"/api/clusters/nope/transfer?to=n1", "text/plain", nil)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}(); code != http.StatusNotFound {
		t.Errorf("transfer in an unknown cluster: %d %s; want 404", code, out)
	}
	if c := clusterInfo(t, base); c.Leader != "n2" {
		t.Errorf("after refused transfers: leader %s; want n2", c.Leader)
	}
	if out := mustCommand(t, base, "get x"); out["value"] != "n2" {
		t.Errorf("get x = %v; want n2", out)
	}
}
