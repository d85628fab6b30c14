//go:build !js

// Process tests: the real server binary and `server node` processes on loopback, killed with
// SIGKILL and restarted from their bbolt files. Wall time is involved, so waits poll with a
// deadline.

package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
)

// serverBinary builds the server once per test run.
func serverBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "raftlab-bin")
		if err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(dir, "raftlab")
		out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return binPath
}

// proc is a running process whose output is kept.
type proc struct {
	name string
	cmd  *exec.Cmd
	mu   sync.Mutex
	out  bytes.Buffer
	done chan struct{}
}

func (p *proc) Write(b []byte) (int, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.Write(b)
}

func (p *proc) output() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.out.String()
}

func startProc(t *testing.T, name string, args ...string) *proc {
	t.Helper()
	p := &proc{name: name, done: make(chan struct{})}
	p.cmd = exec.Command(serverBinary(t), args...)
	p.cmd.Stdout, p.cmd.Stderr = p, p
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		p.cmd.Process.Kill()
		<-p.done
		if t.Failed() {
			t.Logf("output of %s:\n%s", p.name, p.output())
		}
	})
	return p
}

func (p *proc) kill(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s did not die", p.name)
	}
}

// stop sends SIGTERM and waits for a clean exit.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		t.Fatalf("%s did not stop on SIGTERM", p.name)
	}
	if code := p.cmd.ProcessState.ExitCode(); code != 0 {
		t.Errorf("%s exited with %d after SIGTERM; want 0", p.name, code)
	}
}

func (p *proc) waitOutput(t *testing.T, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		if m := re.FindStringSubmatch(p.output()); m != nil {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not print %v; it printed:\n%s", p.name, re, p.output())
		}
		select {
		case <-p.done:
			if m := re.FindStringSubmatch(p.output()); m != nil {
				return m
			}
			t.Fatalf("%s exited (%v) without printing %v:\n%s", p.name, p.cmd.ProcessState, re, p.output())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

var servingRE = regexp.MustCompile(`serving the lab on http://[^:]+:(\d+)/`)

// startServer starts the server on a free port (or the given one) and returns it and its base
// URL.
func startServer(t *testing.T, addr string, args ...string) (*proc, string) {
	t.Helper()
	p := startProc(t, "server", append([]string{"-addr", addr}, args...)...)
	port := p.waitOutput(t, servingRE)[1]
	return p, "127.0.0.1:" + port
}

type apiMember struct {
	ID        string
	Kind      string
	Reachable bool
	State     string
	Term      uint64
	Commit    uint64
	Applied   uint64
	Last      uint64
}

type apiCluster struct {
	Leader  string
	Term    uint64
	Members []apiMember
}

func clusterInfo(t *testing.T, base string) apiCluster {
	t.Helper()
	resp, err := http.Get("http://" + base + "/api/clusters/demo")
	if err != nil {
		return apiCluster{}
	}
	defer resp.Body.Close()
	var c apiCluster
	json.NewDecoder(resp.Body).Decode(&c)
	return c
}

func (c apiCluster) member(id string) apiMember {
	for _, m := range c.Members {
		if m.ID == id {
			return m
		}
	}
	return apiMember{}
}

// command posts a kv command and returns the status code and the decoded answer.
func command(t *testing.T, base, cmd string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Post("http://"+base+"/api/clusters/demo/commands?timeout=10s", "text/plain", strings.NewReader(cmd))
	if err != nil {
		t.Fatalf("POST %q: %v", cmd, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatalf("POST %q: %s: %s", cmd, resp.Status, b)
	}
	return resp.StatusCode, out
}

func mustCommand(t *testing.T, base, cmd string) map[string]any {
	t.Helper()
	code, out := command(t, base, cmd)
	if code != http.StatusOK {
		t.Fatalf("POST %q = %d %v", cmd, code, out)
	}
	return out
}

func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func startNodeProc(t *testing.T, base, dir, id string) *proc {
	t.Helper()
	return startProc(t, id, "node", "-cluster", "demo", "-id", id, "-join", "ws://"+base+"/ws", "-data", filepath.Join(dir, id))
}

var restoredRE = regexp.MustCompile(`restored term (\d+) with (\d+) log entr(?:y|ies)`)

// TestNodeProcesses: three `server node` processes form a cluster through the server; SIGKILL
// the leader, a new one is elected, the killed one restarts and catches up from its file; then
// every process restarts and every command is still there.
func TestNodeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	srv, base := startServer(t, "127.0.0.1:0", "-cluster", "demo", "-members", "n1,n2,n3")
	nodes := map[string]*proc{}
	for _, id := range []string{"n1", "n2", "n3"} {
		nodes[id] = startNodeProc(t, base, dir, id)
	}
	waitUntil(t, "a leader", func() bool { return clusterInfo(t, base).Leader != "" })
	for i := range 10 {
		mustCommand(t, base, fmt.Sprintf("put k%d v%d", i, i))
	}

	// SIGKILL the leader: the others elect a new one and keep committing. (Under load an
	// election may be under way just now: wait for the leader to be known.)
	var info apiCluster
	waitUntil(t, "a known leader", func() bool { info = clusterInfo(t, base); return nodes[info.Leader] != nil })
	old := info.Leader
	nodes[old].kill(t)
	waitUntil(t, "a new leader", func() bool {
		c := clusterInfo(t, base)
		return c.Leader != "" && c.Leader != old && c.Term > info.Term
	})
	for i := 10; i < 20; i++ {
		mustCommand(t, base, fmt.Sprintf("put k%d v%d", i, i))
	}
	if m := clusterInfo(t, base).member(old); m.Reachable {
		t.Errorf("killed member %s is reported reachable", old)
	}

	// Restart it: it restores its log from disk and catches up with the rest.
	nodes[old] = startNodeProc(t, base, dir, old)
	m := nodes[old].waitOutput(t, restoredRE)
	if m[2] == "0" {
		t.Errorf("restarted %s restored no log entries: %q", old, m[0])
	}
	waitUntil(t, old+" to catch up", func() bool {
		c := clusterInfo(t, base)
		lm := c.member(c.Leader)
		om := c.member(old)
		return om.Reachable && lm.Commit > 0 && om.Applied == lm.Commit
	})

	// Restart every process: the server and all nodes, the nodes killed with SIGKILL.
	for _, id := range []string{"n1", "n2", "n3"} {
		nodes[id].kill(t)
	}
	srv.stop(t)
	_, base = startServer(t, "127.0.0.1:0", "-cluster", "demo", "-members", "n1,n2,n3")
	for _, id := range []string{"n1", "n2", "n3"} {
		nodes[id] = startNodeProc(t, base, dir, id)
	}
	waitUntil(t, "a leader after the restart", func() bool { return clusterInfo(t, base).Leader != "" })
	for i := range 20 {
		out := mustCommand(t, base, fmt.Sprintf("get k%d", i))
		if out["value"] != fmt.Sprintf("v%d", i) || out["found"] != true {
			t.Errorf("after restarting everything, get k%d = %v; want v%d", i, out, i)
		}
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		nodes[id].stop(t)
	}
}

var snapshotRE = regexp.MustCompile(`restored term (\d+) with a snapshot up to (\d+) \((\d+) bytes\) and (\d+) log entr(?:y|ies) after it`)

// TestNodeProcessRestartsFromSnapshot: with -compact 10 the node processes compact their
// files; one SIGKILLed while the others commit restarts from its snapshot, is caught up, and
// the key-value state is whole.
func TestNodeProcessRestartsFromSnapshot(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	_, base := startServer(t, "127.0.0.1:0", "-cluster", "demo", "-members", "n1,n2,n3", "-compact", "10")
	nodes := map[string]*proc{}
	for _, id := range []string{"n1", "n2", "n3"} {
		nodes[id] = startNodeProc(t, base, dir, id)
	}
	waitUntil(t, "a leader", func() bool { return clusterInfo(t, base).Leader != "" })
	for i := range 30 {
		mustCommand(t, base, fmt.Sprintf("put k%d v%d", i%5, i))
	}
	var info apiCluster
	waitUntil(t, "a known leader", func() bool { info = clusterInfo(t, base); return nodes[info.Leader] != nil })
	follower := "n1"
	if follower == info.Leader {
		follower = "n2"
	}
	waitUntil(t, follower+" to apply the commands", func() bool { return clusterInfo(t, base).member(follower).Applied >= 31 })
	nodes[follower].kill(t)
	for i := 30; i < 60; i++ {
		mustCommand(t, base, fmt.Sprintf("put k%d v%d", i%5, i))
	}
	nodes[follower] = startNodeProc(t, base, dir, follower)
	m := nodes[follower].waitOutput(t, snapshotRE)
	if si, _ := strconv.Atoi(m[2]); si < 20 {
		t.Errorf("restarted %s from a snapshot up to %d; want one after its 31 applied entries: %q", follower, si, m[0])
	}
	if after, _ := strconv.Atoi(m[4]); after > 11 {
		t.Errorf("restarted %s with %d log entries after its snapshot; want at most the threshold and one more: %q", follower, after, m[0])
	}
	waitUntil(t, follower+" to catch up", func() bool {
		c := clusterInfo(t, base)
		lm, om := c.member(c.Leader), c.member(follower)
		return om.Reachable && lm.Commit >= 61 && om.Applied == lm.Commit
	})
	for i := 55; i < 60; i++ {
		if out := mustCommand(t, base, fmt.Sprintf("get k%d", i%5)); out["value"] != fmt.Sprintf("v%d", i) {
			t.Errorf("get k%d = %v; want v%d", i%5, out, i)
		}
	}
	for _, id := range []string{"n1", "n2", "n3"} {
		nodes[id].stop(t)
	}
}

// TestMixedServerNatives runs native members inside the server next to a node process, and
// checks the server restores them from -data.
func TestMixedServerNatives(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	args := []string{"-cluster", "demo", "-members", "n1,n2,n3,b1,b2", "-native", "n1,n2", "-data", filepath.Join(dir, "server")}
	srv, base := startServer(t, "127.0.0.1:0", args...)
	srv.waitOutput(t, regexp.MustCompile(`hosting cluster demo with members n1,n2,n3,b1,b2; n1,n2 run natively`))
	// The start-up says how the others join, and when to open the page.
	_, port, _ := strings.Cut(base, ":")
	srv.waitOutput(t, regexp.MustCompile(regexp.QuoteMeta("raftlab: n3,b1,b2 join as server node processes (-cluster demo -join ws://localhost:"+port+"/ws) or from pages (http://localhost:"+port+"/?cluster=demo, which hosts the members nobody hosts yet: open it once the processes have joined)")))
	n3 := startNodeProc(t, base, dir, "n3")
	waitUntil(t, "a leader", func() bool { return clusterInfo(t, base).Leader != "" })
	mustCommand(t, base, "put x 1")
	info := clusterInfo(t, base)
	for _, id := range []string{"n1", "n2", "n3"} {
		if m := info.member(id); !m.Reachable || m.Kind != "native" {
			t.Errorf("member %s = %+v; want a reachable native member", id, m)
		}
	}
	for _, id := range []string{"b1", "b2"} {
		if m := info.member(id); m.Reachable || m.Kind != "browser" {
			t.Errorf("member %s = %+v; want an unreachable browser member", id, m)
		}
	}
	// A second process for n3 is refused with a clear message, and exits 1.
	dup := startNodeProc(t, base, filepath.Join(dir, "dup"), "n3")
	select {
	case <-dup.done:
	case <-time.After(15 * time.Second):
		t.Fatal("a second process for n3 kept running")
	}
	if code := dup.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(dup.output(), "member n3 is already hosted by a native connection") {
		t.Errorf("duplicate n3: exit %d:\n%s\nwant exit 1 saying n3 is already hosted", code, dup.output())
	}
	// Restart the server on the same address: n3 keeps running, reconnects by itself, and the
	// cluster, its natives restored from -data, still holds x.
	srv.stop(t)
	startServer(t, base, args...)
	waitUntil(t, "n3 to reconnect and a leader", func() bool {
		c := clusterInfo(t, base)
		return c.Leader != "" && c.member("n3").Reachable
	})
	if out := mustCommand(t, base, "get x"); out["value"] != "1" {
		t.Errorf("after restarting the server, get x = %v; want 1", out)
	}
	if !strings.Contains(n3.output(), "reconnecting in") {
		t.Errorf("n3 did not say it was reconnecting:\n%s", n3.output())
	}
	n3.stop(t)
}

func TestCommandFlags(t *testing.T) {
	bin := serverBinary(t)
	dir := t.TempDir()
	garbage := filepath.Join(dir, "bad")
	os.MkdirAll(garbage, 0o755)
	os.WriteFile(filepath.Join(garbage, "n1.db"), bytes.Repeat([]byte("junk"), 4096), 0o600)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"-members", "n1,n2"}, 2, "-members, -native, -processes, -prevote, -checkquorum, -compact and -election-timeout need -cluster"},
		{[]string{"-prevote"}, 2, "-members, -native, -processes, -prevote, -checkquorum, -compact and -election-timeout need -cluster"},
		{[]string{"-compact", "50"}, 2, "-members, -native, -processes, -prevote, -checkquorum, -compact and -election-timeout need -cluster"},
		{[]string{"-election-timeout", "2s"}, 2, "need -cluster"},
		{[]string{"-cluster", "demo", "-members", "n1", "-compact", "-5"}, 2, "want a number of entries, or 0 to never compact"},
		{[]string{"-cluster", "demo", "-members", "n1", "-election-timeout", "50ms"}, 2, "-election-timeout 50ms: want whole milliseconds from 100ms to 60s"},
		{[]string{"-cluster", "demo", "-members", "n1", "-election-timeout", "1500us"}, 2, "want whole milliseconds"},
		{[]string{"-cluster", "demo"}, 2, "needs -members"},
		{[]string{"-cluster", "demo", "-members", "n1,n1"}, 2, `member "n1" listed twice`},
		{[]string{"-cluster", "demo", "-members", "n1,n 2"}, 2, "use letters, digits"},
		{[]string{"-cluster", "demo", "-members", "n1,n2", "-native", "n9", "-data", dir}, 2, "n9 is not one of -members"},
		{[]string{"-cluster", "demo", "-members", "n1,n2", "-native", "n1"}, 2, "-native needs -data"},
		{[]string{"-processes", "n1"}, 2, "need -cluster"},
		{[]string{"-cluster", "demo", "-members", "n1,n2", "-processes", "n3"}, 2, "-processes: n3 is not one of -members n1,n2"},
		{[]string{"-cluster", "demo", "-members", "n1,n2", "-processes", "n1,n2", "-native", "n2", "-data", dir}, 2, "-processes: n2 is also in -native"},
		{[]string{"-cluster", "demo", "-members", "n1,n2", "-processes", "n1,n1"}, 2, `-processes: member "n1" listed twice`},
		{[]string{"-cluster", "demo", "-members", "n1", "-allow-origin", "example.org"}, 2, "want an origin such as"},
		{[]string{"-cluster", "demo", "-members", "n1,n2", "-native", "n1", "-data", garbage}, 1, "not a raftlab storage file or is corrupt"},
		{[]string{"node", "-cluster", "demo", "-id", "n3"}, 2, "-join is required"},
		{[]string{"node", "-cluster", "demo", "-id", "n3", "-join", "localhost:8080", "-data", dir}, 2, "want a WebSocket URL"},
		{[]string{"node", "-cluster", "demo", "-id", "n3", "-join", "ws://localhost:8080", "-data", dir}, 2, "no path; the server's WebSocket endpoint is /ws: ws://localhost:8080/ws"},
		{[]string{"node", "-cluster", "de mo", "-id", "n3", "-join", "ws://localhost:1/ws", "-data", dir}, 2, "-cluster: cluster name"},
		{[]string{"node", "-cluster", "demo", "-id", "n3", "-join", "ws://localhost:1/ws", "-data", filepath.Join(garbage, "n1.db")}, 2, "is a file; want a directory"},
		{[]string{"node", "-cluster", "demo", "-id", "n3", "-join", "ws://localhost:1/ws", "-data", dir, "-peer", "nowhere"}, 2, `-peer: "nowhere": want host:port`},
		{[]string{"node", "-cluster", "demo", "-id", "n3", "-join", "ws://localhost:1/ws", "-data", dir, "-peer", "192.0.2.1:7001"}, 1, "direct links: peer: listen on 192.0.2.1:7001"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			cmd := exec.Command(bin, append([]string{}, tc.args...)...)
			if tc.args[0] != "node" {
				cmd.Args = append(cmd.Args, "-addr", "127.0.0.1:0")
			}
			out, _ := cmd.CombinedOutput()
			if code := cmd.ProcessState.ExitCode(); code != tc.code || !strings.Contains(string(out), tc.want) {
				t.Errorf("server %s: exit %d, %q; want exit %d and %q", strings.Join(tc.args, " "), code, out, tc.code, tc.want)
			}
		})
	}
}

// TestNodeRefusedByServer: a node whose cluster or id the server does not know exits 1 and
// says why.
func TestNodeRefusedByServer(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	_, base := startServer(t, "127.0.0.1:0", "-cluster", "demo", "-members", "n1,n2,n3")
	for _, tc := range []struct{ cluster, id, want string }{
		{"demo", "n9", "n9 is not a member of cluster"},
		{"class", "n1", `no cluster "class"`},
	} {
		p := startProc(t, tc.id, "node", "-cluster", tc.cluster, "-id", tc.id, "-join", "ws://"+base+"/ws", "-data", t.TempDir())
		select {
		case <-p.done:
		case <-time.After(15 * time.Second):
			t.Fatalf("node %s/%s kept running", tc.cluster, tc.id)
		}
		if code := p.cmd.ProcessState.ExitCode(); code != 1 || !strings.Contains(p.output(), tc.want) {
			t.Errorf("node %s/%s: exit %d:\n%s\nwant exit 1 and %q", tc.cluster, tc.id, code, p.output(), tc.want)
		}
	}
}

// TestNodeAPIBeforeWelcome: a node process's -http answers from the start. A request that
// comes before the member runs waits for it (startWait): when the server never answers, 503
// and why, instead of a request that hangs in the listen queue for ever; when the server
// comes, the member's answer.
func TestNodeAPIBeforeWelcome(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close() // nothing listens there now
		return ln.Addr().String()
	}
	client := &http.Client{Timeout: 30 * time.Second}
	do := func(addr, method, path, body string) (int, string) {
		r, _ := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
		resp, err := client.Do(r)
		if err != nil {
			return 0, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	listenRE := regexp.MustCompile(`member n2 listening on http://(\S+) \(requests wait for the member to run\)`)

	// No server: 503 and why, to each request, after the wait.
	nowhere := free()
	p := startProc(t, "n2", "node", "-cluster", "demo", "-id", "n2", "-join", "ws://"+nowhere+"/ws", "-data", t.TempDir(), "-http", "127.0.0.1:0")
	addr := p.waitOutput(t, listenRE)[1]
	var wg sync.WaitGroup
	for _, req := range []struct{ method, path, body string }{
		{"GET", "/api/clusters/demo", ""},
		{"POST", "/api/clusters/demo/commands", "put x 1"},
		{"GET", "/metrics", ""},
	} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, body := do(addr, req.method, req.path, req.body)
			want := "member n2 is not running yet (waited 5s): it waits for the welcome of the server at ws://" + nowhere + "/ws"
			if code != http.StatusServiceUnavailable || !strings.Contains(body, want) {
				t.Errorf("%s %s before the member runs: %d %s; want 503 and %q", req.method, req.path, code, body, want)
			}
		}()
	}
	wg.Wait()

	// The server comes while a command waits: the command is answered once the member runs.
	at := free()
	p2 := startProc(t, "n2 again", "node", "-cluster", "demo", "-id", "n2", "-join", "ws://"+at+"/ws", "-data", t.TempDir(), "-http", "127.0.0.1:0")
	addr2 := p2.waitOutput(t, listenRE)[1]
	answer := make(chan string, 1)
	go func() {
		code, body := do(addr2, "POST", "/api/clusters/demo/commands?timeout=10s", "put x 1")
		answer <- fmt.Sprintf("%d %s", code, body)
	}()
	startServer(t, at, "-cluster", "demo", "-members", "n2")
	if got := <-answer; !strings.HasPrefix(got, "200 ") || !strings.Contains(got, `"outcome": "applied"`) {
		t.Errorf("a command sent before the member ran: %s; want 200 and applied", got)
	}
}
