// Unit tests of the core, driving one or a few nodes message by message.

package raft

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"
)

func newTestNode(t testing.TB, id string, members []string, s Storage) *Node {
	t.Helper()
	n, err := NewNode(Config{ID: id, Members: members, Storage: s, Seed: 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	n.Ready()
	return n
}

// elect makes n leader of a 3-node cluster by timing out and receiving one vote.
func elect(t testing.TB, n *Node, voter string) {
	t.Helper()
	n.Campaign(n.now)
	n.Ready()
	n.Step(n.now, Message{Type: MsgVoteReply, From: voter, To: n.id, Term: n.term, Success: true})
	if n.state != Leader {
		t.Fatalf("%s is %s after a vote; want leader", n.id, n.state)
	}
}

func msgsOfType(rd Ready, typ MsgType) []Message {
	var out []Message
	for _, m := range rd.Messages {
		if m.Type == typ {
			out = append(out, m)
		}
	}
	return out
}

func TestConfigErrors(t *testing.T) {
	s := NewMapStorage()
	for _, tc := range []struct {
		name string
		cfg  Config
	}{
		{"empty id", Config{Members: []string{"a"}, Storage: s}},
		{"no members", Config{ID: "x", Storage: s}},
		{"nil storage", Config{ID: "a", Members: []string{"a"}}},
		{"repeated member", Config{ID: "a", Members: []string{"a", "a"}, Storage: s}},
		{"inverted timeouts", Config{ID: "a", Members: []string{"a"}, Storage: s, ElectionTimeoutMin: 300 * time.Millisecond, ElectionTimeoutMax: 100 * time.Millisecond}},
		{"heartbeat too slow", Config{ID: "a", Members: []string{"a"}, Storage: s, HeartbeatInterval: 200 * time.Millisecond}},
	} {
		if _, err := NewNode(tc.cfg, 0); err == nil {
			t.Errorf("%s: NewNode succeeded; want an error", tc.name)
		}
	}
}

// TestElectionTimeoutRange: timeouts are drawn from [150ms, 300ms) and differ between nodes.
func TestElectionTimeoutRange(t *testing.T) {
	seen := map[time.Duration]bool{}
	for i := range 50 {
		n := newTestNode(t, fmt.Sprintf("n%d", i), []string{fmt.Sprintf("n%d", i), "z"}, NewMapStorage())
		d := n.Deadline()
		if d < DefaultElectionTimeoutMin || d >= DefaultElectionTimeoutMax {
			t.Fatalf("election deadline %v outside [150ms, 300ms)", d)
		}
		seen[d] = true
	}
	if len(seen) < 40 {
		t.Fatalf("only %d distinct timeouts among 50 nodes", len(seen))
	}
}

// TestSubmitSendsAtOnce: Submit emits AppendEntries immediately, a batch one per follower.
func TestSubmitSendsAtOnce(t *testing.T) {
	members := []string{"a", "b", "c"}
	n := newTestNode(t, "a", members, NewMapStorage())
	elect(t, n, "b")
	rd := n.Ready()
	// Answer the leader's no-op so that both followers replicate.
	for _, m := range msgsOfType(rd, MsgApp) {
		n.Step(n.now, Message{Type: MsgAppReply, From: m.To, To: "a", Term: n.term, Success: true, Index: m.PrevLogIndex + uint64(len(m.Entries))})
	}
	n.Ready()

	if _, _, err := n.Submit(n.now, []byte("x")); err != nil {
		t.Fatal(err)
	}
	apps := msgsOfType(n.Ready(), MsgApp)
	if len(apps) != 2 || len(apps[0].Entries) != 1 {
		t.Fatalf("Submit sent %v; want one AppendEntries with the entry to each follower", apps)
	}

	cmds := make([][]byte, 100)
	for i := range cmds {
		cmds[i] = fmt.Appendf(nil, "c%d", i)
	}
	first, last, _, err := n.SubmitBatch(n.now, cmds)
	if err != nil || last-first != 99 {
		t.Fatalf("SubmitBatch = %d..%d, %v", first, last, err)
	}
	apps = msgsOfType(n.Ready(), MsgApp)
	if len(apps) != 2 {
		t.Fatalf("batch sent %d AppendEntries; want 2 (one per follower)", len(apps))
	}
	for _, m := range apps {
		if len(m.Entries) != 100 {
			t.Fatalf("batch AppendEntries to %s carries %d entries; want 100", m.To, len(m.Entries))
		}
	}
}

func TestWaitForHeartbeatDelaysReplication(t *testing.T) {
	n, err := NewNode(Config{ID: "a", Members: []string{"a", "b", "c"}, Storage: NewMapStorage(), WaitForHeartbeat: true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	elect(t, n, "b")
	n.Ready()
	n.Submit(n.now, []byte("x"))
	if apps := msgsOfType(n.Ready(), MsgApp); len(apps) != 0 {
		t.Fatalf("with WaitForHeartbeat, Submit sent %v", apps)
	}
	n.Tick(n.Deadline())
	if apps := msgsOfType(n.Ready(), MsgApp); len(apps) != 2 {
		t.Fatalf("heartbeat sent %d AppendEntries; want 2", len(apps))
	}
}

func TestSubmitToFollower(t *testing.T) {
	n := newTestNode(t, "b", []string{"a", "b", "c"}, NewMapStorage())
	n.Step(0, Message{Type: MsgApp, From: "a", To: "b", Term: 3})
	_, _, err := n.Submit(0, []byte("x"))
	var nle *NotLeaderError
	if !errors.As(err, &nle) || nle.Leader != "a" || nle.Term != 3 {
		t.Fatalf("Submit to follower: %v; want NotLeaderError naming a in term 3", err)
	}
}

// TestFigure8 is the situation of Figure 8 in the Raft paper: a leader of term 4 has the term-2
// entry at index 2 on a majority, yet must not commit it by counting replicas, because a
// candidate holding a term-3 entry there could still be elected and overwrite it. Only when an
// entry of its own term (index 3) is on a majority do both commit.
func TestFigure8(t *testing.T) {
	s := NewMapStorage()
	// S1's log as in Figure 8 (c): index 1 term 1, index 2 term 2; current term 3 on disk.
	for i, e := range []Entry{{Term: 1, Type: EntryCommand, Command: []byte("1")}, {Term: 2, Type: EntryCommand, Command: []byte("2")}} {
		s.Set(KeyLogEntry(uint64(i+1)), EncodeEntry(e))
	}
	s.Set(KeyLogLast, []byte("2"))
	s.Set(KeyCurrentTerm, []byte("3"))
	s.Set(KeyVotedFor, []byte(""))
	members := []string{"s1", "s2", "s3", "s4", "s5"}
	n := newTestNode(t, "s1", members, s)
	n.Campaign(0) // term 4
	for _, v := range []string{"s2", "s3"} {
		n.Step(0, Message{Type: MsgVoteReply, From: v, To: "s1", Term: 4, Success: true})
	}
	if n.state != Leader || n.term != 4 {
		t.Fatalf("s1 is %s in term %d; want leader of term 4", n.state, n.term)
	}
	n.Ready()
	// s2 and s3 now hold index 2 (term 2) but not the leader's no-op at index 3.
	for _, f := range []string{"s2", "s3"} {
		n.Step(0, Message{Type: MsgAppReply, From: f, To: "s1", Term: 4, Success: true, Index: 2})
	}
	if n.commit != 0 {
		t.Fatalf("commit index %d with the term-2 entry on 3 of 5 servers; want 0 (Figure 8)", n.commit)
	}
	if rd := n.Ready(); len(rd.Committed) != 0 {
		t.Fatalf("delivered %v before anything of term 4 was replicated", rd.Committed)
	}
	// The no-op of term 4 reaches a majority: it commits, and index 2 with it.
	for _, f := range []string{"s2", "s3"} {
		n.Step(0, Message{Type: MsgAppReply, From: f, To: "s1", Term: 4, Success: true, Index: 3})
	}
	if n.commit != 3 {
		t.Fatalf("commit index %d after the term-4 entry reached a majority; want 3", n.commit)
	}
	got := n.Ready().Committed
	if len(got) != 3 || got[1].Term != 2 || got[2].Type != EntryNoop {
		t.Fatalf("delivered %+v; want entries 1–3 with the noop last", got)
	}
}

// TestConflictHintBacktracking: a follower with a long divergent tail is repaired in a few
// round trips, not one per entry.
func TestConflictHintBacktracking(t *testing.T) {
	members := []string{"a", "b", "c"}
	lead := newTestNode(t, "a", members, NewMapStorage())
	fol := newTestNode(t, "b", members, NewMapStorage())
	// The follower was leader of term 1 and wrote 50 entries nobody else has.
	fol.Campaign(0)
	fol.Step(0, Message{Type: MsgVoteReply, From: "c", To: "b", Term: 1, Success: true})
	cmds := make([][]byte, 50)
	for i := range cmds {
		cmds[i] = []byte("stale")
	}
	fol.SubmitBatch(0, cmds)
	fol.Ready()
	// a becomes leader of term 2 (with c's vote) and writes 20 entries.
	lead.Campaign(0)
	lead.Campaign(0)
	lead.Step(0, Message{Type: MsgVoteReply, From: "c", To: "a", Term: 2, Success: true})
	fresh := make([][]byte, 20)
	for i := range fresh {
		fresh[i] = []byte("fresh")
	}
	lead.SubmitBatch(0, fresh)
	rounds := 0
	for msgs := lead.Ready().Messages; len(msgs) > 0 && rounds < 20; rounds++ {
		var next []Message
		for _, m := range msgs {
			if m.To != "b" {
				continue
			}
			fol.Step(0, m)
			for _, r := range fol.Ready().Messages {
				lead.Step(0, r)
				next = append(next, lead.Ready().Messages...)
			}
		}
		msgs = next
	}
	if fol.log.lastIndex() != lead.log.lastIndex() || fol.log.lastTerm() != 2 {
		t.Fatalf("follower has %d entries ending in term %d; leader has %d", fol.log.lastIndex(), fol.log.lastTerm(), lead.log.lastIndex())
	}
	if rounds > 4 {
		t.Fatalf("repair took %d round trips; want ≤ 4 with conflict hints", rounds)
	}
}

func TestVoteRules(t *testing.T) {
	members := []string{"a", "b", "c"}
	s := NewMapStorage()
	n := newTestNode(t, "a", members, s)
	n.Step(0, Message{Type: MsgVote, From: "b", To: "a", Term: 1})
	if rd := n.Ready(); !rd.Messages[0].Success {
		t.Fatal("vote for b in term 1 refused")
	}
	n.Step(0, Message{Type: MsgVote, From: "c", To: "a", Term: 1})
	if rd := n.Ready(); rd.Messages[0].Success {
		t.Fatal("second vote in term 1 granted")
	}
	// The vote is on disk before the reply: a restarted node still refuses c.
	n2 := newTestNode(t, "a", members, s)
	n2.Step(0, Message{Type: MsgVote, From: "c", To: "a", Term: 1})
	if rd := n2.Ready(); rd.Messages[0].Success {
		t.Fatal("after restart, second vote in term 1 granted: votedFor not persisted")
	}
	// A candidate with a shorter log is refused in a new term.
	n2.Step(0, Message{Type: MsgApp, From: "b", To: "a", Term: 1, Entries: []Entry{{Term: 1, Type: EntryNoop}}})
	n2.Ready()
	n2.Step(0, Message{Type: MsgVote, From: "c", To: "a", Term: 2, LastLogIndex: 0, LastLogTerm: 0})
	if rd := n2.Ready(); rd.Messages[0].Success {
		t.Fatal("vote granted to a candidate whose log is behind")
	}
}

// TestDuplicateAppendDoesNotTruncate: a delayed copy of an old AppendEntries must not cut off
// entries that arrived after it.
func TestDuplicateAppendDoesNotTruncate(t *testing.T) {
	n := newTestNode(t, "b", []string{"a", "b", "c"}, NewMapStorage())
	e := func(c string) Entry { return Entry{Term: 1, Type: EntryCommand, Command: []byte(c)} }
	old := Message{Type: MsgApp, From: "a", To: "b", Term: 1, Entries: []Entry{e("1")}}
	n.Step(0, old)
	n.Step(0, Message{Type: MsgApp, From: "a", To: "b", Term: 1, PrevLogIndex: 1, PrevLogTerm: 1, Entries: []Entry{e("2"), e("3")}})
	n.Step(0, old)
	if n.log.lastIndex() != 3 {
		t.Fatalf("log has %d entries after a duplicate; want 3", n.log.lastIndex())
	}
}

func TestSingleNodeCluster(t *testing.T) {
	n := newTestNode(t, "a", []string{"a"}, NewMapStorage())
	n.Tick(n.Deadline())
	if n.state != Leader {
		t.Fatalf("single node is %s; want leader", n.state)
	}
	idx, _, err := n.Submit(n.now, []byte("x"))
	if err != nil || n.commit != idx {
		t.Fatalf("single node: Submit index %d, commit %d, err %v", idx, n.commit, err)
	}
	var cmds []string
	for _, c := range n.Ready().Committed {
		if c.Type == EntryCommand {
			cmds = append(cmds, string(c.Command))
		}
	}
	if !slices.Equal(cmds, []string{"x"}) {
		t.Fatalf("delivered %v; want [x]", cmds)
	}
}

// Flow control counts exactly the messages a reply answers: a duplicate or overtaken reply frees
// no room, a reply covering several messages frees them all.
func TestFlowControlWindow(t *testing.T) {
	n := newTestNode(t, "a", []string{"a", "b", "c"}, NewMapStorage())
	elect(t, n, "b")
	for _, m := range msgsOfType(n.Ready(), MsgApp) { // the no-op ends probing
		n.Step(n.now, Message{Type: MsgAppReply, From: m.To, To: "a", Term: n.term, Success: true, Index: m.PrevLogIndex + uint64(len(m.Entries))})
	}
	n.Ready()
	toB := func() []Message {
		var out []Message
		for _, m := range msgsOfType(n.Ready(), MsgApp) {
			if m.To == "b" && len(m.Entries) > 0 {
				out = append(out, m)
			}
		}
		return out
	}
	var sent []Message
	for i := range DefaultMaxInflight + 2 {
		if _, _, err := n.Submit(n.now, fmt.Appendf(nil, "c%d", i)); err != nil {
			t.Fatal(err)
		}
		sent = append(sent, toB()...)
	}
	if len(sent) != DefaultMaxInflight {
		t.Fatalf("%d AppendEntries out to b; want the window, %d", len(sent), DefaultMaxInflight)
	}
	reply := func(m Message) []Message {
		n.Step(n.now, Message{Type: MsgAppReply, From: "b", To: "a", Term: n.term, Success: true, Index: m.PrevLogIndex + uint64(len(m.Entries))})
		return toB()
	}
	if more := reply(sent[1]); len(more) != 1 { // answers sent[0] and sent[1]; the last answer arrives first
		t.Fatalf("a reply covering 2 messages let %d more out; want 1 (the 2 waiting entries)", len(more))
	}
	// Fill the window again (x goes out), and leave one entry waiting (y).
	for _, c := range []string{"x", "y"} {
		if _, _, err := n.Submit(n.now, []byte(c)); err != nil {
			t.Fatal(err)
		}
	}
	if more := toB(); len(more) != 1 {
		t.Fatalf("%d more AppendEntries out; want 1, then a full window", len(more))
	}
	if more := reply(sent[0]); len(more) != 0 {
		t.Fatalf("an overtaken reply let %d more out; want none", len(more))
	}
	if more := reply(sent[1]); len(more) != 0 {
		t.Fatalf("a duplicate reply let %d more out; want none", len(more))
	}
	if st := n.Status().Progress["b"]; st.Inflight != DefaultMaxInflight {
		t.Fatalf("Inflight %d; want %d", st.Inflight, DefaultMaxInflight)
	}
	if more := reply(sent[3]); len(more) != 1 || len(more[0].Entries) != 1 {
		t.Fatalf("a reply covering 2 more messages sent %v; want the waiting entry", more)
	}
}
