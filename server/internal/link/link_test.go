//go:build !js

package link_test

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"raftlab/raft/wire"
	"raftlab/server/internal/hub"
	"raftlab/server/internal/link"
)

type logs struct {
	mu    sync.Mutex
	lines []string
	at    []time.Time
}

func (l *logs) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, fmt.Sprintf(format, args...))
	l.at = append(l.at, time.Now())
}

func (l *logs) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines...)
}

// since returns the lines from the n-th on, with when each was logged.
func (l *logs) since(n int) ([]string, []time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.lines[n:]...), append([]time.Time(nil), l.at[n:]...)
}

func (l *logs) count(sub string) int {
	n := 0
	for _, s := range l.all() {
		if strings.Contains(s, sub) {
			n++
		}
	}
	return n
}

var (
	waitRE    = regexp.MustCompile(`reconnecting in ([0-9.]+(?:ms|s|µs))(?: \(|$)`)
	summaryRE = regexp.MustCompile(`^link: still cannot reach the hub at (\S+): (\d+) failed attempts since \d\d:\d\d:\d\d \(\S+ ago\), (\d+) since the last line; last error: (.+); next attempt in ([0-9.]+(?:ms|s|µs))$`)
)

func parseDuration(t *testing.T, s string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestReconnectBackoff: while the hub is away the link logs its first LogEach failures one by
// one, each with its cause and the wait before the next attempt, then one summary line each
// SummaryEvery at most (how many attempts since when, the last error, the next wait), however
// many attempts fail in between; the waits grow to MaxBackoff and never beyond it. When the
// hub is back it logs one line saying it reconnected, after how long, how many attempts and
// why it had gone down; the backoff and the one-by-one lines start again after a welcome.
func TestReconnectBackoff(t *testing.T) {
	// The server: a hub while it runs, 503 while it is down (each such attempt counted); each
	// restart is a new hub.
	var cur atomic.Pointer[hub.Hub]
	var refused atomic.Int64
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
			refused.Add(1)
			http.Error(w, "the server is down", http.StatusServiceUnavailable)
			return
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	var lg logs
	const (
		minB, maxB = 10 * time.Millisecond, 80 * time.Millisecond
		logEach    = 4
		every      = 300 * time.Millisecond
		summaries  = 3
	)
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	welcomes := make(chan struct{}, 16)
	l := link.Start(link.Config{
		URL: url, Cluster: "c", Members: []string{"n1"}, Kind: wire.KindNative,
		MinBackoff: minB, MaxBackoff: maxB, LogEach: logEach, SummaryEvery: every, Logf: lg.logf,
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

	// The server goes away: its connections close and new ones are refused, until the link
	// has said `summaries` summary lines.
	from := len(lg.all())
	stop()
	deadline := time.Now().Add(15 * time.Second)
	for lg.count("still cannot reach") < summaries {
		if time.Now().After(deadline) {
			t.Fatalf("fewer than %d summary lines in 15s:\n%s", summaries, strings.Join(lg.all(), "\n"))
		}
		time.Sleep(5 * time.Millisecond)
	}
	start()
	wait("welcome after the server came back")
	attempts := refused.Load()

	lines, at := lg.since(from)
	dump := strings.Join(lines, "\n")
	// The first logEach failures, one line each, with their cause and wait.
	var each []string
	var waits []time.Duration
	for _, s := range lines {
		if m := waitRE.FindStringSubmatch(s); m != nil {
			each = append(each, s)
			waits = append(waits, parseDuration(t, m[1]))
		}
	}
	if len(each) != logEach {
		t.Fatalf("%d lines for single failures; want the first %d only:\n%s", len(each), logEach, dump)
	}
	if !strings.Contains(each[0], "the hub closed the connection: shutdown") {
		t.Errorf("the first line does not say the connection was lost: %q", each[0])
	}
	for _, s := range each[1:] {
		if !strings.Contains(s, "503") {
			t.Errorf("a failed attempt's line does not give its cause (HTTP 503): %q", s)
		}
	}
	if !strings.HasSuffix(each[logEach-1], fmt.Sprintf("(from now on one line each %v while the hub stays away)", every)) {
		t.Errorf("the last single line does not say what comes next: %q", each[logEach-1])
	}
	// Then the summaries: at most one each `every`, each with the attempts so far (more than
	// one since the line before: the lines are fewer than the attempts), the last error and a
	// wait in MaxBackoff's range.
	var sumAt []time.Time
	prev, total := logEach-1, 0 // the first line is the loss, not an attempt
	for i, s := range lines {
		if !strings.HasPrefix(s, "link: still") {
			continue
		}
		m := summaryRE.FindStringSubmatch(s)
		if m == nil {
			t.Errorf("summary line of the wrong form: %q", s)
			continue
		}
		sumAt = append(sumAt, at[i])
		n, _ := strconv.Atoi(m[2])
		since, _ := strconv.Atoi(m[3])
		if m[1] != url || n <= prev || since != n-prev || since < 2 || !strings.Contains(m[4], "503") {
			t.Errorf("summary %q: want the URL %s, more than the %d attempts said before, the difference, at least 2, and the last error (HTTP 503)", s, url, prev)
		}
		if w := parseDuration(t, m[5]); w < maxB/2 || w > maxB {
			t.Errorf("summary %q: next wait %v; want MaxBackoff's range %v..%v", s, w, maxB/2, maxB)
		}
		waits = append(waits, parseDuration(t, m[5]))
		prev, total = n, n
	}
	if len(sumAt) < summaries {
		t.Fatalf("%d summary lines; want %d:\n%s", len(sumAt), summaries, dump)
	}
	for i := 1; i < len(sumAt); i++ {
		if gap := sumAt[i].Sub(sumAt[i-1]); gap < every*9/10 {
			t.Errorf("summaries %d and %d %v apart; want at most one each %v", i-1, i, gap, every)
		}
	}
	if int64(total) > attempts {
		t.Errorf("the summaries count %d attempts; the server saw %d", total, attempts)
	}
	for i, w := range waits {
		if w > maxB {
			t.Errorf("wait %d: %v; want at most MaxBackoff %v", i, w, maxB)
		}
	}
	// Back: one line saying so, with the attempts and why it went down, before the member's
	// own handling of the welcome (it rejoined).
	var back []string
	backAt, welcomedAt := -1, -1
	for i, s := range lines {
		if strings.HasPrefix(s, "link: reconnected to ") {
			back = append(back, s)
			backAt = i
		}
		if s == "test: welcomed" {
			welcomedAt = i
		}
	}
	if len(back) != 1 || !strings.Contains(back[0], "failed attempts (it went down: the hub closed the connection: shutdown") {
		t.Errorf("want one line saying the link reconnected, with why it went down; have %q", back)
	} else {
		var n int
		fmt.Sscanf(back[0][strings.Index(back[0], " down and ")+len(" down and "):], "%d", &n)
		if n < total || int64(n) > attempts {
			t.Errorf("%q: want the %d..%d failed attempts", back[0], total, attempts)
		}
	}
	if welcomedAt < 0 || backAt > welcomedAt {
		t.Errorf("the reconnected line (line %d) comes after the welcome's handling (line %d):\n%s", backAt, welcomedAt, dump)
	}

	// After the welcome the backoff starts again from MinBackoff, and failures are said one
	// by one again.
	from = len(lg.all())
	stop()
	start()
	wait("welcome after the second loss")
	lines, _ = lg.since(from)
	if len(lines) == 0 {
		t.Fatal("nothing logged after the second loss")
	}
	m := waitRE.FindStringSubmatch(lines[0])
	if m == nil || !strings.Contains(lines[0], "the hub closed the connection: shutdown") {
		t.Fatalf("the second loss's first line is not a single failure's: %q", lines[0])
	}
	if w := parseDuration(t, m[1]); w > minB {
		t.Errorf("first wait after a welcome: %v; want at most MinBackoff %v", w, minB)
	}
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

// TestRefusalSaidWhileSummarized: once the failures are summarized (the hub away), a hub that
// answers again but refuses the member (a page took it) is said at once, with its cause, and
// once, not left to the next summary line an hour later as if the hub were still away.
func TestRefusalSaidWhileSummarized(t *testing.T) {
	var cur atomic.Pointer[hub.Hub]
	var gate atomic.Bool // while set, only the page's link gets through
	var attempts atomic.Int64
	start := func() {
		h := hub.New(hub.Config{Logf: t.Logf})
		if err := h.AddCluster("c", []string{"n1"}); err != nil {
			t.Fatal(err)
		}
		cur.Store(h)
	}
	start()
	defer func() {
		if h := cur.Load(); h != nil {
			h.Close()
		}
	}()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		page := r.Header.Get("X-Test") == "page"
		h := cur.Load()
		if h == nil || (gate.Load() && !page) {
			http.Error(w, "the server is down", http.StatusServiceUnavailable)
			return
		}
		if !page {
			attempts.Add(1)
		}
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	var lg logs
	welcomes := make(chan struct{}, 16)
	l := link.Start(link.Config{
		URL: url, Cluster: "c", Members: []string{"n1"}, Kind: wire.KindNative,
		MinBackoff: 10 * time.Millisecond, MaxBackoff: 40 * time.Millisecond, LogEach: 2, SummaryEvery: time.Hour, Logf: lg.logf,
		OnWelcome: func(*wire.Envelope) error { welcomes <- struct{}{}; return nil },
	})
	defer l.Close()
	select {
	case <-welcomes:
	case <-time.After(10 * time.Second):
		t.Fatalf("no welcome:\n%s", strings.Join(lg.all(), "\n"))
	}
	waitFor := func(what string, cond func() bool) {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("no %s in 10s; the link logged:\n%s", what, strings.Join(lg.all(), "\n"))
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	// The hub goes away until the link summarizes; then a new one, where a page hosts n1.
	gate.Store(true)
	cur.Swap(nil).Close()
	waitFor("summarizing", func() bool { return lg.count("from now on one line each") == 1 })
	start()
	pageWelcomed := make(chan struct{}, 1)
	page := link.Start(link.Config{
		URL: url, Cluster: "c", Members: []string{"n1"}, Kind: wire.KindBrowser, Header: http.Header{"X-Test": {"page"}},
		OnWelcome: func(*wire.Envelope) error { pageWelcomed <- struct{}{}; return nil }, Logf: t.Logf,
	})
	defer page.Close()
	select {
	case <-pageWelcomed:
	case <-time.After(10 * time.Second):
		t.Fatal("the page's link was not welcomed")
	}
	from := attempts.Load()
	gate.Store(false)
	const taken = "the hub closed the connection: taken: member n1 is already hosted by a browser connection"
	waitFor("line saying the refusal", func() bool { return lg.count(taken) > 0 })
	waitFor("five more refused attempts", func() bool { return attempts.Load() >= from+6 })
	if n := lg.count(taken); n != 1 {
		t.Errorf("the refusal said %d times in %d attempts; want once:\n%s", n, attempts.Load()-from, strings.Join(lg.all(), "\n"))
	}
	if lg.count("still cannot reach") != 0 {
		t.Errorf("a summary line within the hour:\n%s", strings.Join(lg.all(), "\n"))
	}
}
