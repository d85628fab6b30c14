// Membership changes (Raft §6, thesis chapter 4): the configuration as data in the log and in
// snapshots, voters and learners, and single-server changes.

package raft

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// Configuration is a cluster's membership. Voters elect leaders and count toward commitment;
// learners receive the log and count toward nothing. A node uses the latest configuration in
// its log, committed or not (thesis §4.1), or its snapshot's, or at first Config.Members.
type Configuration struct {
	Voters   []string // sorted
	Learners []string `json:",omitempty"` // sorted, none a voter
}

// IsVoter reports whether id votes in c.
func (c Configuration) IsVoter(id string) bool { return indexOf(c.Voters, id) >= 0 }

// IsLearner reports whether id is a learner of c.
func (c Configuration) IsLearner(id string) bool { return indexOf(c.Learners, id) >= 0 }

// IsMember reports whether id is a voter or a learner of c.
func (c Configuration) IsMember(id string) bool { return c.IsVoter(id) || c.IsLearner(id) }

// Quorum is the number of voters that make a majority.
func (c Configuration) Quorum() int { return len(c.Voters)/2 + 1 }

// Members returns the voters and learners, sorted.
func (c Configuration) Members() []string {
	return slices.Sorted(slices.Values(append(slices.Clone(c.Voters), c.Learners...)))
}

func (c Configuration) String() string {
	s := "voters " + strings.Join(c.Voters, ",")
	if len(c.Learners) > 0 {
		s += " learners " + strings.Join(c.Learners, ",")
	}
	return s
}

// Equal reports whether c and d have the same voters and learners.
func (c Configuration) Equal(d Configuration) bool {
	return slices.Equal(c.Voters, d.Voters) && slices.Equal(c.Learners, d.Learners)
}

// QuorumsIntersect reports whether every majority of a's voters shares a voter with every
// majority of b's: the condition under which two configurations in use at once cannot elect
// two leaders of one term or commit two different entries at one index.
func QuorumsIntersect(a, b Configuration) bool {
	both := 0
	for _, v := range a.Voters {
		if b.IsVoter(v) {
			both++
		}
	}
	// The smallest part of the shared voters that a majority of a must take, and of b.
	needA := max(0, a.Quorum()-(len(a.Voters)-both))
	needB := max(0, b.Quorum()-(len(b.Voters)-both))
	return needA+needB > both
}

// encodeConfig encodes a configuration as a log entry's command: "n1,n2,n3" then, with
// learners, ";n4".
func encodeConfig(c Configuration) []byte {
	s := strings.Join(c.Voters, ",")
	if len(c.Learners) > 0 {
		s += ";" + strings.Join(c.Learners, ",")
	}
	return []byte(s)
}

// EncodeConfiguration encodes c as a configuration entry's command ("n1,n2,n3;n4": voters,
// then learners), which ParseConfiguration reads.
func EncodeConfiguration(c Configuration) string { return string(encodeConfig(c)) }

// ParseConfiguration decodes and validates a configuration entry's command.
func ParseConfiguration(b []byte) (Configuration, error) { return decodeConfig(b) }

func decodeConfig(b []byte) (Configuration, error) {
	voters, learners, _ := strings.Cut(string(b), ";")
	c := Configuration{Voters: splitIDs(voters), Learners: splitIDs(learners)}
	return c, c.validate()
}

func splitIDs(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, ",")
}

// validate checks ids and order: at least one voter, sorted, distinct, learners apart.
func (c Configuration) validate() error {
	if len(c.Voters) == 0 {
		return errors.New("configuration without voters")
	}
	for _, list := range [][]string{c.Voters, c.Learners} {
		for i, id := range list {
			if err := ValidateID(id); err != nil {
				return err
			}
			if i > 0 && list[i-1] >= id {
				return fmt.Errorf("configuration ids %q not sorted and distinct", list)
			}
		}
	}
	for _, l := range c.Learners {
		if c.IsVoter(l) {
			return fmt.Errorf("%s is both a voter and a learner", l)
		}
	}
	return nil
}

// MaxIDLen is the longest member id.
const MaxIDLen = 64

// ValidateID reports whether id can name a member: 1 to 64 letters, digits, '-', '_' or '.'.
func ValidateID(id string) error {
	if id == "" || len(id) > MaxIDLen {
		return fmt.Errorf("member id %q: want 1 to %d characters", id, MaxIDLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_' || r == '.') {
			return fmt.Errorf("member id %q: %q is not a letter, digit, '-', '_' or '.'", id, r)
		}
	}
	return nil
}

// ChangeOp is a single-server membership change.
type ChangeOp uint8

const (
	// AddServer adds a server as a learner; the leader makes it a voter once it has caught up
	// (thesis §4.2.1).
	AddServer ChangeOp = iota + 1
	// RemoveServer removes a voter or a learner.
	RemoveServer
)

func (o ChangeOp) String() string {
	switch o {
	case AddServer:
		return "add"
	case RemoveServer:
		return "remove"
	}
	return fmt.Sprintf("ChangeOp(%d)", uint8(o))
}

// Errors of ProposeChange.
var (
	// ErrChangeInFlight: the latest configuration in the leader's log is not committed yet;
	// one change at a time keeps every two configurations in use overlapping.
	ErrChangeInFlight = errors.New("raft: a configuration change is in flight")
	// ErrNoCommitInTerm: a new leader has not committed an entry of its own term yet. Until
	// it has, a configuration of an earlier leader may still be committing, and a change now
	// could give two configurations without overlapping majorities (raft-dev, 2015).
	ErrNoCommitInTerm = errors.New("raft: the leader has not committed an entry of its term yet")
)

// confEntry is a configuration entry of the log.
type confEntry struct {
	index uint64
	conf  Configuration
}

// Configuration returns the configuration the node uses and the index of the entry that set
// it (the snapshot's index, or 0 for Config.Members).
func (n *Node) Configuration() (Configuration, uint64) { return n.conf, n.confIndex }

// ProposeChange asks the leader to add or remove one server (thesis §4.2). It appends the new
// configuration to the log and returns its index; the change is done once that index
// commits. Only one change may be in flight, and only after the leader committed an entry of
// its term.
func (n *Node) ProposeChange(now time.Duration, op ChangeOp, id string) (uint64, error) {
	n.advance(now)
	defer n.flush()
	if n.state != Leader {
		return 0, &NotLeaderError{ID: n.id, Leader: n.leader, Term: n.term}
	}
	if n.transferTo != "" {
		return 0, fmt.Errorf("%w to %s", ErrTransferring, n.transferTo)
	}
	if err := ValidateID(id); err != nil {
		return 0, fmt.Errorf("raft: %w", err)
	}
	if n.confIndex > n.commit {
		return 0, fmt.Errorf("%w (%s at index %d)", ErrChangeInFlight, n.conf, n.confIndex)
	}
	if n.log.term(n.commit) != n.term && !n.cfg.Bugs.ChangeBeforeCommit {
		return 0, ErrNoCommitInTerm
	}
	c := n.conf
	switch op {
	case AddServer:
		if c.IsMember(id) {
			return 0, fmt.Errorf("raft: %s is already a member (%s)", id, c)
		}
		c.Learners = slices.Sorted(slices.Values(append(slices.Clone(c.Learners), id)))
	case RemoveServer:
		switch {
		case !c.IsMember(id):
			return 0, fmt.Errorf("raft: %s is not a member (%s)", id, c)
		case c.IsVoter(id) && len(c.Voters) == 1:
			return 0, fmt.Errorf("raft: %s is the last voter", id)
		}
		c.Voters = slices.DeleteFunc(slices.Clone(c.Voters), func(v string) bool { return v == id })
		c.Learners = slices.DeleteFunc(slices.Clone(c.Learners), func(v string) bool { return v == id })
	default:
		return 0, fmt.Errorf("raft: unknown change %v", op)
	}
	return n.appendConfig(c), nil
}

// appendConfig appends configuration c as a log entry, which the leader uses at once.
func (n *Node) appendConfig(c Configuration) uint64 {
	index := n.log.lastIndex() + 1
	n.appendEntries(index, []Entry{{Term: n.term, Type: EntryConfig, Command: encodeConfig(c)}})
	if !n.maybeCommit() && !n.cfg.WaitForHeartbeat {
		n.broadcastAppend(false)
	}
	return index
}

// maybePromote makes a learner that has caught up a voter, when no change is in flight
// (thesis §4.2.1: the new server's log holds everything committed). It reports whether it did.
func (n *Node) maybePromote(id string, pr *progress) bool {
	if n.state != Leader || !n.conf.IsLearner(id) || n.confIndex > n.commit || pr.Match < n.commit ||
		n.log.term(n.commit) != n.term || n.transferTo != "" {
		return false
	}
	c := Configuration{
		Voters:   slices.Sorted(slices.Values(append(slices.Clone(n.conf.Voters), id))),
		Learners: slices.DeleteFunc(slices.Clone(n.conf.Learners), func(v string) bool { return v == id }),
	}
	n.appendConfig(c)
	return true
}

// noteConfigs records the configuration entries among entries (the first at index from) and
// reports whether there was one.
func (n *Node) noteConfigs(from uint64, entries []Entry) bool {
	found := false
	for i, e := range entries {
		if e.Type != EntryConfig {
			continue
		}
		c, err := decodeConfig(e.Command)
		if err != nil {
			continue // storage and the wire validate entries; a leader writes only valid ones
		}
		n.confs = append(n.confs, confEntry{from + uint64(i), c})
		found = true
	}
	return found
}

// setConf makes c, set by the entry at index (or the snapshot or Config.Members), the
// configuration in use. A leader keeps the progress of the peers that stay.
func (n *Node) setConf(c Configuration, index uint64) {
	if n.conf.Equal(c) {
		n.confIndex = index // the same configuration, set again (by a snapshot, say)
		return
	}
	old := n.conf
	oldPeers := n.peers()
	n.conf, n.confIndex, n.peerIDs = c, index, nil
	if n.state == Leader {
		prs := make([]*progress, len(n.peers()))
		for i, p := range n.peers() {
			if j := indexOf(oldPeers, p); j >= 0 && j < len(n.prs) {
				prs[i] = n.prs[j]
			} else {
				prs[i] = &progress{Progress: Progress{Next: n.log.lastIndex() + 1, Probing: true}}
			}
		}
		n.prs = prs
	}
	if len(old.Voters) > 0 { // not at start
		n.emit(Event{Kind: EvConfig, Index: index, Term: n.term, Detail: describeChange(old, c) + " (" + c.String() + ")"})
	}
}

// mayCampaign reports whether the node may start an election: as a voter of the configuration
// it uses, or as a voter being removed by a configuration not yet committed, whose commit may
// still need it (thesis §4.2.2). Learners never campaign.
func (n *Node) mayCampaign() bool {
	if n.conf.IsVoter(n.id) {
		return true
	}
	return n.confIndex > n.commit && n.confAt(n.confIndex-1).IsVoter(n.id)
}

// describeChange says in words how configuration c differs from old.
func describeChange(old, c Configuration) string {
	var parts []string
	for _, id := range c.Members() {
		switch {
		case c.IsLearner(id) && !old.IsMember(id):
			parts = append(parts, id+" joins as a learner")
		case c.IsVoter(id) && old.IsLearner(id):
			parts = append(parts, id+" caught up and becomes a voter")
		case c.IsVoter(id) && !old.IsMember(id):
			parts = append(parts, id+" joins as a voter")
		case c.IsLearner(id) && old.IsVoter(id):
			parts = append(parts, id+" is a learner again")
		}
	}
	for _, id := range old.Members() {
		if !c.IsMember(id) {
			parts = append(parts, id+" leaves")
		}
	}
	if len(parts) == 0 {
		return "no change"
	}
	return strings.Join(parts, ", ")
}

// confAt returns the configuration in effect at index (the latest entry at or below it).
func (n *Node) confAt(index uint64) Configuration {
	for i := len(n.confs) - 1; i >= 0; i-- {
		if n.confs[i].index <= index {
			return n.confs[i].conf
		}
	}
	return n.baseConf
}

// latestConf sets the configuration from the log's latest configuration entry, or the base.
func (n *Node) latestConf() {
	if k := len(n.confs); k > 0 {
		n.setConf(n.confs[k-1].conf, n.confs[k-1].index)
	} else {
		n.setConf(n.baseConf, n.baseConfIndex)
	}
}
