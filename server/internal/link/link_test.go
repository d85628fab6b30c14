//go:build !js

package link_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"raftlab/server/internal/hub"
	"raftlab/server/internal/link"
	"raftlab/server/wire"
)

type logs struct {
	mu    sync.Mutex
	lines []string
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
}

func (l *logs) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

var waitRE = regexp.MustCompile(`reconnecting in ([0-9.]+(?:ms|s|µs))$`)

// waits returns the backoffs the link logged, in order.
func (l *logs) waits(t *testing.T) []time.Duration {
	var ws []time.Duration
	for _, line := range l.all() {
		if m := waitRE.FindStringSubmatch(line); m != nil {
			d, err := time.ParseDuration(m[1])
			if err != nil {
				t.Fatal(err)
			}
			ws = append(ws, d)
		}
	}
	return ws
}

// TestReconnectBackoff: while the hub is away the link logs each failed attempt with its cause
// and waits between attempts that grow to MaxBackoff and never beyond it; when the hub is back
// it logs one line saying it reconnected, after how long and why it had gone down, and the
// backoff starts again from MinBackoff.
func TestReconnectBackoff(t *testing.T) {
	// The server: a hub while it runs, 503 while it is down; each restart is a new hub.
	var cur atomic.Pointer[hub.Hub]
	start := func() {
		h := hub.New(hub.Config{Logf: t.Logf})
		if err := h.AddCluster("c", []string{"n1"}); err != nil {
			t.Fatal(err)
		}
		cur.Store(h)
	}
	stop := func() {
		h := cur.Swap(nil)
		h.Close()
	}
	start()
	defer func() {
		if h := cur.Load(); h != nil {
			h.Close()
		}
	}()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := cur.Load()
		if h == nil {
			http.Error(w, "the server is down", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	var lg logs
	const minB, maxB = 10 * time.Millisecond, 80 * time.Millisecond
	welcomes := make(chan struct{}, 16)
	l := link.Start(link.Config{
		URL: "ws" + strings.TrimPrefix(srv.URL, "http"), Cluster: "c", Members: []string{"n1"}, Kind: wire.KindNative,
		MinBackoff: minB, MaxBackoff: maxB, Logf: lg.logf,
		OnWelcome: func(*wire.Envelope) error { lg.logf("test: welcomed"); welcomes <- struct{}{}; return nil },
	})
	defer l.Close()
	wait := func(what string) {
		select {
		case <-welcomes:
		case <-time.After(10 * time.Second):
			t.Fatalf("no %s within 10s; the link logged:\n%s", what, strings.Join(lg.all(), "\n"))
		}
	}
	wait("welcome")

	// The server goes away: its connections close and new ones are refused.
	stop()
	deadline := time.Now().Add(10 * time.Second)
	for len(lg.waits(t)) < 8 {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than 8 attempts in 10s:\n%s", strings.Join(lg.all(), "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	start()
	wait("welcome after the server came back")

	ws := lg.waits(t)
	for i, w := range ws {
		if w > maxB {
			t.Errorf("wait %d: %v; want at most MaxBackoff %v", i, w, maxB)
		}
	}
	if top := slicesMax(ws); top < maxB/2 {
		t.Errorf("the waits never reached MaxBackoff's range (%v..%v): %v", maxB/2, maxB, ws)
	}
	lines := lg.all()
	if !slicesAny(lines, func(s string) bool {
		return strings.Contains(s, "the hub closed the connection: shutdown") && strings.Contains(s, "reconnecting in")
	}) {
		t.Errorf("no line says the connection was lost:\n%s", strings.Join(lines, "\n"))
	}
	if !slicesAny(lines, func(s string) bool { return strings.Contains(s, "503") && strings.Contains(s, "reconnecting in") }) {
		t.Errorf("no line gives a failed attempt's cause (HTTP 503):\n%s", strings.Join(lines, "\n"))
	}
	var back []string
	backAt, welcomedAt := -1, []int{}
	for i, s := range lines {
		if strings.HasPrefix(s, "link: reconnected to ") {
			back = append(back, s)
			backAt = i
		}
		if s == "test: welcomed" {
			welcomedAt = append(welcomedAt, i)
		}
	}
	if len(back) != 1 || !strings.Contains(back[0], "failed attempts (it went down: the hub closed the connection: shutdown") {
		t.Errorf("want one line saying the link reconnected, with why it went down; have %q", back)
	}
	// What the member logs of the welcome (it rejoined) follows the line that says it is back.
	if len(welcomedAt) != 2 || backAt > welcomedAt[1] {
		t.Errorf("the reconnected line (line %d) comes after the welcome's handling (lines %v):\n%s", backAt, welcomedAt, strings.Join(lines, "\n"))
	}

	// After the welcome the backoff starts again from MinBackoff.
	n := len(ws)
	stop()
	start()
	for len(lg.waits(t)) == n {
		if time.Now().After(deadline.Add(10 * time.Second)) {
			t.Fatal("no reconnect after the second loss")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if w := lg.waits(t)[n]; w > minB {
		t.Errorf("first wait after a welcome: %v; want at most MinBackoff %v", w, minB)
	}
	wait("welcome after the second loss")
}

func slicesMax(ds []time.Duration) time.Duration {
	var m time.Duration
	for _, d := range ds {
		m = max(m, d)
	}
	return m
}

func slicesAny(ss []string, f func(string) bool) bool {
	for _, s := range ss {
		if f(s) {
			return true
		}
	}
	return false
}
