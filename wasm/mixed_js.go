//go:build js && wasm

// Mixed clusters: the page hosts some members of a server's cluster over WebSocket (/ws). The
// members run on the wall clock, driven by the page's event loop (a setTimeout at each node's
// Deadline, Step as frames arrive; no goroutines, which keeps the module small), keep their
// state in localStorage under raftlab/mixed-<cluster>/, and reach their peers, in this page,
// other tabs or native processes, through the server's hub.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"syscall/js"
	"time"

	"raftlab/raft"
	"raftlab/raft/driver"
	"raftlab/raft/kv"
	"raftlab/raft/wire"
)

// mixedAPI is what main adds to globalThis.raftlabWasm:
//
//	joinCluster(wsURL, cluster, members[, add]) -> null | error text   host these members (comma-separated); with add, ask to be added to the configuration
//	mixedAct(json)      -> null | error text   {"kind":"crash|restart|disconnect|reconnect|timeout","node":"b1"}
//	mixedSnapshot()     -> JSON                what the page shows (see mixedSnap)
//	mixedTimeline(msgsAfter, marksAfter) -> JSON   the timeline's messages and marks after these sequence numbers (TimelineData)
func mixedAPI() map[string]any {
	return map[string]any{
		"joinCluster": guard(func(args []js.Value) any {
			if len(args) < 3 {
				return "joinCluster wants a URL, a cluster and members"
			}
			if host != nil {
				return "this page already hosts members of a cluster"
			}
			var ids []string
			for _, id := range strings.Split(args[2].String(), ",") {
				if id = strings.TrimSpace(id); id != "" {
					ids = append(ids, id)
				}
			}
			h, err := newMixedHost(args[0].String(), args[1].String(), ids)
			if err != nil {
				return err.Error()
			}
			h.add = len(args) > 3 && args[3].Truthy()
			host = h
			h.connect()
			return nil
		}),
		"mixedAct": guard(func(args []js.Value) any {
			if host == nil {
				return "this page hosts no members"
			}
			var a struct{ Kind, Node string }
			if len(args) == 0 || json.Unmarshal([]byte(args[0].String()), &a) != nil {
				return "mixedAct wants a JSON action"
			}
			return errText(host.act(a.Kind, a.Node))
		}),
		"mixedSnapshot": guard(func(args []js.Value) any {
			if host == nil {
				return "null"
			}
			b, _ := json.Marshal(host.snapshot())
			return string(b)
		}),
		"mixedTimeline": guard(func(args []js.Value) any {
			if host == nil || len(args) < 2 {
				return "null"
			}
			t := &host.timeline
			d := TimelineData{Msgs: []msgMark{}, Marks: []laneMark{}}
			d.Msgs = append(d.Msgs, after(&t.msgs, uint64(args[0].Float()), func(m *msgMark) uint64 { return m.Seq })...)
			d.Marks = append(d.Marks, after(&t.marks, uint64(args[1].Float()), func(m *laneMark) uint64 { return m.Seq })...)
			b, _ := json.Marshal(d)
			return string(b)
		}),
	}
}

var host *mixedHost

// mixedHost hosts members over one WebSocket connection, reconnecting with backoff. Every
// method runs on the page's event loop, one at a time: no locks.
type mixedHost struct {
	url, cluster string
	want         []string
	add          bool // ask, in hello, to be added to the cluster's configuration (?join=ID)

	ws       js.Value
	open     bool   // the socket is open and welcomed
	stopped  string // why the hub refused us for good; no more reconnects
	members  []string
	options  *wire.Options // the cluster's options of Raft, from the first welcome
	presence []wire.Presence
	nodes    map[string]*hostedNode
	events   *wire.Recorder // the page's event log: its members' events and its own
	timeline timeline       // what the timeline draws: messages through this page, its members' marks
	backoff  time.Duration
	retries  *retryLog // what the page says of losing the server, bounded
	epoch    time.Time
	report   js.Func
}

// hostedNode is one member run by the page.
type hostedNode struct {
	id           string
	rn           *raft.Node  // nil while crashed
	d            driver.Node // its Ready's handling; the hub's submits wait in d.Tracker, by log index, with their req
	store        *nodeStorage
	sm           *kv.Store
	timer        js.Value // the setTimeout of the next Tick
	tick         js.Func
	disconnected bool
	failure      string
	member       bool           // it has been in the configuration it uses
	rec          *wire.Recorder // its recent events, for its status reports
	kvs          wire.KVShown   // the first keys of its store, for its card
}

func newMixedHost(url, cluster string, ids []string) (*mixedHost, error) {
	if err := wire.CheckID("cluster", cluster); err != nil {
		return nil, err
	}
	if len(ids) == 0 {
		return nil, errors.New("no members to host: every browser member of this cluster is hosted elsewhere")
	}
	for _, id := range ids {
		if err := wire.CheckID("member", id); err != nil {
			return nil, err
		}
	}
	h := &mixedHost{url: url, cluster: cluster, want: ids, nodes: map[string]*hostedNode{},
		backoff: 200 * time.Millisecond, retries: newRetryLog(), epoch: time.Now()}
	h.events = wire.NewRecorder(eventsKept, h.epoch)
	h.events.TextMax = 2000 // the page's own log is not sent anywhere
	return h, nil
}

func (h *mixedHost) now() time.Duration { return time.Since(h.epoch) }

// eventsKept is how many events the page's log keeps.
const eventsKept = 200

// logf adds a sentence of the page's own to its event log.
func (h *mixedHost) logf(format string, args ...any) {
	h.events.Record(raft.Event{Time: h.now(), Kind: raft.EvNote, Detail: fmt.Sprintf(format, args...)}, time.Now())
}

// event records what happened to a hosted member: in the page's log, in the member's own
// (for its status reports) and on its timeline lane.
func (h *mixedHost) event(hn *hostedNode, e raft.Event) {
	now := time.Now()
	if e.Kind != raft.EvRestore { // the page says "started" itself
		h.events.Record(e, now)
	}
	hn.rec.Record(e, now)
	h.timeline.onEvent(e)
}

// seen adds messages that pass through the page to the timeline, at the time they leave or
// arrive here (the other end's time is not known to the page), lost or not.
func (h *mixedHost) seen(msgs []raft.Message, lost bool) {
	t := &h.timeline
	at := ms(h.now())
	for i := range msgs {
		m := &msgs[i]
		t.msgSeq++
		t.msgs.push(msgMark{Seq: t.msgSeq, From: m.From, To: m.To, Type: msgKind(m.Type), Sent: at, At: at,
			Dropped: lost, OK: m.Success, N: len(m.Entries)}, msgRing)
	}
}

// storageCluster namespaces a mixed cluster's keys apart from the page's simulated clusters.
func (h *mixedHost) storageCluster() string { return "mixed-" + h.cluster }

func setTimeout(f js.Func, d time.Duration) js.Value {
	return js.Global().Call("setTimeout", f, float64(max(d, 0))/float64(time.Millisecond))
}

// connect opens the socket and sets its callbacks.
func (h *mixedHost) connect() {
	ws := js.Global().Get("WebSocket").New(h.url)
	h.ws = ws
	var onOpen, onMessage, onClose, retry js.Func
	onOpen = js.FuncOf(func(js.Value, []js.Value) any {
		b, _ := wire.Encode(&wire.Envelope{Type: wire.TypeHello, Cluster: h.cluster, Kind: wire.KindBrowser, Members: h.want, Add: h.add})
		ws.Call("send", string(b))
		return nil
	})
	onMessage = js.FuncOf(func(_ js.Value, args []js.Value) any {
		if len(args) > 0 {
			if data := args[0].Get("data"); data.Type() == js.TypeString {
				h.handle(data.String())
			}
		}
		return nil
	})
	onClose = js.FuncOf(func(_ js.Value, args []js.Value) any {
		onOpen.Release()
		onMessage.Release()
		onClose.Release()
		lost := h.open
		h.open = false
		if h.stopped != "" {
			return nil
		}
		wait := h.backoff/2 + time.Duration(rand.Int64N(int64(h.backoff/2)+1))
		if line := h.retries.failed(time.Now(), lost, closeReason(args), wait); line != "" {
			h.logf("%s", line)
		}
		h.backoff = min(h.backoff*2, 5*time.Second)
		retry = js.FuncOf(func(js.Value, []js.Value) any {
			retry.Release()
			h.connect()
			return nil
		})
		setTimeout(retry, wait)
		return nil
	})
	ws.Set("onopen", onOpen)
	ws.Set("onmessage", onMessage)
	ws.Set("onclose", onClose)
}

func closeReason(args []js.Value) string {
	if len(args) == 0 {
		return "closed"
	}
	code, reason := args[0].Get("code"), args[0].Get("reason")
	if code.Type() != js.TypeNumber {
		return "closed"
	}
	if reason.Type() == js.TypeString && reason.String() != "" {
		return fmt.Sprintf("code %d, %s", code.Int(), reason.String())
	}
	return fmt.Sprintf("code %d", code.Int())
}

func (h *mixedHost) handle(frame string) {
	e, err := wire.Decode([]byte(frame))
	if err != nil {
		h.logf("bad frame from the server: %v", err)
		return
	}
	switch e.Type {
	case wire.TypeWelcome:
		h.welcome(e)
	case wire.TypePresence:
		h.presence = e.Presence
	case wire.TypeMsgs:
		now := h.now()
		touched := map[*hostedNode]bool{}
		for _, m := range e.Msgs {
			hn := h.nodes[m.To]
			up := hn != nil && hn.rn != nil && !hn.disconnected
			h.seen([]raft.Message{m}, !up)
			if up {
				hn.rn.Step(now, m)
				touched[hn] = true
			}
		}
		for hn := range touched {
			h.after(hn)
		}
	case wire.TypeSubmit:
		h.submit(e)
	case wire.TypeError:
		h.logf("the server closed the connection: %s", e.Error)
		switch e.Code {
		case wire.CodeCluster, wire.CodeMember, wire.CodeVersion, wire.CodeTaken, wire.CodeBadFrame, wire.CodeImpersonate, wire.CodeType, wire.CodeRemoved, wire.CodeAuth:
			// Taken or refused after a welcome: a server restarting may not know the page's
			// members yet; keep trying. Before the first, it is the page's request that is wrong.
			if h.members == nil || e.Code != wire.CodeTaken && e.Code != wire.CodeAuth {
				h.stopped = e.Error
			}
		}
	}
}

// welcome starts the hosted members on the first welcome of the page's life.
func (h *mixedHost) welcome(e *wire.Envelope) {
	h.open, h.presence, h.backoff = true, e.Presence, 200*time.Millisecond
	if h.members == nil {
		h.retries.welcomed(time.Now()) // the first welcome: nothing was lost
	}
	if h.members != nil {
		// The configuration lives in the members' logs; the welcome's list is the server's view.
		h.logf("reconnected to the server%s (members %s)", h.retries.welcomed(time.Now()), strings.Join(e.Members, ","))
		return
	}
	h.members, h.options = e.Members, e.Options
	// The record names the members the page first joined with; the configuration may have
	// changed since, so an existing record is not compared.
	if _, ok := store.GetItem(clusterRecordKey(h.storageCluster())); !ok {
		if err := checkCluster(store, h.storageCluster(), e.Members); err != nil {
			h.stopped = err.Error()
			return
		}
	}
	for _, id := range h.want {
		hn := &hostedNode{id: id, rec: wire.NewRecorder(wire.StatusEventsShown, time.Now())}
		h.nodes[id] = hn
		h.start(hn)
	}
	h.logf("joined cluster %s (members %s), hosting %s", h.cluster, strings.Join(e.Members, ","), strings.Join(h.want, ","))
	for _, id := range h.want {
		if !contains(e.Members, id) {
			h.logf("%s is not in the cluster's configuration: asked to be added; it joins as a learner and becomes a voter once caught up", id)
		}
	}
	h.report = js.FuncOf(func(js.Value, []js.Value) any {
		var st []wire.MemberStatus
		for _, s := range h.statuses() {
			if hn := h.nodes[s.ID]; hn != nil && hn.rn != nil {
				s.Events = hn.rec.Events() // the page shows its own log; others see these
			}
			st = append(st, s.MemberStatus)
		}
		h.sendFrame(&wire.Envelope{Type: wire.TypeStatus, Cluster: h.cluster, Status: st})
		return nil
	})
	js.Global().Call("setInterval", h.report, 250) // for as long as the page lives
}

// start starts (or restarts) a member from its storage.
func (h *mixedHost) start(hn *hostedNode) {
	hn.store = newNodeStorage(store, h.storageCluster(), hn.id, store.Keys())
	rc := raft.Config{ID: hn.id, Members: h.members, Storage: hn.store, Seed: rand.Uint64()}
	h.options.Apply(&rc)
	rc.CheckSnapshot = func(s *raft.Snapshot) error {
		// A snapshot from the leader that does not restore is refused before it is installed.
		err := kv.NewStore().Restore(s.Index, s.Data)
		if err != nil {
			h.logf("%s refused its leader's snapshot up to %d (%d bytes): %v", hn.id, s.Index, len(s.Data), err)
		}
		return err
	}
	rn, err := raft.NewNode(rc, h.now())
	if err != nil {
		hn.failure = err.Error()
		h.logf("%s cannot start: %v", hn.id, err)
		return
	}
	hn.rn, hn.failure, hn.sm = rn, "", kv.NewStore()
	hn.d = driver.Node{Raft: rn, Hooks: driver.Hooks{
		Send: func(msgs []raft.Message) { h.send(hn, msgs) },
		Events: func(evs []raft.Event) {
			for _, e := range evs {
				h.event(hn, e)
			}
		},
		// The snapshot it restarted from, or one its leader sent: it replaces the store, and
		// the entries that follow apply on top of it.
		Restore: func(s *raft.Snapshot) error { return hn.sm.Restore(s.Index, s.Data) },
		Apply: func(e raft.CommitEntry, answer bool) ([]byte, error) {
			o, err := hn.sm.Apply(e)
			if err != nil || !answer {
				return nil, err
			}
			return wire.KVValue(o), nil
		},
		// Compaction (the threshold comes from the server's welcome): the store's snapshot
		// replaces the applied log in localStorage. Its writes are checked on the next Handle.
		Snapshot:   hn.sm.Snapshot,
		StorageErr: hn.store.Err,
	}}
	hn.d.Tracker.Answer = func(req any, o driver.Outcome) { h.answer(hn, req.(uint64), o) }
	hn.tick = js.FuncOf(func(js.Value, []js.Value) any {
		if hn.rn == rn {
			rn.Tick(h.now())
			h.after(hn)
		}
		return nil
	})
	st := rn.Status()
	if st.SnapshotIndex > 0 {
		h.logf("%s started: term %d, a snapshot up to %d and %d log entries after it from localStorage", hn.id, st.Term, st.SnapshotIndex, st.LastIndex-st.SnapshotIndex)
	} else {
		h.logf("%s started: term %d, %d log entries from localStorage", hn.id, st.Term, st.LastIndex)
	}
	h.after(hn)
}

// crash stops a member; its storage is kept.
func (h *mixedHost) crash(hn *hostedNode, why string) {
	h.timeline.onEvent(raft.Event{Time: h.now(), Kind: raft.EvCrash, Node: hn.id})
	js.Global().Call("clearTimeout", hn.timer)
	hn.tick.Release()
	hn.rn = nil
	hn.d.Tracker.Fail(errors.New(hn.id + " " + why))
}

// after hands out what the node produced (driver.Node.Handle), then sets its timer for its
// next deadline.
func (h *mixedHost) after(hn *hostedNode) {
	if err := hn.d.Handle(h.now()); err != nil {
		// Nothing from the step whose write failed may leave: stop the node with it.
		hn.failure = err.Error()
		if re, ok := err.(*driver.RestoreError); ok { // no errors.As: it would grow the module
			hn.failure = fmt.Sprintf("its snapshot up to %d does not restore: %v", re.Index, re.Err)
		}
		h.logf("%s stopped: %s", hn.id, hn.failure)
		h.crash(hn, "stopped: "+hn.failure)
		return
	}
	js.Global().Call("clearTimeout", hn.timer)
	hn.timer = setTimeout(hn.tick, hn.rn.Deadline()-h.now())
	h.noteMembership(hn) // last: a removed member stops here
}

// answer sends the hub the result of a submit it routed here: the entry's index, term and
// value (the store's answer, or a membership change's configuration), or why it failed.
func (h *mixedHost) answer(hn *hostedNode, req uint64, o driver.Outcome) {
	out := &wire.Envelope{Type: wire.TypeResult, Cluster: h.cluster, Req: req, Member: hn.id}
	if o.Err != nil {
		out.Code, out.Error = wire.CodeFailed, o.Err.Error()
	} else {
		out.Index, out.Term, out.Value = o.Index, o.Term, o.Value
	}
	h.sendFrame(out)
}

// send sends one frame per destination, as the hub forwards best.
func (h *mixedHost) send(hn *hostedNode, msgs []raft.Message) {
	if !h.open || hn.disconnected {
		h.seen(msgs, true)
		return // lost, as on a network; Raft retries
	}
	for i := range msgs {
		if h.nodes[msgs[i].To] == nil { // to a member here: drawn as it arrives
			h.seen(msgs[i:i+1], false)
		}
	}
	for len(msgs) > 0 {
		to := msgs[0].To
		var same, rest []raft.Message
		for _, m := range msgs {
			if m.To == to {
				same = append(same, m)
			} else {
				rest = append(rest, m)
			}
		}
		h.sendFrame(&wire.Envelope{Type: wire.TypeMsgs, Cluster: h.cluster, Msgs: same})
		msgs = rest
	}
}

func (h *mixedHost) sendFrame(e *wire.Envelope) {
	if !h.open {
		return
	}
	if b, err := wire.Encode(e); err == nil {
		h.ws.Call("send", string(b))
	}
}

// submit takes a command the hub routed to one of our members; the result goes back once the
// entry is applied (after), or at once when the member cannot take it.
func (h *mixedHost) submit(e *wire.Envelope) {
	out := &wire.Envelope{Type: wire.TypeResult, Cluster: h.cluster, Req: e.Req, Member: e.Member}
	hn := h.nodes[e.Member]
	if hn == nil || hn.rn == nil || hn.disconnected {
		out.Code, out.Error = wire.CodeFailed, e.Member+" is crashed or disconnected in its page"
		h.sendFrame(out)
		return
	}
	if e.Transfer != "" {
		// Leadership transfer (Raft thesis §3.10): answered once the handover has begun.
		h.logf("the server asks %s to hand its leadership to %s", hn.id, e.Transfer)
		err := hn.rn.TransferLeadership(h.now(), e.Transfer)
		out.Transfer = e.Transfer
		if nl, ok := err.(*raft.NotLeaderError); ok {
			out.Code, out.Error, out.Leader, out.Term = wire.CodeNotLeader, err.Error(), nl.Leader, nl.Term
		} else if err != nil {
			out.Code, out.Error = wire.CodeRefused, err.Error()
		} else {
			_, out.Term = hn.rn.Role()
		}
		h.sendFrame(out)
		h.after(hn) // the TimeoutNow, or the entries the target lacks
		return
	}
	var index, term uint64
	var err error
	change := e.Change != ""
	if change {
		op, id, perr := wire.ParseChange(e.Change)
		if perr == nil {
			h.logf("the server asks %s to %s %s", hn.id, op, id)
			index, err = hn.rn.ProposeChange(h.now(), op, id)
			_, term = hn.rn.Role()
		} else {
			err = perr
		}
	} else {
		index, term, err = hn.rn.Submit(h.now(), e.Command)
	}
	nl, notLeader := err.(*raft.NotLeaderError) // no errors.As: it would grow the module
	switch {
	case notLeader:
		out.Code, out.Error, out.Leader, out.Term = wire.CodeNotLeader, err.Error(), nl.Leader, nl.Term
		h.sendFrame(out)
		return
	case change && err != nil && (err == raft.ErrNoCommitInTerm || errors.Is(err, raft.ErrTransferring)):
		out.Code, out.Error = wire.CodeRetry, err.Error()
		h.sendFrame(out)
		return
	case change && err != nil:
		out.Code, out.Error = wire.CodeRefused, err.Error()
		h.sendFrame(out)
		return
	case err != nil:
		out.Code, out.Error = wire.CodeFailed, err.Error()
		h.sendFrame(out)
		return
	}
	hn.d.Tracker.Add(index, term, change, e.Req)
	h.after(hn)
}

// noteMembership follows a member's place in the configuration it uses: a member removed by
// a committed configuration stops, and its status says so.
func (h *mixedHost) noteMembership(hn *hostedNode) {
	if hn.rn == nil {
		return
	}
	ns := hn.rn.Status()
	switch {
	case ns.Config.IsMember(hn.id):
		hn.member = true
	case hn.member && ns.ConfigCommitted:
		hn.failure = fmt.Sprintf("removed from cluster %s (its configuration is now %s)", h.cluster, ns.Config)
		h.logf("%s was removed from cluster %s (%s): stopped it", hn.id, h.cluster, ns.Config)
		h.crash(hn, "was removed from the cluster")
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// hostedStatus is one hosted member as the page shows it: its status report with the card's
// details (wire.MemberStatus), and what only this page knows.
type hostedStatus struct {
	wire.MemberStatus
	Disconnected bool    `json:"disconnected"`
	Failure      string  `json:"failure,omitempty"`
	TimerLeft    float64 `json:"timerLeft"` // ms until its election timeout; -1 for a leader or a crashed member
}

func (h *mixedHost) statuses() []hostedStatus {
	var out []hostedStatus
	for _, id := range h.want {
		hn := h.nodes[id]
		if hn == nil {
			continue
		}
		s := hostedStatus{MemberStatus: wire.MemberStatus{ID: id, State: "dead"}, Disconnected: hn.disconnected, Failure: hn.failure, TimerLeft: -1}
		if hn.rn != nil {
			ns := hn.rn.Status()
			s.Details(hn.rn, ns, hn.sm, &hn.kvs, time.Now())
			if ns.State != raft.Leader {
				s.TimerLeft = ms(max(ns.ElectionDeadline-h.now(), 0))
			}
		}
		out = append(out, s)
	}
	return out
}

// act crashes, restarts, disconnects or reconnects a hosted member.
func (h *mixedHost) act(kind, id string) error {
	hn := h.nodes[id]
	if hn == nil {
		return fmt.Errorf("%s is not hosted by this page", id)
	}
	switch kind {
	case "crash":
		if hn.rn == nil {
			return fmt.Errorf("%s is already crashed", id)
		}
		h.crash(hn, "crashed")
		h.logf("%s crashed (its localStorage is kept)", id)
	case "restart":
		if hn.rn != nil {
			return fmt.Errorf("%s is running", id)
		}
		h.timeline.onEvent(raft.Event{Time: h.now(), Kind: raft.EvRestart, Node: id})
		h.start(hn)
	case "disconnect":
		hn.disconnected = true
		h.logf("%s disconnected from the server: what it sends and what is sent to it is lost", id)
	case "reconnect":
		hn.disconnected = false
		h.logf("%s reconnected to the server", id)
	case "timeout":
		if hn.rn == nil {
			return fmt.Errorf("%s is crashed", id)
		}
		h.logf("%s: election timer fired by hand", id)
		hn.rn.Campaign(h.now())
		h.after(hn)
	default:
		return fmt.Errorf("unknown action %q", kind)
	}
	return nil
}

// mixedSnap is what mixedSnapshot returns.
type mixedSnap struct {
	Cluster   string          `json:"cluster"`
	Connected bool            `json:"connected"`
	Stopped   string          `json:"stopped,omitempty"`
	Members   []string        `json:"members"`
	Presence  []wire.Presence `json:"presence"`
	Hosted    []hostedStatus  `json:"hosted"`
	// The page's event log, oldest first: its members' events and its own sentences.
	Events []wire.StatusEvent `json:"events"`
	// Now is the page's clock (ms since it joined; the timeline's time), Epoch the wall time
	// it started from (Unix ms), TimerMax the longest election timeout (ms).
	Now      float64 `json:"now"`
	Epoch    int64   `json:"epoch"`
	TimerMax float64 `json:"timerMax"`
}

func (h *mixedHost) snapshot() mixedSnap {
	tmax := 300.0
	if h.options != nil && h.options.ElectionTimeoutMs > 0 {
		tmax = float64(2 * h.options.ElectionTimeoutMs)
	}
	return mixedSnap{Cluster: h.cluster, Connected: h.open, Stopped: h.stopped, Members: h.members,
		Presence: h.presence, Hosted: h.statuses(), Events: h.events.Events(),
		Now: ms(h.now()), Epoch: h.epoch.UnixMilli(), TimerMax: tmax}
}

// The mixed page's lines about losing the server, bounded as a node process's are
// (server/internal/link): a page left open with its server down would otherwise write a line
// each 2.5 to 5 s into an event log that keeps 300, and push every event of the cluster out
// of it within half an hour.

// Defaults of retryLog.
const (
	retryLogEach      = 5           // failures in a row said one by one, each with its cause
	retrySummaryEvery = time.Minute // then at most one line each
)

// retryLog decides what the page says when its connection to the server fails: each of the
// first `each` failures in a row with its cause and the wait before the next attempt, then at
// most one summary each `every` (how many attempts failed since when, the last cause), and when
// a welcome comes back, how long the server was away and how many attempts failed. Pure: the
// caller gives the times.
type retryLog struct {
	each  int
	every time.Duration

	failures    int       // in a row: the loss (if the page had the server), then each failed attempt
	attempts    int       // the failed attempts among them
	since       time.Time // the first of them
	summaryAt   time.Time
	summaryFrom int // attempts when the last summary was said
}

func newRetryLog() *retryLog { return &retryLog{each: retryLogEach, every: retrySummaryEvery} }

// failed returns the line to say for a failure, the connection lost (lost: it was open and
// welcomed) or an attempt that did not connect, with its cause and the wait before the next
// attempt; "" when it is not said.
func (r *retryLog) failed(now time.Time, lost bool, cause string, wait time.Duration) string {
	if r.failures == 0 {
		r.since = now
	}
	r.failures++
	verb := "lost the server"
	if !lost {
		r.attempts++
		verb = "cannot reach the server"
	}
	wait = wait.Round(time.Millisecond)
	switch {
	case r.failures < r.each:
		return fmt.Sprintf("%s (%s); reconnecting in %v", verb, cause, wait)
	case r.failures == r.each:
		r.summaryAt, r.summaryFrom = now, r.attempts
		return fmt.Sprintf("%s (%s); reconnecting in %v (from now on one line each %v while the server stays away)", verb, cause, wait, r.every)
	case now.Sub(r.summaryAt) >= r.every:
		// No wall-clock time of day: the event log shows each line's, and time.Format or
		// Time.Clock would cost the module 10 to 20 KB of gzip.
		line := fmt.Sprintf("still cannot reach the server: %d failed attempts in %v away, %d since the last line; last: %s; next attempt in %v",
			r.attempts, now.Sub(r.since).Round(time.Second), r.attempts-r.summaryFrom, cause, wait)
		r.summaryAt, r.summaryFrom = now, r.attempts
		return line
	}
	return ""
}

// welcomed returns what to add to the line that says the page is back ("" after no failure),
// and starts counting afresh.
func (r *retryLog) welcomed(now time.Time) string {
	if r.failures == 0 {
		return ""
	}
	s := fmt.Sprintf(" after %v away and %d failed attempts", now.Sub(r.since).Round(100*time.Millisecond), r.attempts)
	r.failures, r.attempts = 0, 0
	return s
}
