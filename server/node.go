//go:build !js

// The `node` command: one native member of a cluster as its own process, joined to a server's
// hub over WebSocket, with its state in a bbolt file.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"raftlab/raft/wire"
	"raftlab/server/internal/hub"
	"raftlab/server/internal/member"
	"raftlab/server/internal/metrics"
)

// nodeHTTP is the node process's HTTP server, from the moment -http listens: a request that
// comes before the member runs waits for it, as a command waits for a leader, up to
// startWait, then gets 503 and why (it used to wait in the listen queue, for ever when the
// server never answered); then its /metrics and scripting API.
type nodeHTTP struct {
	srv     *http.Server
	running atomic.Pointer[http.ServeMux]
	ready   chan struct{} // closed by run
	waiting string        // the 503's text
}

// startWait bounds how long a request waits for the member to run.
const startWait = 5 * time.Second

// serveNodeHTTP starts serving ln; requests wait for run.
func serveNodeHTTP(ln net.Listener, cluster, id, join string) *nodeHTTP {
	n := &nodeHTTP{ready: make(chan struct{}), waiting: fmt.Sprintf("member %s is not running yet (waited %v): it waits for the welcome of the server at %s, "+
		"which tells it cluster %s's members (it needs it once; after that it starts from the one it saved when the server is away). "+
		"Is the server running? Try again once this process says the member runs", id, startWait, join, cluster)}
	n.srv = hardenedServer(n, "") // the server's timeouts and bound on each client's requests
	go n.srv.Serve(ln)            // returns when srv is closed
	return n
}

func (n *nodeHTTP) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if n.running.Load() == nil {
		t := time.NewTimer(startWait)
		defer t.Stop()
		select {
		case <-n.ready:
		case <-t.C:
		case <-r.Context().Done():
		}
	}
	if mux := n.running.Load(); mux != nil {
		mux.ServeHTTP(w, r)
		return
	}
	w.Header().Set("Retry-After", "1")
	hub.WriteError(w, http.StatusServiceUnavailable, n.waiting)
}

// run serves the running member's /metrics and scripting API from now on.
func (n *nodeHTTP) run(m *member.Member, cluster, id string) {
	reg := metrics.New(func() []metrics.Member {
		return []metrics.Member{{Cluster: cluster, ID: id, Stats: m.Node().Stats, Writes: m.WriteTimes}}
	}, m.Links())
	reg.MustRegister(m.APICollectors()...)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", metrics.Handler(reg))
	mux.Handle("/api/", m.APIHandler())
	n.running.Store(mux)
	close(n.ready)
}

// runNode runs `server node` until SIGINT or SIGTERM. It returns the exit code: 2 for bad
// flags, 1 when the member cannot start or stops by itself.
func runNode(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server node", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cluster := fs.String("cluster", "", "name of the cluster to join (required)")
	id := fs.String("id", "", "this member's id, one of the cluster's members (required)")
	join := fs.String("join", "", "the server's WebSocket endpoint, e.g. ws://localhost:8080/ws (required)")
	data := fs.String("data", "", "directory for this member's storage file, <data>/<id>.db (required; created if missing)")
	httpAddr := fs.String("http", "", "serve HTTP on this address (host:port; :0 picks a free port): /metrics in the Prometheus text format, and the server's scripting API (GET /api/clusters/NAME[?detail=1], POST /api/clusters/NAME/commands, POST /api/clusters/NAME/transfer?to=ID), forwarded to the leader")
	token := fs.String("token", "", "the cluster token, if the server has one (it prints it at start); default $RAFTLAB_TOKEN")
	peerAddr := fs.String("peer", "", "listen on this address (host:port) for direct links from the other native members; default a free port on 127.0.0.1 when -join names a loopback host, else on every interface. It is announced through the hub")
	add := fs.Bool("add", false, "ask to be added to the cluster: run a member that is not in its configuration yet; it joins as a learner, catches up and becomes a voter")
	fs.Usage = func() {
		fmt.Fprint(stderr, `usage: server node -cluster NAME -id ID -join ws://HOST:PORT/ws -data DIR [-add] [-http ADDR] [-token TOKEN] [-peer ADDR]

Runs one member of a cluster served by `+"`server -cluster NAME -members ...`"+` as its own
process. The initial member list and options (-prevote, -checkquorum, -compact,
-election-timeout) come from the server; the configuration then lives in the log. The
member's term, vote, snapshot and log live in DIR/ID.db and survive restarts and SIGKILL.
With -add, a member outside the configuration asks the leader to add it. Stop it with Ctrl-C
(SIGINT) or SIGTERM; a member removed from the cluster says so and exits with status 0.

The member sends its Raft messages to the other native members over direct TCP links (it
listens on -peer, and learns the others' addresses through the hub), and through the hub to
members in pages or without a link. The addresses stay known when the server goes away, so
native members that form a majority go on electing and committing without it; a member
started while the server is away waits 3 s for it, then starts from the last welcome it
saved (DIR/ID.hub.json). While the server is away the member tries to reconnect every few
seconds: it logs its first attempts with their cause, then one line a minute (and at once a
refusal by a server that answers, such as a page hosting this member); when the server
returns, it reconnects and says so.

flags:
`)
		fs.PrintDefaults()
	}
	if code, ok := parseFlags(fs, args, "server node", stderr); !ok {
		return code
	}
	bad := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "server node: "+format+" (see server node -h)\n", a...)
		return 2
	}
	if fs.NArg() > 0 {
		return bad("unexpected argument %q", fs.Arg(0))
	}
	for _, f := range []struct{ name, val string }{{"cluster", *cluster}, {"id", *id}, {"join", *join}, {"data", *data}} {
		if f.val == "" {
			return bad("-%s is required", f.name)
		}
	}
	if err := wire.CheckID("cluster name", *cluster); err != nil {
		return bad("-cluster: %s", err.(*wire.Error).Msg)
	}
	if err := wire.CheckID("member id", *id); err != nil {
		return bad("-id: %s", err.(*wire.Error).Msg)
	}
	u, err := url.Parse(*join)
	if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") || u.Host == "" {
		return bad("-join %q: want a WebSocket URL such as ws://localhost:8080/ws", *join)
	}
	if u.Path == "" || u.Path == "/" {
		return bad("-join %q: no path; the server's WebSocket endpoint is /ws: ws://%s/ws", *join, u.Host)
	}
	if *peerAddr == "" {
		*peerAddr = ":0"
		if isLoopbackHost(u.Hostname()) {
			*peerAddr = "127.0.0.1:0"
		}
	} else if err := wire.CheckAPIAddr(*peerAddr); err != nil {
		return bad("-peer: %v", err)
	}
	if *token == "" {
		*token = os.Getenv("RAFTLAB_TOKEN")
	}
	if len(*token) > wire.MaxTokenLen {
		return bad("-token: at most %d characters", wire.MaxTokenLen)
	}
	if fi, err := os.Stat(*data); err == nil && !fi.IsDir() {
		return bad("-data %s is a file; want a directory", *data)
	}
	if err := os.MkdirAll(*data, 0o755); err != nil {
		fmt.Fprintf(stderr, "server node: %v\n", err)
		return 1
	}

	logger := log.New(stderr, "node "+*id+": ", log.LstdFlags)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	fmt.Fprintf(stdout, "raftlab: member %s of cluster %s joining %s (storage %s)\n", *id, *cluster, *join, member.StorePath(*data, *id))
	if *add {
		fmt.Fprintf(stdout, "raftlab: member %s asks to be added to cluster %s\n", *id, *cluster)
	}
	// Listen first: the hub learns the API's address from hello and tells the other members.
	var ln net.Listener
	var apiAddr string
	if *httpAddr != "" {
		l, err := net.Listen("tcp", *httpAddr)
		if err != nil {
			fmt.Fprintf(stderr, "server node: -http %s: %v\n", *httpAddr, err)
			return 1
		}
		defer l.Close()
		ln, apiAddr = l, l.Addr().String()
	}
	var web *nodeHTTP
	if ln != nil {
		web = serveNodeHTTP(ln, *cluster, *id, *join)
		defer web.srv.Close()
		fmt.Fprintf(stdout, "raftlab: member %s listening on http://%s (requests wait for the member to run)\n", *id, apiAddr)
	}
	m, err := member.Start(ctx, member.Config{URL: *join, Cluster: *cluster, ID: *id, DataDir: *data, Token: *token, Add: *add, API: apiAddr, Logf: logger.Printf, PeerAddr: *peerAddr})
	if err != nil {
		if ctx.Err() != nil {
			return 0 // interrupted before the server answered
		}
		fmt.Fprintf(stderr, "server node: %v\n", err)
		return 1
	}
	st := m.Node().Status()
	entries := func(n uint64) string {
		if n == 1 {
			return "1 log entry"
		}
		return fmt.Sprintf("%d log entries", n)
	}
	if st.SnapshotIndex > 0 {
		fmt.Fprintf(stdout, "raftlab: member %s running: members %s, restored term %d with a snapshot up to %d (%d bytes) and %s after it\n",
			*id, strings.Join(m.Members(), ","), st.Term, st.SnapshotIndex, st.SnapshotSize, entries(st.LastIndex-st.SnapshotIndex))
	} else {
		fmt.Fprintf(stdout, "raftlab: member %s running: members %s, restored term %d with %s\n",
			*id, strings.Join(m.Members(), ","), st.Term, entries(st.LastIndex))
	}
	fmt.Fprintf(stdout, "raftlab: member %s takes direct links from the other native members on %s\n", *id, m.Peer().Addr())
	if web != nil {
		web.run(m, *cluster, *id)
		fmt.Fprintf(stdout, "raftlab: member %s serving http://%s/metrics and the API at http://%s/api/clusters/%s\n", *id, apiAddr, apiAddr, *cluster)
	}
	code := 0
	select {
	case <-ctx.Done():
		fmt.Fprintf(stdout, "raftlab: member %s stopping\n", *id)
	case <-m.Failed():
		var removed *member.RemovedError
		if err := m.Err(); errors.As(err, &removed) {
			fmt.Fprintf(stdout, "raftlab: %v; stopping\n", err)
		} else if err != nil {
			fmt.Fprintf(stderr, "server node: %v\n", err)
			code = 1
		}
	}
	if err := m.Close(); err != nil && code == 0 {
		fmt.Fprintf(stderr, "server node: %v\n", err)
		code = 1
	}
	return code
}

// isLoopbackHost reports whether a host name or IP can only be this machine.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
