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
//
// During a joint-consensus change (the Raft paper's §6) the configuration is joint, C_old,new:
// Outgoing holds C_old's voters and Voters C_new's. Elections and commitment then need a
// majority of each, and a server of either votes.
type Configuration struct {
	Voters   []string // sorted
	Learners []string `json:",omitempty"` // sorted, none a voter
	Outgoing []string `json:",omitempty"` // sorted; the old voters of a joint configuration, else empty
}

// Joint reports whether c is a joint configuration (C_old,new).
func (c Configuration) Joint() bool { return len(c.Outgoing) > 0 }

// IsVoter reports whether id votes in c (in a joint configuration: in either half).
func (c Configuration) IsVoter(id string) bool {
	return indexOf(c.Voters, id) >= 0 || indexOf(c.Outgoing, id) >= 0
}

// IsLearner reports whether id is a learner of c.
func (c Configuration) IsLearner(id string) bool { return indexOf(c.Learners, id) >= 0 }

// IsMember reports whether id is a voter or a learner of c.
func (c Configuration) IsMember(id string) bool { return c.IsVoter(id) || c.IsLearner(id) }

// HasQuorum reports whether the servers for which has is true make a quorum of c: a majority
// of its voters, and of a joint configuration a majority of the outgoing voters as well. Only
// voters count.
func (c Configuration) HasQuorum(has func(id string) bool) bool {
	return hasMajority(c.Voters, has) && (!c.Joint() || hasMajority(c.Outgoing, has))
}

func hasMajority(ids []string, has func(id string) bool) bool {
	k := 0
	for _, id := range ids {
		if has(id) {
			k++
		}
	}
	return k >= quorumOf(ids)
}

// quorumOf is the number of the voters ids that make a majority of them.
func quorumOf(ids []string) int { return len(ids)/2 + 1 }

// AllVoters returns the voters of both halves of a joint configuration, sorted; otherwise Voters.
func (c Configuration) AllVoters() []string {
	if !c.Joint() {
		return c.Voters
	}
	return union(c.Voters, c.Outgoing)
}

// Members returns the voters (of both halves) and learners, sorted.
func (c Configuration) Members() []string {
	return union(union(c.Voters, c.Outgoing), c.Learners)
}

// union returns the sorted ids of a and b, each once.
func union(a, b []string) []string {
	return slices.Compact(slices.Sorted(slices.Values(append(slices.Clone(a), b...))))
}

func (c Configuration) String() string {
	s := "voters " + idList(c.Voters)
	if c.Joint() {
		s = "voters " + idList(c.Outgoing) + " → " + idList(c.Voters) + " (joint)"
	}
	if len(c.Learners) > 0 {
		s += " learners " + idList(c.Learners)
	}
	return s
}

// idList writes ids for people, in counting order: n2 before n10 (the configuration keeps
// them sorted as strings).
func idList(ids []string) string {
	s := slices.Clone(ids) // a handful: insertion sort
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && (len(s[j]) < len(s[j-1]) || len(s[j]) == len(s[j-1]) && s[j] < s[j-1]); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return strings.Join(s, ",")
}

// Equal reports whether c and d have the same voters, learners and outgoing voters.
func (c Configuration) Equal(d Configuration) bool {
	return slices.Equal(c.Voters, d.Voters) && slices.Equal(c.Learners, d.Learners) && slices.Equal(c.Outgoing, d.Outgoing)
}

// QuorumsIntersect reports whether every quorum of a shares a voter with every quorum of b: the
// condition under which two configurations in use at once cannot elect two leaders of one term
// or commit two different entries at one index. A joint configuration's quorums are a majority
// of each half.
func QuorumsIntersect(a, b Configuration) bool {
	// Two quorums meet when a majority that one of them must contain meets one that the other
	// must contain; for two simple configurations that is exact.
	for _, x := range a.halves() {
		for _, y := range b.halves() {
			if majoritiesIntersect(x, y) {
				return true
			}
		}
	}
	if !a.Joint() && !b.Joint() {
		return false
	}
	// Otherwise search: a quorum of a (a subset of its voters) whose complement holds a quorum
	// of b. Joint configurations of the lab have at most 15 voters in all.
	voters := a.AllVoters()
	if len(voters) > 20 {
		return false // too many to search: say they may not meet
	}
	in := make(map[string]bool, len(voters))
	for set := 0; set < 1<<len(voters); set++ {
		clear(in)
		for i, v := range voters {
			if set&(1<<i) != 0 {
				in[v] = true
			}
		}
		if a.HasQuorum(func(id string) bool { return in[id] }) && b.HasQuorum(func(id string) bool { return !in[id] }) {
			return false
		}
	}
	return true
}

// halves returns the voter sets of c whose majorities its quorums need.
func (c Configuration) halves() [][]string {
	if c.Joint() {
		return [][]string{c.Voters, c.Outgoing}
	}
	return [][]string{c.Voters}
}

// majoritiesIntersect reports whether every majority of voters a meets every majority of b.
func majoritiesIntersect(a, b []string) bool {
	both := 0
	for _, v := range a {
		if indexOf(b, v) >= 0 {
			both++
		}
	}
	// The smallest part of the shared voters that a majority of a must take, and of b.
	needA := max(0, quorumOf(a)-(len(a)-both))
	needB := max(0, quorumOf(b)-(len(b)-both))
	return needA+needB > both
}

// encodeConfig encodes a configuration as a log entry's command: "n1,n2,n3" then, with
// learners, ";n4". A joint configuration's voters read old>new: "n1,n2,n3>n4,n5,n6".
func encodeConfig(c Configuration) []byte {
	s := strings.Join(c.Voters, ",")
	if c.Joint() {
		s = strings.Join(c.Outgoing, ",") + ">" + s
	}
	if len(c.Learners) > 0 {
		s += ";" + strings.Join(c.Learners, ",")
	}
	return []byte(s)
}

// EncodeConfiguration encodes c as a configuration entry's command ("n1,n2,n3;n4": voters,
// then learners; a joint configuration's voters as "n1,n2,n3>n4,n5,n6", old then new), which
// ParseConfiguration reads.
func EncodeConfiguration(c Configuration) string { return string(encodeConfig(c)) }

// ParseConfiguration decodes and validates a configuration entry's command.
func ParseConfiguration(b []byte) (Configuration, error) { return decodeConfig(b) }

func decodeConfig(b []byte) (Configuration, error) {
	voters, learners, _ := strings.Cut(string(b), ";")
	c := Configuration{Voters: splitIDs(voters), Learners: splitIDs(learners)}
	if old, voters, joint := strings.Cut(voters, ">"); joint {
		c.Voters, c.Outgoing = splitIDs(voters), splitIDs(old)
		if len(c.Outgoing) == 0 {
			return c, errors.New("joint configuration without old voters")
		}
	}
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
	for _, list := range [][]string{c.Voters, c.Learners, c.Outgoing} {
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

// Errors of ProposeChange and ProposeConfiguration.
var (
	// ErrChangeInFlight: the latest configuration in the leader's log is not committed yet (or
	// a joint-consensus change is still on its way); one change at a time keeps every two
	// configurations in use overlapping.
	ErrChangeInFlight = errors.New("raft: a configuration change is in flight")
	// ErrNoCommitInTerm: a new leader has not committed an entry of its own term yet. Until
	// it has, a configuration of an earlier leader may still be committing, and a change now
	// could give two configurations without overlapping majorities (raft-dev, 2015).
	ErrNoCommitInTerm = errors.New("raft: the leader has not committed an entry of its term yet")
	// ErrNeedsJoint: a change of more than one voter asked of a cluster that changes one server
	// at a time (Config.JointConsensus off).
	ErrNeedsJoint = errors.New("raft: single-server changes add or remove one voter at a time; several at once need joint consensus")
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
//
// With Config.JointConsensus the change of voters goes through a joint configuration, as
// ProposeConfiguration's do: an added server joins as a learner, then once it has caught up
// the leader appends C_old,new and, once that commits, C_new. The change is done once a
// configuration without Outgoing voters, at or after the returned index, commits.
func (n *Node) ProposeChange(now time.Duration, op ChangeOp, id string) (uint64, error) {
	n.advance(now)
	defer n.flush()
	if err := n.mayChange(); err != nil {
		return 0, err
	}
	if err := ValidateID(id); err != nil {
		return 0, fmt.Errorf("raft: %w", err)
	}
	c := n.conf
	switch op {
	case AddServer:
		if c.IsMember(id) {
			return 0, fmt.Errorf("raft: %s is already a member (%s)", id, c)
		}
		if n.cfg.JointConsensus {
			return n.proposeJoint(union(c.Voters, []string{id})), nil
		}
		c.Learners = union(c.Learners, []string{id})
	case RemoveServer:
		switch {
		case !c.IsMember(id):
			return 0, fmt.Errorf("raft: %s is not a member (%s)", id, c)
		case c.IsVoter(id) && len(c.Voters) == 1:
			return 0, fmt.Errorf("raft: %s is the last voter", id)
		case c.IsVoter(id) && n.cfg.JointConsensus:
			return n.proposeJoint(without(c.Voters, id)), nil
		}
		c.Voters = without(c.Voters, id)
		c.Learners = without(c.Learners, id)
	default:
		return 0, fmt.Errorf("raft: unknown change %v", op)
	}
	return n.appendConfig(c), nil
}

// ProposeConfiguration asks the leader to make voters the cluster's voters: with
// Config.JointConsensus any set of them (the Raft paper's §6), else one server more or fewer
// than now (ErrNeedsJoint otherwise). With joint consensus the servers that are not members
// yet join as learners first; once every new voter has caught up the leader appends the joint
// configuration C_old,new, and once that commits, C_new, after which a leader that is not in
// it steps down. It returns the index of the first configuration entry it appended (when the
// new voters are learners still catching up, the index of the configuration in use: the leader
// appends once they have); the change is done once a configuration with exactly these voters,
// not joint, commits at or after it. A leader that loses its leadership on the way leaves the rest to the next one:
// that leader finishes a joint configuration and makes voters of the learners that catch up,
// but removes nobody still to be removed.
func (n *Node) ProposeConfiguration(now time.Duration, voters []string) (uint64, error) {
	n.advance(now)
	defer n.flush()
	if err := n.mayChange(); err != nil {
		return 0, err
	}
	if len(voters) == 0 {
		return 0, errors.New("raft: a configuration needs at least one voter")
	}
	for _, id := range voters {
		if err := ValidateID(id); err != nil {
			return 0, fmt.Errorf("raft: %w", err)
		}
	}
	target := slices.Sorted(slices.Values(voters))
	if len(slices.Compact(slices.Clone(target))) != len(target) {
		return 0, fmt.Errorf("raft: voters %q name a server twice", voters)
	}
	if slices.Equal(target, n.conf.Voters) {
		return 0, fmt.Errorf("raft: the voters are already %s", idList(target))
	}
	if n.cfg.JointConsensus {
		return n.proposeJoint(target), nil
	}
	var added, removed []string
	for _, id := range target {
		if !n.conf.IsVoter(id) {
			added = append(added, id)
		}
	}
	for _, id := range n.conf.Voters {
		if indexOf(target, id) < 0 {
			removed = append(removed, id)
		}
	}
	c := n.conf
	switch {
	case len(added)+len(removed) != 1:
		return 0, fmt.Errorf("%w (%s to %s)", ErrNeedsJoint, idList(n.conf.Voters), idList(target))
	case len(removed) == 1:
		c.Voters = target
		c.Learners = without(c.Learners, removed[0])
	case c.IsLearner(added[0]):
		return 0, fmt.Errorf("raft: %s is a learner already; the leader makes it a voter once it has caught up", added[0])
	default:
		c.Learners = union(c.Learners, added)
	}
	return n.appendConfig(c), nil
}

// mayChange says why the node cannot start a configuration change now, if it cannot.
func (n *Node) mayChange() error {
	if n.state != Leader {
		return &NotLeaderError{ID: n.id, Leader: n.leader, Term: n.term}
	}
	if n.transferTo != "" {
		return fmt.Errorf("%w to %s", ErrTransferring, n.transferTo)
	}
	if n.confIndex > n.commit {
		return fmt.Errorf("%w (%s at index %d)", ErrChangeInFlight, n.conf, n.confIndex)
	}
	if n.conf.Joint() || n.target != nil {
		return fmt.Errorf("%w (joint consensus on its way to voters %s)", ErrChangeInFlight, idList(n.jointTarget()))
	}
	if n.log.term(n.commit) != n.term && !n.cfg.Bugs.ChangeBeforeCommit {
		return ErrNoCommitInTerm
	}
	return nil
}

// jointTarget is the voters a joint-consensus change under way leads to.
func (n *Node) jointTarget() []string {
	if n.conf.Joint() {
		return n.conf.Voters
	}
	return n.target
}

// proposeJoint starts a joint-consensus change to the voters target: the servers that are not
// members join as learners, then jointStep carries the change on.
func (n *Node) proposeJoint(target []string) uint64 {
	n.target = target
	var newcomers []string
	for _, id := range target {
		if !n.conf.IsMember(id) {
			newcomers = append(newcomers, id)
		}
	}
	if len(newcomers) > 0 {
		c := n.conf
		c.Learners = union(c.Learners, newcomers)
		return n.appendConfig(c)
	}
	index := n.log.lastIndex() + 1
	if n.jointStep() {
		return index
	}
	return n.confIndex // the learners' entry, committed: the change goes on from it
}

// jointStep carries a joint-consensus change on (§6), when no configuration is in flight and
// the leader has committed an entry of its term: a committed joint configuration is followed
// by C_new; learners that are to become voters, once all have caught up, by C_old,new. A
// leader without a change of its own makes voters of the learners it finds (one left by an
// earlier leader). It reports whether it appended a configuration.
func (n *Node) jointStep() bool {
	if n.state != Leader || n.confIndex > n.commit || n.log.term(n.commit) != n.term || n.transferTo != "" {
		return false
	}
	if n.conf.Joint() {
		// C_old,new is committed: from here C_new alone decides.
		n.target = nil
		n.appendConfig(Configuration{Voters: n.conf.Voters, Learners: n.conf.Learners})
		return true
	}
	target := n.target
	if target == nil {
		if len(n.conf.Learners) == 0 {
			return false
		}
		target = union(n.conf.Voters, n.conf.Learners)
	}
	if slices.Equal(target, n.conf.Voters) {
		n.target = nil
		return false
	}
	for _, id := range target {
		if !n.conf.IsLearner(id) {
			continue
		}
		// A new voter must hold everything committed first (thesis §4.2.1).
		if pr := n.progressOf(id); pr == nil || pr.Match < n.commit {
			return false
		}
	}
	c := Configuration{Voters: target, Outgoing: n.conf.Voters}
	for _, l := range n.conf.Learners {
		if indexOf(target, l) < 0 {
			c.Learners = append(c.Learners, l)
		}
	}
	n.appendConfig(c)
	return true
}

// without returns ids without id.
func without(ids []string, id string) []string {
	return slices.DeleteFunc(slices.Clone(ids), func(v string) bool { return v == id })
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
// With joint consensus, jointStep does this.
func (n *Node) maybePromote(id string, pr *progress) bool {
	if n.cfg.JointConsensus || n.conf.Joint() {
		return n.jointStep()
	}
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
	switch {
	case c.Joint() && !old.Joint():
		return "joint consensus begins: majorities of " + idList(c.Outgoing) + " and of " + idList(c.Voters) + " decide"
	case old.Joint() && !c.Joint():
		s := "joint consensus ends: " + idList(c.Voters) + " decide"
		if d := describeChange(Configuration{Voters: old.Voters, Learners: old.Learners}, c); d != "no change" {
			s += ", " + d
		}
		for _, id := range old.Outgoing {
			if !c.IsMember(id) {
				s += ", " + id + " leaves"
			}
		}
		return s
	}
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
