// Events: the trace of what happened, which tests read and the page draws.

package raft

import (
	"fmt"
	"time"
)

// EventKind is the kind of an Event. The core emits the first group; drivers (the simulator,
// the page) add the second.
type EventKind uint8

const (
	// Emitted by the core.
	EvRestore      EventKind = iota + 1 // node started; Term, Index (last log index), Last (snapshot index, 0 if none) restored from storage
	EvTimeout                           // election timer fired (or was forced, or Peer, the leader, handed over with TimeoutNow); an election follows
	EvState                             // node became State in Term
	EvVote                              // node granted its vote to Peer in Term
	EvAppend                            // entries Index..Last appended to the log
	EvTruncate                          // log entries from Index on removed (a conflict with the leader)
	EvCommit                            // commit index advanced to Index
	EvStorageError                      // the node stopped: Detail says which stored key failed

	// Emitted by drivers.
	EvSend       // Msg sent
	EvDeliver    // Msg delivered
	EvDrop       // Msg lost; Detail says why
	EvCrash      // node crashed: volatile state lost, storage kept
	EvRestart    // node restarted from its storage
	EvDisconnect // node cut from every peer
	EvReconnect  // node's links restored
	EvCut        // link Node–Peer cut (both directions)
	EvHeal       // link Node–Peer restored
	EvSubmit     // a client command reached Node; Index is its log index, 0 if refused
	EvViolation  // a safety property failed; Detail names it
	EvNote       // free text from a driver or scenario

	// Emitted by the core (added after the drivers' kinds, whose numbers stay as they were).
	EvTransfer // leader Node hands leadership to Peer (Detail "" when asked; else why it gave up)
	EvStepDown // leader Node stepped down in Term without a newer term; Detail says why
	EvSnapshot // Node compacted its log: a snapshot of its state replaces entries up to Index (of Term); Last is the state's size in bytes
	EvInstall  // Node installed the snapshot up to Index (of Term) that Peer, its leader, sent; Last is its size in bytes
	EvConfig   // Node uses a new configuration (Detail), set by the entry at Index (or its snapshot)
)

var eventKindNames = [...]string{
	EvRestore: "restore", EvTimeout: "timeout", EvState: "state", EvVote: "vote",
	EvAppend: "append", EvTruncate: "truncate", EvCommit: "commit", EvStorageError: "storage-error",
	EvSend: "send", EvDeliver: "deliver", EvDrop: "drop", EvCrash: "crash", EvRestart: "restart",
	EvDisconnect: "disconnect", EvReconnect: "reconnect", EvCut: "cut", EvHeal: "heal",
	EvSubmit: "submit", EvViolation: "violation", EvNote: "note", EvTransfer: "transfer", EvStepDown: "step-down",
	EvSnapshot: "snapshot", EvInstall: "install", EvConfig: "config",
}

func (k EventKind) String() string {
	if int(k) < len(eventKindNames) && eventKindNames[k] != "" {
		return eventKindNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// Event is one entry of the trace. Fields a kind does not use are zero.
type Event struct {
	Time   time.Duration // driver time
	Kind   EventKind
	Node   string
	Term   uint64
	State  State
	Index  uint64
	Last   uint64
	Peer   string
	Msg    *Message `json:",omitempty"`
	Detail string   `json:",omitempty"`
}

// logEntries counts log entries in words: "1 log entry", "2 log entries".
func logEntries(n uint64) string {
	if n == 1 {
		return "1 log entry"
	}
	return fmt.Sprintf("%d log entries", n)
}

// String describes the event in a sentence for the page's event log.
func (e Event) String() string {
	at := fmt.Sprintf("%9.3fms ", float64(e.Time)/float64(time.Millisecond))
	switch e.Kind {
	case EvRestore:
		if e.Term == 0 && e.Index == 0 {
			return at + fmt.Sprintf("%s started with empty storage", e.Node)
		}
		if e.Last > 0 {
			return at + fmt.Sprintf("%s restored term %d, a snapshot up to index %d and the log up to %d from storage", e.Node, e.Term, e.Last, e.Index)
		}
		return at + fmt.Sprintf("%s restored term %d and %s from storage", e.Node, e.Term, logEntries(e.Index))
	case EvTimeout:
		if e.Peer != "" {
			return at + fmt.Sprintf("%s takes over from %s (TimeoutNow) and starts an election for term %d", e.Node, e.Peer, e.Term)
		}
		return at + fmt.Sprintf("%s timed out and starts an election for term %d", e.Node, e.Term)
	case EvState:
		return at + fmt.Sprintf("%s became %s in term %d", e.Node, e.State, e.Term)
	case EvVote:
		return at + fmt.Sprintf("%s voted for %s in term %d", e.Node, e.Peer, e.Term)
	case EvAppend:
		if e.Index == e.Last {
			return at + fmt.Sprintf("%s appended entry %d (term %d)", e.Node, e.Index, e.Term)
		}
		return at + fmt.Sprintf("%s appended entries %d–%d", e.Node, e.Index, e.Last)
	case EvTruncate:
		return at + fmt.Sprintf("%s removed conflicting entries from index %d", e.Node, e.Index)
	case EvCommit:
		return at + fmt.Sprintf("%s committed up to index %d", e.Node, e.Index)
	case EvStorageError:
		return at + fmt.Sprintf("%s stopped: %s", e.Node, e.Detail)
	case EvSend, EvDeliver:
		if e.Msg != nil {
			return at + fmt.Sprintf("%s %s", e.Kind, e.Msg)
		}
	case EvDrop:
		if e.Msg != nil {
			return at + fmt.Sprintf("dropped %s (%s)", e.Msg, e.Detail)
		}
	case EvCrash:
		return at + fmt.Sprintf("%s crashed", e.Node)
	case EvRestart:
		return at + fmt.Sprintf("%s restarted", e.Node)
	case EvDisconnect:
		return at + fmt.Sprintf("%s disconnected from every peer", e.Node)
	case EvReconnect:
		return at + fmt.Sprintf("%s reconnected", e.Node)
	case EvCut:
		return at + fmt.Sprintf("link %s–%s cut", e.Node, e.Peer)
	case EvHeal:
		return at + fmt.Sprintf("link %s–%s healed", e.Node, e.Peer)
	case EvSubmit:
		if e.Index == 0 {
			return at + fmt.Sprintf("%s refused a command: %s", e.Node, e.Detail)
		}
		return at + fmt.Sprintf("%s accepted a command at index %d", e.Node, e.Index)
	case EvViolation:
		return at + fmt.Sprintf("SAFETY VIOLATION: %s", e.Detail)
	case EvNote:
		return at + e.Detail
	case EvSnapshot:
		return at + fmt.Sprintf("%s took a snapshot up to index %d (term %d, %d bytes) and dropped those log entries", e.Node, e.Index, e.Term, e.Last)
	case EvInstall:
		return at + fmt.Sprintf("%s installed %s's snapshot up to index %d (term %d, %d bytes)", e.Node, e.Peer, e.Index, e.Term, e.Last)
	case EvConfig:
		return at + fmt.Sprintf("%s uses the configuration of index %d: %s", e.Node, e.Index, e.Detail)
	case EvStepDown:
		return at + fmt.Sprintf("%s stepped down in term %d: %s", e.Node, e.Term, e.Detail)
	case EvTransfer:
		if e.Detail != "" {
			return at + fmt.Sprintf("%s gave up handing leadership to %s: %s", e.Node, e.Peer, e.Detail)
		}
		return at + fmt.Sprintf("%s hands leadership to %s (term %d)", e.Node, e.Peer, e.Term)
	}
	return at + fmt.Sprintf("%s %s term=%d index=%d peer=%s %s", e.Node, e.Kind, e.Term, e.Index, e.Peer, e.Detail)
}
