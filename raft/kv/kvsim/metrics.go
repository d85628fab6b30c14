// Metrics read off the trace: submit-to-commit latency on the leader, and failover time.

package kvsim

import (
	"math"
	"slices"
	"time"

	"raftlab/raft"
)

// Metrics measures, from a cluster's trace events, how long commands take to commit and how
// long the cluster goes without a leader after the leader crashes. Feed it every event in
// order (sim.Options.OnEvent); the zero value is ready to use.
type Metrics struct {
	// Nodes is the cluster size. When set, failover is measured only while a majority of the
	// nodes is running: after a crash that leaves fewer, no election can succeed until nodes
	// restart, and the time would measure the fault schedule rather than Raft.
	Nodes int
	down  map[string]bool

	// pending holds, per leader, its submitted and not yet committed entries in index order.
	pending map[string][]submitted
	commit  []time.Duration

	leader    string        // the live leader as far as the trace tells, "" if none
	crashedAt time.Duration // when the leader crashed, while waiting for the next one
	waiting   bool
	failover  []time.Duration
}

type submitted struct {
	index uint64
	at    time.Duration
}

// Event takes one trace event.
//
// Commit latency is measured per entry from the EvSubmit that put it in a leader's log to the
// EvCommit on that same leader that covers it. An entry whose leader loses its role (or
// crashes) before committing it is not counted. Failover is measured from the EvCrash of the
// node that led to the next EvState that makes any node leader (see Nodes).
func (m *Metrics) Event(e raft.Event) {
	switch e.Kind {
	case raft.EvSubmit:
		if e.Index == 0 {
			return // refused
		}
		if m.pending == nil {
			m.pending = make(map[string][]submitted)
		}
		last := max(e.Last, e.Index)
		for i := e.Index; i <= last; i++ {
			m.pending[e.Node] = append(m.pending[e.Node], submitted{i, e.Time})
		}
	case raft.EvCommit:
		q := m.pending[e.Node]
		n := 0
		for n < len(q) && q[n].index <= e.Index {
			m.commit = append(m.commit, e.Time-q[n].at)
			n++
		}
		if n > 0 {
			m.pending[e.Node] = q[n:]
		}
	case raft.EvState:
		delete(m.pending, e.Node)
		if e.State == raft.Leader {
			if m.waiting {
				m.failover = append(m.failover, e.Time-m.crashedAt)
				m.waiting = false
			}
			m.leader = e.Node
		} else if e.Node == m.leader {
			m.leader = ""
		}
	case raft.EvCrash:
		delete(m.pending, e.Node)
		if m.down == nil {
			m.down = make(map[string]bool)
		}
		m.down[e.Node] = true
		if e.Node == m.leader {
			m.leader = ""
			m.crashedAt, m.waiting = e.Time, true
		}
		if m.Nodes > 0 && m.Nodes-len(m.down) <= m.Nodes/2 {
			m.waiting = false // no majority left: not a failover to measure
		}
	case raft.EvRestore:
		delete(m.down, e.Node)
	}
}

// CommitLatencies returns every measured submit-to-commit latency, in commit order.
func (m *Metrics) CommitLatencies() []time.Duration { return slices.Clone(m.commit) }

// Failovers returns every measured failover time, from a leader's crash to the next election.
func (m *Metrics) Failovers() []time.Duration { return slices.Clone(m.failover) }

// Percentile returns the p-th percentile (0 < p ≤ 100) of ds by the nearest-rank method, or 0
// when ds is empty.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	rank := int(math.Ceil(p/100*float64(len(s)))) - 1
	return s[min(max(rank, 0), len(s)-1)]
}

// Millis returns d in milliseconds, for reports.
func Millis(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
