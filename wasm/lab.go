// The lab: a simulated cluster whose nodes keep their state in a KeyValue store, driven in
// slices of simulated time by the page, and described to the page as plain data.

package main

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/raft/sim"
)

// Limits of what the lab keeps and reports.
const (
	eventRing    = 400                    // events kept for the page's event log
	dropRing     = 200                    // recent drops kept for the page to animate
	logWindow    = 32                     // log entries reported per node (the newest)
	appliedKept  = 4                      // committed commands reported per node
	kvKeysShown  = 24                     // keys reported per node
	loadInterval = 100 * time.Millisecond // client load: one command per 100 ms of simulated time
	cmdShown     = 28                     // characters of a command shown in a log entry
)

// Config chooses a lab's cluster.
type Config struct {
	Nodes int       // 3, 5, 7 or 9
	Seed  uint64    // seeds election timeouts and the network
	Bugs  raft.Bugs // break-it switches planted in every node (off by default)
	// FollowerReads is the key-value service's break-it switch: a get is answered at once from
	// a follower's own state instead of through the log.
	FollowerReads bool
	// PreVote and CheckQuorum turn those options of Raft on in every node (options, not bugs).
	PreVote     bool
	CheckQuorum bool
	// JointConsensus makes membership changes go through joint configurations (Raft §6)
	// instead of one server at a time.
	JointConsensus bool
	// Compact is the log compaction threshold of every node (0: never). Free play uses
	// DefaultCompact, so that localStorage stays small however long the lab runs.
	Compact int
	// ForgetSessions is the key-value service's break-it switch: snapshots leave the client
	// sessions out, so a retried write can apply twice.
	ForgetSessions bool
}

// DefaultCompact is the page's compaction threshold: a node takes a snapshot of its key-value
// store once it has applied 100 entries since the last, so a node stores at most a few hundred
// log entries in localStorage.
const DefaultCompact = 100

// run returns the configuration as a run without actions.
func (cfg Config) run() sim.Run {
	return sim.Run{Version: sim.RunVersion, Nodes: cfg.Nodes, Seed: cfg.Seed, Bugs: cfg.Bugs, FollowerReads: cfg.FollowerReads,
		PreVote: cfg.PreVote, CheckQuorum: cfg.CheckQuorum, Compact: cfg.Compact, ForgetSessions: cfg.ForgetSessions, JointConsensus: cfg.JointConsensus}
}

// runConfig is the lab configuration of a run.
func runConfig(r *sim.Run) Config {
	return Config{Nodes: r.Nodes, Seed: r.Seed, Bugs: r.Bugs, FollowerReads: r.FollowerReads, PreVote: r.PreVote,
		CheckQuorum: r.CheckQuorum, Compact: r.Compact, ForgetSessions: r.ForgetSessions, JointConsensus: r.JointConsensus}
}

// clusterName is where a cluster of n nodes keeps its storage: each size has its own.
func clusterName(n int) string { return storageNamespace + fmt.Sprintf("lab%d", n) }

// StartError is a failure to start the cluster from stored data. The page shows it with a
// button that clears the cluster's storage (Reset).
type StartError struct {
	Cluster string
	Err     error
}

func (e *StartError) Error() string {
	return fmt.Sprintf("cluster %s cannot start from the data in this browser's localStorage: %v", e.Cluster, e.Err)
}

func (e *StartError) Unwrap() error { return e.Err }

// Lab is a running cluster and what the page needs to draw it. It is not safe for concurrent
// use; the page calls it from its one thread.
type Lab struct {
	c        *sim.Cluster
	kv       KeyValue
	cfg      Config
	cluster  string
	timerMax time.Duration

	stores map[string]*nodeStorage
	// storeList holds the same stores, for checkStorage's look after every event.
	storeList []*nodeStorage
	states    map[string]*kv.Store
	applied   map[string][]string
	nodeErr   map[string]string
	failed    map[string]bool // storage write failed; node stopped for good
	cache     map[string]*viewCache

	events   ring[loggedEvent]
	eventSeq uint64
	drops    ring[dropView]
	dropSeq  uint64

	load     bool
	loadNext time.Duration
	loadSeq  uint64

	hist history // the clients' operations (history.go)

	stopErr string // a storage failure that stopped a node: shown until reset
	stats   stats

	course course // recording, replay and guided scenarios (replay.go, guide.go)

	removed []string // the servers removed and stopped, as kept in storage (removedKey)
}

type stats struct {
	Delivered uint64 `json:"delivered"`
	Dropped   uint64 `json:"dropped"`
	Sent      uint64 `json:"sent"`
	Elections int    `json:"elections"`
	Committed int    `json:"committed"`
	Events    int    `json:"events"`
}

// NewLab starts a cluster of cfg.Nodes nodes whose storage lives in store, restoring every
// node from what store holds. Stored data that is foreign or corrupt gives a *StartError and
// changes nothing; Reset clears it.
func NewLab(store KeyValue, cfg Config) (*Lab, error) {
	switch cfg.Nodes {
	case 3, 5, 7, 9:
	default:
		return nil, fmt.Errorf("lab: %d nodes; choose 3, 5, 7 or 9", cfg.Nodes)
	}
	return newLab(store, cfg, sim.New)
}

// newLab is NewLab with the function that builds the cluster from the lab's simulator options
// (replay.go and guide.go change the options or build it through a scenario player).
func newLab(store KeyValue, cfg Config, build func(sim.Options) (*sim.Cluster, error)) (*Lab, error) {
	l := &Lab{
		kv:       store,
		cfg:      cfg,
		cluster:  clusterName(cfg.Nodes),
		timerMax: raft.DefaultElectionTimeoutMax,
		stores:   make(map[string]*nodeStorage),
		states:   make(map[string]*kv.Store),
		applied:  make(map[string][]string),
		nodeErr:  make(map[string]string),
		failed:   make(map[string]bool),
		cache:    make(map[string]*viewCache),
	}
	ids := make([]string, cfg.Nodes)
	for i := range ids {
		ids[i] = fmt.Sprintf("n%d", i+1)
	}
	if err := checkClusterFormat(store, l.cluster, ids, labFormatVersion, formatVersion); err != nil {
		return nil, &StartError{l.cluster, err}
	}
	keys := store.Keys()
	for _, id := range ids {
		l.stores[id] = newLabStorage(store, l.cluster, id, keys)
		l.storeList = append(l.storeList, l.stores[id])
		l.cache[id] = &viewCache{logVer: 1, kvVer: 1}
	}
	l.course.begin(store, cfg, l.cluster, keys)
	o := sim.Options{
		IDs:   ids,
		Seed:  cfg.Seed,
		Extra: l.storedExtra(keys, ids),
		Storage: func(id string) raft.Storage {
			if s := l.stores[id]; s != nil {
				return s
			}
			// A server added to the cluster (a membership change): its storage starts now.
			s := newLabStorage(store, l.cluster, id, keys)
			l.stores[id] = s
			l.storeList = append(l.storeList, s)
			l.cache[id] = &viewCache{logVer: 1, kvVer: 1}
			return s
		},
		OnEvent: l.onEvent,
		App: func(id string) sim.App {
			// Each start of a node starts its store anew, from its snapshot if it has one.
			st := kv.NewStore()
			st.ForgetSessions = cfg.ForgetSessions
			l.states[id] = st
			return &labApp{l, id, st}
		},
		OnSnapshot: func(id string, _ *raft.Snapshot) { l.bump(id, false, true) },
		Record:     true,
		Raft:       raft.Config{Bugs: cfg.Bugs, PreVote: cfg.PreVote, CheckQuorum: cfg.CheckQuorum, CompactThreshold: cfg.Compact, JointConsensus: cfg.JointConsensus},
	}
	c, err := build(o)
	if err != nil {
		return nil, &StartError{l.cluster, err}
	}
	l.c = c
	// The servers removed from the cluster before the reload stay stopped, as their processes
	// would have exited, until a change adds them again.
	if v, ok := store.GetItem(removedKey(l.cluster)); ok && v != "" {
		for _, id := range strings.Split(v, ",") {
			c.Retire(id) // onEvent notes it in l.removed; an id not in the cluster is dropped
		}
	}
	l.checkStorage()
	return l, nil
}

// freeID returns the first of n1…n15 that is not a member of the cluster, "" if none is left.
func (l *Lab) freeID() string {
	leader, ok := l.c.Leader()
	var conf raft.Configuration
	if ok {
		conf, _ = l.c.Node(leader).Configuration()
	}
	for i := 1; i <= sim.MaxIDs; i++ {
		if id := fmt.Sprintf("n%d", i); !conf.IsMember(id) && !slices.Contains(l.c.IDs(), id) {
			return id
		}
	}
	for i := 1; i <= sim.MaxIDs; i++ { // a removed server may come back
		if id := fmt.Sprintf("n%d", i); !conf.IsMember(id) && !l.c.Alive(id) {
			return id
		}
	}
	return ""
}

// byNumber orders node ids as people count: n2 before n10.
func byNumber(a, b string) int {
	if len(a) != len(b) {
		return len(a) - len(b)
	}
	return strings.Compare(a, b)
}

// configText writes a configuration for the cards, its ids in counting order; a joint one as
// "joint n1,n2,n3 → n4,n5,n6" (old voters, then new).
func configText(c raft.Configuration) string {
	s := "voters " + strings.Join(slices.SortedFunc(slices.Values(c.Voters), byNumber), ",")
	if c.Joint() {
		s = "joint " + strings.Join(slices.SortedFunc(slices.Values(c.Outgoing), byNumber), ",") + " → " +
			strings.Join(slices.SortedFunc(slices.Values(c.Voters), byNumber), ",")
	}
	if len(c.Learners) > 0 {
		s += " learners " + strings.Join(slices.SortedFunc(slices.Values(c.Learners), byNumber), ",")
	}
	return s
}

// validNodeID reports whether id is one of n1…n15.
func validNodeID(id string) bool {
	for i := 1; i <= sim.MaxIDs; i++ {
		if id == fmt.Sprintf("n%d", i) {
			return true
		}
	}
	return false
}

// storedExtra lists the servers beyond the first ids that have stored data: added to the cluster
// before the page was reloaded, they start again with it.
func (l *Lab) storedExtra(keys, ids []string) []string {
	prefix := clusterPrefix(l.cluster)
	var extra []string
	for _, k := range keys {
		rest, ok := strings.CutPrefix(k, prefix)
		if !ok {
			continue
		}
		id, key, ok := strings.Cut(rest, "/")
		if ok && key == raft.KeyCurrentTerm && !slices.Contains(ids, id) && raft.ValidateID(id) == nil && len(ids)+len(extra) < sim.MaxIDs {
			extra = append(extra, id)
		}
	}
	slices.Sort(extra)
	return extra
}

// removedKey is where the lab keeps the servers removed from cluster (ids, comma-separated).
func removedKey(cluster string) string { return clusterPrefix(cluster) + "removed" }

// keepRemoved notes in storage that id was removed from the cluster and stopped, or added again.
func (l *Lab) keepRemoved(id string) {
	if i := slices.Index(l.removed, id); i >= 0 {
		l.removed = slices.Delete(l.removed, i, i+1)
	} else {
		l.removed = append(l.removed, id)
	}
	if len(l.removed) == 0 {
		l.kv.RemoveItem(removedKey(l.cluster))
	} else {
		l.kv.SetItem(removedKey(l.cluster), strings.Join(l.removed, ",")) // a full quota shows on the nodes' own writes
	}
}

// Reset clears the stored data of the cluster of n nodes.
func Reset(store KeyValue, n int) int { return clearCluster(store, clusterName(n)) }

func (l *Lab) onEvent(e raft.Event) {
	l.course.onEvent(l, e)
	switch e.Kind {
	case raft.EvSend, raft.EvDeliver:
		if e.Kind == raft.EvDeliver {
			l.stats.Delivered++
		}
		return
	case raft.EvDrop:
		l.stats.Dropped++
		if e.Msg != nil {
			l.dropSeq++
			l.drops.push(dropView{Seq: l.dropSeq, From: e.Msg.From, To: e.Msg.To, Type: msgKind(e.Msg.Type), Why: e.Detail}, dropRing)
		}
		return
	case raft.EvRestore:
		// A node that starts delivers its committed entries again, from its snapshot on.
		l.applied[e.Node] = nil
		l.bump(e.Node, true, true)
	case raft.EvSubmit:
		if e.Index > 0 {
			l.onSubmit(e)
		}
	case raft.EvCrash:
		l.hist.crashed(e.Node)
		l.bump(e.Node, true, false)
		if l.c != nil && l.c.Removed(e.Node) {
			return // the stop of a removed server: the note after it tells it, not as a crash
		}
	case raft.EvAppend, raft.EvTruncate, raft.EvSnapshot, raft.EvInstall:
		l.bump(e.Node, true, false)
	case raft.EvNote, raft.EvRestart: // a server removed and stopped, or added again
		if l.c != nil && e.Node != "" && l.c.Removed(e.Node) != slices.Contains(l.removed, e.Node) {
			l.keepRemoved(e.Node)
		}
	}
	l.eventSeq++
	e.Msg = nil // the kinds logged here carry none; the simulator reuses what it points to
	l.events.push(loggedEvent{l.eventSeq, e}, eventRing)
}

// loggedEvent is an event kept for the page's event log. Its text is written only when a
// snapshot asks for it: under load most events scroll out of the log unread.
type loggedEvent struct {
	seq uint64
	e   raft.Event
}

func (le *loggedEvent) view() eventView {
	text := le.e.String()
	if _, rest, ok := strings.Cut(text, "ms "); ok {
		text = rest
	}
	return eventView{Seq: le.seq, Time: ms(le.e.Time), Kind: le.e.Kind.String(), Node: le.e.Node, Text: text}
}

// labApp is a node's application in the lab: its key-value store.
type labApp struct {
	l  *Lab
	id string
	st *kv.Store
}

func (a *labApp) Apply(e raft.CommitEntry)       { a.l.onApply(a.id, a.st, e) }
func (a *labApp) Snapshot() []byte               { return a.st.Snapshot() }
func (a *labApp) Restore(s *raft.Snapshot) error { return a.st.Restore(s.Index, s.Data) }

func (l *Lab) onApply(id string, st *kv.Store, e raft.CommitEntry) {
	out, err := st.Apply(e)
	if err != nil {
		l.nodeErr[id] = err.Error()
		return
	}
	if len(l.hist.waiting) > 0 {
		l.hist.applied(id, e, out.Result, l.c.Now())
	}
	if out.Kind == kv.Noop {
		return
	}
	l.applied[id] = appendRing(l.applied[id], out.String(), appliedKept)
	l.bump(id, false, true)
}

// viewCache keeps the costly parts of a node's view (its log window and key-value contents)
// between snapshots; they are rebuilt only after the events that change them. The page asks
// for a snapshot every frame.
type viewCache struct {
	logVer, kvVer     uint64 // bumped by events
	logBuilt, kvBuilt uint64 // the versions the views below were built at; 0 = never
	logLast           uint64
	logFrom           uint64
	log               []logView
	kv                [][2]string
	kvLen             int
}

func (l *Lab) bump(id string, log, kv bool) {
	c := l.cache[id]
	if c == nil {
		return
	}
	if log {
		c.logVer++
	}
	if kv {
		c.kvVer++
	}
}

func appendRing[T any](s []T, v T, n int) []T {
	if len(s) >= n {
		s = slices.Delete(s, 0, len(s)-n+1)
	}
	return append(s, v)
}

// ring keeps the newest n values pushed (the same n at each call): a circular buffer, so that
// a push overwrites the oldest value instead of shifting the whole window (which, for the
// timeline's 3,000 messages, took most of the lab's time under the client load). The zero
// value is empty.
type ring[T any] struct {
	buf   []T
	start int // of the oldest value, once the buffer is full
}

func (r *ring[T]) push(v T, n int) {
	if len(r.buf) < n {
		r.buf = append(r.buf, v)
		return
	}
	r.buf[r.start] = v
	r.start = (r.start + 1) % len(r.buf)
}

// at returns the i-th oldest value.
func (r *ring[T]) at(i int) *T { return &r.buf[(r.start+i)%len(r.buf)] }

// items returns the values, oldest first.
func (r *ring[T]) items() []T { return after(r, 0, func(*T) uint64 { return 1 }) }

// after returns the values whose sequence number (ascending along the ring) is above seq.
func after[T any](r *ring[T], seq uint64, seqOf func(*T) uint64) []T {
	i := len(r.buf)
	for i > 0 && seqOf(r.at(i-1)) > seq {
		i--
	}
	out := make([]T, 0, len(r.buf)-i)
	for ; i < len(r.buf); i++ {
		out = append(out, *r.at(i))
	}
	return out
}

// checkStorage stops every node whose storage failed to write (the quota). Its storage holds
// the state from before the failed call; the node is cut off first so that the messages of
// that call, already on the wire, are lost instead of delivered, then crashed.
//
// A stopped node stays cut off: its last messages may still be on the wire, so a heal or a
// partition that would restore its links is undone for it.
func (l *Lab) checkStorage() {
	// It runs after every event: first a cheap look for any failure at all.
	failed := false
	for _, s := range l.storeList {
		failed = failed || s.Err() != nil
	}
	if !failed {
		return
	}
	for _, id := range l.c.IDs() {
		s := l.stores[id]
		if s.Err() == nil {
			continue
		}
		if l.failed[id] {
			for _, p := range l.c.IDs() {
				if p != id && l.c.Connected(id, p) {
					l.c.Disconnect(id)
					break
				}
			}
			continue
		}
		l.failed[id] = true
		l.c.Disconnect(id)
		l.c.Crash(id)
		msg := fmt.Sprintf("%s: %s. It was stopped so that nothing it did not save leaves it; localStorage may be full. Reset the cluster to go on.", id, strings.TrimSuffix(s.Err().Error(), "."))
		l.nodeErr[id] = msg
		if l.stopErr == "" {
			l.stopErr = msg
		}
	}
}

// Advance runs the cluster for d of simulated time, or until budget of wall time is spent,
// whichever comes first. It reports whether it reached the target.
func (l *Lab) Advance(d, budget time.Duration) bool {
	if g := l.course.guide; g != nil {
		return g.advance(l, d)
	}
	target := l.c.Now() + d
	start := time.Now()
	for steps := 1; ; steps++ {
		next, ok := l.c.Next()
		if l.load && l.loadNext <= target && (!ok || l.loadNext <= next) && l.course.loadFirst(l.loadNext) {
			l.c.RunUntil(l.loadNext)
			l.submitLoad()
			l.loadNext += loadInterval
			continue
		}
		if l.course.due(l, target, next, ok) {
			continue
		}
		if !ok || next > target {
			l.c.RunUntil(target)
			return true
		}
		l.c.Step()
		l.checkStorage()
		if steps%32 == 0 && time.Since(start) > budget {
			return false
		}
	}
}

// Step processes the next pending event alone (single-step): queue items that record nothing
// (a timer made stale by a reset) are passed over, so each step shows a change. It reports
// false when nothing is pending.
func (l *Lab) Step() bool {
	if g := l.course.guide; g != nil {
		return g.step(l)
	}
	before := l.c.Events()
	for l.c.Events() == before {
		next, ok := l.c.Next()
		if l.load && (!ok || l.loadNext <= next) && l.course.loadFirst(l.loadNext) {
			l.c.RunUntil(l.loadNext)
			l.submitLoad()
			l.loadNext += loadInterval
			return true
		}
		if l.course.due(l, math.MaxInt64, next, ok) { // a recorded action before the next event
			return true
		}
		if !l.c.Step() {
			return false
		}
		l.checkStorage()
	}
	return true
}

// submitLoad puts the next key. With the follower-read switch it also reads the key put a
// tick before from a follower's state (the read touches no node, so the cluster's run is the
// same with the switch as without).
func (l *Lab) submitLoad() {
	id, ok := l.c.Leader()
	if !ok {
		return
	}
	l.loadSeq++
	cmd := kv.Put(fmt.Sprintf("k%d", l.loadSeq%10), fmt.Sprint(l.loadSeq))
	l.hist.src = "load"
	l.c.Submit(id, kv.Request{Command: cmd}.Encode())
	l.hist.src = ""
	if l.cfg.FollowerReads {
		if node, ok := l.readNode("", int(l.loadSeq)); ok {
			l.readAt(node, fmt.Sprintf("k%d", (l.loadSeq+9)%10), "load")
		}
	}
	l.checkStorage()
}

// reorderRate is the share of messages the page's reorder switch takes out of their link's order.
const reorderRate = 0.1

// Action is what the page asks for. Kind is a sim.ActionKind, or "load" (On) to switch the
// client load; "reorder" takes On (the switch), not a rate.
type Action struct {
	Kind     string     `json:"kind"`
	Node     string     `json:"node,omitempty"`
	Peer     string     `json:"peer,omitempty"`
	Groups   [][]string `json:"groups,omitempty"`
	Command  string     `json:"command,omitempty"`
	Commands []string   `json:"commands,omitempty"`
	On       bool       `json:"on,omitempty"`
	MinMs    float64    `json:"minMs,omitempty"`
	MaxMs    float64    `json:"maxMs,omitempty"`
	Msg      uint64     `json:"msg,omitempty"`    // drop-message: the message's id (flightView.ID)
	Voters   []string   `json:"voters,omitempty"` // set-voters: the voters wanted
}

// Do performs a person's action and returns what they should be told if it failed.
func (l *Lab) Do(a Action) (err error) {
	defer l.checkStorage()
	if err := l.course.beforeAct(l, a); err != nil {
		return err
	}
	switch sim.ActionKind(a.Kind) {
	case sim.ActSubmit, sim.ActSubmitBatch:
		return l.submit(a)
	case sim.ActRestart, sim.ActRestartAll:
		for _, id := range l.c.IDs() {
			if l.failed[id] && (a.Node == id || a.Kind == string(sim.ActRestartAll)) {
				return fmt.Errorf("%s's storage failed to save; reset the cluster to go on", id)
			}
		}
		if a.Node != "" && l.c.Alive(a.Node) {
			return fmt.Errorf("%s is already running", a.Node)
		}
		if a.Node != "" && l.c.Removed(a.Node) {
			return fmt.Errorf("%s was removed from the cluster: it stays stopped until it is added again (Add node, or Set voters)", a.Node)
		}
		err := l.act(sim.Action{Kind: sim.ActionKind(a.Kind), Node: a.Node})
		if err != nil && a.Node != "" {
			l.nodeErr[a.Node] = err.Error()
		} else if a.Node != "" {
			delete(l.nodeErr, a.Node)
		}
		return err
	case sim.ActSetLatency:
		return l.act(sim.Action{Kind: sim.ActSetLatency, Min: msDur(a.MinMs), Max: msDur(a.MaxMs)})
	case sim.ActDropMessage:
		return l.act(sim.Action{Kind: sim.ActDropMessage, Msg: a.Msg})
	case sim.ActSetReorder:
		if l.c.Unordered() {
			return errors.New("this run was shared before links were FIFO: every message already draws its own delay")
		}
		rate := 0.0
		if a.On {
			rate = reorderRate
		}
		return l.act(sim.Action{Kind: sim.ActSetReorder, Rate: rate})
	case sim.ActTimeout, sim.ActCrash, sim.ActDisconnect, sim.ActReconnect, sim.ActTransfer:
		if a.Node == "" {
			return fmt.Errorf("%s: which node?", a.Kind)
		}
		if l.failed[a.Node] && a.Kind == string(sim.ActReconnect) {
			return fmt.Errorf("%s's storage failed to save; reset the cluster to go on", a.Node)
		}
	case "load":
		// Recorded as a note, so that a replay switches the load at the same time (onEvent).
		return l.act(sim.Action{Kind: sim.ActNote, Detail: loadNote(a.On)})
	case sim.ActAddServer:
		if a.Node == "" {
			a.Node = l.freeID()
			if a.Node == "" {
				return fmt.Errorf("the cluster has had %d servers, n1 to n%d: no id is left", sim.MaxIDs, sim.MaxIDs)
			}
		}
		if !validNodeID(a.Node) {
			return fmt.Errorf("add %q: servers are named n1 to n%d", a.Node, sim.MaxIDs)
		}
	case sim.ActRemoveServer:
		if a.Node == "" {
			return errors.New("remove: which node?")
		}
	case sim.ActSetVoters:
		if len(a.Voters) == 0 {
			return errors.New("set voters: which servers? name at least one, as n1 to n15")
		}
		for _, id := range a.Voters {
			if !validNodeID(id) {
				return fmt.Errorf("set voters %q: servers are named n1 to n%d", id, sim.MaxIDs)
			}
		}
		a.Voters = slices.SortedFunc(slices.Values(a.Voters), byNumber)
		for i := 1; i < len(a.Voters); i++ {
			if a.Voters[i] == a.Voters[i-1] {
				return fmt.Errorf("set voters: %s is named twice", a.Voters[i])
			}
		}
	}
	err = l.act(sim.Action{Kind: sim.ActionKind(a.Kind), Node: a.Node, Peer: a.Peer, Groups: a.Groups, On: a.On, Voters: a.Voters})
	if k := sim.ActionKind(a.Kind); err != nil && (k == sim.ActAddServer || k == sim.ActRemoveServer || k == sim.ActSetVoters) {
		// A refused change, told without the packages' prefixes ("sim: n2 refused …: raft: …").
		msg, _ := strings.CutPrefix(err.Error(), "sim: ")
		if before, after, ok := strings.Cut(msg, ": raft: "); ok {
			msg = before + ": " + after
		}
		if strings.Contains(msg, "need joint consensus") && l.course.guide == nil {
			msg += "; turn it on under Options"
		}
		err = errors.New(msg)
	}
	return err
}

// submit parses key-value commands and hands them to the leader (or to Node, if named).
func (l *Lab) submit(a Action) error {
	texts := a.Commands
	if a.Kind == string(sim.ActSubmit) {
		texts = []string{a.Command}
	}
	if len(texts) == 0 {
		return errors.New("no command to submit")
	}
	var cmds [][]byte
	var reads []string // with the follower-read switch, gets are answered at once, after the rest
	for i, t := range texts {
		c, err := kv.ParseCommand(t)
		if err != nil {
			if len(texts) > 1 {
				return fmt.Errorf("command %d: %v", i+1, err)
			}
			return err
		}
		if c.Op == kv.OpGet && l.cfg.FollowerReads {
			reads = append(reads, c.Key)
			continue
		}
		cmds = append(cmds, kv.Request{Command: c}.Encode())
	}
	if len(cmds) > 0 {
		if err := l.submitLog(a.Node, cmds); err != nil {
			return err
		}
	}
	for _, k := range reads {
		l.hist.reads++ // the followers answer in turn; the note names the node for a replay
		node, ok := l.readNode(a.Node, l.hist.reads)
		if !ok {
			return errors.New("no live node to read from")
		}
		if err := l.followerRead(node, k); err != nil {
			return err
		}
	}
	return nil
}

// submitLog hands encoded commands to node id, or to the leader.
func (l *Lab) submitLog(id string, cmds [][]byte) error {
	if id == "" {
		var ok bool
		if id, ok = l.c.Leader(); !ok {
			return errors.New("there is no leader right now; wait for an election")
		}
	}
	if len(cmds) == 1 {
		return l.act(sim.Action{Kind: sim.ActSubmit, Node: id, Command: string(cmds[0])})
	}
	strs := make([]string, len(cmds))
	for i, c := range cmds {
		strs[i] = string(c)
	}
	return l.act(sim.Action{Kind: sim.ActSubmitBatch, Node: id, Commands: strs})
}

// ---- what the page draws --------------------------------------------------------------------

// Snapshot is the state of the lab for the page, as JSON.
type Snapshot struct {
	Now        float64      `json:"now"` // simulated milliseconds
	Seed       uint64       `json:"seed"`
	Cluster    string       `json:"cluster"`
	Leader     string       `json:"leader"`
	TimerMax   float64      `json:"timerMax"`
	Nodes      []nodeView   `json:"nodes"`
	Flights    []flightView `json:"flights"`
	Cut        [][2]string  `json:"cut"`
	Events     []eventView  `json:"events"`
	Drops      []dropView   `json:"drops"`
	Unreliable bool         `json:"unreliable"`
	Reorder    bool         `json:"reorder"`   // messages leave their link's FIFO order
	Unordered  bool         `json:"unordered"` // a version 1 run: every message does
	Load       bool         `json:"load"`
	HistVer    uint64       `json:"histVer"` // changes when the client history does (history.go)
	Pending    bool         `json:"pending"` // an event is waiting (single-step can proceed)
	NextAt     float64      `json:"nextAt"`
	Error      string       `json:"error,omitempty"`
	Violation  string       `json:"violation,omitempty"`
	Stats      stats        `json:"stats"`
	// Detail says whether each node's log, progress, key-value contents and applied commands
	// are included; a light snapshot (for the frames in between) leaves them out.
	Detail bool `json:"detail"`
}

type nodeView struct {
	ID        string  `json:"id"`
	State     string  `json:"state"`
	Term      uint64  `json:"term"`
	Vote      string  `json:"vote"`
	Leader    string  `json:"leader"`
	Commit    uint64  `json:"commit"`
	Last      uint64  `json:"last"`
	TimerLeft float64 `json:"timerLeft"` // ms until the election timeout; -1 for leaders and dead nodes
	// Membership: the node's part in the configuration it uses (voter, learner, or outside;
	// removed once the cluster stopped it), that configuration, and whether it is committed.
	Role            string `json:"role"`
	Config          string `json:"config"`
	ConfigCommitted bool   `json:"configCommitted"`
	// The snapshot that replaces the log up to SnapIndex (0: none): its term and state's size.
	SnapIndex uint64 `json:"snapIndex,omitempty"`
	SnapTerm  uint64 `json:"snapTerm,omitempty"`
	SnapSize  int    `json:"snapSize,omitempty"`
	// Detailed snapshots only; empty lists are left out.
	Progress []progView  `json:"progress,omitempty"`
	LogFrom  uint64      `json:"logFrom,omitempty"` // index of Log[0]
	Log      []logView   `json:"log,omitempty"`
	KV       [][2]string `json:"kv,omitempty"`
	KVLen    int         `json:"kvLen,omitempty"`
	Applied  []string    `json:"applied,omitempty"`
	Error    string      `json:"error,omitempty"`
}

type progView struct {
	ID       string `json:"id"`
	Match    uint64 `json:"match"`
	Next     uint64 `json:"next"`
	Inflight int    `json:"inflight"`
	Probing  bool   `json:"probing"`
}

type logView struct {
	Term uint64 `json:"t"`
	Cmd  string `json:"c"`
}

type flightView struct {
	ID      uint64  `json:"id"` // names the message while it travels (Lab.Message, drop-message)
	From    string  `json:"from"`
	To      string  `json:"to"`
	Type    string  `json:"type"`
	Sent    float64 `json:"sent"`
	Deliver float64 `json:"deliver"`
	Dropped bool    `json:"dropped"`
	OK      bool    `json:"ok"` // a reply's success (vote granted, entries matched)
	N       int     `json:"n"`  // entries carried
}

type eventView struct {
	Seq  uint64  `json:"seq"`
	Time float64 `json:"t"`
	Kind string  `json:"kind"`
	Node string  `json:"node"`
	Text string  `json:"text"`
}

type dropView struct {
	Seq  uint64 `json:"seq"`
	From string `json:"from"`
	To   string `json:"to"`
	Type string `json:"type"`
	Why  string `json:"why"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func msDur(m float64) time.Duration {
	// Round, not truncate: ms(d) of a nanosecond count is often a hair below it in binary
	// (1049.999979 ms * 1e6 = 1049999978.9999999), and a share link must land on its time.
	return time.Duration(math.Round(m * float64(time.Millisecond)))
}

// msgKind is the short name the page styles messages by.
func msgKind(t raft.MsgType) string {
	switch t {
	case raft.MsgVote:
		return "vote"
	case raft.MsgVoteReply:
		return "vote-reply"
	case raft.MsgApp:
		return "append"
	case raft.MsgAppReply:
		return "append-reply"
	case raft.MsgPreVote:
		return "prevote"
	case raft.MsgPreVoteReply:
		return "prevote-reply"
	case raft.MsgTimeoutNow:
		return "timeoutnow"
	case raft.MsgSnap:
		return "snapshot"
	case raft.MsgSnapReply:
		return "snapshot-reply"
	}
	return "other"
}

// Snapshot describes the lab; events and drops are those after the sequence numbers given.
func (l *Lab) Snapshot(eventsAfter, dropsAfter uint64) Snapshot {
	return l.snapshot(eventsAfter, dropsAfter, true)
}

// LightSnapshot is Snapshot without the nodes' details: what moves every frame (the clock,
// roles, timers, messages) and the new events.
func (l *Lab) LightSnapshot(eventsAfter, dropsAfter uint64) Snapshot {
	return l.snapshot(eventsAfter, dropsAfter, false)
}

func (l *Lab) snapshot(eventsAfter, dropsAfter uint64, detail bool) Snapshot {
	c := l.c
	now := c.Now()
	s := Snapshot{
		Now: ms(now), Seed: l.cfg.Seed, Cluster: l.cluster, TimerMax: ms(l.timerMax),
		Unreliable: c.Unreliable(), Reorder: c.Reorder() > 0 || c.Unordered(), Unordered: c.Unordered(), Load: l.load, HistVer: l.hist.ver, Error: l.stopErr,
		Nodes: make([]nodeView, 0, len(l.stores)), Flights: []flightView{}, Cut: [][2]string{},
		Events: []eventView{}, Drops: []dropView{}, Detail: detail,
	}
	s.Leader, _ = c.Leader()
	if t, ok := c.Next(); ok {
		s.Pending, s.NextAt = true, ms(t)
	}
	if err := c.Violation(); err != nil {
		s.Violation = err.Error()
	}
	s.Stats = l.stats
	s.Stats.Sent, s.Stats.Elections, s.Stats.Committed, s.Stats.Events = c.MessagesSent(), c.Elections(), c.Committed(), c.Events()
	ids := c.IDs()
	for i, id := range ids {
		s.Nodes = append(s.Nodes, l.nodeView(id, now, detail))
		for _, p := range ids[i+1:] {
			if !c.Connected(id, p) {
				s.Cut = append(s.Cut, [2]string{id, p})
			}
		}
	}
	for _, f := range c.InFlight() {
		s.Flights = append(s.Flights, flightView{ID: f.Seq, From: f.Msg.From, To: f.Msg.To, Type: msgKind(f.Msg.Type),
			Sent: ms(f.Sent), Deliver: ms(f.Deliver), Dropped: f.Dropped, OK: f.Msg.Success, N: len(f.Msg.Entries)})
	}
	for _, le := range after(&l.events, eventsAfter, func(e *loggedEvent) uint64 { return e.seq }) {
		s.Events = append(s.Events, le.view())
	}
	s.Drops = append(s.Drops, after(&l.drops, dropsAfter, func(d *dropView) uint64 { return d.Seq })...)
	return s
}

func (l *Lab) nodeView(id string, now time.Duration, detail bool) nodeView {
	st := l.c.Status(id)
	v := nodeView{ID: id, State: st.State.String(), Term: st.Term, Vote: st.VotedFor, Leader: st.Leader,
		Commit: st.CommitIndex, Last: st.LastIndex, TimerLeft: -1, Error: l.nodeErr[id],
		SnapIndex: st.SnapshotIndex, SnapTerm: st.SnapshotTerm, SnapSize: st.SnapshotSize,
		Role: "outside", ConfigCommitted: st.ConfigCommitted,
	}
	switch {
	case st.Config.IsVoter(id):
		v.Role = "voter"
	case st.Config.IsLearner(id):
		v.Role = "learner"
	}
	if st.State == raft.Dead && l.c.Removed(id) {
		v.Role = "removed" // stopped until added again, whatever the configuration it last used
	}
	if st.State == raft.Follower || st.State == raft.Candidate || st.State == raft.PreCandidate {
		v.TimerLeft = ms(max(st.ElectionDeadline-now, 0))
	}
	if !detail {
		return v // the drawing needs the role every frame; the cards draw the rest from detail
	}
	v.Config = configText(st.Config)
	v.Applied = slices.Clone(l.applied[id])
	for _, p := range slices.SortedFunc(maps.Keys(st.Progress), byNumber) {
		pr := st.Progress[p]
		v.Progress = append(v.Progress, progView{ID: p, Match: pr.Match, Next: pr.Next, Inflight: pr.Inflight, Probing: pr.Probing})
	}
	c := l.cache[id]
	if c.logBuilt != c.logVer || c.logLast != st.LastIndex {
		c.logFrom, c.log = l.logWindow(id, st.SnapshotIndex, st.LastIndex)
		c.logBuilt, c.logLast = c.logVer, st.LastIndex
	}
	v.LogFrom, v.Log = c.logFrom, c.log
	if c.kvBuilt != c.kvVer {
		c.kv, c.kvLen = [][2]string{}, 0
		if kvs := l.states[id]; kvs != nil {
			c.kvLen = kvs.Len()
			for _, k := range kvs.Keys() {
				if len(c.kv) == kvKeysShown {
					break
				}
				val, _ := kvs.Get(k)
				c.kv = append(c.kv, [2]string{k, val})
			}
		}
		c.kvBuilt = c.kvVer
	}
	v.KV, v.KVLen = c.kv, c.kvLen
	return v
}

// logWindow reads the newest entries of id's log after its snapshot: from the running core, or
// from storage while the node is down.
func (l *Lab) logWindow(id string, snap, last uint64) (from uint64, log []logView) {
	from = snap + 1
	if last > logWindow {
		from = max(from, last-logWindow+1)
	}
	log = []logView{}
	node := l.c.Node(id)
	for i := from; i <= last; i++ {
		var e raft.Entry
		ok := false
		if node != nil {
			e, ok = node.Entry(i)
		} else if b, found := l.stores[id].Get(raft.KeyLogEntry(i)); found {
			var err error
			e, err = raft.DecodeEntry(b)
			ok = err == nil
		}
		if !ok {
			break
		}
		log = append(log, logView{Term: e.Term, Cmd: entryText(e)})
	}
	return from, log
}

func entryText(e raft.Entry) string {
	if e.Type == raft.EntryNoop {
		return "noop"
	}
	s := string(e.Command)
	if r, err := kv.DecodeRequest(e.Command); err == nil {
		s = r.Command.String()
	}
	if r := []rune(s); len(r) > cmdShown {
		s = string(r[:cmdShown]) + "…"
	}
	return s
}

// MessageView is a message on the wire, its fields named as in Figure 2 of the Raft paper, in
// the order the page lists them.
type MessageView struct {
	ID      uint64      `json:"id"`
	Type    string      `json:"type"`
	From    string      `json:"from"`
	To      string      `json:"to"`
	Sent    float64     `json:"sent"`
	Deliver float64     `json:"deliver"`
	Dropped bool        `json:"dropped"` // lost on arrival (cut link, down node, dropped by hand)
	Fields  [][2]string `json:"fields"`
}

// messageEntriesShown is how many of an AppendEntries' entries a message view lists.
const messageEntriesShown = 8

// Message returns the message on the wire named id (a flight's id), for the page's message
// view.
func (l *Lab) Message(id uint64) (MessageView, error) {
	f, ok := l.c.Flight(id)
	if !ok {
		return MessageView{}, errors.New("that message is no longer on the wire: it arrived or was lost")
	}
	m := &f.Msg
	v := MessageView{ID: id, Type: m.Type.String(), From: m.From, To: m.To, Sent: ms(f.Sent), Deliver: ms(f.Deliver), Dropped: f.Dropped}
	add := func(name string, val any) { v.Fields = append(v.Fields, [2]string{name, fmt.Sprint(val)}) }
	add("term", m.Term)
	switch m.Type {
	case raft.MsgVote, raft.MsgPreVote:
		add("candidateId", m.From)
		add("lastLogIndex", m.LastLogIndex)
		add("lastLogTerm", m.LastLogTerm)
	case raft.MsgVoteReply, raft.MsgPreVoteReply:
		add("voteGranted", m.Success)
	case raft.MsgApp:
		add("leaderId", m.From)
		add("prevLogIndex", m.PrevLogIndex)
		add("prevLogTerm", m.PrevLogTerm)
		if len(m.Entries) == 0 {
			add("entries", "none (a heartbeat)")
		}
		for i, e := range m.Entries {
			if i == messageEntriesShown {
				add("", fmt.Sprintf("… and %d more", len(m.Entries)-i))
				break
			}
			cmd := string(e.Command)
			if e.Type != raft.EntryCommand || cmd == "" {
				cmd = e.Type.String()
			}
			add(fmt.Sprintf("entry %d", m.PrevLogIndex+uint64(i)+1), fmt.Sprintf("term %d: %s", e.Term, cmd))
		}
		add("leaderCommit", m.Commit)
	case raft.MsgAppReply:
		add("success", m.Success)
		if m.Success {
			add("matchIndex", m.Index)
		} else {
			add("rejected prevLogIndex", m.Index)
			add("conflictTerm", m.ConflictTerm)
			add("conflictIndex", m.ConflictIndex)
		}
	case raft.MsgSnap:
		add("leaderId", m.From)
		add("lastIncludedIndex", m.LastLogIndex)
		add("lastIncludedTerm", m.LastLogTerm)
		add("offset", m.Offset)
		add("data", fmt.Sprintf("%d bytes", len(m.Data)))
		add("done", m.Done)
	case raft.MsgSnapReply:
		add("lastIncludedIndex", m.Index)
		add("bytes held", m.Offset)
		add("installed", m.Success)
	}
	return v, nil
}
