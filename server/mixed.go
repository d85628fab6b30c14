//go:build !js

// Mixed clusters in the server: the -cluster, -members, -native, -data and -allow-origin flags,
// the hub at /ws, the scripting API at /api/, the metrics at /metrics, and the native members
// run in this process.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"raftlab/raft"
	"raftlab/raft/wire"
	"raftlab/server/internal/boltstore"
	"raftlab/server/internal/hub"
	"raftlab/server/internal/linkstats"
	"raftlab/server/internal/member"
	"raftlab/server/internal/metrics"
	"raftlab/server/internal/peer"
	"raftlab/server/native"
)

// clusterFlags are the serve command's flags for a mixed cluster.
type clusterFlags struct {
	cluster, members, native, data string
	processes                      string
	allowOrigins                   stringList
	options                        wire.Options
	electionTimeout                time.Duration
	fs                             *flag.FlagSet // to tell flags given from defaults
	token                          string
	insecure, allowJoin            bool
}

// compactFlag is -compact N, kept in the options the welcome carries: 0 there means the
// default, -1 never.
type compactFlag struct{ o *wire.Options }

func (c compactFlag) String() string {
	if c.o == nil {
		return ""
	}
	switch {
	case c.o.Compact == 0:
		return strconv.Itoa(wire.DefaultCompact)
	case c.o.Compact < 0:
		return "0"
	}
	return strconv.Itoa(c.o.Compact)
}

func (c compactFlag) Set(v string) error {
	n, err := strconv.Atoi(v)
	switch {
	case err != nil || n < 0:
		return errors.New("want a number of entries, or 0 to never compact")
	case n == 0:
		c.o.Compact = -1
	case n == wire.DefaultCompact:
		c.o.Compact = 0
	default:
		c.o.Compact = n
	}
	return nil
}

// DefaultElectionTimeout is a mixed cluster's shortest election timeout. Its members persist
// each step with an fsync, and on a shared machine one can take 250–500 ms: a leader blocked
// that long sends no heartbeat, so the core's 150 ms would depose it (see "Elections under
// load" in the README). etcd and hashicorp/raft default to about a second too.
const DefaultElectionTimeout = time.Second

type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// addClusterFlags registers the mixed-cluster flags on fs.
func addClusterFlags(fs *flag.FlagSet) *clusterFlags {
	f := &clusterFlags{fs: fs}
	fs.StringVar(&f.cluster, "cluster", "", "name of a cluster of browser and native members to host (with -members)")
	fs.StringVar(&f.members, "members", "", "the cluster's initial member ids (its first configuration, all voters), comma-separated, e.g. n1,n2,b1,b2,b3; after that the configuration lives in the log")
	fs.StringVar(&f.native, "native", "", "members to run as native nodes inside this server, e.g. n1,n2 (the others join from pages or server node processes)")
	fs.StringVar(&f.processes, "processes", "", "members that run as server node processes, e.g. n1,n2,n3: pages never host them, even before their processes have joined (a page hosts the members nobody hosts when it opens, which after a server restart can be processes that have not rejoined yet)")
	fs.StringVar(&f.data, "data", "", "directory for the native members' storage files, <data>/<id>.db (required with -native)")
	// On by default: a member that misses its leader's heartbeats for a moment (a restart, a
	// stall) must not depose a leader the others still hear. See "Elections under load" in
	// the README.
	fs.BoolVar(&f.options.PreVote, "prevote", true, "every member asks for pre-votes before it starts an election (Raft thesis 9.6); -prevote=false turns it off")
	fs.BoolVar(&f.options.CheckQuorum, "checkquorum", true, "a leader that has not heard from a majority within an election timeout steps down; -checkquorum=false turns it off")
	fs.Var(compactFlag{&f.options}, "compact", "every member compacts its log into a snapshot once it has applied `N` entries since its last (Raft §7); 0 never compacts")
	fs.DurationVar(&f.electionTimeout, "election-timeout", DefaultElectionTimeout, "the members' shortest election timeout (the longest is twice it); the lab's simulated clusters use 150ms")
	fs.Var(&f.allowOrigins, "allow-origin", "an origin such as https://course.example.org allowed to connect to /ws and to change clusters through /api/ besides the server's own; repeatable; * allows any")
	fs.StringVar(&f.token, "token", "", "the cluster token that node processes (server node -token) and API requests without an Origin (Authorization: Bearer) must present; default $RAFTLAB_TOKEN, or on a non-loopback address with -cluster a random one, printed at start")
	fs.BoolVar(&f.insecure, "insecure", false, "on a non-loopback address, run a cluster without a token: anyone who can reach the server may host native members and submit commands")
	fs.BoolVar(&f.allowJoin, "allow-join", false, "let pages ask to join a cluster as new members (always allowed on loopback)")
	return f
}

// given reports whether the flag was on the command line.
func (f *clusterFlags) given(name string) bool {
	found := false
	if f.fs != nil {
		f.fs.Visit(func(fl *flag.Flag) { found = found || fl.Name == name })
	}
	return found
}

// usageError is a bad flag: the command exits with status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

// splitIDs parses a comma-separated list of member ids.
func splitIDs(flagName, s string) ([]string, error) {
	var ids []string
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		if err := wire.CheckID("member id", p); err != nil {
			return nil, usagef("-%s: %s", flagName, err.(*wire.Error).Msg)
		}
		if slices.Contains(ids, p) {
			return nil, usagef("-%s: member %q listed twice", flagName, p)
		}
		ids = append(ids, p)
	}
	return ids, nil
}

// mixed is what the flags started: the hub and the native members inside the server.
type mixed struct {
	// generatedToken is the token made up at start (printed once); loopback and insecure are
	// what the start-up lines say about access.
	generatedToken     string
	processes          []string // the members reserved for server node processes (-processes)
	loopback, insecure bool

	logf func(string, ...any)
	hub  *hub.Hub
	// The cluster token, which direct links present too, and the host the native members'
	// direct links listen on.
	token, peerHost string
	cluster         string
	options         wire.Options
	mu              sync.Mutex // guards natives, which a removal changes
	natives         []*localMember
	// The watcher of the native members' configuration (see watchConfig).
	quit    chan struct{}
	watched sync.WaitGroup
}

// watchConfig lets the hub read the native members' status twice a second, so that it follows
// the configuration in their logs even when nobody asks (a server restarted with -members
// that its members' logs have moved past: a removed native member is stopped).
func (m *mixed) watchConfig() {
	m.quit = make(chan struct{})
	m.watched.Add(1)
	go func() {
		defer m.watched.Done()
		t := time.NewTicker(500 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-m.quit:
				return
			case <-t.C:
				m.hub.Info(m.cluster)
				// Each member's direct links follow the configuration its node uses.
				for _, n := range m.nativesNow() {
					s := n.node.Status()
					n.roster.Observe(s.Config, s.ConfigIndex, s.ConfigCommitted)
				}
			}
		}
	}()
}

// nativesNow returns the native members running in the server.
func (m *mixed) nativesNow() []*localMember {
	m.mu.Lock()
	defer m.mu.Unlock()
	return slices.Clone(m.natives)
}

// removed stops a native member that was removed from the cluster's configuration (the hub
// has detached it). Its storage file stays.
func (m *mixed) removed(cluster, id string) {
	m.mu.Lock()
	i := slices.IndexFunc(m.natives, func(n *localMember) bool { return n.id == id })
	if i < 0 {
		m.mu.Unlock()
		return
	}
	n := m.natives[i]
	m.natives = slices.Delete(m.natives, i, i+1)
	m.mu.Unlock()
	err := errors.Join(n.node.Stop(), n.peer.Close(), n.store.Close())
	if err != nil {
		m.logf("member %s was removed from cluster %s; stopping it: %v", id, cluster, err)
		return
	}
	m.logf("member %s was removed from cluster %s: stopped it (its file stays)", id, cluster)
}

type localMember struct {
	id     string
	node   *native.Node
	store  *boltstore.Store
	peer   *peer.Transport
	roster *member.Roster // keeps peer's links to the members of node's configuration
}

// onPresence gives the native members in the server the direct-link addresses of the others
// (those in other processes; the server's own reach each other through the hub in memory).
func (m *mixed) onPresence(cluster string, ps []wire.Presence) {
	natives := m.nativesNow()
	for _, p := range ps {
		if p.Addr == "" || slices.ContainsFunc(natives, func(n *localMember) bool { return n.id == p.ID }) {
			continue
		}
		for _, n := range natives {
			n.roster.Learn(p.ID, p.Addr)
		}
	}
}

// start checks the flags and starts the hub and the native members; loopback says whether the
// server listens on loopback only. A *usageError means bad flags; other errors (storage that
// cannot be opened) are failures.
func (f *clusterFlags) start(logf func(string, ...any), loopback bool) (*mixed, error) {
	for _, o := range f.allowOrigins {
		if o == "*" {
			continue
		}
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
			return nil, usagef("-allow-origin %q: want an origin such as https://example.org or http://localhost:3000, or *", o)
		}
	}
	token := f.token
	if token == "" {
		token = os.Getenv("RAFTLAB_TOKEN")
	}
	if token != "" && f.insecure {
		return nil, usagef("-insecure runs without a token, but a token is given (-token or RAFTLAB_TOKEN): choose one")
	}
	if len(token) > wire.MaxTokenLen || strings.ContainsFunc(token, func(r rune) bool { return r <= ' ' || r == 0x7f }) {
		return nil, usagef("-token: want up to %d printable characters without spaces", wire.MaxTokenLen)
	}
	generated := false
	if token == "" && !loopback && f.cluster != "" && !f.insecure {
		var b [16]byte
		rand.Read(b[:])
		token, generated = hex.EncodeToString(b[:]), true
	}
	m := &mixed{logf: logf, cluster: f.cluster, loopback: loopback, insecure: f.insecure}
	if generated {
		m.generatedToken = token
	}
	m.token = token
	m.peerHost = "127.0.0.1"
	if !loopback {
		m.peerHost = "" // every interface; the others reach it at the host they reach the hub at
	}
	m.hub = hub.New(hub.Config{AllowOrigins: f.allowOrigins, Token: token, AllowJoin: f.allowJoin || loopback, LoopbackOnly: loopback, Logf: logf, OnRemoved: m.removed, OnPresence: m.onPresence})
	if f.cluster == "" {
		if f.members != "" || f.native != "" || f.processes != "" || f.given("prevote") || f.given("checkquorum") || f.given("compact") || f.given("election-timeout") {
			return nil, usagef("-members, -native, -processes, -prevote, -checkquorum, -compact and -election-timeout need -cluster NAME")
		}
		return m, nil
	}
	if err := wire.CheckID("cluster name", f.cluster); err != nil {
		return nil, usagef("-cluster: %s", err.(*wire.Error).Msg)
	}
	members, err := splitIDs("members", f.members)
	if err != nil {
		return nil, err
	}
	if len(members) == 0 {
		return nil, usagef("-cluster %s needs -members, e.g. -members n1,n2,b1,b2,b3", f.cluster)
	}
	natives, err := splitIDs("native", f.native)
	if err != nil {
		return nil, err
	}
	for _, id := range natives {
		if !slices.Contains(members, id) {
			return nil, usagef("-native: %s is not one of -members %s", id, strings.Join(members, ","))
		}
	}
	processes, err := splitIDs("processes", f.processes)
	if err != nil {
		return nil, err
	}
	for _, id := range processes {
		switch {
		case !slices.Contains(members, id):
			return nil, usagef("-processes: %s is not one of -members %s", id, strings.Join(members, ","))
		case slices.Contains(natives, id):
			return nil, usagef("-processes: %s is also in -native; a member runs either inside this server (-native) or as a server node process (-processes)", id)
		}
	}
	if len(natives) > 0 && f.data == "" {
		return nil, usagef("-native needs -data DIR, a directory for the native members' storage files")
	}
	if err := m.hub.AddCluster(f.cluster, members); err != nil {
		return nil, usagef("%v", err)
	}
	if err := m.hub.ReserveNative(f.cluster, processes); err != nil {
		return nil, err
	}
	m.processes = processes
	if f.electionTimeout != 0 {
		ms := f.electionTimeout.Milliseconds()
		if f.electionTimeout%time.Millisecond != 0 || ms < wire.MinElectionTimeoutMs || ms > wire.MaxElectionTimeoutMs {
			return nil, usagef("-election-timeout %v: want whole milliseconds from %dms to %ds", f.electionTimeout, wire.MinElectionTimeoutMs, wire.MaxElectionTimeoutMs/1000)
		}
		f.options.ElectionTimeoutMs = int(ms)
	}
	m.options = f.options
	if err := m.hub.SetOptions(f.cluster, f.options); err != nil {
		return nil, err
	}
	if len(natives) > 0 {
		if fi, err := os.Stat(f.data); err == nil && !fi.IsDir() {
			return nil, usagef("-data %s is a file; want a directory", f.data)
		}
		if err := os.MkdirAll(f.data, 0o755); err != nil {
			return nil, err
		}
	}
	for _, id := range natives {
		if err := m.startNative(f.data, members, id); err != nil {
			m.close()
			return nil, err
		}
	}
	if len(natives) > 0 {
		m.watchConfig()
	}
	return m, nil
}

func (m *mixed) startNative(dir string, members []string, id string) error {
	st, err := boltstore.Open(member.StorePath(dir, id), m.cluster, id)
	if err != nil {
		return err
	}
	// Messages to a member with a direct link up go over it; the others, and those to the
	// server's own members, through the hub.
	var node atomic.Pointer[native.Node]
	links := m.hub.Links()
	roster := member.NewRoster(m.cluster, id, m.logf)
	tr, err := peer.Listen(peer.Config{Cluster: m.cluster, ID: id, Addr: net.JoinHostPort(m.peerHost, "0"), Token: m.token, Logf: m.logf,
		DialBack: roster.DialBack,
		Deliver: func(msgs []raft.Message) bool {
			n := node.Load()
			switch {
			case n == nil: // a direct link delivers before the node is stored, below
				links.Dropped(m.cluster, msgs, linkstats.NotRunning)
			case n.Deliver(msgs):
				links.Delivered(m.cluster, msgs)
				return true
			default:
				links.Dropped(m.cluster, msgs, linkstats.QueueFull)
			}
			return false
		}})
	if err != nil {
		st.Close()
		return fmt.Errorf("member %s: direct links: %w", id, err)
	}
	roster.Attach(tr)
	var viaHub []raft.Message // the node's goroutine's alone
	send := func(msgs []raft.Message) {
		viaHub = viaHub[:0]
		for i := range msgs {
			switch tr.Send(&msgs[i]) {
			case peer.NoLink:
				viaHub = append(viaHub, msgs[i])
			case peer.Dropped:
				links.Dropped(m.cluster, msgs[i:i+1], linkstats.QueueFull)
			}
		}
		// Route counts what goes through the hub; every message here is from this member,
		// and the counter counts by sender.
		if direct := len(msgs) - len(viaHub); direct > 0 {
			links.Sent(m.cluster, msgs[:direct])
		}
		if len(viaHub) > 0 {
			m.hub.Route(m.cluster, viaHub)
		}
	}
	if native.UnreliableFromEnv() {
		send = native.Unreliable(send, seed(id), func(ms []raft.Message) { m.hub.Links().Dropped(m.cluster, ms, linkstats.Unreliable) })
	}
	rc := raft.Config{ID: id, Members: members, Storage: st, Seed: seed(id)}
	m.options.Apply(&rc)
	nc := native.Config{Raft: rc, Send: send, Logf: m.logf, GroupWrites: true}
	rep := member.KVApp(&nc, m.logf)
	n, err := native.Start(nc)
	if err != nil {
		tr.Close()
		st.Close()
		return fmt.Errorf("member %s: %w", id, err)
	}
	node.Store(n)
	m.mu.Lock()
	m.natives = append(m.natives, &localMember{id: id, node: n, store: st, peer: tr, roster: roster})
	m.mu.Unlock()
	// Say so when the node stops by itself (a failed write); the goroutine exits when the node
	// stops, which close ensures.
	go func() {
		<-n.Done()
		if err := n.Err(); err != nil {
			m.logf("native member %s stopped: %v", id, err)
		}
	}()
	if err := m.hub.AttachLocal(m.cluster, id, member.LocalNode{Node: n, Reporter: rep}); err != nil {
		return err
	}
	return m.hub.SetLocalAddr(m.cluster, id, tr.Addr())
}

// seed gives each process's nodes their own election jitter.
func seed(id string) uint64 {
	var h uint64 = uint64(os.Getpid())
	for _, c := range []byte(id) {
		h = h*31 + uint64(c)
	}
	return h
}

// mount adds /ws, /api/ and /metrics to mux.
func (m *mixed) mount(mux *http.ServeMux) {
	mux.Handle("/ws", m.hub)
	mux.Handle("/api/", m.hub.APIHandler())
	reg := metrics.New(func() []metrics.Member {
		natives := m.nativesNow()
		ms := make([]metrics.Member, 0, len(natives))
		for _, n := range natives {
			ms = append(ms, metrics.Member{Cluster: m.cluster, ID: n.id, Stats: n.node.Stats, Writes: n.store.WriteTimes})
		}
		return ms
	}, m.hub.Links())
	reg.MustRegister(m.hub.Collectors()...)
	reg.MustRegister(metrics.QueueWait(m.hub.QueueWait))
	mux.Handle("GET /metrics", metrics.Handler(reg))
}

// access says who may change the cluster, for the start-up lines ("" without a cluster).
func (m *mixed) access() []string {
	if m.cluster == "" {
		return nil
	}
	switch {
	case m.generatedToken != "":
		return []string{
			"cluster token (generated; printed only now): " + m.generatedToken,
			"node processes need it (server node -token TOKEN, or RAFTLAB_TOKEN), and so does the API without a browser (curl -H 'Authorization: Bearer TOKEN')",
		}
	case m.insecure && !m.loopback:
		return []string{"warning: -insecure: anyone who can reach this server may host native members and submit commands"}
	}
	return nil
}

// describe says what the server hosts, for its start-up line.
func (m *mixed) describe() string {
	if m.cluster == "" {
		return ""
	}
	members, _ := m.hub.Members(m.cluster)
	var ids []string
	for _, n := range m.nativesNow() {
		ids = append(ids, n.id)
	}
	s := fmt.Sprintf("cluster %s with members %s", m.cluster, strings.Join(members, ","))
	if len(ids) > 0 {
		s += fmt.Sprintf("; %s run natively in this server", strings.Join(ids, ","))
	}
	return s
}

// joinHint says, for the start-up line, how the members not in this server join: nothing
// when it runs them all. page is the page's URL (http://HOST:PORT/).
func (m *mixed) joinHint(page string) string {
	if m.cluster == "" {
		return ""
	}
	members, _ := m.hub.Members(m.cluster)
	natives := m.nativesNow()
	var elsewhere []string
	for _, id := range members {
		if !slices.ContainsFunc(natives, func(n *localMember) bool { return n.id == id }) {
			elsewhere = append(elsewhere, id)
		}
	}
	if len(elsewhere) == 0 {
		return ""
	}
	ws := "ws" + strings.TrimPrefix(page, "http") + "ws"
	verb := func(ids []string) string {
		if len(ids) == 1 {
			return "joins"
		}
		return "join"
	}
	var procs, either []string
	for _, id := range elsewhere {
		if slices.Contains(m.processes, id) {
			procs = append(procs, id)
		} else {
			either = append(either, id)
		}
	}
	var parts []string
	if len(procs) > 0 {
		parts = append(parts, fmt.Sprintf("%s %s as server node processes (-cluster %s -join %s)", strings.Join(procs, ","), verb(procs), m.cluster, ws))
	}
	if len(either) > 0 {
		parts = append(parts, fmt.Sprintf("%s %s as server node processes (-cluster %s -join %s) or from pages (%s?cluster=%s, which hosts the members nobody hosts yet: open it once the processes have joined)",
			strings.Join(either, ","), verb(either), m.cluster, ws, page, m.cluster))
	}
	if len(either) == 0 {
		parts = append(parts, fmt.Sprintf("pages (%s?cluster=%s) watch", page, m.cluster))
	}
	return strings.Join(parts, "; ")
}

// close closes every WebSocket connection, stops the native members and closes their files.
func (m *mixed) close() error {
	if m.quit != nil {
		close(m.quit)
		m.watched.Wait()
		m.quit = nil
	}
	m.hub.Close()
	var errs []error
	m.mu.Lock()
	natives := m.natives
	m.natives = nil // a removal from now on finds nothing to stop
	m.mu.Unlock()
	for _, n := range natives {
		m.hub.DetachLocal(m.cluster, n.id)
		if err := n.node.Stop(); err != nil {
			errs = append(errs, err)
		}
		n.peer.Close()
		if err := n.store.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
