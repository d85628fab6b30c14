// Tests of the metrics read off the trace.

package kvsim

import (
	"slices"
	"testing"
	"time"

	"raftlab/raft"
)

func TestPercentile(t *testing.T) {
	ds := []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}
	for _, tt := range []struct {
		p    float64
		want time.Duration
	}{{50, 5}, {90, 9}, {99, 10}, {100, 10}, {1, 1}, {10, 1}, {11, 2}} {
		if got := Percentile(ds, tt.p); got != tt.want {
			t.Errorf("Percentile(1…10, %v) = %v; want %v", tt.p, got, tt.want)
		}
	}
	if got := Percentile(nil, 50); got != 0 {
		t.Errorf("Percentile(nil) = %v; want 0", got)
	}
	if !slices.Equal(ds, []time.Duration{5, 1, 4, 2, 3, 10, 9, 8, 7, 6}) {
		t.Errorf("Percentile reordered its argument: %v", ds)
	}
}

func ev(ms int, kind raft.EventKind, node string, f func(*raft.Event)) raft.Event {
	e := raft.Event{Time: time.Duration(ms) * time.Millisecond, Kind: kind, Node: node}
	if f != nil {
		f(&e)
	}
	return e
}

func TestMetricsCommitLatency(t *testing.T) {
	var m Metrics
	for _, e := range []raft.Event{
		ev(0, raft.EvState, "n1", func(e *raft.Event) { e.State = raft.Leader }),
		ev(10, raft.EvSubmit, "n1", func(e *raft.Event) { e.Index, e.Last = 2, 4 }),
		ev(12, raft.EvSubmit, "n1", func(e *raft.Event) { e.Index = 0 }),            // refused
		ev(13, raft.EvCommit, "n2", func(e *raft.Event) { e.Index = 4 }),            // a follower's commit
		ev(15, raft.EvCommit, "n1", func(e *raft.Event) { e.Index = 3 }),            // 2 and 3 after 5 ms
		ev(16, raft.EvSubmit, "n1", func(e *raft.Event) { e.Index = 5 }),            // single submit
		ev(18, raft.EvCommit, "n1", func(e *raft.Event) { e.Index = 5 }),            // 4 after 8, 5 after 2
		ev(20, raft.EvSubmit, "n1", func(e *raft.Event) { e.Index = 6 }),            //
		ev(21, raft.EvState, "n1", func(e *raft.Event) { e.State = raft.Follower }), // deposed: 6 not counted
		ev(30, raft.EvCommit, "n1", func(e *raft.Event) { e.Index = 6 }),
	} {
		m.Event(e)
	}
	ms := time.Millisecond
	if got, want := m.CommitLatencies(), []time.Duration{5 * ms, 5 * ms, 8 * ms, 2 * ms}; !slices.Equal(got, want) {
		t.Errorf("CommitLatencies() = %v; want %v", got, want)
	}
}

func TestMetricsFailover(t *testing.T) {
	leader := func(e *raft.Event) { e.State = raft.Leader }
	m := Metrics{Nodes: 5}
	for _, e := range []raft.Event{
		ev(0, raft.EvState, "n1", leader),
		ev(100, raft.EvCrash, "n1", nil),     // the leader: 4 of 5 run
		ev(280, raft.EvState, "n2", leader),  // failover 180 ms
		ev(300, raft.EvCrash, "n3", nil),     // a follower: nothing to measure
		ev(500, raft.EvRestore, "n1", nil),   // n3 down
		ev(550, raft.EvRestore, "n3", nil),   // all up
		ev(600, raft.EvCrash, "n2", nil),     // the leader: 4 of 5 run
		ev(610, raft.EvCrash, "n4", nil),     // 3 of 5: still a majority
		ev(620, raft.EvCrash, "n5", nil),     // 2 of 5: no election can succeed; not measured
		ev(900, raft.EvRestore, "n5", nil),   //
		ev(1000, raft.EvState, "n1", leader), // nothing pending
		ev(1100, raft.EvRestore, "n4", nil),  // n2 down
		ev(1200, raft.EvCrash, "n1", nil),    // the leader: 3 of 5 run
		ev(1450, raft.EvState, "n3", leader), // failover 250 ms
	} {
		m.Event(e)
	}
	if got, want := m.Failovers(), []time.Duration{180 * time.Millisecond, 250 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("Failovers() = %v; want %v", got, want)
	}
	var all Metrics // without Nodes every leader crash counts
	for _, e := range []raft.Event{
		ev(0, raft.EvState, "n1", leader), ev(100, raft.EvCrash, "n1", nil), ev(150, raft.EvCrash, "n2", nil),
		ev(150, raft.EvCrash, "n3", nil), ev(900, raft.EvState, "n4", leader),
	} {
		all.Event(e)
	}
	if got, want := all.Failovers(), []time.Duration{800 * time.Millisecond}; !slices.Equal(got, want) {
		t.Errorf("Failovers() without Nodes = %v; want %v", got, want)
	}
}
