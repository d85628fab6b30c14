// What a native node tells an operator: its state and counters for metrics (Stats), and one
// log line for each leader or term change and each election timeout, with the reason.
package native

import (
	"fmt"
	"sync/atomic"
	"time"

	"raftlab/raft"
	"raftlab/server/internal/durhist"
)

// Stats is a snapshot of a node's state and counters. Reading it does not wait for the node's
// goroutine, so a stalled node can still be scraped.
type Stats struct {
	State                      raft.State
	Term, Commit, Applied      uint64
	Last                       uint64
	Leader                     string
	ElectionTimeouts           uint64 // election timers that fired (each starts a pre-vote or an election)
	ElectionsStarted           uint64 // elections this node started (its term raised as a candidate)
	ElectionsWon               uint64 // times it became leader
	TermChanges, LeaderChanges uint64
	// TimerLate: how long after its deadline the node's goroutine fired its timer. Lateness
	// is time the node could not run: CPU starvation, a long storage write, a stopped process.
	TimerLate durhist.Snapshot
}

// stats is what Stats reads: written on the node's goroutine, read from any.
type stats struct {
	state, term, commit, applied, last atomic.Uint64
	leader                             atomic.Pointer[string]
	timeouts, started, won             atomic.Uint64
	termChanges, leaderChanges         atomic.Uint64
	timerLate                          durhist.H
}

// Stats returns the node's state and counters as of its last step.
func (n *Node) Stats() Stats {
	s := &n.stats
	st := Stats{
		State: raft.State(s.state.Load()), Term: s.term.Load(), Commit: s.commit.Load(),
		Applied: s.applied.Load(), Last: s.last.Load(),
		ElectionTimeouts: s.timeouts.Load(), ElectionsStarted: s.started.Load(), ElectionsWon: s.won.Load(),
		TimerLate: s.timerLate.Snapshot(), TermChanges: s.termChanges.Load(), LeaderChanges: s.leaderChanges.Load(),
	}
	if l := s.leader.Load(); l != nil {
		st.Leader = *l
	}
	select {
	case <-n.done:
		st.State = raft.Dead
	default:
	}
	return st
}

// watch is the goroutine's memory for the log lines and the timeout diagnostics.
type watch struct {
	leader string // the leader of the node's term, as far as it knows
	// When the node last stepped an AppendEntries of its term (from its leader), in node time.
	leaderMsgAt time.Duration
	// The last tick's lateness and how many message batches waited in the inbox then (they
	// are stepped before the tick).
	tickLate   time.Duration
	tickQueued int
	// The first message that raised the term since the last Ready, for the term-change line.
	cause     raft.MsgType
	causeFrom string
	state     raft.State
	term      uint64
	// Timeouts in a row without hearing from a leader: the first is logged, the others
	// counted and reported with the next leader.
	quiet   int
	pending string // said with the next leader line: how long the spell was
}

// stepped notes, after a message is stepped, whether it came from the leader of the node's
// term and whether it raised the term.
func (w *watch) stepped(now time.Duration, m *raft.Message, termBefore uint64, rn *raft.Node) {
	_, term := rn.Role()
	if term > termBefore {
		if w.causeFrom == "" {
			w.cause, w.causeFrom = m.Type, m.From
		}
		w.leader = "" // a new term has no known leader until its leader's AppendEntries
	}
	if m.Type == raft.MsgApp && m.Term == term {
		w.leaderMsgAt = now
		w.leader = m.From
		w.heard()
	}
}

// heard ends a spell of election timeouts: the node hears from a leader, or leads.
func (w *watch) heard() {
	if w.quiet > 1 {
		w.pending = fmt.Sprintf("%d election timeouts in a row", w.quiet)
	}
	w.quiet = 0
}

// observe counts and logs one event of the core.
func (n *Node) observe(e *raft.Event) {
	s, w := &n.stats, &n.watch
	switch e.Kind {
	case raft.EvRestore:
		s.last.Store(e.Index)
		s.term.Store(e.Term)
		w.term = e.Term
	case raft.EvAppend:
		s.last.Store(e.Last)
	case raft.EvTruncate:
		s.last.Store(e.Index - 1)
	case raft.EvCommit:
		s.commit.Store(e.Index)
	case raft.EvTimeout:
		if e.Peer != "" {
			// The leader handed over (TimeoutNow, Raft thesis §3.10): no timer fired, and no
			// pre-vote is asked.
			n.logf("%s: %s hands its leadership of term %d over to it (TimeoutNow): election for term %d at once, without pre-vote",
				n.ID(), e.Peer, w.term, e.Term)
			break
		}
		s.timeouts.Add(1)
		if w.quiet++; w.quiet == 1 {
			what := "election"
			if n.cfg.Raft.PreVote {
				what = "pre-vote"
			}
			heard := "never heard from a leader"
			if w.leader != "" {
				heard = fmt.Sprintf("nothing from leader %s for %v", w.leader, (e.Time - w.leaderMsgAt).Round(time.Millisecond))
			}
			n.logf("%s: election timeout in term %d as %s: %s (timer fired %v late, %d message batches stepped first): %s for term %d",
				n.ID(), w.term, w.state, heard, w.tickLate.Round(time.Millisecond), w.tickQueued, what, e.Term)
		}
	case raft.EvState:
		switch e.State {
		case raft.PreCandidate:
			w.leader = ""
		case raft.Candidate:
			s.started.Add(1)
			w.leader = ""
		case raft.Leader:
			s.won.Add(1)
			w.leader = n.ID()
			w.heard()
		}
	case raft.EvStepDown:
		n.logf("%s: stepped down as leader of term %d: %s", n.ID(), e.Term, e.Detail)
		w.leader = ""
	}
}

// publish stores the node's state for Stats and logs a change of term or leader.
func (n *Node) publish() {
	s, w := &n.stats, &n.watch
	state, term := n.rn.Role()
	if term != w.term {
		s.termChanges.Add(1)
		why := "its own election"
		if w.causeFrom != "" {
			why = fmt.Sprintf("%s from %s", w.cause, w.causeFrom)
		}
		n.logf("%s: term %d → %d (%s), now %s", n.ID(), w.term, term, why, state)
		w.term = term
	}
	w.cause, w.causeFrom = 0, ""
	w.state = state
	if old := s.leader.Load(); (old == nil && w.leader != "") || (old != nil && *old != w.leader) {
		l := w.leader
		s.leader.Store(&l)
		if l != "" {
			s.leaderChanges.Add(1)
			after := ""
			if w.pending != "" {
				after = " (after " + w.pending + ")"
			}
			if l == n.ID() {
				n.logf("%s: leader of term %d%s", n.ID(), term, after)
			} else {
				n.logf("%s: follows %s in term %d%s", n.ID(), l, term, after)
			}
			w.pending = ""
		}
	}
	if w.pending != "" {
		n.logf("%s: hears from leader %s of term %d again (after %s)", n.ID(), w.leader, term, w.pending)
		w.pending = ""
	}
	s.state.Store(uint64(state))
	s.term.Store(term)
}

func (n *Node) logf(format string, args ...any) {
	if n.cfg.Logf != nil {
		n.cfg.Logf(format, args...)
	}
}
