//go:build !js

// Package link is the client side of the hub's WebSocket protocol for native hosts: it
// connects, says hello, keeps the connection up with reconnects and backoff, and passes frames
// both ways through a bounded send queue.
package link

import (
	"context"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"raftlab/raft"
	"raftlab/raft/wire"
)

// Defaults for Config's zero fields.
const (
	DefaultSendQueue  = 1024
	DefaultMinBackoff = 100 * time.Millisecond
	DefaultMaxBackoff = 5 * time.Second
	// DefaultLogEach failed attempts in a row are logged one by one, each with its cause;
	// after that one line each DefaultSummaryEvery sums them up.
	DefaultLogEach      = 5
	DefaultSummaryEvery = time.Minute
	writeWait           = 10 * time.Second
	readWait            = 60 * time.Second // the hub pings every 27 s
)

// Config configures a Link.
type Config struct {
	URL     string // ws://host:port/ws
	Cluster string
	Kind    string // wire.KindNative unless set
	Members []string
	Header  http.Header // extra handshake headers (Origin)
	// Token is the cluster token sent in hello, for a server that asks for one.
	Token string
	// Add asks the hub, in hello, to add the members to the cluster's configuration if they
	// are not in it yet (server node -add).
	Add bool
	// API is where the host serves its members' scripting API (server node -http), said in
	// hello so that the hub tells the other members.
	API string
	// Addr is the members' direct-link address, announced in hello (server/internal/peer).
	Addr string

	// OnWelcome is called with every welcome (after each connect), before any other frame of
	// that connection. An error stops the link for good with that error.
	OnWelcome func(e *wire.Envelope) error
	// OnMsgs, OnSubmit and OnPresence are called on the link's read goroutine; they must not
	// block for long.
	OnMsgs     func(msgs []raft.Message)
	OnSubmit   func(e *wire.Envelope)
	OnPresence func(e *wire.Envelope)
	// OnLost, when set, is called on the link's goroutine when a welcomed connection is lost,
	// after the line that says so.
	OnLost func()
	// Natives, when set, returns the other native members this host links to (Kind native,
	// Addr their direct-link address), said in each hello: a hub that restarted then knows at
	// once that they run natively, before they reconnect, and no page takes them.
	Natives func() []wire.Presence

	SendQueue              int
	MinBackoff, MaxBackoff time.Duration
	// While the hub stays away, the first LogEach failures in a row (the connection lost
	// included) are logged one by one with their cause and the wait before the next attempt;
	// after that, one line each SummaryEvery says the link still cannot reach the hub, how
	// many attempts failed since when, and the last error: a node left running with its server
	// down logs about 60 lines an hour, not 900. Defaults DefaultLogEach, DefaultSummaryEvery.
	LogEach      int
	SummaryEvery time.Duration
	Logf         func(format string, args ...any)
}

// PermanentError is a refusal by the hub that reconnecting will not fix (an unknown cluster or
// member, a protocol version mismatch, a malformed frame).
type PermanentError struct{ Frame *wire.Envelope }

func (e *PermanentError) Error() string {
	return fmt.Sprintf("the hub refused us: %s: %s", e.Frame.Code, e.Frame.Error)
}

// refusal is the hub closing a connection with an error frame that reconnecting may fix (it
// shuts down, another connection still hosts the member, a rate limit).
type refusal struct{ Frame *wire.Envelope }

func (e *refusal) Error() string {
	return fmt.Sprintf("the hub closed the connection: %s: %s", e.Frame.Code, e.Frame.Error)
}

// Link is a client connection to the hub that reconnects by itself. Its methods are safe for
// concurrent use.
type Link struct {
	cfg Config
	out atomic.Pointer[outbox] // the current connection's; nil while disconnected

	ctx    context.Context
	cancel context.CancelFunc
	done   chan struct{}
	err    error // set before done closes

	connects atomic.Int64

	// Owned by the run goroutine: since when the link has been down, why, and how many
	// attempts have failed since (for the line that says it is back).
	downSince time.Time
	downErr   error
	attempts  int
	// The failures in a row (since the start, or since the last welcome), for the logs: when
	// the first was, how many, and when the last summary line was said.
	failSince   time.Time
	failures    int
	summaryAt   time.Time
	summaryFrom int    // attempts when the last summary was said
	saidRefusal string // the last refusal by the hub said while the failures are summarized
}

// Start starts the link's goroutine, which connects and reconnects until Close, or until the
// hub refuses it for good or OnWelcome fails (see Err).
func Start(cfg Config) *Link {
	if cfg.Kind == "" {
		cfg.Kind = wire.KindNative
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = DefaultSendQueue
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.LogEach <= 0 {
		cfg.LogEach = DefaultLogEach
	}
	if cfg.SummaryEvery <= 0 {
		cfg.SummaryEvery = DefaultSummaryEvery
	}
	if cfg.Logf == nil {
		cfg.Logf = log.Printf
	}
	l := &Link{cfg: cfg, done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	go l.run()
	return l
}

// Send encodes and queues a frame, without blocking. It reports false when the link is not
// connected or its queue is full; the frame is then lost (Raft retries).
func (l *Link) Send(e *wire.Envelope) bool { return l.send(e) == nil }

// Why Send lost a frame.
var (
	ErrNotConnected = errors.New("link: not connected to the hub")
	ErrQueueFull    = errors.New("link: send queue full")
)

func (l *Link) send(e *wire.Envelope) error {
	o := l.out.Load()
	if o == nil {
		return ErrNotConnected
	}
	b, err := wire.Encode(e)
	if err != nil {
		l.cfg.Logf("link: encode %s: %v", e.Type, err)
		return err
	}
	return o.send(b)
}

// outbox is one connection's way out. A frame is written at once by the sender when nothing
// else is waiting or being written (the hub reads promptly, so this costs the sender one
// write and saves a goroutine hand-off); otherwise it joins the bounded queue that the write
// pump empties, in order.
type outbox struct {
	ws      *websocket.Conn
	q       chan []byte
	wmu     sync.Mutex   // held while writing a frame
	pending atomic.Int64 // frames queued or being written by the pump
}

func (o *outbox) send(b []byte) error {
	if o.pending.Load() == 0 && o.wmu.TryLock() {
		if o.pending.Load() == 0 {
			err := o.write(b)
			o.wmu.Unlock()
			if err != nil {
				return ErrNotConnected // the write closed the connection
			}
			return nil
		}
		o.wmu.Unlock()
	}
	o.pending.Add(1)
	select {
	case o.q <- b:
		return nil
	default:
		o.pending.Add(-1)
		return ErrQueueFull
	}
}

// write expects wmu to be held. A failed write closes the socket, which ends the session.
func (o *outbox) write(b []byte) error {
	o.ws.SetWriteDeadline(time.Now().Add(writeWait))
	err := o.ws.WriteMessage(websocket.TextMessage, b)
	if err != nil {
		o.ws.Close()
	}
	return err
}

// SendMsgs queues Raft messages in one frame. It returns nil, ErrNotConnected or ErrQueueFull
// (the messages are then lost: Raft retries).
func (l *Link) SendMsgs(msgs []raft.Message) error {
	return l.send(&wire.Envelope{Type: wire.TypeMsgs, Cluster: l.cfg.Cluster, Msgs: msgs})
}

// Connected reports whether the link has a welcomed connection now.
func (l *Link) Connected() bool { return l.out.Load() != nil }

// Connects returns how many times the link has been welcomed.
func (l *Link) Connects() int64 { return l.connects.Load() }

// Close stops the link and waits for its goroutines to exit.
func (l *Link) Close() {
	l.cancel()
	<-l.done
}

// Done is closed when the link has stopped.
func (l *Link) Done() <-chan struct{} { return l.done }

// Err returns why the link stopped by itself (nil while it runs and after Close).
func (l *Link) Err() error {
	select {
	case <-l.done:
		return l.err
	default:
		return nil
	}
}

// run connects, serves the connection until it drops, and reconnects after a backoff that
// doubles from MinBackoff to MaxBackoff (with jitter) and resets after a welcome. It exits on
// Close or a permanent error.
func (l *Link) run() {
	defer close(l.done)
	backoff := l.cfg.MinBackoff
	for {
		welcomed, err := l.session()
		var pe *PermanentError
		if errors.As(err, &pe) || errors.Is(err, errWelcome) {
			l.err = err
			l.cfg.Logf("link: %v", err)
			return
		}
		if l.ctx.Err() != nil {
			return
		}
		now := time.Now()
		if welcomed {
			backoff = l.cfg.MinBackoff
			l.downSince, l.downErr, l.attempts = now, err, 0
			l.failures, l.saidRefusal = 0, ""
		} else {
			l.attempts++
		}
		if l.failures == 0 {
			l.failSince = now
		}
		l.failures++
		wait := backoff/2 + rand.N(backoff/2+1)
		l.logFailure(now, err, wait)
		if welcomed && l.cfg.OnLost != nil {
			l.cfg.OnLost()
		}
		select {
		case <-l.ctx.Done():
			return
		case <-time.After(wait):
		}
		backoff = min(backoff*2, l.cfg.MaxBackoff)
	}
}

// logFailure says why the link is down, bounded: each of the first LogEach failures in a row
// with its cause, then a summary at most once each SummaryEvery.
func (l *Link) logFailure(now time.Time, err error, wait time.Duration) {
	switch {
	case l.failures < l.cfg.LogEach:
		l.cfg.Logf("link: %v; reconnecting in %v", err, wait.Round(time.Millisecond))
	case l.failures == l.cfg.LogEach:
		l.cfg.Logf("link: %v; reconnecting in %v (from now on one line each %v while the hub stays away)", err, wait.Round(time.Millisecond), l.cfg.SummaryEvery)
		l.summaryAt, l.summaryFrom = now, l.attempts
	case isRefusal(err) && err.Error() != l.saidRefusal:
		// The hub answers but refuses: a cause of its own (a page hosts this member), said
		// once, not left to the next summary as if the hub were still away.
		l.cfg.Logf("link: %v; reconnecting in %v", err, wait.Round(time.Millisecond))
		l.saidRefusal = err.Error()
	case now.Sub(l.summaryAt) >= l.cfg.SummaryEvery:
		l.cfg.Logf("link: still cannot reach the hub at %s: %d failed attempts since %s (%v ago), %d since the last line; last error: %v; next attempt in %v",
			l.cfg.URL, l.attempts, l.failSince.Format("15:04:05"), roundAgo(now.Sub(l.failSince)), l.attempts-l.summaryFrom, err, wait.Round(time.Millisecond))
		l.summaryAt, l.summaryFrom = now, l.attempts
	}
}

func isRefusal(err error) bool {
	var r *refusal
	return errors.As(err, &r)
}

// roundAgo rounds a time span for a log line: to the second from 10 s on.
func roundAgo(d time.Duration) time.Duration {
	if d >= 10*time.Second {
		return d.Round(time.Second)
	}
	return d.Round(10 * time.Millisecond)
}

var errWelcome = errors.New("link: welcome refused")

// session serves one connection. It reports whether the hub welcomed it.
func (l *Link) session() (welcomed bool, err error) {
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, ReadBufferSize: 4096, WriteBufferSize: 4096}
	ws, resp, err := d.DialContext(l.ctx, l.cfg.URL, l.cfg.Header)
	if err != nil {
		if resp != nil {
			return false, fmt.Errorf("connect to %s: %v (HTTP %s)", l.cfg.URL, err, resp.Status)
		}
		return false, fmt.Errorf("connect to %s: %v", l.cfg.URL, err)
	}
	o := &outbox{ws: ws, q: make(chan []byte, l.cfg.SendQueue)}
	quit := make(chan struct{})
	var wg sync.WaitGroup
	defer func() {
		l.out.Store(nil)
		close(quit)
		ws.Close()
		wg.Wait()
	}()
	// Close the socket when the link is closed, so that the blocked read returns.
	stopWatch := context.AfterFunc(l.ctx, func() {
		ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		ws.Close()
	})
	defer stopWatch()

	he := &wire.Envelope{Type: wire.TypeHello, Cluster: l.cfg.Cluster, Kind: l.cfg.Kind, Members: l.cfg.Members, Token: l.cfg.Token, Add: l.cfg.Add, API: l.cfg.API, Addr: l.cfg.Addr}
	if l.cfg.Natives != nil {
		he.Presence = l.cfg.Natives()
	}
	hello, _ := wire.Encode(he)
	ws.SetWriteDeadline(time.Now().Add(writeWait))
	if err := ws.WriteMessage(websocket.TextMessage, hello); err != nil {
		return false, fmt.Errorf("hello: %v", err)
	}
	ws.SetReadDeadline(time.Now().Add(readWait))
	ws.SetPingHandler(func(data string) error {
		ws.SetReadDeadline(time.Now().Add(readWait))
		return ws.WriteControl(websocket.PongMessage, []byte(data), time.Now().Add(writeWait))
	})
	// The write pump: exits when the session ends (quit) or a write fails.
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case b := <-o.q:
				o.wmu.Lock()
				err := o.write(b)
				o.wmu.Unlock()
				o.pending.Add(-1)
				if err != nil {
					return
				}
			case <-quit:
				return
			}
		}
	}()
	for {
		_, b, err := ws.ReadMessage()
		if err != nil {
			return welcomed, fmt.Errorf("connection to %s lost: %v", l.cfg.URL, err)
		}
		ws.SetReadDeadline(time.Now().Add(readWait))
		e, err := wire.Decode(b)
		if err != nil {
			return welcomed, fmt.Errorf("bad frame from the hub: %v", err)
		}
		switch e.Type {
		case wire.TypeWelcome:
			// Said first: what the member makes of the welcome (it rejoined) follows it.
			if !l.downSince.IsZero() {
				l.cfg.Logf("link: reconnected to %s after %v down and %d failed attempts (it went down: %v)", l.cfg.URL, time.Since(l.downSince).Round(time.Millisecond), l.attempts, l.downErr)
				l.downSince, l.downErr, l.attempts = time.Time{}, nil, 0
			}
			if l.cfg.OnWelcome != nil {
				if err := l.cfg.OnWelcome(e); err != nil {
					return welcomed, fmt.Errorf("%w: %v", errWelcome, err)
				}
			}
			welcomed = true
			l.connects.Add(1)
			l.out.Store(o)
		case wire.TypeMsgs:
			if l.cfg.OnMsgs != nil {
				l.cfg.OnMsgs(e.Msgs)
			}
		case wire.TypeSubmit:
			if l.cfg.OnSubmit != nil {
				l.cfg.OnSubmit(e)
			}
		case wire.TypePresence:
			if l.cfg.OnPresence != nil {
				l.cfg.OnPresence(e)
			}
		case wire.TypeError:
			switch e.Code {
			case wire.CodeCluster, wire.CodeMember, wire.CodeVersion, wire.CodeBadFrame, wire.CodeType, wire.CodeImpersonate, wire.CodeAuth, wire.CodeRemoved:
				return welcomed, &PermanentError{e}
			case wire.CodeTaken:
				// Refused on the first connection: someone else runs this member. After a
				// reconnect it is more likely our own old connection, not yet timed out.
				if l.connects.Load() == 0 {
					return welcomed, &PermanentError{e}
				}
			}
			return welcomed, &refusal{e}
		}
	}
}
