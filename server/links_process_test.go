//go:build !js

// The README's fault-tolerance demo as processes: the server hosts cluster demo, whose three
// members run as `server node` processes linked directly to each other. Kill any one process,
// the server included, and the others go on.

package main

import (
	"bufio"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

var metricsRE = regexp.MustCompile(`member (\S+) serving http://(\S+)/metrics`)

// readmeDemo returns the arguments of the README's fault-tolerance demo: the server's, and a
// function giving member i's node process's with the server at base, its data under dir and
// its HTTP on a free port. The test runs exactly what the README shows, but for addresses.
func readmeDemo(t *testing.T) (server []string, node func(i int, base, dir string) []string) {
	t.Helper()
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	block := readmeBlock(t, string(b), "**Kill any one process, the server included.**", "sh")
	lines := strings.Split(strings.TrimSpace(block), "\n")
	if len(lines) != 3 {
		t.Fatalf("the README's demo has %d commands; want 3:\n%s", len(lines), block)
	}
	srv, ok := strings.CutPrefix(lines[0], "go run ./server ")
	loop, ok2 := strings.CutPrefix(lines[1], "for i in 1 2 3; do go run ./server ")
	loop, ok3 := strings.CutSuffix(loop, " & done")
	if !ok || !ok2 || !ok3 {
		t.Fatalf("the README's demo is not a server command and a loop of three node processes:\n%s", block)
	}
	if want := "curl -d 'put x 1' localhost:9002/api/clusters/demo/commands"; lines[2] != want {
		t.Fatalf("the README's third command is %q; the test runs %q", lines[2], want)
	}
	return strings.Fields(srv), func(i int, base, dir string) []string {
		args := strings.Fields(strings.ReplaceAll(loop, "$i", strconv.Itoa(i)))
		for j, a := range args {
			switch {
			case a == "ws://localhost:8080/ws":
				args[j] = "ws://" + base + "/ws"
			case strings.HasPrefix(a, "./data/"):
				args[j] = filepath.Join(dir, strings.TrimPrefix(a, "./data/"))
			case a == fmt.Sprintf("localhost:900%d", i):
				args[j] = "127.0.0.1:0"
			}
		}
		return args
	}
}

// startDemoNode starts member i as a node process as the README does, with -http on a free
// port, and returns it and the address of its HTTP server.
func startDemoNode(t *testing.T, node func(int, string, string) []string, i int, base, dir string) (*proc, string) {
	t.Helper()
	p := startProc(t, fmt.Sprintf("n%d", i), node(i, base, dir)...)
	return p, p.waitOutput(t, metricsRE)[2]
}

// nodeMetrics reads a node process's member gauges: state (the role whose gauge is 1), term
// and commit index. ok is false when the process does not answer.
type nodeView struct {
	State          string
	Term, Commit   uint64
	Applied, Last  uint64
	Sent, Received uint64
}

func readNode(addr string) (nodeView, bool) {
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		return nodeView{}, false
	}
	defer resp.Body.Close()
	var v nodeView
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		labels, val, _ := strings.Cut(rest, "} ")
		n, _ := strconv.ParseFloat(val, 64)
		switch name {
		case "raftlab_member_state":
			if n == 1 {
				_, s, _ := strings.Cut(labels, `state="`)
				v.State, _, _ = strings.Cut(s, `"`)
			}
		case "raftlab_member_term":
			v.Term = uint64(n)
		case "raftlab_member_commit_index":
			v.Commit = uint64(n)
		case "raftlab_member_applied_index":
			v.Applied = uint64(n)
		case "raftlab_member_last_index":
			v.Last = uint64(n)
		}
	}
	return v, true
}

// TestServerKilledMajorityGoesOn: server + n1, n2, n3 as node processes. With the server
// killed (SIGKILL), the node processes still reach each other over their direct links: 10 of
// 10 commands commit through n2's own API, and the leadership moves through it; a follower killed and restarted catches up; when
// their leader is killed too, the two left elect a new one and commit without any server; the killed processes come back (the server on its address, the node from its
// file), everyone rejoins, and commands through the server's API apply everywhere.
func TestServerKilledMajorityGoesOn(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	args, node := readmeDemo(t)
	srv, base := startServer(t, "127.0.0.1:0", args...)
	srv.waitOutput(t, regexp.MustCompile(`raftlab: n1,n2,n3 join as server node processes \(-cluster demo -join ws://[^ ]+/ws\); pages \(http://[^ ]+/\?cluster=demo\) watch`))
	nodes, addrs := map[string]*proc{}, map[string]string{}
	for i := 1; i <= 3; i++ {
		id := fmt.Sprintf("n%d", i)
		nodes[id], addrs[id] = startDemoNode(t, node, i, base, dir)
	}
	waitUntil(t, "a leader", func() bool { return clusterInfo(t, base).Leader != "" })
	if out := mustCommand(t, addrs["n2"], "put x 1"); out["outcome"] != "applied" {
		t.Errorf("the README's command through n2: %v", out)
	}
	for i := range 5 {
		mustCommand(t, base, fmt.Sprintf("put k%d v%d", i, i))
	}
	// Every member has a direct link to each other one.
	for id, p := range nodes {
		for other := range nodes {
			if other != id {
				p.waitOutput(t, regexp.MustCompile(`direct link to `+other+` at \S+ is up`))
			}
		}
	}

	srv.kill(t)
	// Commands go on through a node's own API (-http), which forwards them to the leader.
	for i := range 10 {
		mustCommand(t, addrs["n2"], fmt.Sprintf("put s%d v%d", i, i))
	}
	// The leader, as the members see it (the server is gone).
	var leader string
	var term uint64
	waitUntil(t, "the node processes to agree on a leader without the server", func() bool {
		leader, term = "", 0
		for id, a := range addrs {
			if v, ok := readNode(a); ok && v.State == "leader" && v.Term > term {
				leader, term = id, v.Term
			}
		}
		return leader != ""
	})
	// The leadership moves through n2's API too (forwarded to the leader's when n2 does not
	// lead), and the answer comes once the new leader leads, which its metrics then say.
	to := "n3"
	if leader == to {
		to = "n1"
	}
	code, out := transfer(t, addrs["n2"], "?to="+to+"&timeout=20s")
	newTerm, _ := out["term"].(float64)
	if code != http.StatusOK || out["transfer"] != to || out["from"] != leader || uint64(newTerm) <= term {
		t.Fatalf("transfer to %s through n2's API, the server down (leader %s, term %d): %d %v", to, leader, term, code, out)
	}
	leader, term = to, uint64(newTerm)
	if v, ok := readNode(addrs[leader]); !ok || v.State != "leader" || v.Term != term {
		t.Fatalf("after the transfer: %s's metrics say %+v; want leader in term %d", leader, v, term)
	}
	mustCommand(t, addrs["n2"], "put after transfer")
	// A follower killed and restarted while the server is down starts from the welcome it
	// saved, links to the others (their addresses saved too; they learn its new one from its
	// dial) and catches up.
	follower := "n1"
	if follower == leader {
		follower = "n3"
	}
	nodes[follower].kill(t)
	mustCommand(t, addrs["n2"], "put while f down")
	fi, _ := strconv.Atoi(strings.TrimPrefix(follower, "n"))
	nodes[follower], addrs[follower] = startDemoNode(t, node, fi, base, dir)
	nodes[follower].waitOutput(t, regexp.MustCompile(follower+`: no welcome from the hub at ws://\S+ in 3s: starting from its last one, saved in \S+ \(members \[n1 n2 n3\], direct links to \[n\d n\d\]\)`))
	waitUntil(t, follower+" to catch up without the server", func() bool {
		l, _ := readNode(addrs[leader])
		f, ok := readNode(addrs[follower])
		return ok && f.Applied >= l.Commit && l.Commit > 0
	})
	lv, _ := readNode(addrs[leader])
	nodes[leader].kill(t)
	var rest []string
	for id := range nodes {
		if id != leader {
			rest = append(rest, id)
		}
	}
	// The two left elect a leader of a later term and commit its first entry: past the old
	// leader's last index.
	var newLeader string
	waitUntil(t, "a new leader elected and committing without the server", func() bool {
		newLeader = ""
		for _, id := range rest {
			v, ok := readNode(addrs[id])
			if ok && v.State == "leader" && v.Term > term && v.Commit > lv.Last {
				newLeader = id
			}
		}
		return newLeader != ""
	})
	for _, id := range rest {
		waitUntil(t, id+" to apply the new leader's entry", func() bool {
			v, ok := readNode(addrs[id])
			return ok && v.Applied > lv.Last
		})
	}
	// Through the one that does not lead: it forwards to the new leader's API, whose address
	// it learned from the hub or, for the follower restarted without the server, from its
	// dial.
	via := rest[0]
	if via == newLeader {
		via = rest[1]
	}
	if out := mustCommand(t, addrs[via], "get s9"); out["value"] != "v9" {
		t.Errorf("without the server and the old leader, get s9 through %s = %v; want v9", via, out)
	}

	// The server returns on its address; the node processes reconnect and say so, and the
	// killed node restarts from its file and catches up.
	startServer(t, base, args...)
	// The old leader's process is still down: the restarted server knows from -processes that
	// it runs as a process, so a page opened now watches it instead of running it with no state.
	if m := clusterInfo(t, base).member(leader); m.Kind != "native" || m.Reachable {
		t.Errorf("%s, whose process is down, on the restarted server: %+v; want kind native, unreachable", leader, m)
	}
	for _, id := range rest {
		nodes[id].waitOutput(t, regexp.MustCompile(id+`: rejoined cluster demo through ws://`+regexp.QuoteMeta(base)+`/ws \(the hub's members: n1,n2,n3; direct links up to [n1-3,]+\)`))
	}
	li, _ := strconv.Atoi(strings.TrimPrefix(leader, "n"))
	nodes[leader], addrs[leader] = startDemoNode(t, node, li, base, dir)
	waitUntil(t, "every member reachable and a leader", func() bool {
		c := clusterInfo(t, base)
		return c.Leader != "" && c.member("n1").Reachable && c.member("n2").Reachable && c.member("n3").Reachable
	})
	mustCommand(t, base, "put after back")
	for i := range 5 {
		if out := mustCommand(t, base, fmt.Sprintf("get k%d", i)); out["value"] != fmt.Sprintf("v%d", i) {
			t.Errorf("get k%d = %v; want v%d", i, out, i)
		}
	}
	for i := range 10 {
		if out := mustCommand(t, base, fmt.Sprintf("get s%d", i)); out["value"] != fmt.Sprintf("v%d", i) {
			t.Errorf("get s%d, committed while the server was down, = %v; want v%d", i, out, i)
		}
	}
	waitUntil(t, "every member to apply everything", func() bool {
		c := clusterInfo(t, base)
		lc := c.member(c.Leader).Commit
		for _, id := range []string{"n1", "n2", "n3"} {
			if c.member(id).Applied != lc {
				return false
			}
		}
		return true
	})
	for _, p := range nodes {
		p.stop(t)
	}
}

// TestRestartedServerLearnsNatives: without -processes, a server that restarted learns from the
// first node process to reconnect (its hello names the native members it links to) that the
// others run natively, one that is still down included: its API says native, not browser, and
// a page opened now watches it instead of running it with no state.
func TestRestartedServerLearnsNatives(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	args := []string{"-cluster", "demo", "-members", "n1,n2,n3"}
	srv, base := startServer(t, "127.0.0.1:0", args...)
	nodes := map[string]*proc{}
	for _, id := range []string{"n1", "n2", "n3"} {
		nodes[id] = startNodeProc(t, base, dir, id)
	}
	for _, id := range []string{"n2", "n3"} {
		nodes[id].waitOutput(t, regexp.MustCompile(`direct link to n1 at \S+ is up`))
	}
	nodes["n1"].kill(t)
	srv.kill(t)
	nodes["n2"].waitOutput(t, regexp.MustCompile(`n2: lost the server at ws://`+regexp.QuoteMeta(base)+`/ws; Raft messages to the native members go on over the direct links \(up to (?:[n13,]+|none)\), those to members in pages wait for it`))
	startServer(t, base, args...)
	nodes["n2"].waitOutput(t, regexp.MustCompile(`n2: rejoined cluster demo`))
	waitUntil(t, "n2 reachable on the restarted server", func() bool { return clusterInfo(t, base).member("n2").Reachable })
	if m := clusterInfo(t, base).member("n1"); m.Kind != "native" || m.Reachable {
		t.Errorf("n1, whose process is down, on the restarted server: kind %q, reachable %v; want native, unreachable", m.Kind, m.Reachable)
	}
}
