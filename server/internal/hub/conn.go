//go:build !js

// One WebSocket connection: its read pump (decode, validate, route) and write pump (queue,
// pings, the final error frame).
package hub

import (
	"fmt"
	"io"
	"net"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"raftlab/raft"
	"raftlab/raft/wire"
)

type conn struct {
	h      *Hub
	ws     *websocket.Conn
	addr   string
	origin string // the handshake's Origin header ("" from a process): see admit

	send chan frame // bounded; never closed (routers send to it concurrently)
	// fullSince is when the queue was first found full, in UnixNano; 0 while it drains.
	fullSince atomic.Int64
	dropped   atomic.Int64

	quitOnce  sync.Mutex
	quit      chan struct{} // closed to make the write pump say goodbye and close
	readDone  chan struct{} // closed when the read pump stops reading
	final     []byte        // the error frame to write before closing, if any
	closeCode int

	// Set once by the read pump on hello, under h.mu; read by routers under h.mu.
	cluster *cluster
	members []string
	kind    string
	// peerAddr is where the connection's members take direct links (hello's addr, with an
	// unspecified host filled in from the connection's remote address).
	peerAddr string

	// Read pump only: the rate limiter's token bucket.
	tokens float64
	last   time.Time

	// Submits waiting for a result from this connection, by request id.
	waitMu  sync.Mutex
	waiting map[uint64]chan *wire.Envelope
}

// frame is a frame waiting in a send queue, and when it was queued.
type frame struct {
	b  []byte
	at time.Time
}

func (c *conn) describe() string {
	return fmt.Sprintf("a %s connection from %s", c.kind, c.addr)
}

// queue puts a frame on the send queue without blocking, and reports whether it did. A full
// queue loses the frame; one that stays full for SlowTimeout closes the connection.
func (c *conn) queue(b []byte) bool {
	select {
	case c.send <- frame{b, time.Now()}:
		c.fullSince.Store(0)
		return true
	default:
	}
	c.dropped.Add(1)
	now := time.Now().UnixNano()
	if c.fullSince.CompareAndSwap(0, now) {
		return false
	}
	if since := c.fullSince.Load(); since != 0 && time.Duration(now-since) > c.h.cfg.SlowTimeout {
		c.fail(&wire.Error{Code: wire.CodeSlow, Msg: fmt.Sprintf("the connection did not read its messages for %v", c.h.cfg.SlowTimeout)}, websocket.ClosePolicyViolation, true)
	}
	return false
}

// fail makes the write pump send an error frame for err (if err is not nil), then close the
// connection with code. It is safe to call more than once and from any goroutine.
func (c *conn) fail(err *wire.Error, code int, logIt bool) {
	c.quitOnce.Lock()
	defer c.quitOnce.Unlock()
	select {
	case <-c.quit:
		return
	default:
	}
	if err != nil {
		c.final, _ = wire.Encode(wire.ErrorFrame(err))
		if logIt {
			c.h.cfg.Logf("hub: closing connection from %s: %v", c.addr, err)
		}
	}
	c.closeCode = code
	close(c.quit)
	// A write blocked on a peer that does not read must not hold the goodbye up for WriteWait.
	c.ws.NetConn().SetWriteDeadline(time.Now().Add(finalWait))
}

// finalWait bounds the goodbye: the write in progress, the error frame and the close message.
const finalWait = time.Second

// writePump writes queued frames and pings. It exits when the connection fails (after writing
// the final error frame and a close message) or a write fails; either way it closes the
// socket, which makes the read pump exit too.
func (c *conn) writePump() {
	pingPeriod := c.h.cfg.PongWait * 9 / 10
	ticker := time.NewTicker(pingPeriod)
	defer func() {
		ticker.Stop()
		c.ws.Close()
		c.h.wg.Done()
	}()
	ww := c.h.cfg.WriteWait
	for {
		select {
		case f := <-c.send:
			now := time.Now()
			c.h.queueWait.Observe(now.Sub(f.at))
			c.ws.SetWriteDeadline(now.Add(ww))
			if err := c.ws.WriteMessage(websocket.TextMessage, f.b); err != nil {
				c.fail(nil, websocket.CloseAbnormalClosure, false)
				return
			}
		case <-ticker.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(ww)); err != nil {
				c.fail(nil, websocket.CloseAbnormalClosure, false)
				return
			}
		case <-c.quit:
			c.ws.SetWriteDeadline(time.Now().Add(finalWait))
			if c.final != nil {
				c.ws.WriteMessage(websocket.TextMessage, c.final)
			}
			reason := ""
			if c.final != nil {
				if f, err := wire.Decode(c.final); err == nil {
					reason = f.Code
				}
			}
			c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(c.closeCode, reason), time.Now().Add(finalWait))
			// Let the read pump take the peer's answering close before the socket closes.
			select {
			case <-c.readDone:
			case <-time.After(finalWait):
			}
			return
		}
	}
}

// readPump reads, validates and acts on frames until the connection closes or misbehaves. On
// exit it unregisters the connection and stops the write pump.
func (c *conn) readPump() {
	h := c.h
	defer func() {
		c.fail(nil, websocket.CloseNormalClosure, false)
		c.drain()
		close(c.readDone)
		h.unregister(c)
		h.wg.Done()
	}()
	// The size limit is checked here rather than with SetReadLimit, which would close the
	// connection before it could send the error frame.
	c.ws.SetReadDeadline(time.Now().Add(h.cfg.HelloWait))
	c.ws.SetPongHandler(func(string) error {
		c.ws.SetReadDeadline(time.Now().Add(h.cfg.PongWait))
		return nil
	})
	for {
		typ, r, err := c.ws.NextReader()
		if err != nil {
			return
		}
		b, err := io.ReadAll(io.LimitReader(r, h.cfg.MaxFrameBytes+1))
		if err != nil {
			return
		}
		if int64(len(b)) > h.cfg.MaxFrameBytes {
			c.fail(&wire.Error{Code: wire.CodeTooBig, Msg: fmt.Sprintf("frame over the limit of %d bytes", h.cfg.MaxFrameBytes)}, websocket.CloseMessageTooBig, true)
			return
		}
		if c.cluster != nil {
			c.ws.SetReadDeadline(time.Now().Add(h.cfg.PongWait))
		}
		if !c.allow() {
			c.fail(&wire.Error{Code: wire.CodeRate, Msg: fmt.Sprintf("more than %g frames a second", h.cfg.Rate)}, websocket.ClosePolicyViolation, true)
			return
		}
		if typ != websocket.TextMessage {
			c.fail(&wire.Error{Code: wire.CodeBadFrame, Msg: "binary frame; frames are JSON text"}, websocket.CloseUnsupportedData, true)
			return
		}
		if err := c.handle(b); err != nil {
			c.fail(err, websocket.ClosePolicyViolation, true)
			return
		}
	}
}

// sameDest reports whether every message goes to members hosted by to. It expects h.mu held.
func sameDest(cl *cluster, msgs []raft.Message, to *conn) bool {
	for i := range msgs {
		if cl.hosts[msgs[i].To] != host(to) {
			return false
		}
	}
	return true
}

// drain reads and discards what the peer still sends after the connection failed, until the
// peer answers the close or finalWait passes. Closing a socket with unread data makes the
// kernel reset it, and the reset could destroy the error frame before the peer reads it.
func (c *conn) drain() {
	c.ws.SetReadDeadline(time.Now().Add(finalWait))
	for {
		if _, _, err := c.ws.NextReader(); err != nil {
			return
		}
	}
}

// allow takes a token from the bucket.
func (c *conn) allow() bool {
	now := time.Now()
	c.tokens = min(float64(c.h.cfg.Burst), c.tokens+now.Sub(c.last).Seconds()*c.h.cfg.Rate)
	c.last = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

func errorf(code, format string, args ...any) *wire.Error {
	return &wire.Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// handle acts on one frame; an error closes the connection.
func (c *conn) handle(b []byte) *wire.Error {
	e, err := wire.Decode(b)
	if err != nil {
		return err.(*wire.Error)
	}
	if c.cluster == nil {
		if e.Type != wire.TypeHello {
			return errorf(wire.CodeType, "%s frame before hello: say hello first", e.Type)
		}
		return c.hello(e)
	}
	if e.Cluster != c.cluster.name {
		return errorf(wire.CodeCluster, "%s frame for cluster %q on a connection of cluster %q", e.Type, e.Cluster, c.cluster.name)
	}
	h := c.h
	switch e.Type {
	case wire.TypeMsgs:
		for i := range e.Msgs {
			m := &e.Msgs[i]
			if !slices.Contains(c.members, m.From) {
				return errorf(wire.CodeImpersonate, "message from %s, which this connection does not host (it hosts %v)", m.From, c.members)
			}
		}
		h.mu.RLock()
		for i := range e.Msgs {
			if to := e.Msgs[i].To; !c.cluster.isDest(to) {
				h.mu.RUnlock()
				return errorf(wire.CodeMember, "message to %s, which is not a member of cluster %q", to, c.cluster.name)
			}
		}
		h.cfg.Links.Sent(c.cluster.name, e.Msgs)
		if to, ok := c.cluster.hosts[e.Msgs[0].To].(*conn); ok && sameDest(c.cluster, e.Msgs, to) {
			h.queueMsgs(to, c.cluster.name, b, e.Msgs) // one destination: forward the validated frame as it came
		} else {
			h.routeLocked(c.cluster, e.Msgs)
		}
		h.mu.RUnlock()
	case wire.TypeStatus:
		now := time.Now()
		for _, s := range e.Status {
			if !slices.Contains(c.members, s.ID) {
				return errorf(wire.CodeImpersonate, "status of %s, which this connection does not host", s.ID)
			}
		}
		var after []func()
		h.mu.Lock()
		for _, s := range e.Status {
			c.cluster.status[s.ID] = remoteStatus{s, now}
			if conf, index, ok := statusConfig(s); ok {
				if f := h.adoptLocked(c.cluster, conf, index); f != nil {
					after = append(after, f)
				}
			}
		}
		h.mu.Unlock()
		for _, f := range after {
			f()
		}
	case wire.TypeResult:
		if !slices.Contains(c.members, e.Member) {
			return errorf(wire.CodeImpersonate, "result from %s, which this connection does not host", e.Member)
		}
		c.waitMu.Lock()
		ch := c.waiting[e.Req]
		delete(c.waiting, e.Req)
		c.waitMu.Unlock()
		if ch != nil {
			ch <- e
		}
	case wire.TypeHello:
		return errorf(wire.CodeType, "second hello on one connection")
	default:
		return errorf(wire.CodeType, "a client does not send %s frames", e.Type)
	}
	return nil
}

// hello registers the connection as the host of the members it names.
func (c *conn) hello(e *wire.Envelope) *wire.Error {
	h := c.h
	if err := h.checkToken(c, e); err != nil {
		return err
	}
	h.mu.Lock()
	cl, ok := h.clusters[e.Cluster]
	if !ok {
		names := make([]string, 0, len(h.clusters))
		for n := range h.clusters {
			names = append(names, n)
		}
		h.mu.Unlock()
		slices.Sort(names)
		return errorf(wire.CodeCluster, "no cluster %q on this server (it has %v)", e.Cluster, names)
	}
	if err := h.admitLocked(c, e, cl); err != nil {
		h.mu.Unlock()
		return err
	}
	var joining []string
	for _, m := range e.Members {
		if !slices.Contains(cl.members, m) {
			if !e.Add {
				h.mu.Unlock()
				return errorf(wire.CodeMember, "%s is not a member of cluster %q (members: %v); a new member asks to be added (server node -add)", m, cl.name, cl.members)
			}
			joining = append(joining, m)
		}
		if cur, ok := cl.hosts[m]; ok {
			h.mu.Unlock()
			msg := fmt.Sprintf("member %s is already hosted by %s", m, cur.describe())
			if x, ok := cur.(*conn); ok && x.kind == wire.KindBrowser && e.Kind == wire.KindNative {
				// The likeliest cause: a page opened before this process joined (or in the
				// seconds after a server restart) took every member nobody hosted.
				msg += "; a page hosts the members nobody hosts when it opens: close that page (reopen it once this process has joined), then this process can join"
			}
			return errorf(wire.CodeTaken, "%s", msg)
		}
	}
	c.cluster, c.members, c.kind = cl, slices.Clone(e.Members), e.Kind
	api := announcedAddr(e.API, c.addr)
	c.peerAddr = announcedAddr(e.Addr, c.addr)
	for _, m := range e.Members {
		cl.hosts[m] = c
		cl.kinds[m] = e.Kind
		cl.hosted[m] = true
		if api != "" {
			cl.apis[m] = api // kept after the host leaves: its members forward to the last known
		}
		delete(cl.status, m)
	}
	// The other native members a native host links to run natively too: a hub that restarted
	// learns it from the first of them that reconnects, so that no page takes the others
	// before they are back (a page hosts the members nobody hosts), and its API says where
	// they run. What a host of the member itself said since the hub started stands.
	if e.Kind == wire.KindNative {
		for _, p := range e.Presence {
			if slices.Contains(cl.members, p.ID) && !cl.hosted[p.ID] {
				cl.kinds[p.ID] = wire.KindNative
			}
		}
	}
	for _, m := range joining {
		cl.joining[m] = true
		cl.noteExtraLocked(m)
		h.wg.Add(1)
		go h.requestAdd(cl.name, m, c)
	}
	welcomeConf := cl.conf
	welcome := &wire.Envelope{Type: wire.TypeWelcome, Cluster: cl.name, Members: slices.Clone(cl.members), Presence: cl.presenceLocked()}
	if cl.options != (wire.Options{}) {
		o := cl.options
		welcome.Options = &o
	}
	// Queued before the lock is released: from then on routers may queue messages to the new
	// members, and the welcome must come first.
	b, err := wire.Encode(welcome)
	if err != nil {
		h.mu.Unlock()
		return errorf(wire.CodeBadFrame, "encode welcome: %v", err)
	}
	c.queue(b)
	h.mu.Unlock()
	h.cfg.Logf("hub: %s joined cluster %s (a %s connection from %s)", strings.Join(e.Members, ","), cl.name, e.Kind, c.addr)
	if len(joining) > 0 {
		h.cfg.Logf("hub: %s asked to be added to cluster %s (configuration %s)", strings.Join(joining, ","), cl.name, welcomeConf)
	}
	h.broadcastPresence(cl)
	c.ws.SetReadDeadline(time.Now().Add(h.cfg.PongWait))
	return nil
}

// unregister removes the connection and its members, and fails the submits waiting on it.
func (h *Hub) unregister(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	cl := c.cluster
	if cl != nil {
		for _, m := range c.members {
			if cl.hosts[m] == host(c) {
				delete(cl.hosts, m)
				if cl.joining[m] && !slices.Contains(cl.members, m) {
					// It asked to be added and left before it was: nothing of it stays (a
					// member added later by someone else starts afresh, as a browser member
					// until a host says otherwise).
					delete(cl.kinds, m)
					delete(cl.apis, m)
					delete(cl.status, m)
				}
				delete(cl.joining, m)
			}
		}
	}
	h.mu.Unlock()
	c.waitMu.Lock()
	for req, ch := range c.waiting {
		close(ch)
		delete(c.waiting, req)
	}
	c.waitMu.Unlock()
	if cl != nil {
		h.cfg.Logf("hub: %s left cluster %s (the %s connection from %s closed)", strings.Join(c.members, ","), cl.name, c.kind, c.addr)
		h.broadcastPresence(cl)
	}
}

// announcedAddr completes an address a native host announces in hello (where it serves its
// API, where it takes direct links): an empty or unspecified host (":8081", "0.0.0.0:8081",
// "[::]:8081": it listens on every interface) becomes the host the connection comes from. A
// malformed one is "" (hello is validated on decode).
func announcedAddr(announced, remote string) string {
	host, port, err := net.SplitHostPort(announced)
	if err != nil {
		return ""
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		rhost, _, err := net.SplitHostPort(remote)
		if err != nil {
			return ""
		}
		host = rhost
	}
	return net.JoinHostPort(host, port)
}
