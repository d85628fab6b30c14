// The application each simulated node runs: what it applies committed entries to, and what
// its snapshots hold when the log is compacted.

package sim

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"raftlab/raft"
)

// App is a node's application (its state machine), as the simulator drives it: committed
// entries in index order, snapshots of its state for log compaction, and restores from the
// snapshots a node installs or restarts from.
type App interface {
	// Apply applies the committed entry after the last one applied.
	Apply(e raft.CommitEntry)
	// Snapshot encodes the state after the last applied entry. Equal states must encode to
	// equal bytes: the checker compares them across nodes.
	Snapshot() []byte
	// Restore replaces the state with the one s.Data encodes (the state after s.Index).
	Restore(s *raft.Snapshot) error
}

// digestApp is the default application: its state is the number of entries applied and a
// running hash of them, enough for the checker to tell two histories apart.
type digestApp struct {
	applied uint64
	hash    uint64
}

func (a *digestApp) Apply(e raft.CommitEntry) {
	a.applied = e.Index
	a.hash = mixString(mixWord(mixWord(a.hash, e.Index), e.Term<<8|uint64(e.Type)), string(e.Command))
}

func (a *digestApp) Snapshot() []byte {
	return []byte(strconv.FormatUint(a.applied, 10) + " " + strconv.FormatUint(a.hash, 16))
}

func (a *digestApp) Restore(s *raft.Snapshot) error {
	applied, hash, ok := strings.Cut(string(s.Data), " ")
	if !ok {
		return errors.New("sim: snapshot state: want \"<applied> <hash>\"")
	}
	n, err := strconv.ParseUint(applied, 10, 64)
	if err != nil || n != s.Index {
		return fmt.Errorf("sim: snapshot state applied %q; want %d", applied, s.Index)
	}
	h, err := strconv.ParseUint(hash, 16, 64)
	if err != nil {
		return fmt.Errorf("sim: snapshot state hash %q: %v", hash, err)
	}
	a.applied, a.hash = n, h
	return nil
}
