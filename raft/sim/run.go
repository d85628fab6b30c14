// Runs as values: a configuration, a seed and the person's actions, encoded into share links,
// replayed exactly, and cut at any time to go back and fork.

package sim

import (
	"cmp"
	"fmt"
	"slices"
	"time"

	"raftlab/raft"
)

// RunVersion is the version of the Run encoding. Version 2 has FIFO links; a version 1 run
// (before them: every message drew its own delay) still replays, with Options.Unordered.
// Links of other versions are refused.
const RunVersion = 2

// Run describes a whole run: replaying it gives the same trace, event for event.
type Run struct {
	Version    int           `json:"v"`
	Nodes      int           `json:"n"`
	Seed       uint64        `json:"s"`
	Unreliable bool          `json:"u,omitempty"`
	LatencyMin time.Duration `json:"lmin,omitempty"`
	LatencyMax time.Duration `json:"lmax,omitempty"`
	Bugs       raft.Bugs     `json:"b,omitempty"`
	// FollowerReads is the key-value service's break-it switch "serve reads from a follower"
	// (the page's lab acts on it; the simulator only carries it in links).
	FollowerReads bool `json:"fr,omitempty"`
	// PreVote turns on pre-vote in every node (raft.Config.PreVote).
	PreVote bool `json:"pv,omitempty"`
	// CheckQuorum turns on check-quorum in every node (raft.Config.CheckQuorum).
	CheckQuorum bool `json:"cq,omitempty"`
	// JointConsensus makes every node change the membership by joint consensus
	// (raft.Config.JointConsensus; off, as in links made before it, single-server changes).
	JointConsensus bool `json:"jc,omitempty"`
	// Compact is every node's log compaction threshold (raft.Config.CompactThreshold; 0 never,
	// as in links made before compaction).
	Compact int `json:"c,omitempty"`
	// ForgetSessions is the key-value service's break-it switch "snapshots forget the client
	// sessions" (kv.Store.ForgetSessions; carried like FollowerReads).
	ForgetSessions bool     `json:"fs,omitempty"`
	Actions        []Action `json:"a,omitempty"`
}

// Options returns the simulator options of the run (without hooks or storage).
func (r *Run) Options() Options {
	return Options{Nodes: r.Nodes, Seed: r.Seed, Unreliable: r.Unreliable, Unordered: r.Version == 1,
		LatencyMin: r.LatencyMin, LatencyMax: r.LatencyMax, Raft: raft.Config{Bugs: r.Bugs, PreVote: r.PreVote, CheckQuorum: r.CheckQuorum, CompactThreshold: r.Compact, JointConsensus: r.JointConsensus}}
}

// Validate checks what a decoded run claims.
func (r *Run) Validate() error {
	switch {
	case r.Version != RunVersion && r.Version != 1:
		return fmt.Errorf("run: version %d; this lab reads versions 1 to %d", r.Version, RunVersion)
	case r.Nodes < 1 || r.Nodes > 9:
		return fmt.Errorf("run: %d nodes; want 1 to 9", r.Nodes)
	case r.LatencyMin < 0 || r.LatencyMax < r.LatencyMin:
		return fmt.Errorf("run: latency %v–%v is not a range", r.LatencyMin, r.LatencyMax)
	case r.Compact < 0 || r.Compact > 1_000_000:
		return fmt.Errorf("run: compaction threshold %d; want 0 (never) to 1000000", r.Compact)
	case len(r.Actions) > 100_000:
		return fmt.Errorf("run: %d actions is too many", len(r.Actions))
	}
	for i, a := range r.Actions {
		if a.At < 0 || (i > 0 && a.At < r.Actions[i-1].At) {
			return fmt.Errorf("run: action %d (%s) is out of time order", i+1, a.Kind)
		}
	}
	return nil
}

// Replay builds the run's cluster with the given options (hooks, storage; the run's own
// settings win), schedules its actions, and runs it to time until. Actions after until are
// left out, so the result can be acted on to fork the run from there.
func (r *Run) Replay(o Options, until time.Duration) (*Cluster, error) {
	ro := r.Options()
	o.Nodes, o.IDs, o.Seed, o.Unreliable, o.Unordered = ro.Nodes, nil, ro.Seed, ro.Unreliable, ro.Unordered
	o.LatencyMin, o.LatencyMax, o.Raft.Bugs = ro.LatencyMin, ro.LatencyMax, ro.Raft.Bugs
	o.Raft.PreVote, o.Raft.CheckQuorum, o.Raft.CompactThreshold = ro.Raft.PreVote, ro.Raft.CheckQuorum, ro.Raft.CompactThreshold
	o.Raft.JointConsensus = ro.Raft.JointConsensus
	c, err := New(o)
	if err != nil {
		return nil, err
	}
	acts := r.Until(until)
	c.Schedule(acts...)
	if o.Record {
		c.recorded = acts
	}
	c.RunUntil(until)
	return c, nil
}

// Until returns the run's actions up to and including time t.
func (r *Run) Until(t time.Duration) []Action {
	i, _ := slices.BinarySearchFunc(r.Actions, t+1, func(a Action, t time.Duration) int { return cmp.Compare(a.At, t) })
	return slices.Clone(r.Actions[:i])
}
