//go:build !js

// Package member runs one native cluster member: the real-time node (native), its storage
// (bbolt, or memory), the key-value state machine, the link to the hub, and the direct links
// to the other native members (server/internal/peer). A message goes over the direct link to
// its destination when one is up, else through the hub; the member learns the others'
// direct-link addresses from the hub's welcome and presence frames (and from the members that
// dial it), and keeps them when the hub goes away, so that native
// members that form a majority go on without the server. It is what `server node` runs, and
// what the benchmarks run three of.
package member

import (
	"context"
	"errors"
	"fmt"
	"log"
	"maps"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/raft/wire"
	"raftlab/server/internal/boltstore"
	"raftlab/server/internal/durhist"
	"raftlab/server/internal/hub"
	"raftlab/server/internal/link"
	"raftlab/server/internal/linkstats"
	"raftlab/server/internal/peer"
	"raftlab/server/native"
)

// Config configures a Member.
type Config struct {
	URL     string // the hub: ws://host:port/ws
	Cluster string
	ID      string
	// DataDir holds the member's storage file, DataDir/ID.db. Empty keeps the state in memory
	// (benchmarks).
	DataDir string
	// Raft is a template for timeouts and flow control; ID, Members and Storage are filled in.
	Raft raft.Config
	// StatusEvery is how often the member reports its status to the hub. Default 200 ms.
	StatusEvery time.Duration
	// SubmitTimeout bounds a command submitted through the hub. Default 10 s.
	SubmitTimeout time.Duration
	Header        http.Header
	Logf          func(format string, args ...any)
	// Links counts the member's messages; default a new one that logs sustained drops.
	Links *linkstats.Counters
	// Token is the cluster token the hub asks native hosts for (server -token); "" for none.
	Token string
	// Add asks the hub to add this member to the cluster's configuration if it is not in it
	// (server node -add): it starts outside the cluster, is added as a learner, catches up and
	// is made a voter by the leader.
	Add bool
	// API is where this member's scripting API is served (server node -http), host:port; the
	// hub tells the other members, which forward commands to it while it leads.
	API string
	// PeerAddr is the TCP address the member listens on for direct links from the other native
	// members; default "127.0.0.1:0" (a free loopback port). It is announced in hello.
	PeerAddr string
	// OfflineAfter is how long Start waits for the hub's first welcome before it starts the
	// member from the last welcome it saved beside its storage (SavedPath), if there is one: a
	// member restarted while the server is down rejoins the others over direct links, and
	// the hub once it answers. Default 3 s; negative never starts without a welcome.
	OfflineAfter time.Duration
}

// RemovedError is why a member stopped when it was removed from the cluster's configuration.
type RemovedError struct{ Msg string }

func (e *RemovedError) Error() string { return e.Msg }

// Member is a running member.
type Member struct {
	cfg  Config
	link *link.Link
	peer *peer.Transport
	// roster keeps peer's links to the members of the configuration the node uses.
	roster *Roster
	// joinHost is the host of the hub's URL: where a member listening on every interface of
	// the server's machine is reached.
	joinHost string
	// serverAPI is the server's API (from the hub's URL), where requests for a leader that
	// serves no API of its own go.
	serverAPI string

	mu      sync.Mutex
	saved   saved  // what the hub told the member last (members, options)
	written *saved // what saveLocked wrote last
	members []string
	apis    map[string]string // where each member serves its API, as the hub said last
	kinds   map[string]string // where each member runs (wire.KindNative, KindBrowser), as the hub said last
	store   raft.Storage
	node    *native.Node
	rep     *Reporter
	api     *hub.APIMetrics // the member's API's requests (APIHandler)

	// cut drops every Raft message to and from this member (tests: a partition).
	cut atomic.Bool
	// saidNotRunning: deliver said that messages arrive before the node runs; offlineNote is
	// what that line adds when a saved welcome will start the member without the hub.
	saidNotRunning atomic.Bool
	offlineNote    string
	// early is the member's storage file, opened first when it exists, until startNode takes
	// it (guarded by mu).
	early *boltstore.Store

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup // status reporter and submit handlers
	err    error
	failed chan struct{}
	once   sync.Once
}

// StorePath returns where a member's storage file lives.
func StorePath(dataDir, id string) string { return filepath.Join(dataDir, id+".db") }

// Start connects to the hub, learns the member list from its welcome, restores the node from
// storage and starts it. It returns once the node runs, or with the error that prevented it
// (ctx bounds the wait for the first welcome).
func Start(ctx context.Context, cfg Config) (*Member, error) {
	if cfg.StatusEvery <= 0 {
		cfg.StatusEvery = 200 * time.Millisecond
	}
	if cfg.SubmitTimeout <= 0 {
		cfg.SubmitTimeout = 10 * time.Second
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	if cfg.OfflineAfter == 0 {
		cfg.OfflineAfter = 3 * time.Second
	}
	if cfg.Links == nil {
		cfg.Links = linkstats.New(cfg.Logf)
	}
	m := &Member{cfg: cfg, failed: make(chan struct{}), api: hub.NewAPIMetrics()}
	if u, err := url.Parse(cfg.URL); err == nil {
		m.joinHost = u.Hostname()
	}
	m.serverAPI = serverAPIBase(cfg.URL)
	last, haveLast := m.loadSaved()
	if haveLast && cfg.OfflineAfter > 0 {
		m.offlineNote = fmt.Sprintf(", %v at most before it starts from the one it saved", cfg.OfflineAfter)
	}
	// A member whose file exists takes it before it listens or dials: a second process for a
	// member that runs already (kill -9 of `go run` leaves its child running, and the same
	// command is run again) fails here, on the file's lock, instead of taking the running
	// member's direct links from it, each connection replacing the other's, until its node
	// would open the file.
	if cfg.DataDir != "" {
		if _, err := os.Stat(StorePath(cfg.DataDir, cfg.ID)); err == nil {
			bs, err := boltstore.Open(StorePath(cfg.DataDir, cfg.ID), cfg.Cluster, cfg.ID)
			if err != nil {
				return nil, err
			}
			m.early = bs
		}
	}
	closeEarly := func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.early != nil {
			m.early.Close()
			m.early = nil
		}
	}
	m.roster = NewRoster(cfg.Cluster, cfg.ID, cfg.Logf)
	tr, err := peer.Listen(peer.Config{Cluster: cfg.Cluster, ID: cfg.ID, Addr: cfg.PeerAddr, Token: cfg.Token, Deliver: m.deliver, Logf: cfg.Logf,
		API: cfg.API, OnHello: m.noteAPI, DialBack: m.roster.DialBack})
	if err != nil {
		closeEarly()
		return nil, fmt.Errorf("member %s: direct links: %w", cfg.ID, err)
	}
	m.peer = tr
	m.roster.Attach(tr)
	for id, addr := range last.Peers {
		m.roster.Learn(id, addr)
	}
	m.ctx, m.cancel = context.WithCancel(context.Background())
	welcomed := make(chan struct{})
	// The node starts in OnWelcome, on the link's goroutine, and sends through m.link: the
	// first welcome waits until link.Start's result is stored.
	linkSet := make(chan struct{})
	var startErr error
	m.link = link.Start(link.Config{
		URL: cfg.URL, Cluster: cfg.Cluster, Kind: wire.KindNative, Members: []string{cfg.ID}, Header: cfg.Header, Token: cfg.Token, Add: cfg.Add, Logf: cfg.Logf,
		API:  cfg.API,
		Addr: tr.Addr(),
		OnWelcome: func(e *wire.Envelope) error {
			<-linkSet
			m.learn(e.Presence)
			m.mu.Lock()
			defer m.mu.Unlock()
			m.saved.Members, m.saved.Options = slices.Clone(e.Members), e.Options
			m.saveLocked()
			m.notePresenceLocked(e.Presence)
			if m.node != nil || startErr != nil {
				// The configuration lives in the log; the welcome's list is the hub's view.
				cfg.Logf("%s: rejoined cluster %s through %s (the hub's members: %s; direct links up to %s)", cfg.ID, cfg.Cluster, cfg.URL, strings.Join(e.Members, ","), m.linkedPeers())
				return nil
			}
			startErr = m.startNode(e.Members, e.Options)
			close(welcomed)
			return startErr
		},
		OnLost: func() {
			m.mu.Lock()
			running := m.node != nil
			m.mu.Unlock()
			if running {
				cfg.Logf("%s: lost the server at %s; Raft messages to the native members go on over the direct links (up to %s), those to members in pages wait for it", cfg.ID, cfg.URL, m.linkedPeers())
			}
		},
		OnMsgs:   func(msgs []raft.Message) { m.deliver(msgs) },
		OnSubmit: m.onSubmit,
		Natives: func() []wire.Presence {
			peers := tr.Peers()
			ps := make([]wire.Presence, 0, len(peers))
			for _, id := range slices.Sorted(maps.Keys(peers)) {
				if wire.CheckID("", id) == nil && wire.CheckAPIAddr(peers[id]) == nil && len(ps) < wire.MaxMembers {
					ps = append(ps, wire.Presence{ID: id, Kind: wire.KindNative, Addr: peers[id]})
				}
			}
			return ps
		},
		OnPresence: func(e *wire.Envelope) {
			m.learn(e.Presence)
			m.mu.Lock()
			m.notePresenceLocked(e.Presence)
			m.saveLocked()
			m.mu.Unlock()
		},
	})
	close(linkSet)
	fail := func(err error) (*Member, error) {
		m.link.Close()
		tr.Close()
		closeEarly()
		return nil, err
	}
	var offline <-chan time.Time
	if haveLast && cfg.OfflineAfter > 0 {
		offline = time.After(cfg.OfflineAfter)
	}
	select {
	case <-welcomed:
		if startErr != nil {
			return fail(startErr)
		}
	case <-offline:
		m.mu.Lock()
		var err error
		if m.node == nil {
			err = startErr
		}
		if m.node == nil && err == nil {
			cfg.Logf("%s: no welcome from the hub at %s in %v: starting from its last one, saved in %s (%s); rejoining through the hub once it answers",
				cfg.ID, cfg.URL, cfg.OfflineAfter, SavedPath(cfg.DataDir, cfg.ID), describeSaved(last))
			m.saved = last
			err = m.startNode(last.Members, last.Options)
		}
		m.mu.Unlock()
		if err != nil {
			return fail(err)
		}
	case <-m.link.Done():
		return fail(m.link.Err())
	case <-ctx.Done():
		return fail(fmt.Errorf("no welcome from the hub at %s: %w", cfg.URL, ctx.Err()))
	}
	m.wg.Add(1)
	go m.report()
	return m, nil
}

// startNode expects m.mu to be held. The cluster's options (from the welcome) are applied
// over the member's own configuration.
func (m *Member) startNode(members []string, opts *wire.Options) error {
	var st raft.Storage
	switch {
	case m.early != nil:
		st, m.early = m.early, nil
	case m.cfg.DataDir == "":
		st = raft.NewMapStorage()
	default:
		bs, err := boltstore.Open(StorePath(m.cfg.DataDir, m.cfg.ID), m.cfg.Cluster, m.cfg.ID)
		if err != nil {
			return err
		}
		st = bs
	}
	rc := m.cfg.Raft
	rc.ID, rc.Members, rc.Storage = m.cfg.ID, members, st
	opts.Apply(&rc)
	if rc.Seed == 0 {
		rc.Seed = uint64(time.Now().UnixNano())
	}
	send := m.send
	if native.UnreliableFromEnv() {
		send = native.Unreliable(send, rc.Seed, func(ms []raft.Message) { m.cfg.Links.Dropped(m.cfg.Cluster, ms, linkstats.Unreliable) })
	}
	// A bbolt write is a synced transaction: one a turn, the leader's overlapping its
	// followers' (native.Config.GroupWrites).
	nc := native.Config{Raft: rc, Send: send, Logf: m.cfg.Logf, GroupWrites: m.cfg.DataDir != ""}
	id := m.cfg.ID
	nc.OnEvent = func(e raft.Event) {
		if e.Kind == raft.EvConfig {
			m.cfg.Logf("%s: configuration entry %d: %s (in use now, in effect once committed)", id, e.Index, e.Detail)
		}
	}
	rep := KVApp(&nc, m.cfg.Logf)
	n, err := native.Start(nc)
	if err != nil {
		if c, ok := st.(*boltstore.Store); ok {
			c.Close()
		}
		return fmt.Errorf("member %s: %w", m.cfg.ID, err)
	}
	m.members, m.store, m.node, m.rep = members, st, n, rep
	if c := n.Status().Config; !c.IsMember(m.cfg.ID) {
		if m.cfg.Add {
			m.cfg.Logf("%s: not in cluster %s's configuration (%s): asked the leader to add it; waiting to be added as a learner", m.cfg.ID, m.cfg.Cluster, c)
		} else {
			m.cfg.Logf("%s: not in cluster %s's configuration (%s): waiting to be added", m.cfg.ID, m.cfg.Cluster, c)
		}
	}
	return nil
}

// KVApp makes a new key-value store the application of the node c configures: committed
// entries are applied to it (Submit answers with a wire.KVAnswer), and its snapshots compact
// the log and restore it, at restarts and when the leader sends one. A snapshot from the leader
// that does not restore is refused before it is installed (the member keeps its state) and
// logged with logf. The Reporter it returns describes the node for the page's cards.
func KVApp(c *native.Config, logf func(format string, args ...any)) *Reporter {
	sm := kv.NewStore()
	id := c.Raft.ID
	// The store a snapshot was checked into is the one Restore installs when Ready hands that
	// snapshot over next: decoding it once, not twice.
	var checked *kv.Store
	var checkedFor *raft.Snapshot
	c.Raft.CheckSnapshot = func(s *raft.Snapshot) error {
		st := kv.NewStore()
		err := st.Restore(s.Index, s.Data)
		if err != nil {
			logf("member %s refused its leader's snapshot up to %d (%d bytes): %v", id, s.Index, len(s.Data), err)
			st = nil
		}
		checked, checkedFor = st, s
		return err
	}
	c.Apply = func(e raft.CommitEntry) []byte {
		o, err := sm.Apply(e)
		if err != nil {
			return nil
		}
		return wire.KVValue(o)
	}
	c.Snapshot = sm.Snapshot
	c.Restore = func(s *raft.Snapshot) error {
		st, sf := checked, checkedFor
		checked, checkedFor = nil, nil
		if st != nil && s == sf && st.Applied() == s.Index {
			forget := sm.ForgetSessions
			*sm = *st
			sm.ForgetSessions = forget
			return nil
		}
		return sm.Restore(s.Index, s.Data)
	}
	start := time.Now() // about the node's epoch: events' times are since native.Start
	r := &Reporter{rec: wire.NewRecorder(wire.StatusEventsShown, start), sm: sm}
	next := c.OnEvent
	c.OnEvent = func(e raft.Event) {
		r.rec.Record(e, start.Add(e.Time))
		if next != nil {
			next(e)
		}
	}
	return r
}

// Reporter describes a member for the mixed page's node cards: its newest log entries, the
// first keys of its store, a leader's view of its followers and its recent events, all bounded
// (wire.MemberStatus's details). It reads them on the node's goroutine.
type Reporter struct {
	rec *wire.Recorder // written and read on the node's goroutine, as are sm and kvs
	sm  *kv.Store
	kvs wire.KVShown
}

// Details fills s's card details from n; it leaves them empty when n has stopped.
func (r *Reporter) Details(n *native.Node, s *wire.MemberStatus) {
	n.Inspect(func(rn *raft.Node) {
		s.Details(rn, rn.Status(), r.sm, &r.kvs, time.Now())
		s.Events = r.rec.Events()
	})
}

// LocalNode is a node run inside the server with its Reporter: the hub's Local for it, whose
// status reports carry the cards' details.
type LocalNode struct {
	*native.Node
	Reporter *Reporter
}

// Details fills s's card details (the hub asks for them for GET /api/clusters/NAME?detail=1).
func (l LocalNode) Details(s *wire.MemberStatus) { l.Reporter.Details(l.Node, s) }

// deliver hands messages that arrived (from the hub or a direct link) to the node. Before the
// node runs (the member waits for the hub's welcome, or its saved one) the others' direct links
// may already deliver: those messages are dropped as not_running, and the member says so once.
func (m *Member) deliver(msgs []raft.Message) bool {
	n := m.nodeNow()
	switch {
	case m.cut.Load():
		m.cfg.Links.Dropped(m.cfg.Cluster, msgs, linkstats.Unreachable)
	case n == nil:
		m.cfg.Links.Dropped(m.cfg.Cluster, msgs, linkstats.NotRunning)
		if m.saidNotRunning.CompareAndSwap(false, true) {
			m.cfg.Logf("%s: %s's messages arrive over its direct link before this member runs: dropping them until it starts (it waits for the hub's welcome at %s%s)",
				m.cfg.ID, msgs[0].From, m.cfg.URL, m.offlineNote)
		}
	case n.Deliver(msgs):
		m.cfg.Links.Delivered(m.cfg.Cluster, msgs)
		return true
	default:
		m.cfg.Links.Dropped(m.cfg.Cluster, msgs, linkstats.QueueFull)
	}
	return false
}

// learn takes the direct-link addresses of the other native members from a welcome's or
// presence frame's list. An address stays known when the hub loses its member (or the hub
// goes away): the direct link may well be up still. The roster holds the addresses of members
// outside the configuration the node uses (see Roster).
func (m *Member) learn(ps []wire.Presence) {
	for _, p := range ps {
		if p.ID != m.cfg.ID && p.Addr != "" {
			m.roster.Learn(p.ID, ResolveAddr(p.Addr, m.joinHost))
		}
	}
}

// ResolveAddr completes a direct-link address from the hub: an empty or unspecified host (a
// member inside the server, listening on every interface) is the host of the hub's URL.
func ResolveAddr(addr, joinHost string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil || joinHost == "" {
		return addr
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return addr
	}
	return net.JoinHostPort(joinHost, port)
}

// linkedPeers lists the members whose direct link is up, for the logs.
func (m *Member) linkedPeers() string {
	var up []string
	for id := range m.peer.Peers() {
		if m.peer.Up(id) {
			up = append(up, id)
		}
	}
	if len(up) == 0 {
		return "none"
	}
	slices.Sort(up)
	return strings.Join(up, ",")
}

// send sends each message over the direct link to its destination when one is up, and the
// others through the hub, one frame per destination, which the hub forwards without
// re-encoding.
func (m *Member) send(msgs []raft.Message) {
	m.cfg.Links.Sent(m.cfg.Cluster, msgs)
	if m.cut.Load() {
		m.cfg.Links.Dropped(m.cfg.Cluster, msgs, linkstats.Unreachable)
		return
	}
	var viaHub []raft.Message
	for i := range msgs {
		switch m.peer.Send(&msgs[i]) {
		case peer.NoLink:
			viaHub = append(viaHub, msgs[i])
		case peer.Dropped:
			m.cfg.Links.Dropped(m.cfg.Cluster, msgs[i:i+1], linkstats.QueueFull)
		}
	}
	msgs = viaHub
	for len(msgs) > 0 {
		to := msgs[0].To
		var same, rest []raft.Message
		for _, msg := range msgs {
			if msg.To == to {
				same = append(same, msg)
			} else {
				rest = append(rest, msg)
			}
		}
		switch err := m.link.SendMsgs(same); err {
		case nil:
		case link.ErrQueueFull:
			m.cfg.Links.Dropped(m.cfg.Cluster, same, linkstats.QueueFull)
		default:
			m.cfg.Links.Dropped(m.cfg.Cluster, same, linkstats.Unreachable)
		}
		msgs = rest
	}
}

// notePresenceLocked keeps the API addresses the hub reports; an address stays known when
// the hub no longer reports it (its host left, the hub is gone), until another replaces it.
func (m *Member) notePresenceLocked(ps []wire.Presence) {
	for _, p := range ps {
		if p.Kind != "" {
			if m.kinds == nil {
				m.kinds = map[string]string{}
			}
			m.kinds[p.ID] = p.Kind
		}
		if p.API != "" && p.Kind == wire.KindNative {
			if m.apis == nil {
				m.apis = map[string]string{}
			}
			m.apis[p.ID] = p.API
		}
	}
}

// noteAPI keeps where member id serves its API, as it said when it dialed this member: the
// freshest word there is, and the only one while the hub is down.
func (m *Member) noteAPI(id, api string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.apis == nil {
		m.apis = map[string]string{}
	}
	m.apis[id] = api
}

// kind returns where member id runs as the hub said last (wire.KindNative or KindBrowser;
// "" if it never said).
func (m *Member) kind(id string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.kinds[id]
}

// APIAddr returns where member id serves its scripting API, as the hub said last ("" if
// unknown).
func (m *Member) APIAddr(id string) string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.apis[id]
}

func (m *Member) nodeNow() *native.Node {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.node
}

func (m *Member) reporter() *Reporter {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.rep
}

// Node returns the running node.
func (m *Member) Node() *native.Node { return m.nodeNow() }

// Members returns the voters and learners of the configuration the member's node uses (the
// welcome's member list before the node runs).
func (m *Member) Members() []string {
	m.mu.Lock()
	n, members := m.node, slices.Clone(m.members)
	m.mu.Unlock()
	if n != nil {
		if c := n.Status().Config; len(c.Voters) > 0 {
			return c.Members()
		}
	}
	return members
}

// WriteTimes returns the histogram of the member's synced storage writes (empty in memory).
func (m *Member) WriteTimes() durhist.Snapshot {
	m.mu.Lock()
	st := m.store
	m.mu.Unlock()
	if bs, ok := st.(*boltstore.Store); ok {
		return bs.WriteTimes()
	}
	return (&durhist.H{}).Snapshot()
}

// Links returns the member's message counters.
func (m *Member) Links() *linkstats.Counters { return m.cfg.Links }

// Link returns the member's link to the hub.
func (m *Member) Link() *link.Link { return m.link }

// Peer returns the member's direct links.
func (m *Member) Peer() *peer.Transport { return m.peer }

// onSubmit runs a submit from the hub on its own goroutine and answers with a result frame.
func (m *Member) onSubmit(e *wire.Envelope) {
	n := m.nodeNow()
	if n == nil || e.Member != m.cfg.ID {
		return
	}
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		ctx, cancel := context.WithTimeout(m.ctx, m.cfg.SubmitTimeout)
		defer cancel()
		var res native.Result
		var err error
		if e.Transfer != "" {
			m.cfg.Logf("%s: the hub asks this leader to hand its leadership to %s", m.cfg.ID, e.Transfer)
			res, err = n.TransferLeadership(ctx, e.Transfer)
			if err == nil && res.Term == 0 {
				err = errors.New("no term") // a leader has one; the result must say it
			}
		} else if e.Change != "" {
			op, id, perr := wire.ParseChange(e.Change)
			if perr != nil { // the frame was validated; a host answers anyway
				err = &native.RefusedError{Err: perr}
			} else {
				m.cfg.Logf("%s: the hub asks this leader to %s %s", m.cfg.ID, op, id)
				res, err = n.ProposeChange(ctx, op, id)
			}
		} else {
			res, err = n.Submit(ctx, e.Command)
		}
		out := &wire.Envelope{Type: wire.TypeResult, Cluster: m.cfg.Cluster, Req: e.Req, Member: m.cfg.ID, Transfer: e.Transfer}
		var nl *raft.NotLeaderError
		var refused *native.RefusedError
		switch {
		case err == nil:
			out.Index, out.Term, out.Value = res.Index, res.Term, res.Value
		case errors.As(err, &nl):
			out.Code, out.Error, out.Leader, out.Term = wire.CodeNotLeader, err.Error(), nl.Leader, nl.Term
		case e.Transfer != "" && errors.As(err, &refused): // a transfer in flight too
			out.Code, out.Error = wire.CodeRefused, err.Error()
		case errors.Is(err, raft.ErrNoCommitInTerm), errors.Is(err, raft.ErrTransferring):
			out.Code, out.Error = wire.CodeRetry, err.Error()
		case errors.As(err, &refused):
			out.Code, out.Error = wire.CodeRefused, err.Error()
		default:
			out.Code, out.Error = wire.CodeFailed, err.Error()
		}
		m.link.Send(out)
	}()
}

// report sends the node's status to the hub every StatusEvery, and stops the member if the
// node stops by itself (a storage failure). It exits when the member closes.
func (m *Member) report() {
	defer m.wg.Done()
	t := time.NewTicker(m.cfg.StatusEvery)
	defer t.Stop()
	n := m.nodeNow()
	m.mu.Lock()
	rep := m.rep
	m.mu.Unlock()
	role := m.roleIn(n.Status().Status) // what this member is in the configuration it uses
	for {
		select {
		case <-m.ctx.Done():
			return
		case <-n.Done():
			m.fail(n.Err())
			return
		case <-m.link.Done():
			err := m.link.Err()
			var pe *link.PermanentError
			if errors.As(err, &pe) && pe.Frame.Code == wire.CodeRemoved {
				err = &RemovedError{pe.Frame.Error}
			}
			m.fail(err)
			return
		case <-t.C:
			s := n.Status()
			m.roster.Observe(s.Config, s.ConfigIndex, s.ConfigCommitted)
			if r := m.roleIn(s.Status); r != role {
				m.cfg.Logf("%s: now %s of cluster %s (%s, set at index %d)", m.cfg.ID, r, m.cfg.Cluster, s.Config, s.ConfigIndex)
				role = r
			}
			st := wire.MemberStatus{
				ID: m.cfg.ID, State: s.State.String(), Term: s.Term, Leader: s.Leader,
				Commit: s.CommitIndex, Applied: s.Applied, Last: s.LastIndex,
				Config: raft.EncodeConfiguration(s.Config), ConfigIndex: s.ConfigIndex,
			}
			rep.Details(n, &st) // bounded: a few KB at most, every StatusEvery
			m.link.Send(&wire.Envelope{Type: wire.TypeStatus, Cluster: m.cfg.Cluster, Status: []wire.MemberStatus{st}})
		}
	}
}

// roleIn says what the member is in the configuration s reports.
func (m *Member) roleIn(s raft.Status) string {
	switch {
	case s.Config.IsVoter(m.cfg.ID):
		return "a voter"
	case s.Config.IsLearner(m.cfg.ID):
		return "a learner"
	}
	return "outside the configuration"
}

func (m *Member) fail(err error) {
	m.once.Do(func() {
		m.err = err
		close(m.failed)
	})
}

// Failed is closed when the member stops by itself: its storage failed or the hub refused it
// for good. Err then says why.
func (m *Member) Failed() <-chan struct{} { return m.failed }

// Err returns why the member failed, or nil.
func (m *Member) Err() error {
	select {
	case <-m.failed:
		return m.err
	default:
		return nil
	}
}

// Close stops the node, the link and every goroutine of the member, and closes its storage.
func (m *Member) Close() error {
	m.cancel()
	m.link.Close()
	m.peer.Close()
	m.mu.Lock()
	n, st := m.node, m.store
	m.mu.Unlock()
	var err error
	if n != nil {
		err = n.Stop()
	}
	m.wg.Wait()
	if c, ok := st.(*boltstore.Store); ok {
		if cerr := c.Close(); err == nil {
			err = cerr
		}
	}
	return err
}
