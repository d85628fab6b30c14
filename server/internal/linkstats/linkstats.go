// Package linkstats counts the Raft messages a process moves between members: sent,
// delivered, and dropped with the reason. Counting is a few atomic adds on the hot path; the
// metrics package reads the totals when /metrics is scraped.
package linkstats

import (
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"raftlab/raft"
)

// Why a message was dropped.
const (
	// QueueFull: a bounded send queue (a connection's, the link's) or a node's inbox was full.
	QueueFull = "queue_full"
	// Unreachable: nobody hosts the destination now, or the link to the hub is down.
	Unreachable = "unreachable"
	// Unreliable: dropped on purpose by unreliable mode (RAFT_UNRELIABLE_RPC).
	Unreliable = "unreliable"
	// NotRunning: the destination's host has it, but its node has not started yet (a node
	// process waiting for the hub's welcome, which the others' direct links reach first).
	// Not logged as a sustained drop: the host says once why its node is not running.
	NotRunning = "not_running"
)

// Key names one drop counter.
type Key struct{ Cluster, From, To, Reason string }

// Counters counts messages per member. Its methods are safe for concurrent use.
type Counters struct {
	mu      sync.Mutex
	members map[[2]string]*member // by cluster and member id
	dropped map[Key]uint64

	// Sustained drops are logged once per window per destination and reason.
	logf    func(format string, args ...any)
	logMu   sync.Mutex
	windows map[Key]*window
}

type member struct{ sent, delivered atomic.Uint64 }

// New returns empty counters. logf, if not nil, gets one line when messages to a member keep
// being dropped for the same reason (see SustainedAfter), and one when that stops.
func New(logf func(format string, args ...any)) *Counters {
	return &Counters{members: map[[2]string]*member{}, dropped: map[Key]uint64{}, logf: logf, windows: map[Key]*window{}}
}

func (c *Counters) member(cluster, id string) *member {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.members[[2]string{cluster, id}]
	if m == nil {
		m = &member{}
		c.members[[2]string{cluster, id}] = m
	}
	return m
}

// Sent counts messages handed to the transport by their senders.
func (c *Counters) Sent(cluster string, msgs []raft.Message) {
	c.count(cluster, msgs, func(m *raft.Message) string { return m.From }, func(m *member) *atomic.Uint64 { return &m.sent })
}

// Delivered counts messages handed to their destination's node.
func (c *Counters) Delivered(cluster string, msgs []raft.Message) {
	c.count(cluster, msgs, func(m *raft.Message) string { return m.To }, func(m *member) *atomic.Uint64 { return &m.delivered })
}

// count adds msgs to the counter that field picks in the member id names, one add per run of
// messages of the same member (a batch mostly has one sender, or one destination).
func (c *Counters) count(cluster string, msgs []raft.Message, id func(*raft.Message) string, field func(*member) *atomic.Uint64) {
	if c == nil || len(msgs) == 0 {
		return
	}
	who, n := id(&msgs[0]), 0
	for i := range msgs {
		if w := id(&msgs[i]); w != who {
			field(c.member(cluster, who)).Add(uint64(n))
			who, n = w, 0
		}
		n++
	}
	field(c.member(cluster, who)).Add(uint64(n))
}

// Dropped counts messages lost for reason.
func (c *Counters) Dropped(cluster string, msgs []raft.Message, reason string) {
	if c == nil || len(msgs) == 0 {
		return
	}
	c.mu.Lock()
	for i := range msgs {
		c.dropped[Key{cluster, msgs[i].From, msgs[i].To, reason}]++
	}
	c.mu.Unlock()
	if c.logf != nil && reason != NotRunning {
		now := time.Now()
		for i := range msgs {
			if i > 0 && msgs[i].To == msgs[i-1].To && msgs[i].From == msgs[i-1].From {
				continue
			}
			c.sustained(Key{cluster, msgs[i].From, msgs[i].To, reason}, now)
		}
	}
}

// MemberTotals is one member's counts.
type MemberTotals struct {
	Cluster, ID     string
	Sent, Delivered uint64
}

// Snapshot returns every member's counts and every drop counter, sorted.
func (c *Counters) Snapshot() ([]MemberTotals, map[Key]uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ms := make([]MemberTotals, 0, len(c.members))
	for k, m := range c.members {
		ms = append(ms, MemberTotals{Cluster: k[0], ID: k[1], Sent: m.sent.Load(), Delivered: m.delivered.Load()})
	}
	slices.SortFunc(ms, func(a, b MemberTotals) int {
		return strings.Compare(a.Cluster+"\x00"+a.ID, b.Cluster+"\x00"+b.ID)
	})
	d := make(map[Key]uint64, len(c.dropped))
	for k, v := range c.dropped {
		d[k] = v
	}
	return ms, d
}

// DroppedTo returns how many messages to member of cluster were dropped, by reason.
func (c *Counters) DroppedTo(cluster, id string) map[string]uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := map[string]uint64{}
	for k, v := range c.dropped {
		if k.Cluster == cluster && k.To == id {
			out[k.Reason] += v
		}
	}
	return out
}

// Sustained drops: messages from one member to another dropped for one reason in each of
// SustainedAfter consecutive one-second windows are logged once, with the count so far; a
// whole second without such a drop ends the spell, and the next spell is logged again.
const SustainedAfter = 2

type window struct {
	start  time.Time // the current second's start
	run    int       // consecutive seconds with drops, the current one included
	count  uint64    // drops during the run
	logged bool
}

func (c *Counters) sustained(k Key, now time.Time) {
	c.logMu.Lock()
	defer c.logMu.Unlock()
	w := c.windows[k]
	if w == nil {
		w = &window{start: now, run: 1}
		c.windows[k] = w
	}
	switch el := now.Sub(w.start); {
	case el < time.Second:
	case el < 2*time.Second:
		w.start, w.run = w.start.Add(time.Second), w.run+1
	default:
		*w = window{start: now, run: 1}
	}
	w.count++
	if w.run >= SustainedAfter && !w.logged {
		w.logged = true
		c.logf("messages from %s to %s in cluster %s: dropping (%s) for %d s in a row, %d so far", k.From, k.To, k.Cluster, k.Reason, w.run, w.count)
	}
}
