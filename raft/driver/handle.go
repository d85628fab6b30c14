// Handing out a node's Ready: the order that every driver follows.

package driver

import (
	"fmt"
	"time"

	"raftlab/raft"
)

// Hooks are a driver's own parts of handling a Ready, called synchronously by Node.Handle in
// the order it documents. Only Send is required.
type Hooks struct {
	// Send sends messages to their destinations. It must not block for long: queue, or drop
	// (Raft retries).
	Send func(msgs []raft.Message)
	// Events, if set, is given each Ready's trace events (possibly none), before its messages
	// are sent.
	Events func(evs []raft.Event)
	// Restore, if set, replaces the application's state with a snapshot's, before the entries
	// that follow it are applied: the snapshot the node restarted from, or one its leader sent.
	Restore func(s *raft.Snapshot) error
	// Apply, if set, applies a committed entry, in index order; answer says whether a proposal
	// waits for the entry's outcome (an application may skip building a value no one reads).
	// What it returns is that proposal's outcome: its value, or its error.
	Apply func(e raft.CommitEntry, answer bool) ([]byte, error)
	// Snapshot, if set, encodes the application's state after the last entry applied; the
	// node's log is compacted (§7) whenever the core says it is due. Nil: never.
	Snapshot func() []byte
	// CompactNow, if set, may hold off a compaction that is due (native's leader waits for a
	// follower close behind): compaction happens when it reports true.
	CompactNow func() bool
	// StorageErr, if set, reports a storage write that failed: nothing produced since may
	// leave, as it could depend on that write.
	StorageErr func() error
	// Held and Flush, if set, are a store that holds back the writes of a turn (native's
	// grouped writes, one synced transaction a turn): Held reports whether it holds any, and
	// Flush writes them.
	Held  func() bool
	Flush func()
}

// RestoreError is Handle's error when the application could not restore a snapshot.
type RestoreError struct {
	Index uint64 // the snapshot's last included index
	Err   error  // Hooks.Restore's error
}

func (e *RestoreError) Error() string {
	return fmt.Sprintf("restoring the snapshot up to %d: %v", e.Index, e.Err)
}

func (e *RestoreError) Unwrap() error { return e.Err }

// Node is a raft.Node with what its driver keeps beside it: the proposals waiting for their
// outcome and the last index applied. Its methods run where the node is owned (a goroutine,
// the page's event loop), one at a time.
type Node struct {
	Raft  *raft.Node
	Hooks Hooks
	// Tracker follows the proposals; the driver adds each one the node accepted, with the
	// index and term the core gave it, and sets Tracker.Answer.
	Tracker Tracker
	// Applied is the last index handed to the application: a snapshot's or a committed
	// entry's.
	Applied uint64

	early, late []raft.Message // Handle's split of a turn's messages, reused
}

// Handle hands out what the node produced since the last call, at time now (the driver's
// clock, as given to the core):
//
//  1. a failed storage write stops here (Hooks.StorageErr): the Ready is not taken;
//  2. the Ready is taken; when the turn's writes are held back (Hooks.Held), the leader's
//     AppendEntries are sent first, then the writes flushed and checked again, and everything
//     else waits for them;
//  3. the trace events (Hooks.Events), then the messages (Hooks.Send);
//  4. a snapshot is restored (Hooks.Restore) and the proposals it covers answered
//     ErrInSnapshot;
//  5. the committed entries are applied in order (Hooks.Apply), each answering the proposal
//     that waits for it;
//  6. the log is compacted when due (Hooks.Snapshot, Hooks.CompactNow); its writes are checked
//     with the next call's, before anything that follows leaves.
//
// An error (the storage's, a *RestoreError, the core's refusal to compact) means the driver
// must stop the node: nothing more may be sent. Handle answers no proposal for it: the
// driver does, with Tracker.Fail, in its own words.
func (d *Node) Handle(now time.Duration) error {
	h := &d.Hooks
	if h.StorageErr != nil {
		if err := h.StorageErr(); err != nil {
			return err // the Ready is dropped with the node
		}
	}
	rd := d.Raft.Ready()
	msgs := rd.Messages
	if h.Held != nil && h.Held() {
		// The turn's writes are not in the store yet. A leader's AppendEntries go out before
		// its own write of the entries they carry, and the write overlaps with the followers'
		// (Raft thesis §10.2.1): they depend on nothing this turn wrote that the followers
		// need (the term they carry was written when the leader stood for election), and the
		// leader counts its own copy only when it steps their answers, in a later turn, after
		// this write. Everything else (votes, answers) waits for the write it may depend on.
		d.early, d.late = d.early[:0], d.late[:0]
		for i := range msgs {
			if msgs[i].Type == raft.MsgApp {
				d.early = append(d.early, msgs[i])
			} else {
				d.late = append(d.late, msgs[i])
			}
		}
		if len(d.early) > 0 {
			h.Send(d.early)
		}
		h.Flush()
		if h.StorageErr != nil {
			if err := h.StorageErr(); err != nil {
				return err
			}
		}
		msgs = d.late
	}
	if h.Events != nil {
		h.Events(rd.Events)
	}
	if len(msgs) > 0 {
		h.Send(msgs)
	}
	if s := rd.Snapshot; s != nil {
		if h.Restore != nil {
			if err := h.Restore(s); err != nil {
				return &RestoreError{Index: s.Index, Err: err}
			}
		}
		d.Applied = s.Index
		d.Tracker.Cover(s.Index)
	}
	for i := range rd.Committed {
		e := &rd.Committed[i]
		var v []byte
		var err error
		if h.Apply != nil {
			v, err = h.Apply(*e, d.Tracker.Waits(e.Index))
		}
		d.Applied = e.Index
		d.Tracker.Commit(e, v, err)
	}
	if h.Snapshot != nil && d.Raft.CompactDue() && (h.CompactNow == nil || h.CompactNow()) {
		if err := d.Raft.Compact(now, h.Snapshot()); err != nil {
			return err // CompactDue says it cannot fail
		}
	}
	return nil
}
