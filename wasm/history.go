// The lab's key-value client history: every operation of the page's clients (the submit box,
// batches, the client load, window.raftlab.submit, a guided scenario's script), with its call
// and return on the simulated clock, for the linearizability check of the checker module
// (wasm/checker, package histcheck).
//
// The history is built only from what a replay repeats (the trace's submit, crash and note
// events, applied entries, load ticks), so a run replayed from a link, or cut by the time
// slider, has the same history up to that time. This file stays small: it is part of the
// page's module, which has a size budget.

package main

import (
	"strings"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/raft/sim"
)

// historyCap is the most operations a history records (a variable for tests). When a run
// reaches it the history stops: later calls are left out and operations still unanswered stay
// unknown, which keeps the check sound (a read can only have seen writes called before it
// returned). Porcupine checks 2,000 page operations in tens of milliseconds in the browser's
// worker; the cap bounds what the page's thread encodes for each check (see the README).
var historyCap = 2000

// followerReadNote starts the trace note of a read answered by a node from its own state
// (the follower-read switch): "follower read n3 k1". A replay answers it again from the note.
const followerReadNote = "follower read "

// histOp is one operation as the page and the checker see it.
type histOp struct {
	Src   string `json:"src"` // submit, batch, load, follower read, or scenario
	Op    string `json:"op"`
	Key   string `json:"key"`
	Value string `json:"value,omitempty"`
	Node  string `json:"node"`
	// C and R are the call and the return in simulated ns (R 0: no answer), made strictly
	// increasing in the order things happened (a few ns late at most), which orders them for
	// the checker.
	C     int64  `json:"c"`
	R     int64  `json:"r"`
	State string `json:"state"` // ok; pending (unknown outcome); lost (certainly never applied)
	Found bool   `json:"found,omitempty"`
	Out   string `json:"out,omitempty"` // the value a get read
	Why   string `json:"why,omitempty"` // why a pending or lost op has no answer

	index, term uint64 // the log entry it waits for
}

type waitKey struct {
	node  string
	index uint64
}

// history records a lab's client operations.
type history struct {
	ops     []histOp
	waiting map[waitKey]int // op position by the entry it waits for
	stamp   int64
	ver     uint64 // changes with every call, return and loss
	full    bool
	src     string // who submits now (submit, batch, load); "" for a scenario's script
	unseen  bool   // a scenario submitted commands before the lab could record them
	reads   int    // follower reads the person asked for (they rotate over the followers)
}

// mark returns the next order stamp: the simulated time, or just after the last stamp.
func (h *history) mark(t time.Duration) int64 {
	h.stamp = max(int64(t), h.stamp+1)
	h.ver++
	return h.stamp
}

// call records an operation called at t, waiting on node for the entry (index, term) when
// index > 0. It returns the op's position, or -1 when the history is full.
func (h *history) call(t time.Duration, src, node string, c kv.Command, index, term uint64) int {
	if len(h.ops) >= historyCap {
		if !h.full {
			h.full = true
			for i := range h.ops {
				if h.ops[i].State == "pending" && h.ops[i].Why == "" {
					h.ops[i].Why = "no answer recorded: the history stopped"
				}
			}
			h.waiting = nil
		}
		return -1
	}
	h.ops = append(h.ops, histOp{Src: src, Op: c.Op.String(), Key: c.Key, Value: c.Value, Node: node,
		C: h.mark(t), State: "pending", index: index, term: term})
	i := len(h.ops) - 1
	if index > 0 {
		if h.waiting == nil {
			h.waiting = make(map[waitKey]int)
		}
		h.waiting[waitKey{node, index}] = i
	}
	return i
}

// answer records op i's return at t.
func (h *history) answer(i int, t time.Duration, r kv.Result) {
	o := &h.ops[i]
	o.R, o.State, o.Found, o.Out = h.mark(t), "ok", r.Found, r.Value
}

// drop ends the wait of op i without an answer: lost (never applied) or pending (unknown).
func (h *history) drop(i int, state, why string) {
	h.ops[i].State, h.ops[i].Why = state, why
	h.ver++
}

// applied answers the op waiting on node for entry e, or finds it lost when another entry
// took its index.
func (h *history) applied(node string, e raft.CommitEntry, r kv.Result, t time.Duration) {
	k := waitKey{node, e.Index}
	i, ok := h.waiting[k]
	if !ok {
		return
	}
	delete(h.waiting, k)
	if e.Term != h.ops[i].term {
		h.drop(i, "lost", node+" applied another leader's entry at this index: the command was overwritten, never applied")
		return
	}
	h.answer(i, t, r)
}

// crashed leaves the ops waiting on node unknown: the connection broke before an answer.
func (h *history) crashed(node string) {
	for k, i := range h.waiting {
		if k.node == node {
			delete(h.waiting, k)
			h.drop(i, "pending", node+" crashed before answering: the command may or may not take effect")
		}
	}
}

// onSubmit records the commands a node took (the trace's submit event), whoever submitted
// them: the person, a replay, the client load (src says which) or a scenario's script.
func (l *Lab) onSubmit(e raft.Event) {
	if l.c == nil { // a guided scenario replaying its steps before the person's
		l.hist.unseen = true
		return
	}
	n := l.c.Node(e.Node)
	src := l.hist.src
	if src == "" {
		src = "scenario"
	}
	for i := e.Index; n != nil && i <= e.Last; i++ {
		if ent, ok := n.Entry(i); ok {
			if r, err := kv.DecodeRequest(ent.Command); err == nil {
				l.hist.call(e.Time, src, e.Node, r.Command, i, ent.Term)
			}
		}
	}
}

// do performs a (person's or recorded) action, its submits recorded as from src.
func (l *Lab) do(a sim.Action, do func(sim.Action) error) error {
	l.hist.src = string(a.Kind)
	defer func() { l.hist.src = "" }()
	return do(a)
}

// readAt records a get answered at once from node's own state.
func (l *Lab) readAt(node, key, src string) {
	st := l.states[node]
	if st == nil {
		return
	}
	t := l.c.Now()
	if i := l.hist.call(t, src, node, kv.Get(key), 0, 0); i >= 0 {
		v, found := st.Get(key)
		l.hist.answer(i, t, kv.Result{Value: v, Found: found})
	}
}

// followerRead answers a get at once from node's own state (the follower-read switch): the
// note makes a replay answer it again.
func (l *Lab) followerRead(node, key string) error {
	return l.act(sim.Action{Kind: sim.ActNote, Detail: followerReadNote + node + " " + key})
}

// onFollowerRead performs the read a note describes.
func (l *Lab) onFollowerRead(detail string) {
	if node, key, ok := strings.Cut(strings.TrimPrefix(detail, followerReadNote), " "); ok {
		l.readAt(node, key, "follower read")
	}
}

// readNode chooses where a follower read goes: the named node, or one of the live nodes that
// are not the leader, by turn (the leader when it is alone).
func (l *Lab) readNode(named string, turn int) (string, bool) {
	if named != "" {
		return named, l.c.Alive(named)
	}
	leader, _ := l.c.Leader()
	var ids []string
	for _, id := range l.c.IDs() {
		if id != leader && l.c.Alive(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return leader, leader != ""
	}
	return ids[turn%len(ids)], true
}

// HistoryView is the client history for the page and the checker.
type HistoryView struct {
	// Fresh: the cluster started empty, so every key starts absent. Otherwise it started from
	// stored data (or a guided scenario's steps before this one wrote) and the checker takes
	// each key's first value as unknown.
	Fresh   bool     `json:"fresh"`
	Total   int      `json:"total"`
	Pending int      `json:"pending"`
	Full    bool     `json:"full"` // the history reached historyCap and stopped
	Cap     int      `json:"cap"`
	Ver     uint64   `json:"ver"`
	Ops     []histOp `json:"ops"` // the last ones asked for, or all
}

// History returns the client history: its last n operations (all when n <= 0).
func (l *Lab) History(n int) HistoryView {
	h := &l.hist
	v := HistoryView{Fresh: l.course.fresh && !h.unseen, Total: len(h.ops), Full: h.full, Cap: historyCap, Ver: h.ver, Ops: h.ops}
	for _, o := range h.ops {
		if o.State == "pending" {
			v.Pending++
		}
	}
	if v.Ops == nil {
		v.Ops = []histOp{} // JSON [], not null
	}
	if n > 0 && len(v.Ops) > n {
		v.Ops = v.Ops[len(v.Ops)-n:]
	}
	return v
}
