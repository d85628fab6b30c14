//go:build !js

// Package hub is the server's WebSocket endpoint (/ws): browser pages and native node processes
// connect, each connection hosts members of one cluster, and the hub routes Raft messages by
// member id between connections and the native members running inside the server.
//
// The structure follows gorilla/websocket's chat example: each connection has a read pump and a
// write pump goroutine and a bounded send queue; a connection whose queue is full loses frames
// (Raft retries) and is closed if it stays full. Instead of one hub goroutine reached through
// channels, the routing table is guarded by a read-write mutex, so that a message costs no
// extra goroutine hop on its way from one connection to another.
package hub

import (
	"context"
	"errors"
	"fmt"
	"log"
	"maps"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"raftlab/raft"
	"raftlab/raft/wire"
	"raftlab/server/internal/durhist"
	"raftlab/server/internal/linkstats"
	"raftlab/server/native"
)

// Defaults for Config's zero fields.
const (
	DefaultMaxFrameBytes = 4 << 20 // a full AppendEntries of 256 large commands fits
	DefaultSendQueue     = 256
	DefaultRate          = 50000 // frames per second a connection may send (a leader of 9 sends one frame per follower per step)
	DefaultBurst         = 100000
	DefaultWriteWait     = 10 * time.Second
	DefaultPongWait      = 30 * time.Second
	DefaultSlowTimeout   = 5 * time.Second
	DefaultHelloWait     = 10 * time.Second
)

// Config configures a Hub. Zero fields take the defaults above.
type Config struct {
	// AllowOrigins lists origins ("https://example.org") allowed to connect besides the
	// server's own; "*" allows every origin. Clients that send no Origin (native processes)
	// are always allowed.
	AllowOrigins []string
	// Token, when not empty, is the cluster token (see guard.go): hosts without an Origin
	// header or of kind native must say it in hello, and API requests that change a cluster
	// without an Origin header must send it as Authorization: Bearer.
	Token string
	// AllowJoin lets a page ask to join a cluster as a new member.
	AllowJoin bool
	// LoopbackOnly says the server listens on loopback alone: a browser's origin counts as the
	// server's own only when it names loopback too, which defeats DNS rebinding.
	LoopbackOnly bool
	// MaxFrameBytes caps a frame a client sends.
	MaxFrameBytes int64
	// SendQueue bounds the frames waiting to be written to one connection.
	SendQueue int
	// Rate and Burst bound the frames per second one connection may send (a token bucket).
	Rate  float64
	Burst int
	// WriteWait bounds one write; PongWait is how long a connection may stay silent (pings go
	// out every 9/10 of it); SlowTimeout is how long a send queue may stay full before the
	// connection is closed; HelloWait is how long a new connection has to say hello.
	WriteWait, PongWait, SlowTimeout, HelloWait time.Duration
	// Logf logs connection errors; default log.Printf.
	Logf func(format string, args ...any)
	// Links counts the messages the hub routes, delivers and drops; default a new one that
	// logs sustained drops with Logf.
	Links *linkstats.Counters
	// OnRemoved, if set, is called (outside the hub's lock) when a member that runs inside the
	// server (AttachLocal) was removed from its cluster's configuration; the hub has detached
	// it already, and the server stops it.
	OnRemoved func(cluster, id string)
	// OnPresence, if set, is called (outside the hub's lock, on the goroutine that changed it)
	// with a cluster's presence each time it changes: the members inside the server learn
	// from it the direct-link addresses of the others.
	OnPresence func(cluster string, ps []wire.Presence)
}

// Local is a member running inside the server process (a *native.Node).
type Local interface {
	Deliver(msgs []raft.Message) bool
	Submit(ctx context.Context, cmd []byte) (native.Result, error)
	Status() native.Status
}

// Hub routes messages between the hosts of the members of its clusters. Its methods are safe
// for concurrent use.
type Hub struct {
	cfg      Config
	upgrader websocket.Upgrader

	mu       sync.RWMutex
	clusters map[string]*cluster
	conns    map[*conn]struct{}
	closed   bool

	wg      sync.WaitGroup // every pump goroutine
	nextReq atomic.Uint64
	api     *APIMetrics
	// How long frames waited in the connections' send queues.
	queueWait durhist.H
}

// QueueWait returns the histogram of how long frames waited in the send queues of the hub's
// connections before they were written.
func (h *Hub) QueueWait() durhist.Snapshot { return h.queueWait.Snapshot() }

type cluster struct {
	name string
	// Guarded by Hub.mu. members are the voters and learners of conf, the latest committed
	// configuration the hub knows of (set at confIndex; 0: the initial member list), in the
	// order the hub learned of them.
	members   []string
	conf      raft.Configuration
	confIndex uint64
	// extra are ids that messages may go to besides the members: servers asking to join or
	// being added, and removed members. joining are those hosted by a connection that asked
	// to be added and not yet in conf.
	extra   map[string]bool
	joining map[string]bool
	hosts   map[string]host
	kinds   map[string]string // where each member runs, or ran last (browser until seen, or said native by a native host)
	hosted  map[string]bool   // members a host has run since the hub started: their kind is known
	apis    map[string]string // where each member's host serves its API, as it said last (server node -http)
	options wire.Options      // sent in every welcome
	status  map[string]remoteStatus
	// addrs are the direct-link addresses of the members inside the server (SetLocalAddr);
	// a connection's are its peerAddr.
	addrs map[string]string
}

type remoteStatus struct {
	wire.MemberStatus
	at time.Time
}

// host is whoever runs a member: a connection or a local node.
type host interface {
	describe() string
}

type localHost struct{ node Local }

func (localHost) describe() string { return "the server" }

// New returns a hub with no clusters.
func New(cfg Config) *Hub {
	if cfg.MaxFrameBytes <= 0 {
		cfg.MaxFrameBytes = DefaultMaxFrameBytes
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = DefaultSendQueue
	}
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.WriteWait <= 0 {
		cfg.WriteWait = DefaultWriteWait
	}
	if cfg.PongWait <= 0 {
		cfg.PongWait = DefaultPongWait
	}
	if cfg.SlowTimeout <= 0 {
		cfg.SlowTimeout = DefaultSlowTimeout
	}
	if cfg.HelloWait <= 0 {
		cfg.HelloWait = DefaultHelloWait
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	if cfg.Links == nil {
		cfg.Links = linkstats.New(cfg.Logf)
	}
	h := &Hub{cfg: cfg, clusters: make(map[string]*cluster), conns: make(map[*conn]struct{}), api: NewAPIMetrics()}
	h.upgrader = websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096, CheckOrigin: h.checkOrigin}
	return h
}

// SetOptions sets the options of Raft that the cluster's members run with: every welcome
// carries them, and hosts apply them to the members they start.
func (h *Hub) SetOptions(name string, o wire.Options) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.clusters[name]
	if c == nil {
		return fmt.Errorf("no cluster %q", name)
	}
	c.options = o
	return nil
}

// AddCluster adds a cluster whose initial configuration has members as its voters. The
// configuration then lives in the members' logs; the hub follows it (see members.go).
func (h *Hub) AddCluster(name string, members []string) error {
	if err := wire.CheckID("cluster name", name); err != nil {
		return fmt.Errorf("cluster %q: %v", name, err.(*wire.Error).Msg)
	}
	if len(members) == 0 || len(members) > wire.MaxMembers {
		return fmt.Errorf("cluster %q: want 1 to %d members, have %d", name, wire.MaxMembers, len(members))
	}
	for i, m := range members {
		if err := wire.CheckID("member id", m); err != nil {
			return fmt.Errorf("cluster %q: %v", name, err.(*wire.Error).Msg)
		}
		if slices.Contains(members[:i], m) {
			return fmt.Errorf("cluster %q: member %q listed twice", name, m)
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clusters[name]; ok {
		return fmt.Errorf("cluster %q already exists", name)
	}
	c := &cluster{name: name, members: slices.Clone(members), hosts: map[string]host{},
		kinds: map[string]string{}, hosted: map[string]bool{}, apis: map[string]string{}, status: map[string]remoteStatus{}, addrs: map[string]string{},
		conf:  raft.Configuration{Voters: slices.Sorted(slices.Values(members))},
		extra: map[string]bool{}, joining: map[string]bool{}}
	for _, m := range members {
		c.kinds[m] = wire.KindBrowser
	}
	h.clusters[name] = c
	return nil
}

// ReserveNative marks members of a cluster as native from the start (server -processes): they
// run as server node processes, so pages never host them, even before their processes have
// joined. Without it a member is a browser member until a native host says otherwise, and a
// page that opens first (after a server restart, before the processes have rejoined) would
// host it with no state: a second member of that id, which Raft's guarantees do not allow.
func (h *Hub) ReserveNative(name string, members []string) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	c := h.clusters[name]
	if c == nil {
		return fmt.Errorf("no cluster %q", name)
	}
	for _, m := range members {
		if !slices.Contains(c.members, m) {
			return fmt.Errorf("cluster %q: %s is not a member", name, m)
		}
	}
	for _, m := range members {
		c.kinds[m] = wire.KindNative
	}
	return nil
}

// Members returns the voters and learners of a cluster's configuration, as the hub knows it.
func (h *Hub) Members(name string) ([]string, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	c, ok := h.clusters[name]
	if !ok {
		return nil, false
	}
	return slices.Clone(c.members), true
}

// AttachLocal makes node, running in this process, the host of member id. The node's Send
// should call Route.
func (h *Hub) AttachLocal(clusterName, id string, node Local) error {
	h.mu.Lock()
	c, ok := h.clusters[clusterName]
	if !ok {
		h.mu.Unlock()
		return fmt.Errorf("no cluster %q", clusterName)
	}
	if !slices.Contains(c.members, id) {
		h.mu.Unlock()
		return fmt.Errorf("%q is not a member of cluster %q", id, clusterName)
	}
	if cur, ok := c.hosts[id]; ok {
		h.mu.Unlock()
		return fmt.Errorf("member %s is already hosted by %s", id, cur.describe())
	}
	c.hosts[id] = localHost{node}
	c.kinds[id] = wire.KindNative
	c.hosted[id] = true
	h.mu.Unlock()
	h.broadcastPresence(c)
	return nil
}

// SetLocalAddr sets the direct-link address of a member inside the server, which presence
// frames tell the other members ("" for none).
func (h *Hub) SetLocalAddr(clusterName, id, addr string) error {
	if addr != "" {
		if err := wire.CheckAPIAddr(addr); err != nil {
			return err
		}
	}
	h.mu.Lock()
	c, ok := h.clusters[clusterName]
	if ok {
		if addr == "" {
			delete(c.addrs, id)
		} else {
			c.addrs[id] = addr
		}
	}
	h.mu.Unlock()
	if !ok {
		return fmt.Errorf("no cluster %q", clusterName)
	}
	h.broadcastPresence(c)
	return nil
}

// DetachLocal removes a local member (stopped by the server).
func (h *Hub) DetachLocal(clusterName, id string) {
	h.mu.Lock()
	c, ok := h.clusters[clusterName]
	if ok {
		if _, local := c.hosts[id].(localHost); local {
			delete(c.hosts, id)
		}
	}
	h.mu.Unlock()
	if ok {
		h.broadcastPresence(c)
	}
}

// Route delivers messages from a member to their destinations' hosts, dropping those for
// members nobody hosts now.
func (h *Hub) Route(clusterName string, msgs []raft.Message) {
	h.mu.RLock()
	c := h.clusters[clusterName]
	if c == nil {
		h.mu.RUnlock()
		return
	}
	h.cfg.Links.Sent(clusterName, msgs)
	h.routeLocked(c, msgs)
	h.mu.RUnlock()
}

// Links returns the hub's message counters.
func (h *Hub) Links() *linkstats.Counters { return h.cfg.Links }

// routeLocked expects h.mu to be held (read or write).
func (h *Hub) routeLocked(c *cluster, msgs []raft.Message) {
	// Most frames go to one host; only split when they do not.
	var byConn map[*conn][]raft.Message
	for i := range msgs {
		switch to := c.hosts[msgs[i].To].(type) {
		case *conn:
			if byConn == nil {
				byConn = make(map[*conn][]raft.Message, 2)
			}
			byConn[to] = append(byConn[to], msgs[i])
		case localHost:
			// A copy: msgs is the sending node's buffer, which it reuses once Send returns,
			// while the receiving node reads this message later on its own goroutine.
			one := []raft.Message{msgs[i]}
			if to.node.Deliver(one) {
				h.cfg.Links.Delivered(c.name, one)
			} else {
				h.cfg.Links.Dropped(c.name, one, linkstats.QueueFull)
			}
		default:
			h.cfg.Links.Dropped(c.name, msgs[i:i+1], linkstats.Unreachable)
		}
	}
	for cn, ms := range byConn {
		b, err := wire.Encode(&wire.Envelope{Type: wire.TypeMsgs, Cluster: c.name, Msgs: ms})
		if err != nil {
			h.cfg.Logf("hub: encode: %v", err)
			continue
		}
		h.queueMsgs(cn, c.name, b, ms)
	}
}

// queueMsgs queues a frame of Raft messages on a connection and counts them.
func (h *Hub) queueMsgs(cn *conn, cluster string, b []byte, msgs []raft.Message) {
	if cn.queue(b) {
		h.cfg.Links.Delivered(cluster, msgs)
	} else {
		h.cfg.Links.Dropped(cluster, msgs, linkstats.QueueFull)
	}
}

// presenceLocked expects h.mu to be held.
func (c *cluster) presenceLocked() []wire.Presence {
	ps := make([]wire.Presence, 0, len(c.members)+len(c.joining))
	for _, m := range append(slices.Clone(c.members), slices.Sorted(maps.Keys(c.joining))...) {
		p := wire.Presence{ID: m, Kind: c.kinds[m], API: c.apis[m]}
		if hst, ok := c.hosts[m]; ok {
			p.Reachable = true
			switch x := hst.(type) {
			case localHost:
				p.Host = "server"
				p.Addr = c.addrs[m]
			case *conn:
				p.Host = x.addr
				p.Addr = x.peerAddr
			}
		}
		ps = append(ps, p)
	}
	return ps
}

func (h *Hub) broadcastPresence(c *cluster) {
	h.mu.RLock()
	ps := c.presenceLocked()
	b, err := wire.Encode(&wire.Envelope{Type: wire.TypePresence, Cluster: c.name, Presence: ps})
	if err == nil {
		for cn := range h.conns {
			if cn.cluster == c {
				cn.queue(b)
			}
		}
	}
	h.mu.RUnlock()
	if h.cfg.OnPresence != nil {
		h.cfg.OnPresence(c.name, ps)
	}
}

// checkOrigin allows clients without an Origin header, the server's own origin, and the
// configured ones.
func (h *Hub) checkOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	return origin == "" || h.originAllowed(origin, r.Host)
}

// ServeHTTP upgrades the request to a WebSocket connection and serves it.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h.mu.RLock()
	closed := h.closed
	h.mu.RUnlock()
	if closed {
		http.Error(w, "server is shutting down", http.StatusServiceUnavailable)
		return
	}
	if !h.checkOrigin(r) {
		h.cfg.Logf("hub: refused a connection from origin %q (start the server with -allow-origin %s to allow it)", r.Header.Get("Origin"), r.Header.Get("Origin"))
		http.Error(w, "origin not allowed: start the server with -allow-origin "+r.Header.Get("Origin"), http.StatusForbidden)
		return
	}
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c := &conn{h: h, ws: ws, addr: r.RemoteAddr, origin: r.Header.Get("Origin"), send: make(chan frame, h.cfg.SendQueue),
		quit: make(chan struct{}), readDone: make(chan struct{}), tokens: float64(h.cfg.Burst), last: time.Now()}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		ws.Close()
		return
	}
	h.conns[c] = struct{}{}
	h.wg.Add(2)
	h.mu.Unlock()
	go c.writePump()
	go c.readPump()
}

// Close closes every connection with a shutdown error frame and waits for their goroutines to
// exit. New connections are refused from then on.
func (h *Hub) Close() {
	h.mu.Lock()
	h.closed = true
	conns := make([]*conn, 0, len(h.conns))
	for c := range h.conns {
		conns = append(conns, c)
	}
	h.mu.Unlock()
	for _, c := range conns {
		c.fail(&wire.Error{Code: wire.CodeShutdown, Msg: "the server is shutting down"}, websocket.CloseGoingAway, false)
	}
	h.wg.Wait()
}

// Conns returns the number of open connections.
func (h *Hub) Conns() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.conns)
}

// ErrNoHost is returned by Submit for a member that nobody hosts.
var ErrNoHost = errors.New("hub: member is not reachable")
