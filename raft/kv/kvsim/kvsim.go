// Package kvsim runs the key-value service on a simulated cluster with simulated clients, and
// records the clients' history for the linearizability checker.
//
// Each node of the cluster applies its committed entries to its own kv.Store. Each client has
// one request outstanding at a time: it submits the request to the node it believes leads,
// follows the redirect when that node names another leader, and retries the same request
// (same client id and sequence number) at the next node when no answer comes within its
// timeout or when the node crashes. It is answered by the node it submitted to, when that
// node applies the request. The client records each operation's call and return on the
// virtual clock; the history goes to lincheck.
//
// The clients' timers live beside the cluster's event queue: advance time through this
// package's Cluster (RunUntil, RunFor, Step), not through the embedded sim.Cluster's, or the
// clients wait.
package kvsim

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/raft/kv/lincheck"
	"raftlab/raft/sim"
)

// Defaults of Options.
const (
	DefaultClients = 5
	DefaultKeys    = 5
	DefaultTimeout = 200 * time.Millisecond
	DefaultThink   = 10 * time.Millisecond
	// RedirectDelay is how long a redirected client takes to reach the named leader;
	// BackoffDelay how long it waits before trying another node when the one it asked knows
	// no leader or is down.
	RedirectDelay = 1 * time.Millisecond
	BackoffDelay  = 20 * time.Millisecond
)

// Options configures the clients.
type Options struct {
	// Clients is the number of clients, c1…cN (default 5).
	Clients int
	// Keys is the number of distinct keys, k0…k(N-1), that operations pick from (default 5).
	// Few keys make clients contend.
	Keys int
	// Timeout is how long a client waits for an answer before it retries elsewhere
	// (default 200 ms).
	Timeout time.Duration
	// Think bounds the random pause between an answer and the client's next request
	// (default up to 10 ms; negative for none).
	Think time.Duration
	// Seed drives the clients' choices; the cluster's own seed is sim.Options.Seed.
	Seed uint64
	// ForgetSessions plants the break-it bug kv.Store.ForgetSessions in every node's store.
	ForgetSessions bool
}

// Stats counts what the clients did.
type Stats struct {
	Ops       int // operations answered
	Pending   int // operations outstanding (called, not answered)
	Attempts  int // submissions to a node, retries and redirects included
	Retries   int // resubmissions after a timeout or a crash
	Redirects int // submissions to the leader a node named
}

// Cluster is a simulated cluster serving the key-value store to simulated clients. The
// embedded sim.Cluster gives faults and inspection; advance time with this type's methods.
type Cluster struct {
	*sim.Cluster
	opts    Options
	rng     *rand.Rand
	clients []*client
	stores  map[string]*kv.Store
	hist    lincheck.History
	metrics Metrics
	stats   Stats
	stopped bool
	err     error // the first store error (a driver bug), reported by Err
}

// client is one simulated client.
type client struct {
	num  int    // 0-based, the history's client number
	id   string // c1…
	seq  uint64
	op   kv.Command
	call time.Duration // when the current operation was called
	busy bool          // an operation is outstanding

	target  string        // the node to send to next
	waitOn  string        // the node the outstanding attempt went to ("" between attempts)
	timerAt time.Duration // when the client acts next; -1 for never
}

// New builds the cluster with so and starts the clients of o. Each node's application is a
// kv.Store (so.App is replaced); New chains its own hooks before so.OnEvent.
func New(so sim.Options, o Options) (*Cluster, error) {
	if o.Clients == 0 {
		o.Clients = DefaultClients
	}
	if o.Keys == 0 {
		o.Keys = DefaultKeys
	}
	if o.Timeout == 0 {
		o.Timeout = DefaultTimeout
	}
	if o.Think == 0 {
		o.Think = DefaultThink
	}
	switch {
	case o.Clients < 0 || o.Clients > 1000:
		return nil, fmt.Errorf("kvsim: %d clients; want 0 to 1000", o.Clients)
	case o.Keys < 0:
		return nil, fmt.Errorf("kvsim: %d keys; want at least 1", o.Keys)
	case o.Timeout < 0:
		return nil, fmt.Errorf("kvsim: negative timeout %v", o.Timeout)
	}
	k := &Cluster{
		opts:   o,
		rng:    rand.New(rand.NewPCG(o.Seed, 0xc11e47)),
		stores: make(map[string]*kv.Store),
	}
	onEvent := so.OnEvent
	so.OnEvent = func(e raft.Event) {
		k.event(e)
		if onEvent != nil {
			onEvent(e)
		}
	}
	so.App = func(id string) sim.App {
		st := kv.NewStore()
		st.ForgetSessions = o.ForgetSessions
		k.stores[id] = st
		return &nodeApp{k, id, st}
	}
	c, err := sim.New(so)
	if err != nil {
		return nil, err
	}
	k.Cluster = c
	ids := c.IDs()
	k.metrics.Nodes = len(ids)
	for i := range o.Clients {
		cl := &client{num: i, id: fmt.Sprintf("c%d", i+1), target: ids[k.rng.IntN(len(ids))]}
		cl.timerAt = k.think()
		k.clients = append(k.clients, cl)
	}
	return k, nil
}

// think returns when a client that is free now starts its next operation.
func (k *Cluster) think() time.Duration {
	now := k.Now()
	if k.opts.Think < 0 {
		return now
	}
	return now + time.Duration(k.rng.Int64N(int64(k.opts.Think)+1))
}

// event follows the trace: stores of crashed and restarted nodes, clients whose node crashed,
// and the metrics.
func (k *Cluster) event(e raft.Event) {
	k.metrics.Event(e)
	switch e.Kind {
	case raft.EvCrash:
		delete(k.stores, e.Node)
		// The client's connection breaks: it retries elsewhere at once.
		for _, cl := range k.clients {
			if cl.busy && cl.waitOn == e.Node {
				cl.waitOn, cl.target, cl.timerAt = "", k.nextNode(e.Node), e.Time
				k.stats.Retries++
			}
		}
	}
}

// nodeApp is a node's application: its store, answering the clients.
type nodeApp struct {
	k  *Cluster
	id string
	st *kv.Store
}

func (a *nodeApp) Apply(e raft.CommitEntry)       { a.k.apply(a.id, a.st, e) }
func (a *nodeApp) Snapshot() []byte               { return a.st.Snapshot() }
func (a *nodeApp) Restore(s *raft.Snapshot) error { return a.st.Restore(s.Index, s.Data) }

// apply feeds a node's store and answers the client waiting on that node for this request.
func (k *Cluster) apply(id string, st *kv.Store, e raft.CommitEntry) {
	out, err := st.Apply(e)
	if err != nil {
		if k.err == nil {
			k.err = fmt.Errorf("kvsim: node %s: %w", id, err)
		}
		return
	}
	if out.Kind != kv.Applied && out.Kind != kv.Duplicate || out.Request.ClientID == "" {
		return
	}
	for _, cl := range k.clients {
		if cl.busy && cl.waitOn == id && cl.id == out.Request.ClientID && cl.seq == out.Request.Seq {
			k.hist.Add(cl.num, cl.op, cl.call, out.Result, k.Now())
			k.stats.Ops++
			cl.busy, cl.waitOn = false, ""
			cl.timerAt = -1
			if !k.stopped {
				cl.timerAt = k.think()
			}
			return
		}
	}
}

// Err returns the first error of a node's store: entries applied out of order, which would be
// a bug of the simulator or the core.
func (k *Cluster) Err() error { return k.err }

// newOp picks the client's next operation: reads 40%, puts 25%, appends 25%, deletes 10%,
// on a random key, with values that name the client and the operation.
func (k *Cluster) newOp(cl *client) kv.Command {
	key := fmt.Sprintf("k%d", k.rng.IntN(k.opts.Keys))
	val := fmt.Sprintf("%s.%d;", cl.id, cl.seq)
	switch r := k.rng.IntN(20); {
	case r < 8:
		return kv.Get(key)
	case r < 13:
		return kv.Put(key, val)
	case r < 18:
		return kv.Append(key, val)
	default:
		return kv.Delete(key)
	}
}

// fire runs a client whose timer is due: start an operation, or (re)submit the outstanding one.
func (k *Cluster) fire(cl *client) {
	now := k.Now()
	cl.timerAt = -1
	if !cl.busy {
		if k.stopped {
			return
		}
		cl.seq++
		cl.op = k.newOp(cl)
		cl.call, cl.busy = now, true
	} else if cl.waitOn != "" {
		// No answer in time: try the next node.
		k.stats.Retries++
		cl.target = k.nextNode(cl.waitOn)
		cl.waitOn = ""
	}
	k.stats.Attempts++
	req := kv.Request{ClientID: cl.id, Seq: cl.seq, Command: cl.op}
	_, err := k.Cluster.Submit(cl.target, req.Encode())
	var nl *raft.NotLeaderError
	switch {
	case err == nil:
		cl.waitOn = cl.target
		cl.timerAt = now + k.opts.Timeout
	case errors.As(err, &nl) && nl.Leader != "" && nl.Leader != cl.target && !k.Removed(nl.Leader):
		// (A server that missed its removal's news may name a removed one: not followed.)
		k.stats.Redirects++
		cl.target = nl.Leader
		cl.timerAt = now + RedirectDelay
	default:
		// No leader known there, or the node is down: try the next one after a pause.
		cl.target = k.nextNode(cl.target)
		cl.timerAt = now + BackoffDelay
	}
}

// nextNode returns the server after id, skipping removed ones, as a client that knows the
// cluster's members would.
func (k *Cluster) nextNode(id string) string {
	ids := k.IDs()
	i := slices.Index(ids, id)
	for j := 1; j <= len(ids); j++ {
		if next := ids[(i+j+len(ids))%len(ids)]; !k.Removed(next) {
			return next
		}
	}
	return ids[(i+1+len(ids))%len(ids)]
}

// nextClient returns the client that acts first, and when.
func (k *Cluster) nextClient() (*client, time.Duration) {
	var first *client
	for _, cl := range k.clients {
		if cl.timerAt >= 0 && (first == nil || cl.timerAt < first.timerAt) {
			first = cl
		}
	}
	if first == nil {
		return nil, 0
	}
	return first, first.timerAt
}

// Next returns the time of the next event, the clients' included.
func (k *Cluster) Next() (time.Duration, bool) {
	t, ok := k.Cluster.Next()
	if cl, ct := k.nextClient(); cl != nil && k.Violation() == nil && (!ok || ct < t) {
		return max(ct, k.Now()), true
	}
	return t, ok
}

// Step processes the next event: the cluster's, or a client's when it comes first.
func (k *Cluster) Step() bool {
	if k.Violation() != nil {
		return false
	}
	t, ok := k.Cluster.Next()
	if cl, ct := k.nextClient(); cl != nil && (!ok || ct < t) {
		k.Cluster.RunUntil(ct)
		k.fire(cl)
		return true
	}
	return k.Cluster.Step()
}

// RunUntil processes every event up to time t, the clients' included, and leaves the clock at
// t (or at the violation that stopped the run).
func (k *Cluster) RunUntil(t time.Duration) {
	for k.Violation() == nil {
		next, ok := k.Next()
		if !ok || next > t {
			break
		}
		k.Step()
	}
	k.Cluster.RunUntil(t)
}

// RunFor runs for d of simulated time.
func (k *Cluster) RunFor(d time.Duration) { k.RunUntil(k.Now() + d) }

// RunUntilTrue runs until cond holds, checking after every event, for at most d. It reports
// whether cond held.
func (k *Cluster) RunUntilTrue(d time.Duration, cond func() bool) bool {
	end := k.Now() + d
	for !cond() {
		next, ok := k.Next()
		if k.Violation() != nil || !ok || next > end {
			k.RunUntil(end)
			return cond()
		}
		k.Step()
	}
	return true
}

// Stop makes the clients start no new operations; outstanding ones go on until answered.
func (k *Cluster) Stop() { k.stopped = true }

// Drain stops the clients and runs until every outstanding operation is answered, for at most
// d. It reports whether they all were.
func (k *Cluster) Drain(d time.Duration) bool {
	k.Stop()
	return k.RunUntilTrue(d, func() bool { return k.Outstanding() == 0 })
}

// Outstanding returns the number of operations called and not yet answered.
func (k *Cluster) Outstanding() int {
	n := 0
	for _, cl := range k.clients {
		if cl.busy {
			n++
		}
	}
	return n
}

// History returns the clients' history so far: the answered operations, and the outstanding
// ones as operations whose answer is unknown.
func (k *Cluster) History() *lincheck.History {
	h := k.hist.Clone()
	for _, cl := range k.clients {
		if cl.busy {
			h.AddUnknown(cl.num, cl.op, cl.call)
		}
	}
	return h
}

// Check checks the history for linearizability, giving up after timeout (0: no limit).
func (k *Cluster) Check(timeout time.Duration) lincheck.Result {
	return lincheck.Check(k.History(), timeout)
}

// Stats returns the clients' counters.
func (k *Cluster) Stats() Stats {
	s := k.stats
	s.Pending = k.Outstanding()
	return s
}

// Metrics returns the commit-latency and failover measurements.
func (k *Cluster) Metrics() *Metrics { return &k.metrics }

// Store returns the key-value store of a live node, nil for a crashed one.
func (k *Cluster) Store(id string) *kv.Store { return k.stores[id] }
