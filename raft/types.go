// Package raft is raftlab's consensus core: a deterministic Raft state machine (the Raft paper's
// Figure 2) with persistence through a small Storage interface.
//
// The core has no goroutines, no clock, no network and no global random source. A driver (the
// simulator in raft/sim, the browser in wasm/, the native nodes in server/) owns time and I/O:
// it calls Tick, Step and Submit with the current time, then collects what the node wants done
// with Ready: messages to send, entries newly committed, and events for the trace. Everything a
// message depends on has been written to Storage before Ready returns it.
package raft

import (
	"errors"
	"fmt"
	"time"
)

// State is a node's role.
type State uint8

const (
	Follower State = iota
	Candidate
	Leader
	// Dead is never a state of a running Node; drivers report it for a crashed node.
	Dead
	// PreCandidate: with Config.PreVote, a node whose election timer fired asks whether it
	// could win before it starts an election (and raises its term).
	PreCandidate
)

func (s State) String() string {
	switch s {
	case Follower:
		return "follower"
	case Candidate:
		return "candidate"
	case Leader:
		return "leader"
	case Dead:
		return "dead"
	case PreCandidate:
		return "pre-candidate"
	}
	return fmt.Sprintf("State(%d)", uint8(s))
}

// EntryType says what a log entry holds.
type EntryType uint8

const (
	// EntryCommand is a command of the application, submitted with Submit.
	EntryCommand EntryType = iota
	// EntryNoop is the empty entry a new leader appends so that it can commit entries of
	// earlier terms (Raft paper §5.4.2, §8).
	EntryNoop
	// EntryConfig holds a configuration (see Configuration): voters, then learners, as text.
	EntryConfig
)

func (t EntryType) String() string {
	switch t {
	case EntryCommand:
		return "cmd"
	case EntryNoop:
		return "noop"
	case EntryConfig:
		return "config"
	}
	return fmt.Sprintf("EntryType(%d)", uint8(t))
}

// Entry is one log entry.
type Entry struct {
	Term    uint64
	Type    EntryType
	Command []byte
}

// CommitEntry is a committed entry delivered to the application, in index order, once per
// node lifetime (a restarted node delivers its committed entries again, from index 1).
type CommitEntry struct {
	Index   uint64
	Term    uint64
	Type    EntryType
	Command []byte
}

// MsgType is the kind of a Message.
type MsgType uint8

const (
	MsgVote MsgType = iota + 1
	MsgVoteReply
	MsgApp
	MsgAppReply
	// MsgPreVote asks "would you vote for me in Term?" (Term is the asker's term + 1) without
	// changing anyone's term or vote; MsgPreVoteReply answers with that Term when it would, with
	// the answerer's own term when not.
	MsgPreVote
	MsgPreVoteReply
	// MsgTimeoutNow: a leader handing over its leadership tells the chosen follower, whose log
	// it has brought up to date, to start an election at once.
	MsgTimeoutNow
	// MsgSnap is one chunk of InstallSnapshot (Figure 13): the leader sends its snapshot to a
	// follower that needs entries the leader has compacted away. LastLogIndex and LastLogTerm
	// are the snapshot's last included index and term, Members its configuration, Offset the
	// position of Data in the snapshot's bytes, Done marks the last chunk.
	MsgSnap
	// MsgSnapReply answers a chunk: Index is the snapshot's last included index, Offset how
	// many of its bytes the follower holds (the next chunk it wants), Success that it installed
	// the whole snapshot.
	MsgSnapReply
)

func (t MsgType) String() string {
	switch t {
	case MsgVote:
		return "RequestVote"
	case MsgVoteReply:
		return "RequestVoteReply"
	case MsgApp:
		return "AppendEntries"
	case MsgAppReply:
		return "AppendEntriesReply"
	case MsgPreVote:
		return "PreVote"
	case MsgPreVoteReply:
		return "PreVoteReply"
	case MsgTimeoutNow:
		return "TimeoutNow"
	case MsgSnap:
		return "InstallSnapshot"
	case MsgSnapReply:
		return "InstallSnapshotReply"
	}
	return fmt.Sprintf("MsgType(%d)", uint8(t))
}

// Message is one Raft RPC or reply (Figure 2). One flat struct serves every kind so that it
// travels the same way through the simulator, the page and the WebSocket wire format; fields
// that a kind does not use are zero.
type Message struct {
	Type MsgType
	From string
	To   string
	Term uint64

	// RequestVote and PreVote: the candidate's last log entry.
	// AppendEntries: PrevLogIndex/PrevLogTerm precede Entries; Commit is the leader's commit index.
	LastLogIndex uint64  `json:",omitempty"`
	LastLogTerm  uint64  `json:",omitempty"`
	PrevLogIndex uint64  `json:",omitempty"`
	PrevLogTerm  uint64  `json:",omitempty"`
	Entries      []Entry `json:",omitempty"`
	Commit       uint64  `json:",omitempty"`

	// Replies. Success is voteGranted for RequestVote and success for AppendEntries.
	Success bool `json:",omitempty"`
	// AppendEntries reply on success: the index up to which the follower's log now matches
	// the leader's (PrevLogIndex + len(Entries) of the request).
	// On failure: the PrevLogIndex that was rejected, so that the leader can ignore stale
	// rejections.
	Index uint64 `json:",omitempty"`
	// AppendEntries reply on failure: the fast-backtracking hint. ConflictTerm is the term of
	// the follower's entry at PrevLogIndex (0 if its log is shorter) and ConflictIndex the first
	// index it holds with that term (or its last index + 1 when the log is shorter).
	ConflictTerm  uint64 `json:",omitempty"`
	ConflictIndex uint64 `json:",omitempty"`

	// InstallSnapshot (MsgSnap, MsgSnapReply): the configuration at the snapshot's last
	// included index (voters in Members, and Learners), the chunk's position in the snapshot's bytes (in a reply: the bytes the
	// follower holds), the chunk, and whether it is the last.
	Members  []string `json:",omitempty"`
	Learners []string `json:",omitempty"`
	Outgoing []string `json:",omitempty"` // a joint configuration's old voters (Members are the new)
	Offset   uint64   `json:",omitempty"`
	Data     []byte   `json:",omitempty"`
	Done     bool     `json:",omitempty"`
}

// IsResponse reports whether m answers another message.
func (m *Message) IsResponse() bool {
	return m.Type == MsgVoteReply || m.Type == MsgAppReply || m.Type == MsgPreVoteReply || m.Type == MsgSnapReply
}

func (m Message) String() string {
	switch m.Type {
	case MsgVote:
		return fmt.Sprintf("%s→%s RequestVote term=%d last=%d/%d", m.From, m.To, m.Term, m.LastLogIndex, m.LastLogTerm)
	case MsgVoteReply:
		return fmt.Sprintf("%s→%s RequestVoteReply term=%d granted=%t", m.From, m.To, m.Term, m.Success)
	case MsgPreVote:
		return fmt.Sprintf("%s→%s PreVote term=%d last=%d/%d", m.From, m.To, m.Term, m.LastLogIndex, m.LastLogTerm)
	case MsgPreVoteReply:
		return fmt.Sprintf("%s→%s PreVoteReply term=%d granted=%t", m.From, m.To, m.Term, m.Success)
	case MsgApp:
		return fmt.Sprintf("%s→%s AppendEntries term=%d prev=%d/%d entries=%d commit=%d", m.From, m.To, m.Term, m.PrevLogIndex, m.PrevLogTerm, len(m.Entries), m.Commit)
	case MsgAppReply:
		if m.Success {
			return fmt.Sprintf("%s→%s AppendEntriesReply term=%d ok match=%d", m.From, m.To, m.Term, m.Index)
		}
		return fmt.Sprintf("%s→%s AppendEntriesReply term=%d reject=%d hint=%d/%d", m.From, m.To, m.Term, m.Index, m.ConflictIndex, m.ConflictTerm)
	case MsgSnap:
		return fmt.Sprintf("%s→%s InstallSnapshot term=%d last=%d/%d offset=%d bytes=%d done=%t", m.From, m.To, m.Term, m.LastLogIndex, m.LastLogTerm, m.Offset, len(m.Data), m.Done)
	case MsgSnapReply:
		if m.Success {
			return fmt.Sprintf("%s→%s InstallSnapshotReply term=%d installed=%d", m.From, m.To, m.Term, m.Index)
		}
		return fmt.Sprintf("%s→%s InstallSnapshotReply term=%d last=%d have=%d", m.From, m.To, m.Term, m.Index, m.Offset)
	}
	return fmt.Sprintf("%s→%s %s", m.From, m.To, m.Type)
}

// Status is a snapshot of a node's state, for the page, the API and tests.
type Status struct {
	ID          string
	State       State
	Term        uint64
	VotedFor    string // "" when the node has not voted in Term
	Leader      string // who this node believes leads Term; "" if unknown
	CommitIndex uint64
	LastIndex   uint64 // index of the last log entry (the log length while nothing is compacted)
	LastTerm    uint64
	// The snapshot that replaces the log up to SnapshotIndex (0 when nothing is compacted):
	// its last included term, and the size of the application's state in it, in bytes.
	SnapshotIndex uint64 `json:",omitempty"`
	SnapshotTerm  uint64 `json:",omitempty"`
	SnapshotSize  int    `json:",omitempty"`
	// Config is the configuration the node uses (the latest in its log), set by the entry at
	// ConfigIndex (0: Config.Members); ConfigCommitted says whether that entry is committed.
	Config          Configuration
	ConfigIndex     uint64 `json:",omitempty"`
	ConfigCommitted bool
	// ElectionDeadline is when a follower or candidate will start an election if nothing
	// resets its timer (in the driver's time). Zero for a leader.
	ElectionDeadline time.Duration
	// Progress is the leader's view of each follower; nil on other nodes.
	Progress map[string]Progress `json:",omitempty"`
}

// Progress is a leader's view of one follower.
type Progress struct {
	Match    uint64 // highest index known to be replicated on the follower
	Next     uint64 // index of the next entry to send
	Inflight int    // AppendEntries with entries sent and not yet answered
	Probing  bool   // true while the leader searches for the point where the logs agree
	// Snapshot is the last included index of the snapshot the leader is sending (0 if none),
	// SnapshotSent how many of its bytes the follower has acknowledged.
	Snapshot     uint64 `json:",omitempty"`
	SnapshotSent uint64 `json:",omitempty"`
}

// Snapshot is the state of the application after the entries up to Index (of term Term),
// which replaces them in the log (Raft paper §7). The application owns Data; the core owns
// when a snapshot counts.
type Snapshot struct {
	Index    uint64
	Term     uint64
	Members  []string // the configuration at Index: its voters
	Learners []string // and its learners
	Outgoing []string // and, if it is joint, its old voters (Members are the new)
	Data     []byte
}

// Configuration returns the configuration at the snapshot's index.
func (s *Snapshot) Configuration() Configuration {
	return Configuration{Voters: s.Members, Learners: s.Learners, Outgoing: s.Outgoing}
}

// NotLeaderError is returned by Submit on a node that is not the leader.
type NotLeaderError struct {
	ID     string // the node asked
	Leader string // the leader it knows of, or "" if none
	Term   uint64
}

// ErrTransferring is returned by Submit on a leader that is handing its leadership over: the
// command belongs with the next leader.
var ErrTransferring = errors.New("raft: the leader is handing over its leadership")

// ErrNotLeader matches every NotLeaderError with errors.Is.
var ErrNotLeader = errors.New("raft: not the leader")

func (e *NotLeaderError) Error() string {
	if e.Leader == "" {
		return fmt.Sprintf("raft: %s is not the leader and knows of no leader in term %d", e.ID, e.Term)
	}
	return fmt.Sprintf("raft: %s is not the leader; the leader is %s (term %d)", e.ID, e.Leader, e.Term)
}

// Is makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }

// Ready is what a node asks its driver to do after a call: send Messages, apply Committed
// entries, and record Events. All state these depend on is already in Storage.
type Ready struct {
	Messages []Message
	// Snapshot, when not nil, replaces the application's state: a snapshot the leader sent, or
	// on a node's first Ready the snapshot it restored from storage. Apply it before
	// Committed, whose entries follow it.
	Snapshot  *Snapshot
	Committed []CommitEntry
	Events    []Event
}

// Empty reports whether r holds nothing.
func (r *Ready) Empty() bool {
	return len(r.Messages) == 0 && r.Snapshot == nil && len(r.Committed) == 0 && len(r.Events) == 0
}
