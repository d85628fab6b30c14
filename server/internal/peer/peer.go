//go:build !js

// Package peer is the direct transport between native members: each member listens on a TCP
// address, dials the members whose addresses it knows, and sends them its Raft messages without
// the hub. The hub stays the place where members learn each other's addresses (its welcome and
// presence frames carry them) and the relay for browser members, which cannot accept
// connections; a member sends through the hub whenever no direct link to the destination is up.
//
// # Why this transport and codec
//
// Plain TCP with length-prefixed binary frames, not WebSocket and JSON: between two Go
// processes nobody needs to read the frames in a devtools panel, and every layer costs
// latency. Each member of a pair dials the other, so there is no dialing race to settle and a
// link comes back from either side; but both send over one of the two connections, the one the
// member with the smaller id dialed, while it is up (the other one otherwise): frames go both
// ways on it, and TCP's acknowledgments ride on the answers. With a connection per direction
// every frame cost a pure ACK segment besides, which the kernel processes on loopback as it
// does a frame: a ping-pong between two goroutines took 17.3 µs a round trip that way and 13.0
// on one connection (4 TCP segments a round trip instead of 2), the transport's round trip
// (BenchmarkRoundTrip) went from 26.5 to 21.2 µs, and the 3-member bench's sequential commit
// from 41 to 35.5 µs at the median (16 runs side by side; see the README's benchmark).
// Each end of a connection has its writer goroutine and its reader. The writer owns the
// socket: Send encodes the message at once into the connection's pending buffer (the caller's
// message may be reused as soon as Send returns) and wakes the writer, which takes everything
// pending and writes it with one system call; a queue that empties ends the batch, so a lone
// message is written at once and a burst costs one write. The pending buffer is bounded in
// bytes: a message that does not fit is dropped (Raft retries), so a slow peer cannot make a
// member's memory grow. Writing on the sender's goroutine instead, with a non-blocking system
// call and the writer goroutine as the fallback, was measured and left out: the sequential
// commit was 10–17% slower (a loopback write costs about 4 µs, the kernel delivering the
// segment on the writer's CPU, and the leader's two writes were then made one after the other
// on its node's goroutine, before the rest of its turn), for a hop that costs well under 1 µs.
//
// The codec is hand-written (codec.go): a raft.Message is a flat struct of integers, ids and
// byte slices, and encoding it by hand into a reused buffer costs no allocation, where
// encoding/gob or a schema-based library would add reflection or generated code and a
// dependency for no gain. What keeps it honest is TestCodecCoversMessage, which reflects over
// every field of raft.Message and fails when a field is added that the codec does not carry.
//
// # Protocol
//
// The dialer opens with a handshake: the 8 bytes "RLPEER03", then as uvarint-length strings the
// cluster name, its member id, the id it means to reach, its own listen address (so that the
// other can dial back without the hub), the cluster token ("" when the server has none), and
// where it serves its scripting API ("" for nowhere; so that the others can forward commands
// to it without the hub).
// The listener answers one status byte, 0 for accepted, or 1 followed by a uvarint-length
// reason before it closes. Then both send frames, each a 4-byte big-endian length and one
// message in the binary encoding. Each end checks every frame as the hub checks a msgs frame:
// its size (Config.MaxMessageBytes), its encoding, the message's fields (wire.CheckMessage),
// that it comes from the member at the other end and goes to this member. A frame that fails
// closes that connection with a logged reason; nothing panics.
//
// # API
//
//	t, err := peer.Listen(peer.Config{Cluster: "demo", ID: "n1", Addr: "127.0.0.1:0", Deliver: node.Deliver})
//	t.Addr()                          // the address to announce
//	t.SetPeer("n2", "127.0.0.1:7002") // dial n2 there (again after a change; "" forgets it)
//	t.Send(&msg)                      // Sent, Dropped or NoLink (then send it another way)
//	t.Up("n2"), t.Peers(), t.Close()
//
// A peer that dials in is dialed back at the address its handshake gives (SetPeer), unless
// Config.DialBack says not to (a member removed from the cluster), and Config.OnHello hears
// where it serves its API. Only peers given to SetPeer are sent to, over either connection. AppendMessage and DecodeMessage are the codec
// alone.
package peer

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"raftlab/raft"
	"raftlab/raft/wire"
)

// Defaults for Config's zero fields.
const (
	DefaultQueueBytes      = 8 << 20
	DefaultMaxMessageBytes = 8 << 20 // 256 entries of the API's largest command (16 KiB) fit
	DefaultMinBackoff      = 50 * time.Millisecond
	DefaultMaxBackoff      = 2 * time.Second
	dialTimeout            = 2 * time.Second
	handshakeWait          = 5 * time.Second
	writeWait              = 10 * time.Second
	maxBatch               = 256 // messages handed to Deliver at once
)

const magic = "RLPEER03" // the version after RLPEER: 02 added the API address, 03 frames both ways

// Config configures a Transport.
type Config struct {
	Cluster string
	ID      string // the member this transport sends for and receives for
	// Addr is the TCP address to listen on; default "127.0.0.1:0" (a free loopback port).
	Addr string
	// Token, if not empty, is the cluster token a dialer must present; the transport presents
	// it when it dials.
	Token string
	// API, if not empty, is where this member serves its scripting API (server node -http),
	// told to every peer in the handshake, so that the others can forward to it without the
	// hub. OnHello, if set, is called with each peer that dials in: its id and the API
	// address it told (an unspecified host completed with the connection's).
	API     string
	OnHello func(id, api string)
	// DialBack, if set, says whether a peer that dialed in is dialed back at the listen
	// address its handshake gives (default: always). A member does not dial back a peer that
	// was removed from the cluster's configuration; its connection is served all the same.
	DialBack func(id, addr string) bool
	// Deliver gets the messages that arrive, in order per peer, on that peer's reader
	// goroutine; the slice is the callee's. It reports false when it dropped them.
	Deliver func(msgs []raft.Message) bool
	// Logf logs links going up and down and refused connections; default log.Printf.
	Logf func(format string, args ...any)
	// QueueBytes bounds the encoded messages waiting to be written to one peer.
	QueueBytes int
	// MaxMessageBytes bounds one encoded message, sent or received.
	MaxMessageBytes int
	// MinBackoff and MaxBackoff bound the wait between attempts to dial a peer.
	MinBackoff, MaxBackoff time.Duration
}

// Outcome is what Send did with a message.
type Outcome int

const (
	// Sent: queued on the peer's link.
	Sent Outcome = iota
	// Dropped: the link is up but its queue is full, or the message is too big (Raft retries).
	Dropped
	// NoLink: no link to the destination is up; the message is untouched.
	NoLink
)

// Transport is one member's end of the direct links. Its methods are safe for concurrent use.
type Transport struct {
	cfg Config
	ln  net.Listener

	mu     sync.Mutex
	peers  map[string]*outPeer
	in     map[string]*lane // the latest accepted connection from each peer, to send on
	conns  map[net.Conn]struct{}
	closed bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// Listen starts listening on cfg.Addr and accepting peers.
func Listen(cfg Config) (*Transport, error) {
	if err := wire.CheckID("cluster name", cfg.Cluster); err != nil {
		return nil, fmt.Errorf("peer: %v", err)
	}
	if err := wire.CheckID("member id", cfg.ID); err != nil {
		return nil, fmt.Errorf("peer: %v", err)
	}
	if cfg.Deliver == nil {
		return nil, errors.New("peer: config: nil Deliver")
	}
	if cfg.Addr == "" {
		cfg.Addr = "127.0.0.1:0"
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	if cfg.QueueBytes <= 0 {
		cfg.QueueBytes = DefaultQueueBytes
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	ln, err := net.Listen("tcp", cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("peer: listen on %s: %w", cfg.Addr, err)
	}
	t := &Transport{cfg: cfg, ln: ln, peers: map[string]*outPeer{}, in: map[string]*lane{}, conns: map[net.Conn]struct{}{}}
	t.ctx, t.cancel = context.WithCancel(context.Background())
	t.wg.Add(1)
	go t.accept()
	return t, nil
}

// Addr returns the address the transport listens on.
func (t *Transport) Addr() string { return t.ln.Addr().String() }

// ID returns the member the transport serves.
func (t *Transport) ID() string { return t.cfg.ID }

// SetPeer makes the transport dial member id at addr and keep a link to it; a new address
// replaces the old one (the link is dialed again), and "" forgets the peer. The transport's own
// id is ignored.
func (t *Transport) SetPeer(id, addr string) {
	if id == t.cfg.ID || wire.CheckID("member id", id) != nil {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return
	}
	p := t.peers[id]
	if p != nil {
		if p.addr == addr {
			return
		}
		p.stop()
		delete(t.peers, id)
		// The connection it dialed in on is the old one's too (a peer restarted elsewhere
		// dials in on a new connection, registered after this): nothing more goes over it.
		if in := t.in[id]; in != nil {
			in.close()
			delete(t.in, id)
		}
	}
	if addr == "" {
		return
	}
	p = &outPeer{t: t, id: id, addr: addr, quit: make(chan struct{}), out: newLane()}
	t.peers[id] = p
	t.wg.Add(1)
	go p.run()
}

// Peers returns the peers the transport dials, by id, with their addresses.
func (t *Transport) Peers() map[string]string {
	t.mu.Lock()
	defer t.mu.Unlock()
	m := make(map[string]string, len(t.peers))
	for id, p := range t.peers {
		m[id] = p.addr
	}
	return m
}

// Up reports whether a link to member id is up: the connection this member dialed, or the one
// id dialed.
func (t *Transport) Up(id string) bool {
	return t.lane(id) != nil
}

// lane returns the lane to send to member id on, nil when no link to it is up or id is not a
// peer this transport dials (SetPeer; a forgotten peer that dials in is not sent to). Both
// members of a pair send over the connection that the one with the smaller id dialed, while it
// is up (see "Why this transport"); over the other one otherwise.
func (t *Transport) lane(id string) *lane {
	t.mu.Lock()
	p, in := t.peers[id], t.in[id]
	t.mu.Unlock()
	switch {
	case p == nil:
		return nil
	case in != nil && in.up.Load() && id < t.cfg.ID:
		return in
	case p != nil && p.out.up.Load():
		return &p.out
	case in != nil && in.up.Load():
		return in
	}
	return nil
}

// Send queues m on the link to m.To. It returns NoLink, without touching m, when no link to
// m.To is up; Dropped when the link's queue is full or the message is over MaxMessageBytes.
// m may be reused once Send returns.
func (t *Transport) Send(m *raft.Message) Outcome {
	l := t.lane(m.To)
	if l == nil {
		return NoLink
	}
	return l.send(&t.cfg, m)
}

// Close stops listening, closes every link and waits for the transport's goroutines.
func (t *Transport) Close() error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	for _, p := range t.peers {
		p.stop()
	}
	for c := range t.conns {
		c.Close()
	}
	t.mu.Unlock()
	t.cancel()
	err := t.ln.Close()
	t.wg.Wait()
	return err
}

// track registers a connection so that Close closes it; false when the transport is closed.
func (t *Transport) track(c net.Conn) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed {
		return false
	}
	t.conns[c] = struct{}{}
	return true
}

func (t *Transport) untrack(c net.Conn) {
	t.mu.Lock()
	delete(t.conns, c)
	t.mu.Unlock()
}

// outPeer is the link to one peer that this member dials: its dial loop and the lane of the
// connection it dialed.
type outPeer struct {
	t    *Transport
	id   string
	addr string
	quit chan struct{}
	once sync.Once
	out  lane
}

// lane is the sending side of one connection: the frames waiting to be written and the writer
// goroutine's wake-up.
type lane struct {
	wake chan struct{} // a token when something is pending
	up   atomic.Bool

	mu      sync.Mutex
	pending []byte // encoded frames waiting for the writer
	conn    net.Conn
}

func newLane() lane { return lane{wake: make(chan struct{}, 1)} }

// open makes the lane send on c.
func (l *lane) open(c net.Conn) {
	l.mu.Lock()
	l.conn = c
	l.pending = l.pending[:0]
	l.mu.Unlock()
	l.up.Store(true)
}

// shut stops the lane sending; what was pending is dropped.
func (l *lane) shut() {
	l.up.Store(false)
	l.mu.Lock()
	l.conn = nil
	l.pending = l.pending[:0]
	l.mu.Unlock()
}

// close shuts the lane and closes its connection.
func (l *lane) close() {
	l.up.Store(false)
	l.mu.Lock()
	if l.conn != nil {
		l.conn.Close()
	}
	l.conn = nil
	l.pending = l.pending[:0]
	l.mu.Unlock()
}

func (p *outPeer) stop() {
	p.once.Do(func() {
		close(p.quit)
		p.out.mu.Lock()
		if p.out.conn != nil {
			p.out.conn.Close()
		}
		p.out.mu.Unlock()
	})
}

func (l *lane) send(cfg *Config, m *raft.Message) Outcome {
	l.mu.Lock()
	if l.conn == nil {
		l.mu.Unlock()
		return NoLink
	}
	start := len(l.pending)
	b := append(l.pending, 0, 0, 0, 0)
	b = AppendMessage(b, m)
	n := len(b) - start - 4
	if n > cfg.MaxMessageBytes || len(b) > cfg.QueueBytes && start > 0 {
		l.pending = b[:start]
		l.mu.Unlock()
		return Dropped
	}
	binary.BigEndian.PutUint32(b[start:], uint32(n))
	l.pending = b
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return Sent
}

// write is the lane's writer: it writes what is pending to c, everything pending in one
// system call, until a write fails, quit is closed or the connection's reader ends (readErr).
func (l *lane) write(c net.Conn, quit <-chan struct{}, readErr <-chan error) error {
	var spare []byte
	var deadline time.Time
	for {
		select {
		case <-quit:
			return errors.New("stopped")
		case err := <-readErr:
			return fmt.Errorf("closed by the peer: %v", err)
		case <-l.wake:
		}
		l.mu.Lock()
		b := l.pending
		l.pending = spare[:0]
		l.mu.Unlock()
		if len(b) == 0 {
			spare = b
			continue
		}
		// Each write gets between writeWait/2 and writeWait: moving the deadline resets a
		// runtime timer, which cost more than the check at every write of a busy link.
		if now := time.Now(); deadline.Sub(now) < writeWait/2 {
			deadline = now.Add(writeWait)
			c.SetWriteDeadline(deadline)
		}
		if _, err := c.Write(b); err != nil {
			return err
		}
		// A buffer that grew large for one burst is not kept.
		if cap(b) > 1<<20 {
			b = nil
		}
		spare = b
	}
}

// run dials the peer and serves each connection until the peer is forgotten or the transport
// closes, with a backoff between attempts from MinBackoff doubling to MaxBackoff.
func (p *outPeer) run() {
	t := p.t
	defer t.wg.Done()
	backoff := t.cfg.MinBackoff
	var lastErr string
	wasUp := false
	for {
		err := p.session(&wasUp)
		select {
		case <-p.quit:
			return
		default:
		}
		if wasUp {
			backoff = t.cfg.MinBackoff
			wasUp = false
			t.cfg.Logf("peer %s: direct link to %s at %s is down: %v; redialing", t.cfg.ID, p.id, p.addr, err)
			lastErr = ""
		} else if msg := err.Error(); msg != lastErr {
			// Said once, not at every attempt: a peer that is down stays down for a while.
			t.cfg.Logf("peer %s: cannot link to %s at %s: %v; retrying (meanwhile messages to it go through the hub, while the hub is up)", t.cfg.ID, p.id, p.addr, err)
			lastErr = msg
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		select {
		case <-p.quit:
			return
		case <-time.After(wait):
		}
		backoff = min(2*backoff, t.cfg.MaxBackoff)
	}
}

// session dials the peer, hands it our handshake and writes pending frames until the
// connection fails or the peer is stopped.
func (p *outPeer) session(wasUp *bool) error {
	t := p.t
	d := net.Dialer{Timeout: dialTimeout}
	ctx, cancel := context.WithCancel(t.ctx)
	defer cancel()
	go func() {
		select {
		case <-p.quit:
			cancel()
		case <-ctx.Done():
		}
	}()
	c, err := d.DialContext(ctx, "tcp", p.addr)
	if err != nil {
		return err
	}
	if !t.track(c) {
		c.Close()
		return errors.New("transport closed")
	}
	defer t.untrack(c)
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	hs := []byte(magic)
	for _, s := range []string{t.cfg.Cluster, t.cfg.ID, p.id, t.Addr(), t.cfg.Token, t.cfg.API} {
		hs = appendString(hs, s)
	}
	c.SetDeadline(time.Now().Add(handshakeWait))
	if _, err := c.Write(hs); err != nil {
		return fmt.Errorf("handshake: %v", err)
	}
	br := bufio.NewReaderSize(c, 64<<10)
	st, err := br.ReadByte()
	if err != nil {
		return fmt.Errorf("handshake: no answer: %v", err)
	}
	if st != 0 {
		n, err := binary.ReadUvarint(br)
		if err != nil || n > maxStringLen {
			return errors.New("refused, without a reason")
		}
		reason := make([]byte, n)
		io.ReadFull(br, reason)
		return fmt.Errorf("refused: %s", reason)
	}
	c.SetDeadline(time.Time{})

	// Up: from now on Send may queue for this connection.
	select {
	case <-p.quit:
		return errors.New("stopped")
	default:
	}
	p.out.open(c)
	*wasUp = true
	t.cfg.Logf("peer %s: direct link to %s at %s is up", t.cfg.ID, p.id, p.addr)
	defer p.out.shut()

	// The peer answers over this connection too (when our id is the smaller one): read its
	// frames, checked as serveIn checks ours. A read that fails means the connection closed.
	readErr := make(chan error, 1)
	readDone := make(chan struct{})
	go func() {
		defer close(readDone)
		err := t.readFrames(br, p.id)
		t.logProtoError(err, p.id)
		readErr <- err
		c.Close()
	}()
	defer func() {
		c.Close()
		<-readDone // no Deliver after the session
	}()
	return p.out.write(c, p.quit, readErr)
}

// accept accepts connections until the listener closes.
func (t *Transport) accept() {
	defer t.wg.Done()
	for {
		c, err := t.ln.Accept()
		if err != nil {
			if t.ctx.Err() != nil {
				return
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			t.cfg.Logf("peer %s: accept: %v", t.cfg.ID, err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		if !t.track(c) {
			c.Close()
			return
		}
		t.wg.Add(1)
		go t.serveIn(c)
	}
}

// refusal is a handshake the listener refuses.
type refusal struct{ msg string }

func (r *refusal) Error() string { return r.msg }

// handshake reads and checks a dialer's handshake. It returns the dialer's id, its listen
// address and its API address.
func (t *Transport) handshake(br *bufio.Reader) (from, addr, api string, err error) {
	var m [len(magic)]byte
	if _, err := io.ReadFull(br, m[:]); err != nil {
		return "", "", "", err
	}
	if string(m[:]) != magic {
		if v, ok := strings.CutPrefix(string(m[:]), magic[:6]); ok {
			return "", "", "", &refusal{fmt.Sprintf("peer protocol version %q; this member speaks %q (run the same raftlab on every member)", v, magic[6:])}
		}
		return "", "", "", &refusal{fmt.Sprintf("not a raftlab peer handshake (%q)", m[:])}
	}
	var f [6]string
	for i := range f {
		n, err := binary.ReadUvarint(br)
		if err != nil {
			return "", "", "", err
		}
		if n > 256 {
			return "", "", "", &refusal{fmt.Sprintf("handshake field of %d bytes", n)}
		}
		b := make([]byte, n)
		if _, err := io.ReadFull(br, b); err != nil {
			return "", "", "", err
		}
		f[i] = string(b)
	}
	cluster, from, to, addr, token, api := f[0], f[1], f[2], f[3], f[4], f[5]
	switch {
	case cluster != t.cfg.Cluster:
		return "", "", "", &refusal{fmt.Sprintf("this is cluster %s, not %s", t.cfg.Cluster, cluster)}
	case to != t.cfg.ID:
		return "", "", "", &refusal{fmt.Sprintf("this is member %s, not %s", t.cfg.ID, to)}
	case wire.CheckID("member id", from) != nil || from == t.cfg.ID:
		return "", "", "", &refusal{fmt.Sprintf("bad member id %q", from)}
	case t.cfg.Token != "" && !tokenEqual(token, t.cfg.Token):
		return "", "", "", &refusal{"wrong cluster token"}
	case addr != "" && wire.CheckAPIAddr(addr) != nil:
		return "", "", "", &refusal{fmt.Sprintf("bad listen address %q", addr)}
	case api != "" && wire.CheckAPIAddr(api) != nil:
		return "", "", "", &refusal{fmt.Sprintf("bad API address %q", api)}
	}
	return from, addr, api, nil
}

func tokenEqual(a, b string) bool {
	x, y := sha256.Sum256([]byte(a)), sha256.Sum256([]byte(b))
	return subtle.ConstantTimeCompare(x[:], y[:]) == 1
}

// serveIn serves an accepted connection: the handshake, then frames until it closes or breaks
// the protocol.
func (t *Transport) serveIn(c net.Conn) {
	defer t.wg.Done()
	defer t.untrack(c)
	defer c.Close()
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	br := bufio.NewReaderSize(c, 64<<10)
	c.SetDeadline(time.Now().Add(handshakeWait))
	from, addr, api, err := t.handshake(br)
	if err != nil {
		var r *refusal
		if errors.As(err, &r) {
			t.cfg.Logf("peer %s: refused a connection from %s: %s", t.cfg.ID, c.RemoteAddr(), r.msg)
			c.Write(appendString([]byte{1}, r.msg))
		}
		return
	}
	if _, err := c.Write([]byte{0}); err != nil {
		return
	}
	c.SetDeadline(time.Time{})
	// A peer that dials us can be dialed back, even when the hub is down.
	if addr != "" {
		// Its own word is the freshest there is: a peer restarted on another port
		// says so here first.
		if addr = completeHost(addr, c.RemoteAddr()); t.cfg.DialBack == nil || t.cfg.DialBack(from, addr) {
			t.SetPeer(from, addr)
		}
	}
	if api != "" && t.cfg.OnHello != nil {
		t.cfg.OnHello(from, completeHost(api, c.RemoteAddr()))
	}
	// This member sends to the dialer over this connection too, while it is up, when the
	// dialer's id is the smaller (Transport.lane): its own writer goroutine.
	in := newLane()
	in.open(c)
	t.mu.Lock()
	if old := t.in[from]; old != nil {
		old.close() // the peer redialed: its old connection is dead or dying
	}
	t.in[from] = &in
	t.mu.Unlock()
	stop := make(chan struct{})
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		if err := in.write(c, stop, nil); err != nil {
			c.Close() // ends readFrames
		}
	}()
	defer func() {
		in.shut()
		close(stop)
		c.Close() // a write blocked on a peer that stopped reading ends too
		<-wrote
		t.mu.Lock()
		if t.in[from] == &in {
			delete(t.in, from)
		}
		t.mu.Unlock()
	}()
	t.logProtoError(t.readFrames(br, from), from)
}

// logProtoError logs why a connection from or to peer id closed when it broke the protocol.
func (t *Transport) logProtoError(err error, id string) {
	var pe *protoError
	if err != nil && t.ctx.Err() == nil && errors.As(err, &pe) {
		t.cfg.Logf("peer %s: closing the link from %s: %v", t.cfg.ID, id, err)
	}
}

// protoError is a frame that breaks the protocol.
type protoError struct{ msg string }

func (e *protoError) Error() string { return e.msg }

// readFrames reads, checks and delivers frames until the connection fails.
func (t *Transport) readFrames(br *bufio.Reader, from string) error {
	var hdr [4]byte
	var body []byte
	d := decoder{intern: [2]string{from, t.cfg.ID}}
	var batch []raft.Message
	// The messages that arrived whole before a broken frame are delivered.
	defer func() {
		if len(batch) > 0 {
			t.cfg.Deliver(batch)
		}
	}()
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			return err
		}
		n := binary.BigEndian.Uint32(hdr[:])
		if n == 0 || int64(n) > int64(t.cfg.MaxMessageBytes) {
			return &protoError{fmt.Sprintf("frame of %d bytes; want 1 to %d", n, t.cfg.MaxMessageBytes)}
		}
		if cap(body) < int(n) {
			body = make([]byte, n)
		}
		body = body[:n]
		if _, err := io.ReadFull(br, body); err != nil {
			return err
		}
		if batch == nil {
			batch = make([]raft.Message, 0, 2)
		}
		batch = append(batch, raft.Message{})
		m := &batch[len(batch)-1]
		d.b, d.err = body, nil
		err := d.message(m)
		switch {
		case err != nil:
			err = &protoError{fmt.Sprintf("bad frame: %v", err)}
		case wire.CheckMessage(m) != nil:
			err = &protoError{fmt.Sprintf("bad message: %v", wire.CheckMessage(m))}
		case m.From != from || m.To != t.cfg.ID:
			err = &protoError{fmt.Sprintf("message from %s to %s on the link from %s to %s", m.From, m.To, from, t.cfg.ID)}
		}
		if err != nil {
			batch = batch[:len(batch)-1]
			return err
		}
		// Hand over what has arrived unless the next frame is buffered whole already: a
		// burst is one delivery, and no message waits for bytes still on their way.
		if !frameBuffered(br) || len(batch) >= maxBatch {
			t.cfg.Deliver(batch)
			batch = nil
		}
		if cap(body) > 1<<20 {
			body = nil
		}
	}
}

// frameBuffered reports whether a whole frame is buffered in br.
func frameBuffered(br *bufio.Reader) bool {
	n := br.Buffered()
	if n < 4 {
		return false
	}
	h, _ := br.Peek(4)
	return uint64(n-4) >= uint64(binary.BigEndian.Uint32(h))
}

// completeHost replaces an empty or unspecified host in addr (a peer listening on every
// interface) with the IP the peer's connection comes from.
func completeHost(addr string, remote net.Addr) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
		return addr
	}
	if ta, ok := remote.(*net.TCPAddr); ok {
		return net.JoinHostPort(ta.IP.String(), port)
	}
	return addr
}
