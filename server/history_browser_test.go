// Browser tests of the client history: the checker module loads only when needed, the
// follower-read switch's stale read is shown as a linearizability violation, the same run
// without the switch is linearizable, and a checker that cannot load says why.

//go:build !js

package main

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"raftlab/web"
)

// checkerFiles are what the page fetches to check its history.
var checkerFiles = []string{"/checkworker.js", "/checker.wasm"}

// serveCounting is serve with a count of the requests per path; the paths in missing get 404.
func serveCounting(tb testing.TB, missing ...string) (string, func(path string) int) {
	tb.Helper()
	mux, err := newServeMux(web.Dist())
	if err != nil {
		tb.Fatal(err)
	}
	var mu sync.Mutex
	hits := map[string]int{}
	h := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		hits[r.URL.Path]++
		mu.Unlock()
		for _, m := range missing {
			if r.URL.Path == m {
				http.NotFound(w, r)
				return
			}
		}
		mux.ServeHTTP(w, r)
	})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: h}
	go srv.Serve(ln) // returns when Close is called
	tb.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/", func(path string) int {
		mu.Lock()
		defer mu.Unlock()
		return hits[path]
	}
}

// lastAnswered is a condition: the history's last operation has its answer.
const lastAnswered = `(h => h.ops.length > 0 && h.ops[h.ops.length - 1].state === "ok")(raftlab.history())`

// staleRead plays, through window.raftlab, the run of wasm's TestFollowerReadsAreNotLinearizable:
// x=1, the leader partitioned away, x=2 through the new leader, then four reads of x (with
// follower reads, one of them lands on the cut-off old leader, which still holds x=1).
func staleRead(t *testing.T, p *page) {
	t.Helper()
	old := p.leader("")
	eval[any](p, `raftlab.submit("put x 1")`)
	p.waitFor("put x 1 answered", lastAnswered)
	p.kvOnLive("x", "1")
	var rest []string
	for _, n := range p.snapshot().Nodes {
		if n.ID != old {
			rest = append(rest, fmt.Sprintf("%q", n.ID))
		}
	}
	eval[any](p, fmt.Sprintf(`raftlab.partition([%q], [%s])`, old, strings.Join(rest, ",")))
	p.waitFor("a new leader", fmt.Sprintf(`(s => s.leader !== "" && s.leader !== %q)(raftlab.status())`, old))
	eval[any](p, `raftlab.submit("put x 2")`)
	p.waitFor("put x 2 answered", lastAnswered)
	for range 4 {
		eval[any](p, `raftlab.submit("get x")`)
	}
	p.waitFor("the reads answered", `raftlab.history().ops.length === 6 && raftlab.history().ops.every(o => o.state === "ok")`)
}

func TestBrowserHistory(t *testing.T) {
	b := startBrowser(t)

	t.Run("FollowerReadsShownNotLinearizable", func(t *testing.T) {
		url, hits := serveCounting(t)
		p := b.openFresh(t, url+"?seed=3")
		p.leader("")
		p.submit("put a 1")
		p.kvOnLive("a", "1")
		for _, f := range checkerFiles {
			if n := hits(f); n != 0 {
				t.Errorf("a plain page load fetched %s %d times; the checker loads only when needed", f, n)
			}
		}
		p.click("#breakIt summary")
		p.click(`input[data-bug=FollowerReads]`)
		p.waitFor("the switch planted", `JSON.stringify(JSON.parse(raftlabWasm.timeline()).bugs) === '["FollowerReads"]'`)
		if !eval[bool](p, `document.getElementById("brokenBadge").textContent.includes("FollowerReads")`) {
			t.Errorf("the follower-read switch is not marked BROKEN ON PURPOSE")
		}
		staleRead(t, p)
		p.waitFor("the violation banner", `!document.getElementById("linBanner").hidden`)
		msg := eval[string](p, `document.getElementById("linBanner").textContent`)
		for _, want := range []string{"Linearizability", "key x", "BROKEN ON PURPOSE", "Open visualization"} {
			if !strings.Contains(msg, want) {
				t.Errorf("the banner %q does not say %q", msg, want)
			}
		}
		for _, f := range checkerFiles {
			if hits(f) == 0 {
				t.Errorf("%s was never fetched, yet the history was checked", f)
			}
		}
		if v := eval[string](p, `document.getElementById("histVerdict").dataset.outcome`); v != "not linearizable" {
			t.Errorf("the history view's verdict: %q", v)
		}
		// The visualization is porcupine's page, as a Blob URL.
		html := eval[string](p, `fetch(document.getElementById("histViz").dataset.href).then(r => r.text())`)
		if !strings.Contains(html, "<html") || !strings.Contains(html, "get x") {
			t.Errorf("the visualization is not porcupine's page of the history (%d bytes)", len(html))
		}
		eval[any](p, `window.scrollTo(0, 0)`)
		p.screenshot("history-banner.png")
		p.click("#linBanner button:last-child") // show the history
		p.waitFor("the history listed", `document.querySelectorAll("#histOps tr").length === 6`)
		eval[any](p, `document.getElementById("historyBox").scrollIntoView(), window.scrollBy(0, -90)`)
		p.screenshot("history-violation.png")
		got := eval[map[string]any](p, `raftlab.checkHistory()`)
		if got["outcome"] != "not linearizable" || fmt.Sprint(got["keys"]) != "[x]" {
			t.Errorf("checkHistory() = %v", got)
		}
		p.noProblems()

		// The share link carries the switch and replays the history: opened embedded in
		// another browser context, without the history view among its controls, the
		// violation still shows.
		eval[any](p, `raftlab.pause()`)
		p.click("#share")
		p.waitFor("the share link", `document.getElementById("shareLink").value.includes("run=")`)
		link := eval[string](p, `document.getElementById("shareLink").value`)
		q := b.openFresh(t, link+"&embed=1")
		q.waitFor("the violation banner in the embedded replay", `!document.getElementById("linBanner").hidden && document.getElementById("linBanner").textContent.includes("key x")`)
		if !eval[bool](q, `getComputedStyle(document.getElementById("historyBox")).display === "none"`) {
			t.Errorf("the embed shows the history view though its controls leave it out")
		}
		ops := `JSON.stringify(raftlab.history().ops.map(o => [o.op, o.key, o.node, o.c, o.r, o.out ?? ""]))`
		if a, b := eval[string](p, ops), eval[string](q, ops); a != b {
			t.Errorf("the link replays another history:\n%s\nwant\n%s", b, a)
		}
		q.noProblems()
	})

	t.Run("WithoutTheSwitchLinearizable", func(t *testing.T) {
		url, hits := serveCounting(t)
		p := b.openFresh(t, url+"?seed=3")
		p.click("#historyBox summary") // opening the view loads the checker
		staleRead(t, p)
		p.waitFor("a verdict on all six operations", `document.getElementById("histVerdict").dataset.ops === "6"`)
		if v := eval[string](p, `document.getElementById("histVerdict").dataset.outcome`); v != "linearizable" {
			t.Errorf("without the switch the verdict is %q", v)
		}
		if !eval[bool](p, `document.getElementById("linBanner").hidden`) {
			t.Errorf("a violation banner without a violation")
		}
		if got := eval[map[string]any](p, `raftlab.checkHistory()`); got["outcome"] != "linearizable" {
			t.Errorf("checkHistory() = %v", got)
		}
		if hits("/checker.wasm") == 0 {
			t.Errorf("the history was checked without fetching checker.wasm")
		}
		p.noProblems()
	})

	t.Run("CheckerMissingSaysWhy", func(t *testing.T) {
		url, hits := serveCounting(t, "/checker.wasm")
		p := b.openFresh(t, url+"?seed=3")
		p.leader("")
		p.click("#historyBox summary")
		p.waitFor("the reason shown", `document.getElementById("histVerdict").textContent.includes("checker.wasm: HTTP 404")`)
		// No automatic retries of a module that is missing, however the history grows.
		n := hits("/checker.wasm")
		eval[any](p, `raftlab.submit("put a 1")`)
		p.waitFor("put a 1 answered", lastAnswered)
		time.Sleep(time.Second) // the page's debounce is 0.3 s: a retry would have come
		if m := hits("/checker.wasm"); m != n {
			t.Errorf("checker.wasm fetched %d more times after it failed; want none until asked", m-n)
		}
		if got := eval[string](p, `raftlab.checkHistory().then(() => "no error", e => e.message)`); !strings.Contains(got, "could not be loaded") {
			t.Errorf("checkHistory() with the module missing: %q", got)
		}
		if hits("/checker.wasm") == n {
			t.Errorf("checkHistory() did not try to load the module again")
		}
	})
}
