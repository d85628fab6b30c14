// What a status frame carries for the mixed page's node cards: bounded views of a member's
// log, key-value contents, leader's progress and recent events, built the same way by every
// host (the page's wasm, `server node` processes, the server's own members).

package wire

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"raftlab/raft"
	"raftlab/raft/kv"
)

// Bounds of a status's details: what one member's report may carry at most.
const (
	StatusLogShown    = 16  // newest log entries
	StatusKVShown     = 16  // keys of the key-value store (the first, in order)
	StatusEventsShown = 16  // newest events
	StatusTextMax     = 160 // bytes of a log entry's command, a key, a value or an event's text
)

// LogLine is one log entry as a card shows it: its term and its command in words.
type LogLine struct {
	Term uint64 `json:"t"`
	Text string `json:"c"`
}

// ProgressLine is a leader's view of one follower.
type ProgressLine struct {
	ID       string `json:"id"`
	Match    uint64 `json:"match"`
	Next     uint64 `json:"next"`
	Inflight int    `json:"inflight,omitempty"`
	Probing  bool   `json:"probing,omitempty"`
}

// StatusEvent is one of a member's recent events, in a sentence (raft.Event's). Seq grows
// across the member's restarts (it starts from the wall clock in microseconds), so a reader can
// tell the events it has seen from new ones; a commit event is updated in place (same Seq, a
// later Index, At and Text) while commits follow one another within a second.
type StatusEvent struct {
	Seq   uint64 `json:"q"`
	Node  string `json:"node,omitempty"` // the member it happened to, in a host's own list
	At    int64  `json:"at"`             // Unix milliseconds
	Kind  string `json:"kind"`
	State string `json:"state,omitempty"` // the state entered, for a state event
	Term  uint64 `json:"term,omitempty"`
	Index uint64 `json:"index,omitempty"`
	Text  string `json:"text"`
}

// checkDetails checks the card details of a status: bounded, well-formed, consistent.
func (s *MemberStatus) checkDetails() error {
	bad := func(format string, args ...any) error {
		return errorf(CodeBadFrame, "status of %s: %s", s.ID, fmt.Sprintf(format, args...))
	}
	text := func(what, t string) error {
		if len(t) > StatusTextMax || !utf8.ValidString(t) {
			return bad("%s: want at most %d bytes of UTF-8", what, StatusTextMax)
		}
		return nil
	}
	if s.Vote != "" {
		if err := CheckID("status vote", s.Vote); err != nil {
			return err
		}
	}
	if len(s.Log) > StatusLogShown {
		return bad("%d log entries; at most %d", len(s.Log), StatusLogShown)
	}
	if len(s.Log) > 0 && (s.LogFrom == 0 || s.LogFrom+uint64(len(s.Log))-1 > s.Last || s.LogFrom <= s.Snapshot) {
		return bad("log entries %d to %d outside the log after the snapshot (%d, %d]", s.LogFrom, s.LogFrom+uint64(len(s.Log))-1, s.Snapshot, s.Last)
	}
	if s.Snapshot > s.Last {
		return bad("snapshot up to %d beyond the last index %d", s.Snapshot, s.Last)
	}
	for i, l := range s.Log {
		if err := text(fmt.Sprintf("log[%d]", i), l.Text); err != nil {
			return err
		}
	}
	if len(s.KV) > StatusKVShown || s.KVLen < len(s.KV) {
		return bad("%d keys shown of %d; at most %d shown", len(s.KV), s.KVLen, StatusKVShown)
	}
	for i, p := range s.KV {
		if err := text(fmt.Sprintf("kv[%d] key", i), p[0]); err != nil {
			return err
		}
		if err := text(fmt.Sprintf("kv[%d] value", i), p[1]); err != nil {
			return err
		}
	}
	if len(s.Progress) > MaxMembers {
		return bad("%d followers in progress; at most %d", len(s.Progress), MaxMembers)
	}
	for _, p := range s.Progress {
		if err := CheckID("status progress id", p.ID); err != nil {
			return err
		}
	}
	if len(s.Events) > StatusEventsShown {
		return bad("%d events; at most %d", len(s.Events), StatusEventsShown)
	}
	for i, e := range s.Events {
		if e.Seq == 0 || e.At <= 0 || e.Kind == "" || len(e.Kind) > 32 {
			return bad("events[%d]: want seq, at and kind", i)
		}
		if e.Node != "" {
			if err := CheckID("status event node", e.Node); err != nil {
				return err
			}
		}
		if e.State != "" && !slices.Contains(states, e.State) {
			return bad("events[%d]: unknown state %q", i, e.State)
		}
		if err := text(fmt.Sprintf("events[%d]", i), e.Text); err != nil {
			return err
		}
	}
	return nil
}

// Clip shortens s to at most max bytes of whole UTF-8 characters, with "…" when it cut.
func Clip(s string, max int) string {
	if len(s) <= max && utf8.ValidString(s) {
		return s
	}
	s = string([]rune(s)) // invalid bytes become U+FFFD
	if len(s) <= max {
		return s
	}
	cut := max - len("…")
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "…"
}

// EntryText is a log entry's command in words: the key-value command, "noop", or the
// configuration entry's text.
func EntryText(e raft.Entry) string {
	switch e.Type {
	case raft.EntryNoop:
		return "noop"
	case raft.EntryConfig:
		if c, err := raft.ParseConfiguration(e.Command); err == nil {
			return "config " + c.String()
		}
	}
	s := string(e.Command)
	if r, err := kv.DecodeRequest(e.Command); err == nil {
		s = r.Command.String()
	}
	return Clip(s, StatusTextMax)
}

// KVShown keeps the first keys of a key-value store for a card. It reads them again when the
// store has applied something since, and for a store of more than a thousand keys at most once
// a second per 10,000 keys (reading them is one pass over the store: about 7 ms for 100,000
// keys on a loaded 2-core machine, so once every 10 s), so that reports cost the node little
// whatever its state.
type KVShown struct {
	applied uint64
	at      time.Time
	read    bool
	kv      [][2]string
	n       int
}

// Of returns the first StatusKVShown keys of sm with their values (clipped), and how many keys
// it holds.
func (c *KVShown) Of(sm *kv.Store, now time.Time) ([][2]string, int) {
	every := time.Duration(max(1, sm.Len()/10000)) * time.Second
	if c.read && (sm.Applied() == c.applied || sm.Len() > 1000 && now.Sub(c.at) < every) {
		return c.kv, c.n
	}
	c.read, c.applied, c.at, c.n, c.kv = true, sm.Applied(), now, sm.Len(), nil
	for _, k := range sm.FirstKeys(StatusKVShown) {
		v, _ := sm.Get(k)
		c.kv = append(c.kv, [2]string{Clip(k, StatusTextMax), Clip(v, StatusTextMax)})
	}
	return c.kv, c.n
}

// Details fills s from a running node and its key-value store, all from the one moment: the
// state, term, indexes and configuration, and the card details (the newest log entries, the
// first keys through kvs, the leader's progress). It runs where the node may be read (the
// node's goroutine, or the page's event loop). now is the wall time, which paces kvs's rereads
// of a large store.
func (s *MemberStatus) Details(rn *raft.Node, st raft.Status, sm *kv.Store, kvs *KVShown, now time.Time) {
	s.State, s.Term, s.Leader, s.Commit, s.Last = st.State.String(), st.Term, st.Leader, st.CommitIndex, st.LastIndex
	s.Config, s.ConfigIndex = raft.EncodeConfiguration(st.Config), st.ConfigIndex
	if sm != nil {
		s.Applied = sm.Applied()
	}
	s.Applied = min(s.Applied, s.Commit)
	s.Vote, s.Snapshot = st.VotedFor, st.SnapshotIndex
	from := st.SnapshotIndex + 1
	if st.LastIndex >= StatusLogShown {
		from = max(from, st.LastIndex-StatusLogShown+1)
	}
	s.Log = s.Log[:0]
	for i := from; i <= st.LastIndex; i++ {
		e, ok := rn.Entry(i)
		if !ok {
			break
		}
		if len(s.Log) == 0 {
			s.LogFrom = i
		}
		s.Log = append(s.Log, LogLine{Term: e.Term, Text: EntryText(e)})
	}
	s.Progress = s.Progress[:0]
	for _, id := range slices.Sorted(maps.Keys(st.Progress)) {
		p := st.Progress[id]
		s.Progress = append(s.Progress, ProgressLine{ID: id, Match: p.Match, Next: p.Next, Inflight: p.Inflight, Probing: p.Probing})
	}
	s.KV, s.KVLen = nil, 0
	if sm != nil && kvs != nil {
		s.KV, s.KVLen = kvs.Of(sm, now)
		s.KV = slices.Clone(s.KV) // the status leaves the goroutine that owns kvs
	}
}

// Recorder keeps a member's recent events for its status reports: the kinds a person follows
// (elections, votes, leader changes, commits, truncations, configurations, snapshots, restarts,
// failures), not appends. Commits that follow one another within a second update one event.
// Record only copies the event (it runs for every commit); Events writes the sentences. It is
// not safe for concurrent use: record and read on the node's goroutine.
type Recorder struct {
	// TextMax bounds each sentence, in bytes (StatusTextMax, what a status may carry).
	TextMax int
	ring    []recorded // oldest first, at most size
	size    int
	seq     uint64
}

type recorded struct {
	seq uint64
	at  int64
	e   raft.Event
}

// NewRecorder returns a recorder of the last size events (StatusEventsShown for a status
// report) whose sequence numbers start above any of an earlier run's: from now, the wall time
// it starts at, in microseconds.
func NewRecorder(size int, now time.Time) *Recorder {
	return &Recorder{TextMax: StatusTextMax, size: max(size, 1), seq: uint64(now.UnixMicro())}
}

// Record notes e, if it is of a kind the page shows, at the wall time now.
func (r *Recorder) Record(e raft.Event, now time.Time) {
	switch e.Kind {
	case raft.EvRestore, raft.EvTimeout, raft.EvState, raft.EvVote, raft.EvTruncate, raft.EvCommit,
		raft.EvStorageError, raft.EvStepDown, raft.EvTransfer, raft.EvSnapshot, raft.EvInstall, raft.EvConfig,
		raft.EvCrash, raft.EvRestart, raft.EvDisconnect, raft.EvReconnect, raft.EvNote:
	default:
		return
	}
	e.Msg = nil // none of these kinds carries one; a driver may reuse what it points to
	at := now.UnixMilli()
	if e.Kind == raft.EvCommit {
		// Update the node's latest commit while only commits (of any node) followed it.
		for i := len(r.ring) - 1; i >= 0 && i >= len(r.ring)-8 && r.ring[i].e.Kind == raft.EvCommit; i-- {
			if last := &r.ring[i]; last.e.Node == e.Node {
				if at-last.at < 1000 {
					last.at, last.e = at, e
					return
				}
				break
			}
		}
	}
	r.seq++
	if len(r.ring) == r.size {
		copy(r.ring, r.ring[1:])
		r.ring = r.ring[:len(r.ring)-1]
	}
	r.ring = append(r.ring, recorded{r.seq, at, e})
}

// Events returns the recent events, oldest first.
func (r *Recorder) Events() []StatusEvent {
	out := make([]StatusEvent, 0, len(r.ring))
	for _, x := range r.ring {
		text := x.e.String()
		if i := strings.Index(text, "ms "); i >= 0 && i < 24 {
			text = text[i+3:]
		}
		ev := StatusEvent{Seq: x.seq, Node: x.e.Node, At: x.at, Kind: x.e.Kind.String(), Term: x.e.Term, Index: x.e.Index, Text: Clip(text, r.TextMax)}
		if x.e.Kind == raft.EvState {
			ev.State = x.e.State.String()
		}
		out = append(out, ev)
	}
	return out
}
