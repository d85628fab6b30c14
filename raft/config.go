// Node configuration: identities, timing, flow control, and their defaults.

package raft

import (
	"errors"
	"fmt"
	"slices"
	"time"
)

// Defaults for Config's zero fields.
const (
	DefaultElectionTimeoutMin = 150 * time.Millisecond
	DefaultElectionTimeoutMax = 300 * time.Millisecond
	DefaultHeartbeatInterval  = 50 * time.Millisecond
	DefaultMaxEntriesPerMsg   = 256
	DefaultMaxInflight        = 6
	DefaultSnapshotChunkSize  = 64 << 10
)

// Config configures a Node. Durations are in the driver's time, which the simulator makes
// virtual; zero fields take the defaults above.
type Config struct {
	// ID names this node.
	ID string
	// Members lists the voters of the cluster's initial configuration, this node included
	// unless it starts outside the cluster, waiting to be added (ProposeChange). Once the log
	// or a snapshot holds a configuration, the node uses that instead.
	Members []string
	// Storage holds currentTerm, votedFor and the log. Required.
	Storage Storage
	// Seed seeds the node's own random source, used only for election timeouts. Drivers
	// derive it from their run's seed so that runs replay exactly.
	Seed uint64

	// ElectionTimeoutMin and ElectionTimeoutMax bound the randomized election timeout, drawn
	// anew each time the timer is reset: uniform in [Min, Max). Default 150–300 ms.
	ElectionTimeoutMin time.Duration
	ElectionTimeoutMax time.Duration
	// HeartbeatInterval is how often a leader sends AppendEntries to every follower even when
	// it has nothing new. Default 50 ms; it must be below ElectionTimeoutMin.
	HeartbeatInterval time.Duration

	// MaxEntriesPerMsg caps the entries in one AppendEntries. Default 256.
	MaxEntriesPerMsg int
	// MaxInflight caps the AppendEntries carrying entries that a leader has sent to one
	// follower and not yet heard back about (flow control). Default 6: with FIFO links of 1–5 ms
	// and ~550 commands a second, 4 left entries waiting for a reply (commit p99 over 10 ms).
	MaxInflight int

	// WaitForHeartbeat makes the leader send AppendEntries only on its heartbeat: not on
	// Submit, not when its commit index advances, not on a follower's answer. It exists so
	// that benchmarks can show what sending at once buys; leave it off.
	WaitForHeartbeat bool

	// PreVote makes a node whose election timer fires first ask its peers whether they would
	// vote for it (Raft thesis §9.6). Only when a majority would does it raise its term and
	// start the election. A peer says no while it hears from a leader, so a node cut off from
	// the cluster no longer comes back with a higher term that deposes a working leader. Nodes
	// answer pre-votes whether or not they use them themselves.
	PreVote bool
	// CheckQuorum makes a leader that has not heard from a majority of the cluster (itself
	// included) within an election timeout step down: cut off in a minority, it stops telling
	// clients it leads. Off by default, as in the Raft paper.
	CheckQuorum bool

	// JointConsensus selects the cluster's method of membership change: off, single-server
	// changes (thesis §4.2), one voter added or removed at a time; on, joint consensus (the
	// Raft paper's §6), where every change of the voters, any number of them at once
	// (ProposeConfiguration), passes through a joint configuration C_old,new whose decisions
	// need a majority of the old voters and a majority of the new. Every member of a cluster
	// must use the same method.
	JointConsensus bool

	// CompactThreshold is the log compaction policy (Raft paper §7): once more than this many
	// entries have been applied since the last snapshot, CompactDue reports true and the
	// driver hands the node a snapshot of its application with Compact. 0 never compacts.
	CompactThreshold int
	// SnapshotChunkSize caps the bytes of the snapshot in one InstallSnapshot message; a larger
	// snapshot crosses in several, one at a time. Default 64 KiB.
	SnapshotChunkSize int
	// CheckSnapshot, if set, is called on a follower with each snapshot received whole from its
	// leader, before the node installs it: the application says whether it can restore it.
	// An error refuses the snapshot before anything is written, so the node keeps its state
	// and log; it does not answer, and the leader sends the snapshot again once its loss
	// detection gives up on the answer. It must be a pure function of the snapshot.
	CheckSnapshot func(s *Snapshot) error

	// Bugs plants known bugs, for teaching and for proving that the checkers catch them.
	// All off by default; never turn one on outside a lab.
	Bugs Bugs
}

// Bugs are the "break it" switches: each makes the core violate Raft in a known way.
type Bugs struct {
	// ForgetVote: votedFor is not persisted, so a restarted node may vote twice in one term.
	ForgetVote bool
	// CommitByCounting: a leader commits entries of earlier terms by counting replicas,
	// ignoring the Figure 8 rule.
	CommitByCounting bool
	// FixedElectionTimeout: every node waits exactly ElectionTimeoutMin, so elections split.
	FixedElectionTimeout bool
	// SkipConsistencyCheck: followers append entries without checking PrevLogIndex/PrevLogTerm.
	SkipConsistencyCheck bool
	// IgnoreHigherTerm: a leader ignores messages that carry a newer term.
	IgnoreHigherTerm bool
	// VoteByLogLength: a voter grants its vote to any candidate whose log is at least as long
	// as its own, ignoring the last entry's term (§5.4.1's election restriction, half kept).
	VoteByLogLength bool
	// CompactUnapplied: a node compacts its whole log instead of what its application has
	// applied: entries not yet applied, or not even committed, go into the snapshot unapplied.
	CompactUnapplied bool
	// ChangeBeforeCommit: a new leader accepts a membership change before it has committed an
	// entry of its own term (the single-server bug of raft-dev, 2015).
	ChangeBeforeCommit bool
}

func (c *Config) withDefaults() (Config, error) {
	cfg := *c
	if cfg.ElectionTimeoutMin == 0 && cfg.ElectionTimeoutMax == 0 {
		cfg.ElectionTimeoutMin, cfg.ElectionTimeoutMax = DefaultElectionTimeoutMin, DefaultElectionTimeoutMax
	}
	if cfg.HeartbeatInterval == 0 {
		cfg.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if cfg.MaxEntriesPerMsg == 0 {
		cfg.MaxEntriesPerMsg = DefaultMaxEntriesPerMsg
	}
	if cfg.MaxInflight == 0 {
		cfg.MaxInflight = DefaultMaxInflight
	}
	if cfg.SnapshotChunkSize == 0 {
		cfg.SnapshotChunkSize = DefaultSnapshotChunkSize
	}
	switch {
	case cfg.ID == "":
		return cfg, errors.New("raft: config: empty ID")
	case cfg.Storage == nil:
		return cfg, errors.New("raft: config: nil Storage")
	case cfg.ElectionTimeoutMin <= 0 || cfg.ElectionTimeoutMax < cfg.ElectionTimeoutMin:
		return cfg, fmt.Errorf("raft: config: election timeout range %v–%v is not a positive range", cfg.ElectionTimeoutMin, cfg.ElectionTimeoutMax)
	case cfg.HeartbeatInterval < 0 || cfg.HeartbeatInterval >= cfg.ElectionTimeoutMin:
		return cfg, fmt.Errorf("raft: config: heartbeat interval %v must be positive and below the minimum election timeout %v", cfg.HeartbeatInterval, cfg.ElectionTimeoutMin)
	case cfg.MaxEntriesPerMsg < 0 || cfg.MaxInflight < 0:
		return cfg, errors.New("raft: config: negative MaxEntriesPerMsg or MaxInflight")
	case cfg.CompactThreshold < 0 || cfg.SnapshotChunkSize < 0:
		return cfg, errors.New("raft: config: negative CompactThreshold or SnapshotChunkSize")
	}
	if len(cfg.Members) == 0 {
		return cfg, errors.New("raft: config: no Members")
	}
	seen := make(map[string]bool, len(cfg.Members))
	for _, m := range cfg.Members {
		if m == "" || seen[m] {
			return cfg, fmt.Errorf("raft: config: Members %q has an empty or repeated id", cfg.Members)
		}
		seen[m] = true
	}
	cfg.Members = slices.Sorted(slices.Values(cfg.Members))
	return cfg, nil
}
