//go:build !js

package peer

import (
	"encoding/binary"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"raftlab/raft"
)

// inbox collects what a transport delivers.
type inbox struct {
	mu   sync.Mutex
	msgs []raft.Message
	ch   chan struct{}
}

func newInbox() *inbox { return &inbox{ch: make(chan struct{}, 1)} }

func (b *inbox) deliver(ms []raft.Message) bool {
	b.mu.Lock()
	b.msgs = append(b.msgs, ms...)
	b.mu.Unlock()
	select {
	case b.ch <- struct{}{}:
	default:
	}
	return true
}

// wait waits until n messages have arrived.
func (b *inbox) wait(t *testing.T, n int) []raft.Message {
	t.Helper()
	deadline := time.After(10 * time.Second)
	for {
		b.mu.Lock()
		if len(b.msgs) >= n {
			ms := b.msgs
			b.mu.Unlock()
			return ms
		}
		b.mu.Unlock()
		select {
		case <-b.ch:
		case <-deadline:
			t.Fatalf("%d of %d messages arrived", len(b.msgs), n)
		}
	}
}

// logs collects a transport's log lines.
type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.mu.Unlock()
}

func (l *logs) waitFor(t *testing.T, sub string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		l.mu.Lock()
		for _, s := range l.lines {
			if strings.Contains(s, sub) {
				l.mu.Unlock()
				return
			}
		}
		l.mu.Unlock()
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no log line with %q in %q", sub, l.lines)
}

func listen(t *testing.T, cfg Config) *Transport {
	t.Helper()
	if cfg.Cluster == "" {
		cfg.Cluster = "demo"
	}
	tr, err := Listen(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tr.Close() })
	return tr
}

func waitUp(t *testing.T, tr *Transport, id string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !tr.Up(id) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the link to %s did not come up", tr.ID(), id)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func app(from, to string, term, prev uint64, cmds ...string) raft.Message {
	m := raft.Message{Type: raft.MsgApp, From: from, To: to, Term: term, PrevLogIndex: prev, PrevLogTerm: term, Commit: prev}
	for _, c := range cmds {
		m.Entries = append(m.Entries, raft.Entry{Term: term, Command: []byte(c)})
	}
	return m
}

// TestLinkCarriesMessagesInOrder: messages sent one by one and in bursts arrive whole and in
// order; the sender's message may be reused once Send returns; the receiver learns the
// sender's address from the handshake and links back without being told.
func TestLinkCarriesMessagesInOrder(t *testing.T) {
	in1, in2 := newInbox(), newInbox()
	hellos := make(chan [2]string, 4)
	t1 := listen(t, Config{ID: "n1", Deliver: in1.deliver, API: ":9001"})
	t2 := listen(t, Config{ID: "n2", Deliver: in2.deliver, OnHello: func(id, api string) { hellos <- [2]string{id, api} }})
	if got := t1.Send(&raft.Message{Type: raft.MsgVote, From: "n1", To: "n2", Term: 1}); got != NoLink {
		t.Fatalf("Send before any link: %v; want NoLink", got)
	}
	t1.SetPeer("n2", t2.Addr())
	waitUp(t, t1, "n2")
	var want []raft.Message
	m := app("n1", "n2", 2, 0)
	for i := range 1000 {
		m = app("n1", "n2", 2, uint64(i), fmt.Sprintf("put k%d %d", i, i))
		want = append(want, app("n1", "n2", 2, uint64(i), fmt.Sprintf("put k%d %d", i, i)))
		if got := t1.Send(&m); got != Sent {
			t.Fatalf("Send %d: %v", i, got)
		}
		m.Entries[0].Command[0] = 'X' // the sender reuses its buffers
	}
	got := in2.wait(t, len(want))
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %d messages, first %+v; want %+v", len(got), got[0], want[0])
	}
	// n2 learned where n1 serves its API, the host completed with the connection's.
	if got := <-hellos; got != [2]string{"n1", "127.0.0.1:9001"} {
		t.Errorf("OnHello got %v; want n1 and 127.0.0.1:9001", got)
	}
	// The way back: n2 learned n1's address from the handshake.
	waitUp(t, t2, "n1")
	if got := t2.Peers()["n1"]; got != t1.Addr() {
		t.Fatalf("n2 dials n1 at %q; want %q", got, t1.Addr())
	}
	reply := raft.Message{Type: raft.MsgAppReply, From: "n2", To: "n1", Term: 2, Success: true, Index: 999}
	if t2.Send(&reply) != Sent {
		t.Fatal("reply not sent")
	}
	if got := in1.wait(t, 1); !reflect.DeepEqual(got[0], reply) {
		t.Fatalf("reply %+v; want %+v", got[0], reply)
	}
}

// TestRedialAfterRestart: a peer that goes away and comes back on another address (SetPeer)
// or the same one is linked again; while it is away Send says NoLink.
func TestRedialAfterRestart(t *testing.T) {
	var l1 logs
	t1 := listen(t, Config{ID: "n1", Deliver: newInbox().deliver, Logf: l1.logf, MaxBackoff: 100 * time.Millisecond})
	in2 := newInbox()
	t2 := listen(t, Config{ID: "n2", Deliver: in2.deliver})
	addr := t2.Addr()
	t1.SetPeer("n2", addr)
	waitUp(t, t1, "n2")
	t2.Close()
	deadline := time.Now().Add(10 * time.Second)
	for t1.Up("n2") {
		if time.Now().After(deadline) {
			t.Fatal("the link stayed up after the peer closed")
		}
		time.Sleep(2 * time.Millisecond)
	}
	l1.waitFor(t, "direct link to n2 at "+addr+" is down")
	if got := t1.Send(&raft.Message{Type: raft.MsgVote, From: "n1", To: "n2", Term: 1}); got != NoLink {
		t.Fatalf("Send with the peer gone: %v; want NoLink", got)
	}
	// Back on the same address.
	in2 = newInbox()
	t2 = listen(t, Config{ID: "n2", Addr: addr, Deliver: in2.deliver})
	waitUp(t, t1, "n2")
	vote := raft.Message{Type: raft.MsgVote, From: "n1", To: "n2", Term: 4, LastLogIndex: 3, LastLogTerm: 2}
	if t1.Send(&vote) != Sent {
		t.Fatal("not sent")
	}
	if got := in2.wait(t, 1); !reflect.DeepEqual(got[0], vote) {
		t.Fatalf("%+v", got[0])
	}
	// And on a new one, announced with SetPeer.
	t2.Close()
	in3 := newInbox()
	t3 := listen(t, Config{ID: "n2", Deliver: in3.deliver})
	t1.SetPeer("n2", t3.Addr())
	waitUp(t, t1, "n2")
	if t1.Send(&vote) != Sent {
		t.Fatal("not sent")
	}
	in3.wait(t, 1)
	// Forgetting a peer closes its link.
	t1.SetPeer("n2", "")
	if t1.Up("n2") || len(t1.Peers()) != 0 {
		t.Fatal("a forgotten peer is still linked")
	}
}

// TestHandshakeRefusals: a dialer of another cluster, for another member, or without the
// token is refused with a logged reason, and the link stays down.
func TestHandshakeRefusals(t *testing.T) {
	for _, tc := range []struct {
		name       string
		dialer     Config
		listener   Config
		reason, to string
	}{
		{"cluster", Config{Cluster: "other", ID: "n1"}, Config{ID: "n2"}, "this is cluster demo, not other", "n2"},
		{"member", Config{ID: "n1"}, Config{ID: "n3"}, "this is member n3, not n2", "n2"},
		{"token", Config{ID: "n1", Token: "wrong"}, Config{ID: "n2", Token: "s3cret"}, "wrong cluster token", "n2"},
		{"no token", Config{ID: "n1"}, Config{ID: "n2", Token: "s3cret"}, "wrong cluster token", "n2"},
		{"bad api", Config{ID: "n1", API: "nowhere"}, Config{ID: "n2"}, `bad API address "nowhere"`, "n2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var ld, ll logs
			tc.dialer.Deliver, tc.dialer.Logf = newInbox().deliver, ld.logf
			tc.listener.Deliver, tc.listener.Logf = newInbox().deliver, ll.logf
			d, l := listen(t, tc.dialer), listen(t, tc.listener)
			d.SetPeer(tc.to, l.Addr())
			ll.waitFor(t, "refused a connection from")
			ll.waitFor(t, tc.reason)
			ld.waitFor(t, "refused: "+tc.reason)
			if d.Up(tc.to) {
				t.Fatal("link up despite the refusal")
			}
		})
	}
	// The right token is let in.
	in := newInbox()
	d := listen(t, Config{ID: "n1", Token: "s3cret", Deliver: newInbox().deliver})
	l := listen(t, Config{ID: "n2", Token: "s3cret", Deliver: in.deliver})
	d.SetPeer("n2", l.Addr())
	waitUp(t, d, "n2")
}

// rawDial opens a connection to tr and does the handshake as member from.
func rawDial(t *testing.T, tr *Transport, from string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", tr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	hs := []byte(magic)
	for _, s := range []string{tr.cfg.Cluster, from, tr.ID(), "", "", ""} {
		hs = appendString(hs, s)
	}
	if _, err := c.Write(hs); err != nil {
		t.Fatal(err)
	}
	var st [1]byte
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(st[:]); err != nil || st[0] != 0 {
		t.Fatalf("handshake: %v %v", st, err)
	}
	c.SetReadDeadline(time.Time{})
	return c
}

func frame(body []byte) []byte {
	return append(binary.BigEndian.AppendUint32(nil, uint32(len(body))), body...)
}

// TestMalformedFramesCloseTheLink: every kind of bad frame closes that connection with a logged
// reason; the messages before it are delivered, nothing after it, and the transport keeps
// serving others.
func TestMalformedFramesCloseTheLink(t *testing.T) {
	good := AppendMessage(nil, &raft.Message{Type: raft.MsgVote, From: "n1", To: "n2", Term: 3})
	for _, tc := range []struct {
		name, reason string
		bad          []byte
	}{
		{"zero length", "frame of 0 bytes", binary.BigEndian.AppendUint32(nil, 0)},
		{"too big", "frame of 16777216 bytes", binary.BigEndian.AppendUint32(nil, 16<<20)},
		{"garbage", "bad frame", frame([]byte{1, 2, 3})},
		{"trailing", "bytes after the message", frame(append(append([]byte(nil), good...), 7))},
		{"unknown type", "unknown message type 99", frame(AppendMessage(nil, &raft.Message{Type: 99, From: "n1", To: "n2", Term: 3}))},
		{"no term", "without a term", frame(AppendMessage(nil, &raft.Message{Type: raft.MsgVote, From: "n1", To: "n2"}))},
		{"impersonation", "message from n3 to n2 on the link from n1", frame(AppendMessage(nil, &raft.Message{Type: raft.MsgVote, From: "n3", To: "n2", Term: 3}))},
		{"misrouted", "message from n1 to n4 on the link from n1", frame(AppendMessage(nil, &raft.Message{Type: raft.MsgVote, From: "n1", To: "n4", Term: 3}))},
		{"entries in a vote", "carries entries", frame(AppendMessage(nil, &raft.Message{Type: raft.MsgVote, From: "n1", To: "n2", Term: 3, Entries: []raft.Entry{{Term: 3}}}))},
		{"bad id", "bad frame", frame(AppendMessage(nil, &raft.Message{Type: raft.MsgVote, From: strings.Repeat("n", 65), To: "n2", Term: 3}))},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var l logs
			in := newInbox()
			tr := listen(t, Config{ID: "n2", Deliver: in.deliver, Logf: l.logf, MaxMessageBytes: 8 << 20})
			c := rawDial(t, tr, "n1")
			c.Write(append(frame(good), tc.bad...))
			l.waitFor(t, "closing the link from n1")
			l.waitFor(t, tc.reason)
			c.SetReadDeadline(time.Now().Add(5 * time.Second))
			var b [1]byte
			if _, err := c.Read(b[:]); err == nil {
				t.Fatal("the connection stayed open")
			}
			if got := in.wait(t, 1); len(got) != 1 || got[0].Term != 3 {
				t.Fatalf("delivered %+v; want the good message alone", got)
			}
			// Still serving.
			c2 := rawDial(t, tr, "n1")
			c2.Write(frame(good))
			in.wait(t, 2)
		})
	}
}

// TestFullQueueDrops: a peer that does not read makes its queue fill; Send then drops instead
// of growing memory, and the link to the others is unaffected.
func TestFullQueueDrops(t *testing.T) {
	// A listener that accepts the handshake and then never reads.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			buf := make([]byte, 256)
			c.Read(buf)
			c.Write([]byte{0})
			defer c.Close()
		}
	}()
	tr := listen(t, Config{ID: "n1", Deliver: newInbox().deliver, QueueBytes: 64 << 10})
	tr.SetPeer("n2", ln.Addr().String())
	waitUp(t, tr, "n2")
	m := app("n1", "n2", 1, 0, strings.Repeat("x", 4000))
	dropped := 0
	for range 10000 {
		if tr.Send(&m) == Dropped {
			dropped++
		}
	}
	if dropped == 0 {
		t.Fatal("40 MB sent to a peer that does not read, and nothing was dropped")
	}
	big := app("n1", "n2", 1, 0, strings.Repeat("x", DefaultMaxMessageBytes))
	if got := tr.Send(&big); got != Dropped {
		t.Fatalf("a message over MaxMessageBytes: %v; want Dropped", got)
	}
}

// TestOldHandshakeRefused: a dialer of another protocol version is told which.
func TestOldHandshakeRefused(t *testing.T) {
	var l logs
	tr := listen(t, Config{ID: "n2", Deliver: newInbox().deliver, Logf: l.logf})
	c, err := net.Dial("tcp", tr.Addr())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("RLPEER01"))
	l.waitFor(t, `peer protocol version "01"; this member speaks "03"`)
}

// TestAnswersRideTheDialersConnection: the member with the larger id sends to the other over
// the connection the other dialed, so a pair's frames go both ways on one connection (and
// TCP's acknowledgments ride on the answers); it does so even when its own connection to the
// other never comes up. When that connection closes, the link is down.
func TestAnswersRideTheDialersConnection(t *testing.T) {
	in1, in2 := newInbox(), newInbox()
	t1 := listen(t, Config{ID: "n1", Deliver: in1.deliver})
	// n2 does not dial n1 back, and the address it has for n1 is dead.
	t2 := listen(t, Config{ID: "n2", Deliver: in2.deliver, DialBack: func(string, string) bool { return false }})
	dead, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead.Close()
	t2.SetPeer("n1", dead.Addr().String())
	if got := t2.Send(&raft.Message{Type: raft.MsgVote, From: "n2", To: "n1", Term: 1}); got != NoLink {
		t.Fatalf("Send before any link: %v; want NoLink", got)
	}
	t1.SetPeer("n2", t2.Addr())
	waitUp(t, t1, "n2")
	waitUp(t, t2, "n1")
	for i := range 100 {
		m := app("n1", "n2", 2, uint64(i), fmt.Sprintf("put k%d %d", i, i))
		if t1.Send(&m) != Sent {
			t.Fatal("n1: not sent")
		}
		r := raft.Message{Type: raft.MsgAppReply, From: "n2", To: "n1", Term: 2, Success: true, Index: uint64(i + 1)}
		if got := t2.Send(&r); got != Sent {
			t.Fatalf("n2's answer %d: %v", i, got)
		}
	}
	in2.wait(t, 100)
	got := in1.wait(t, 100)
	for i, m := range got {
		if m.Type != raft.MsgAppReply || m.Index != uint64(i+1) {
			t.Fatalf("answer %d: %+v; want the answers in order", i, m)
		}
	}
	t2.mu.Lock()
	own := t2.peers["n1"]
	t2.mu.Unlock()
	if own.out.up.Load() {
		t.Fatal("n2's own connection to a dead address is up")
	}
	// The dialer goes away: so does the link the other answered over.
	t1.Close()
	deadline := time.Now().Add(10 * time.Second)
	for t2.Up("n1") {
		if time.Now().After(deadline) {
			t.Fatal("n2's link to n1 stayed up after n1 closed")
		}
		time.Sleep(2 * time.Millisecond)
	}
	if got := t2.Send(&raft.Message{Type: raft.MsgVote, From: "n2", To: "n1", Term: 3}); got != NoLink {
		t.Fatalf("Send with n1 gone: %v; want NoLink", got)
	}
}

// TestBothMembersSendOverOneConnection: with both connections of a pair up, both members send
// over the one the smaller id dialed; the other carries nothing.
func TestBothMembersSendOverOneConnection(t *testing.T) {
	in1, in2 := newInbox(), newInbox()
	t1 := listen(t, Config{ID: "n1", Deliver: in1.deliver})
	t2 := listen(t, Config{ID: "n2", Deliver: in2.deliver})
	t1.SetPeer("n2", t2.Addr())
	t2.SetPeer("n1", t1.Addr())
	waitUp(t, t1, "n2")
	waitUp(t, t2, "n1")
	// Both lanes of the pair up, seen from each side.
	deadline := time.Now().Add(10 * time.Second)
	for {
		t1.mu.Lock()
		l1, p1 := t1.in["n2"], t1.peers["n2"]
		t1.mu.Unlock()
		t2.mu.Lock()
		l2, p2 := t2.in["n1"], t2.peers["n1"]
		t2.mu.Unlock()
		if l1 != nil && l1.up.Load() && l2 != nil && l2.up.Load() && p1.out.up.Load() && p2.out.up.Load() {
			if t1.lane("n2") != &p1.out || t2.lane("n1") != l2 {
				t.Fatal("the members do not both send over the connection n1 dialed")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the pair's two connections did not both come up")
		}
		time.Sleep(2 * time.Millisecond)
	}
	v := raft.Message{Type: raft.MsgVote, From: "n2", To: "n1", Term: 5, LastLogIndex: 1, LastLogTerm: 1}
	if t2.Send(&v) != Sent {
		t.Fatal("not sent")
	}
	if got := in1.wait(t, 1); !reflect.DeepEqual(got[0], v) {
		t.Fatalf("%+v", got[0])
	}
}

// TestListenerBreakingTheProtocol: frames that come back over a dialed connection are checked
// as those that come in: a bad one closes the link with the reason in the log, and the dialer
// dials again.
func TestListenerBreakingTheProtocol(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			defer c.Close()
			buf := make([]byte, 256)
			c.Read(buf)
			// Accepted, then a message that claims to come from n3.
			c.Write(append([]byte{0}, frame(AppendMessage(nil, &raft.Message{Type: raft.MsgVote, From: "n3", To: "n1", Term: 3}))...))
		}
	}()
	var l logs
	in := newInbox()
	tr := listen(t, Config{ID: "n1", Deliver: in.deliver, Logf: l.logf, MaxBackoff: 100 * time.Millisecond})
	tr.SetPeer("n2", ln.Addr().String())
	l.waitFor(t, "closing the link from n2: message from n3 to n1 on the link from n2 to n1")
	l.waitFor(t, "is down")
	in.mu.Lock()
	defer in.mu.Unlock()
	if len(in.msgs) != 0 {
		t.Fatalf("delivered %+v", in.msgs)
	}
}
