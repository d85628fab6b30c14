// What the page's timeline (space-time) diagram draws: every message with its send and arrival
// (or loss) times, and the marks on each node's lane (roles, crashes, commits, violations).

package main

import (
	"raftlab/raft"
)

// Limits of what the lab keeps for the timeline.
const (
	msgRing     = 3000
	markRing    = 1500
	flightsKept = 20000 // messages on the wire followed at once; beyond, the oldest are forgotten
)

// msgMark is one message: sent by From at Sent, arrived at To at At (or lost there, Dropped).
type msgMark struct {
	Seq     uint64  `json:"q"`
	From    string  `json:"f"`
	To      string  `json:"to"`
	Type    string  `json:"k"`
	Sent    float64 `json:"s"`
	At      float64 `json:"a"`
	Dropped bool    `json:"d,omitempty"`
	OK      bool    `json:"ok,omitempty"`
	N       int     `json:"n,omitempty"` // entries carried
}

// laneMark is an event on a node's lane.
type laneMark struct {
	Seq   uint64  `json:"q"`
	Node  string  `json:"node"`
	T     float64 `json:"t"`
	Kind  string  `json:"k"` // leader, candidate, follower, crash, restart, commit, timeout, violation
	Term  uint64  `json:"term,omitempty"`
	Index uint64  `json:"i,omitempty"`
}

type timeline struct {
	sent    map[*raft.Message]float64 // send time of each message on the wire (by its queue item)
	msgs    ring[msgMark]
	msgSeq  uint64
	marks   ring[laneMark]
	markSeq uint64
}

func (t *timeline) onEvent(e raft.Event) {
	switch e.Kind {
	case raft.EvSend:
		if t.sent == nil || len(t.sent) >= flightsKept {
			t.sent = map[*raft.Message]float64{}
		}
		t.sent[e.Msg] = ms(e.Time)
		return
	case raft.EvDeliver, raft.EvDrop:
		sent, ok := t.sent[e.Msg]
		if !ok || e.Msg == nil {
			return // a duplicate copy, or sent before the lab followed it
		}
		delete(t.sent, e.Msg)
		m := e.Msg
		t.msgSeq++
		t.msgs.push(msgMark{Seq: t.msgSeq, From: m.From, To: m.To, Type: msgKind(m.Type), Sent: sent,
			At: ms(e.Time), Dropped: e.Kind == raft.EvDrop, OK: m.Success, N: len(m.Entries)}, msgRing)
		return
	}
	mk := laneMark{Node: e.Node, T: ms(e.Time), Term: e.Term, Index: e.Index}
	switch e.Kind {
	case raft.EvState:
		mk.Kind = e.State.String()
	case raft.EvCrash, raft.EvRestart, raft.EvTimeout, raft.EvCommit, raft.EvViolation:
		mk.Kind = e.Kind.String()
	default:
		return
	}
	t.markSeq++
	mk.Seq = t.markSeq
	t.marks.push(mk, markRing)
}

// TimelineData is what the diagram has not drawn yet: messages and marks after the sequence
// numbers given.
type TimelineData struct {
	Msgs  []msgMark  `json:"msgs"`
	Marks []laneMark `json:"marks"`
}

// TimelineData returns the messages and marks after the given sequence numbers.
func (l *Lab) TimelineData(msgsAfter, marksAfter uint64) TimelineData {
	t := &l.course.timeline
	d := TimelineData{Msgs: []msgMark{}, Marks: []laneMark{}}
	d.Msgs = append(d.Msgs, after(&t.msgs, msgsAfter, func(m *msgMark) uint64 { return m.Seq })...)
	d.Marks = append(d.Marks, after(&t.marks, marksAfter, func(m *laneMark) uint64 { return m.Seq })...)
	return d
}
