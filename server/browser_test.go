// Browser tests: the real page, served by the real server, in a headless Chromium driven by
// chromedp. Wall time is involved, so every wait polls with a deadline.

//go:build !js

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"raftlab/web"
)

// requireBrowser makes a missing browser or page a failure (CI sets it).
const requireBrowser = "RAFTLAB_REQUIRE_BROWSER"

// waitLimit bounds every wait on the page: generous, since two cores are shared.
const waitLimit = 30 * time.Second

// findChromium returns the browser to drive, or "" if there is none.
func findChromium() string {
	if p := os.Getenv("RAFTLAB_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// browser is one headless Chromium shared by the subtests of a test; each page is a tab.
type browser struct {
	ctx context.Context
}

// stalePage says why the embedded page is not built from the working tree's sources ("" if it
// is), hashing them once per test binary.
var stalePage = sync.OnceValue(func() string { return web.Stale(web.Dist(), "..") })

func startBrowser(tb testing.TB) *browser {
	tb.Helper()
	skip := func(why string) {
		if os.Getenv(requireBrowser) != "" {
			tb.Fatalf("%s (%s is set, so this fails instead of skipping)", why, requireBrowser)
		}
		tb.Skipf("%s; skipping the browser tests (set %s=1 to make this a failure)", why, requireBrowser)
	}
	exe := findChromium()
	if exe == "" {
		skip("no Chromium found (install Debian's chromium package, or set RAFTLAB_CHROMIUM)")
	}
	if !web.Built(web.Dist()) {
		skip("the page is not built into this test binary: run `go run build.go` first (make test does)")
	}
	if why := stalePage(); why != "" {
		skip(why)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // as root, Chromium's sandbox refuses to start
		chromedp.DisableGPU,
		chromedp.UserDataDir(tb.TempDir()),
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
	)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	tb.Cleanup(func() { cancelBrowser(); cancelAlloc() })
	// Start the browser now, with no timeout on this first call (it would stop the browser).
	if err := chromedp.Do(bctx); err != nil {
		tb.Fatalf("starting %s: %v", exe, err)
	}
	return &browser{ctx: bctx}
}

// serve starts the real server on a free loopback port. Each call is a new origin, so each
// test starts with an empty localStorage.
func serve(tb testing.TB) string {
	tb.Helper()
	mux, err := newServeMux(web.Dist())
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln) // returns when Close is called
	tb.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

// page is one tab on the lab page.
type page struct {
	tb  testing.TB
	ctx context.Context
	url string

	mu       sync.Mutex
	problems []string // console errors and uncaught exceptions
}

func (b *browser) open(tb testing.TB, url string) *page {
	tb.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	tb.Cleanup(cancel)
	p := &page{tb: tb, ctx: ctx, url: url}
	msgs := chromedp.Console(ctx) // subscribes now, so that nothing the page says is missed
	go func() {
		for m, err := range msgs { // ends when the tab's context is cancelled
			if err != nil {
				return
			}
			if m.Type == chromedp.ConsoleError || m.IsException() {
				p.mu.Lock()
				p.problems = append(p.problems, m.String()+" ("+m.URL+")")
				p.mu.Unlock()
			}
		}
	}()
	p.do(chromedp.Navigate(url))
	p.waitReady()
	return p
}

func (p *page) do(actions ...chromedp.Action[chromedp.Void]) {
	p.tb.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitLimit)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.tb.Fatalf("browser: %v", err)
	}
}

func eval[T any](p *page, js string) T {
	p.tb.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, waitLimit)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](js, chromedp.EvalAwaitPromise))
	if err != nil {
		p.tb.Fatalf("evaluating %s: %v", js, err)
	}
	return v
}

// waitFor polls a JavaScript condition until it holds.
func (p *page) waitFor(what, js string) {
	p.tb.Helper()
	deadline := time.Now().Add(waitLimit)
	for !eval[bool](p, "!!("+js+")") {
		if time.Now().After(deadline) {
			p.mu.Lock()
			problems := strings.Join(p.problems, "\n")
			p.mu.Unlock()
			p.tb.Fatalf("after %v: %s did not happen (%s)\npage status: %s\npage errors: %s", waitLimit, what, js,
				eval[string](p, `document.getElementById("status").textContent + " | " + document.getElementById("bannerText").textContent`), problems)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *page) waitReady() {
	p.tb.Helper()
	p.waitFor("the page becoming interactive", `document.body.dataset.ready === "1" || !document.getElementById("banner").hidden`)
}

func (p *page) noProblems() { p.tb.Helper(); p.noProblemsBut() }

// noProblemsBut is noProblems where problems containing one of expected are expected (the
// browser's own network errors while a test has the server down).
func (p *page) noProblemsBut(expected ...string) {
	p.tb.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	var left []string
	for _, pr := range p.problems {
		if !slices.ContainsFunc(expected, func(e string) bool { return strings.Contains(pr, e) }) {
			left = append(left, pr)
		}
	}
	if len(left) > 0 {
		p.tb.Errorf("the page reported errors:\n%s", strings.Join(left, "\n"))
	}
}

// leader waits until one card shows a leader (other than not) and returns its id.
func (p *page) leader(not string) string {
	p.tb.Helper()
	p.waitFor("a leader other than "+fmt.Sprintf("%q", not), fmt.Sprintf(`[...document.querySelectorAll(".card[data-state=leader]")].some(c => c.dataset.node !== %q)`, not))
	return eval[string](p, fmt.Sprintf(`[...document.querySelectorAll(".card[data-state=leader]")].find(c => c.dataset.node !== %q).dataset.node`, not))
}

// snapshot reads the lab's state from the wasm module itself.
type pageSnapshot struct {
	Now    float64 `json:"now"`
	Leader string  `json:"leader"`
	Nodes  []struct {
		ID    string      `json:"id"`
		State string      `json:"state"`
		Term  uint64      `json:"term"`
		Last  uint64      `json:"last"`
		KV    [][2]string `json:"kv"`
	} `json:"nodes"`
	Stats struct {
		Events int `json:"events"`
	} `json:"stats"`
}

func (p *page) snapshot() pageSnapshot {
	p.tb.Helper()
	var s pageSnapshot
	if err := json.Unmarshal([]byte(eval[string](p, "raftlabWasm.snapshot(1e15, 1e15)")), &s); err != nil {
		p.tb.Fatalf("snapshot: %v", err)
	}
	return s
}

// click clicks the element sel once it is shown and enabled. It finds and clicks it in one
// script, because the page redraws its controls: a node found by one DevTools call may be gone
// by the next ("Could not find node with given id").
func (p *page) click(sel string) {
	p.tb.Helper()
	p.waitFor("a click on "+sel, fmt.Sprintf(
		`(el => el !== null && !el.disabled && el.getClientRects().length > 0 && (el.click(), true))(document.querySelector(%q))`, sel))
}

func (p *page) submit(cmd string) {
	p.tb.Helper()
	p.do(chromedp.SendKeys(chromedp.CSS("#cmd"), cmd), chromedp.Click(chromedp.CSS(`#submitForm button[type=submit]`)))
	p.waitFor("the command "+cmd+" accepted", fmt.Sprintf(`document.getElementById("submitMsg").textContent === "submitted: " + %q`, cmd))
}

// kvOnLive waits until every live card shows k=v in its key-value contents.
func (p *page) kvOnLive(k, v string) {
	p.tb.Helper()
	p.waitFor(fmt.Sprintf("%s=%s on every live node", k, v), fmt.Sprintf(
		`[...document.querySelectorAll(".card:not([data-state=dead])")].every(c => [...c.querySelectorAll(".kv .pair")].some(e => e.textContent === %q))`, k+"="+v))
}

func (p *page) screenshot(name string) {
	dir := os.Getenv("RAFTLAB_SCREENSHOTS")
	if dir == "" {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, waitLimit)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.tb.Errorf("screenshot: %v", err)
		return
	}
	if err := os.WriteFile(filepath.Join(dir, name), png, 0o644); err != nil {
		p.tb.Error(err)
	}
}

func TestBrowser(t *testing.T) {
	b := startBrowser(t)

	t.Run("LoadsWithoutErrorsAndElectsALeader", func(t *testing.T) {
		p := b.open(t, serve(t))
		id := p.leader("")
		if s := p.snapshot(); s.Leader != id {
			t.Errorf("the page shows leader %s; the core says %q", id, s.Leader)
		}
		if n := eval[int](p, `document.querySelectorAll(".card").length`); n != 5 {
			t.Errorf("%d node cards; want 5", n)
		}
		tti := eval[float64](p, `performance.getEntriesByName("raftlab-interactive")[0].startTime`)
		t.Logf("interactive %.0f ms after navigation started", tti)
		p.do(chromedp.EmulateViewport(1280, 800))
		p.screenshot("lab-1280x800.png")
		p.noProblems()
	})

	t.Run("CrashingTheLeaderElectsANewOne", func(t *testing.T) {
		p := b.open(t, serve(t))
		old := p.leader("")
		p.click(fmt.Sprintf(`.card[data-node=%s] button[data-act=crash]`, old))
		p.waitFor(old+" shown as down", fmt.Sprintf(`document.querySelector(".card[data-node=%s]").dataset.state === "dead"`, old))
		if next := p.leader(old); next == old {
			t.Errorf("leader %s after crashing it", next)
		}
		p.click(fmt.Sprintf(`.card[data-node=%s] button[data-act=restart]`, old))
		p.waitFor(old+" running again", fmt.Sprintf(`document.querySelector(".card[data-node=%s]").dataset.state !== "dead"`, old))
		p.noProblems()
	})

	t.Run("LeadHandsTheLeadershipOver", func(t *testing.T) {
		p := b.open(t, serve(t))
		old := p.leader("")
		if !eval[bool](p, fmt.Sprintf(`document.querySelector(".card[data-node=%s] button[data-act=transfer]").disabled`, old)) {
			t.Errorf("the leader's own Lead button is enabled")
		}
		to := eval[string](p, `document.querySelector(".card:not([data-state=leader])").dataset.node`)
		p.click(fmt.Sprintf(`.card[data-node=%s] button[data-act=transfer]`, to))
		p.waitFor(to+" leading", fmt.Sprintf(`document.querySelector(".card[data-node=%s]").dataset.state === "leader"`, to))
		p.waitFor(old+" following", fmt.Sprintf(`document.querySelector(".card[data-node=%s]").dataset.state === "follower"`, old))
		p.waitFor("the event log to tell of the hand-over", `[...document.querySelectorAll("#events li")].some(li => li.textContent.includes("hands leadership to"))`)
		p.noProblems()
	})

	t.Run("SubmittedCommandsCommitOnEveryLiveNode", func(t *testing.T) {
		p := b.open(t, serve(t))
		lead := p.leader("")
		follower := eval[string](p, `document.querySelector(".card:not([data-state=leader])").dataset.node`)
		p.click(fmt.Sprintf(`.card[data-node=%s] button[data-act=crash]`, follower))
		p.submit("put x 42")
		p.submit("append x !")
		p.kvOnLive("x", "42!")
		if got := eval[string](p, fmt.Sprintf(`document.querySelector(".card[data-node=%s] .kv").textContent`, follower)); strings.Contains(got, "x=") {
			t.Errorf("crashed %s shows %q", follower, got)
		}
		// Restarted, the follower catches up from the leader.
		p.click(fmt.Sprintf(`.card[data-node=%s] button[data-act=restart]`, follower))
		p.kvOnLive("x", "42!")
		s := p.snapshot()
		for _, n := range s.Nodes {
			if !slicesContains(n.KV, [2]string{"x", "42!"}) {
				t.Errorf("core: %s holds %v; want x=42!", n.ID, n.KV)
			}
		}
		// A malformed command is refused with the parser's message; nothing is submitted.
		p.do(chromedp.SendKeys(chromedp.CSS("#cmd"), "pt y 1"), chromedp.Click(chromedp.CSS(`#submitForm button[type=submit]`)))
		p.waitFor("the parse error shown", `document.getElementById("submitMsg").textContent.includes('unknown command "pt"')`)
		_ = lead
		p.noProblems()
	})

	t.Run("ReloadRestoresTermsAndLogsFromLocalStorage", func(t *testing.T) {
		p := b.open(t, serve(t))
		p.leader("")
		p.submit("put y 7")
		p.kvOnLive("y", "7")
		p.do(chromedp.Click(chromedp.CSS("#play")))
		p.waitFor("paused", `document.body.classList.contains("paused")`)
		before := p.snapshot()
		for _, n := range before.Nodes {
			key := fmt.Sprintf("raftlab/lab5/%s/currentTerm", n.ID)
			if got := eval[string](p, fmt.Sprintf(`localStorage.getItem(%q)`, key)); got != fmt.Sprint(n.Term) {
				t.Errorf("localStorage %s = %q; want %d", key, got, n.Term)
			}
		}
		p.do(chromedp.Reload())
		p.waitReady()
		for _, n := range before.Nodes {
			entries := fmt.Sprintf("%d log entries", n.Last)
			if n.Last == 1 {
				entries = "1 log entry"
			}
			want := fmt.Sprintf("%s restored term %d and %s from storage", n.ID, n.Term, entries)
			p.waitFor(want, fmt.Sprintf(`[...document.querySelectorAll("#events li")].some(li => li.textContent.endsWith(%q))`, want))
		}
		after := p.snapshot()
		for i, n := range after.Nodes {
			if n.Term < before.Nodes[i].Term || n.Last < before.Nodes[i].Last {
				t.Errorf("%s after reload: term %d last %d; before: term %d last %d", n.ID, n.Term, n.Last, before.Nodes[i].Term, before.Nodes[i].Last)
			}
		}
		p.kvOnLive("y", "7") // committed data comes back as the new leader commits
		p.noProblems()
	})

	t.Run("CorruptLocalStorageShowsTheErrorAndResets", func(t *testing.T) {
		p := b.open(t, serve(t))
		p.leader("")
		p.waitFor("n2 has a log entry", `Number(document.querySelector(".card[data-node=n2]").dataset.last) > 0`)
		p.do(chromedp.Click(chromedp.CSS("#play")))
		// The log is kept 64 entries to a key, one a line: entry 1 is the second line.
		eval[bool](p, `localStorage.setItem("raftlab/lab5/n2/log/0-63", "\ngarbage"), true`)
		p.do(chromedp.Reload())
		p.waitFor("the storage error", `!document.getElementById("banner").hidden`)
		msg := eval[string](p, `document.getElementById("bannerText").textContent`)
		if !strings.Contains(msg, `"log/1"`) || !strings.Contains(msg, "n2") {
			t.Errorf("banner %q: want it to name n2 and the key log/1", msg)
		}
		if !eval[bool](p, `!document.getElementById("reset").hidden && document.querySelector("header h1").textContent === "raftlab"`) {
			t.Errorf("the page around the error is missing, or there is no reset button")
		}
		p.click("#reset")
		p.waitFor("the banner gone", `document.getElementById("banner").hidden`)
		if eval[bool](p, `document.body.classList.contains("paused")`) {
			p.do(chromedp.Click(chromedp.CSS("#play")))
		}
		p.leader("")
		p.noProblems()
	})

	t.Run("AFullLocalStorageStopsTheNodeWithAMessage", func(t *testing.T) {
		p := b.open(t, serve(t))
		p.leader("")
		// From now on the browser refuses every write, as it does when its quota is used up.
		eval[bool](p, `(Storage.prototype.setItem = function () { throw new DOMException("The quota has been exceeded.", "QuotaExceededError") }, true)`)
		p.do(chromedp.SendKeys(chromedp.CSS("#cmd"), "put z 1"), chromedp.Click(chromedp.CSS(`#submitForm button[type=submit]`)))
		p.waitFor("the storage error", `!document.getElementById("banner").hidden`)
		msg := eval[string](p, `document.getElementById("bannerText").textContent`)
		// The first node to write fails: the leader, or a follower still taking an entry.
		failed, _, _ := strings.Cut(msg, ":")
		if !strings.Contains(msg, "QuotaExceededError") || !strings.HasPrefix(failed, "n") {
			t.Fatalf("banner %q: want a node and the quota error", msg)
		}
		p.waitFor(failed+" shown as stopped", fmt.Sprintf(`document.querySelector(".card[data-node=%s]").dataset.state === "dead" && document.querySelector(".card[data-node=%s] .err").textContent.includes("QuotaExceededError")`, failed, failed))
		if !eval[bool](p, `document.body.classList.contains("paused")`) {
			t.Errorf("the page kept running after a storage failure")
		}
		p.noProblems()
	})

	t.Run("SwitchingTheClusterSize", func(t *testing.T) {
		p := b.open(t, serve(t))
		p.leader("")
		for _, n := range []string{"3", "9", "5"} {
			p.do(chromedp.SetValue(chromedp.CSS("#nodes"), n))
			eval[bool](p, `(document.getElementById("nodes").dispatchEvent(new Event("change")), true)`)
			p.waitFor(n+" node cards", `document.querySelectorAll(".card").length === `+n+` && document.querySelectorAll("#svg .node").length === `+n)
			p.leader("")
		}
		p.noProblems()
	})

	t.Run("ASecondTabOnTheSameClusterPausesTheFirst", func(t *testing.T) {
		url := serve(t)
		first := b.open(t, url)
		first.leader("")
		second := b.open(t, url)
		second.leader("")
		first.waitFor("the warning in the first tab", `!document.getElementById("banner").hidden && document.getElementById("bannerText").textContent.includes("Another tab is running cluster lab5")`)
		if !eval[bool](first, `document.body.classList.contains("paused")`) {
			t.Errorf("the first tab kept running beside the second")
		}
		first.do(chromedp.KeyEvent(" "))
		if !eval[bool](first, `document.body.classList.contains("paused")`) {
			t.Errorf("the first tab resumed over storage that the second tab owns")
		}
		first.noProblems()
		second.noProblems()
	})

	t.Run("KeyboardPausesAndSteps", func(t *testing.T) {
		p := b.open(t, serve(t))
		p.leader("")
		p.do(chromedp.KeyEvent(" "))
		p.waitFor("paused", `document.body.classList.contains("paused")`)
		s1 := p.snapshot()
		time.Sleep(300 * time.Millisecond) // paused, the clock must not move however long we wait
		if s2 := p.snapshot(); s2.Now != s1.Now || s2.Stats.Events != s1.Stats.Events {
			t.Errorf("paused: clock moved from %v to %v ms, events %d to %d", s1.Now, s2.Now, s1.Stats.Events, s2.Stats.Events)
		}
		p.do(chromedp.KeyEvent(kb.ArrowRight))
		p.waitFor("one event processed", fmt.Sprintf(`JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).stats.events > %d`, s1.Stats.Events))
		p.waitFor("the clock shown", fmt.Sprintf(`document.getElementById("clock").textContent === (%f / 1000).toFixed(3) + " s"`, p.snapshot().Now))
		p.do(chromedp.KeyEvent(" "))
		p.waitFor("running again", fmt.Sprintf(`JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).now > %f + 100`, s1.Now))
		p.noProblems()
	})

	t.Run("MaxSpeedShowsTheSpeedReached", func(t *testing.T) {
		p := b.open(t, serve(t))
		p.leader("")
		p.do(chromedp.SetValue(chromedp.CSS("#speed"), "100"))
		eval[bool](p, `(document.getElementById("speed").dispatchEvent(new Event("input")), true)`)
		p.waitFor("the speed reached at max, faster than real time", `(m => m !== null && Number(m[1]) >= 2)(document.getElementById("speedText").textContent.match(/^max \((\d+)/))`)
		t.Logf("at max: %s", eval[string](p, `document.getElementById("speedText").textContent`))
		p.noProblems()
	})

	t.Run("LinksAndNetworkControls", func(t *testing.T) {
		p := b.open(t, serve(t))
		p.leader("")
		p.do(chromedp.SendKeys(chromedp.CSS("#groups"), "n1 n2 | n3 n4 n5"), chromedp.Click(chromedp.CSS("#partition")))
		p.waitFor("six links cut", `JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).cut.length === 6 && document.querySelectorAll("line.link.cut").length === 6`)
		p.click("#healAll")
		p.waitFor("links healed", `document.querySelectorAll("line.link.cut").length === 0`)
		p.click("#unreliable")
		p.waitFor("drops counted", `JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).stats.dropped > 0`)
		p.click("#reorder")
		p.waitFor("reordering on, recorded and told", `JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).reorder && JSON.stringify(JSON.parse(raftlabWasm.share()).run).includes('"kind":"reorder"') && document.getElementById("events").textContent.includes("reordering on")`)
		p.click("#reorder")
		p.waitFor("reordering off", `!JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).reorder && !document.getElementById("reorder").checked`)
		p.noProblems()
	})

	t.Run("MessageFieldsAndDrop", func(t *testing.T) {
		p := b.open(t, serve(t)+"?seed=5")
		p.leader("")
		eval[any](p, `raftlab.pause()`)
		p.submit("put m 1")
		// Step until the submit's AppendEntries is on the wire (it may wait for a probe's answer).
		id := eval[float64](p, `(() => {
			for (let i = 0; i < 2000; i++) {
				const f = JSON.parse(raftlabWasm.snapshot(1e15, 1e15, true)).flights.find(f => f.type === "append" && f.n > 0);
				if (f) return f.id;
				document.getElementById("step").click();
			}
			return 0;
		})()`)
		if id == 0 {
			t.Fatal("no AppendEntries with entries on the wire after 2000 steps")
		}
		sel := fmt.Sprintf(`circle.m[data-id="%v"]`, id)
		p.waitFor("the message drawn", fmt.Sprintf(`document.querySelector(%q) !== null`, sel))
		// An SVG element has no click(): dispatch one, as a pointer would.
		eval[bool](p, fmt.Sprintf(`document.querySelector(%q).dispatchEvent(new MouseEvent("click", {bubbles: true}))`, sel))
		p.waitFor("the message's fields shown", `!document.getElementById("msgView").hidden && /prevLogIndex/.test(document.getElementById("msgView").textContent) && /leaderCommit/.test(document.getElementById("msgView").textContent) && /put m 1/.test(document.getElementById("msgView").textContent)`)
		p.click("#dropMsg")
		p.waitFor("the drop recorded", `document.getElementById("dropMsg").disabled && JSON.stringify(JSON.parse(raftlabWasm.share()).run).includes('"kind":"drop-message"')`)
		eval[any](p, `(() => { for (let i = 0; i < 2000 && !JSON.parse(raftlabWasm.snapshot(1e15, 0, true)).drops.some(d => d.why === "dropped by hand"); i++) document.getElementById("step").click(); })()`)
		p.waitFor("the message lost on arrival", `JSON.parse(raftlabWasm.snapshot(1e15, 0, true)).drops.some(d => d.why === "dropped by hand") && /left the wire/.test(document.getElementById("msgViewState").textContent)`)
		eval[any](p, `window.scrollTo(0, 0)`)
		p.screenshot("message-view.png")
		p.click("#msgView .close")
		p.waitFor("the view closed", `document.getElementById("msgView").hidden`)
		p.noProblems()
	})

	t.Run("NarrowScreen", func(t *testing.T) {
		p := b.open(t, serve(t))
		p.do(chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
		p.leader("")
		if w := eval[float64](p, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
			t.Errorf("the page is %v px wider than a 390 px screen", w)
		}
		p.screenshot("lab-390x844.png")
		p.noProblems()
	})
}

func slicesContains(s [][2]string, v [2]string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// BenchmarkPageInteractive loads the page in a fresh origin (empty localStorage, nothing
// cached) and reports the time from navigation to the first drawn cluster, and the bytes of
// wasm that crossed the wire.
func BenchmarkPageInteractive(b *testing.B) {
	br := startBrowser(b)
	var total, wire float64
	n := 0
	for b.Loop() {
		p := br.open(b, serve(b))
		total += eval[float64](p, `performance.getEntriesByName("raftlab-interactive")[0].startTime`)
		wire += eval[float64](p, `performance.getEntriesByType("resource").find(e => e.name.endsWith("/raftlab.wasm")).transferSize`)
		n++
	}
	b.ReportMetric(total/float64(n), "ms-to-interactive")
	b.ReportMetric(wire/float64(n), "wasm-bytes-on-wire")
}

// BenchmarkPageFrames9Nodes runs a 9-node cluster at 1× for 5 s of wall time and reports the
// frames per second the page drew and the wall time each frame's work (simulate, snapshot,
// draw) took: once with the cluster idle (heartbeats), once under the client load.
func BenchmarkPageFrames9Nodes(b *testing.B) {
	br := startBrowser(b)
	for _, load := range []bool{false, true} {
		name := "Idle"
		if load {
			name = "ClientLoad"
		}
		b.Run(name, func(b *testing.B) {
			p := br.open(b, serve(b)+"?nodes=9")
			p.leader("")
			if load {
				p.click("#load")
			}
			var fps, work, longest float64
			n := 0
			for b.Loop() {
				res := eval[[]float64](p, `new Promise(done => {
					const f0 = raftlabFrames.frames, w0 = raftlabFrames.workMs, t0 = performance.now();
					raftlabFrames.maxMs = 0;
					setTimeout(() => done([(raftlabFrames.frames - f0) * 1000 / (performance.now() - t0),
						(raftlabFrames.workMs - w0) / Math.max(1, raftlabFrames.frames - f0), raftlabFrames.maxMs]), 5000);
				})`)
				fps += res[0]
				work += res[1]
				longest = max(longest, res[2])
				n++
			}
			b.ReportMetric(fps/float64(n), "fps")
			b.ReportMetric(work/float64(n), "ms-work/frame")
			b.ReportMetric(longest, "ms-longest-frame")
			p.noProblems()
		})
	}
}

// BenchmarkPageSpeed runs the page at max speed, with the client load on (switched through
// window.raftlab.load, as a course page would) and idle, for 5 and 9 nodes, and reports the
// speed reached (simulated seconds per wall second) over 5 s of wall time, the speed the page
// itself shows then, the page's work per frame and, of that, the simulation's, and the
// localStorage writes per simulated second.
func BenchmarkPageSpeed(b *testing.B) {
	br := startBrowser(b)
	for _, load := range []bool{true, false} {
		for _, nodes := range []int{5, 9} {
			name := fmt.Sprintf("ClientLoad%dNodes", nodes)
			if !load {
				name = fmt.Sprintf("Idle%dNodes", nodes)
			}
			b.Run(name, func(b *testing.B) {
				p := br.open(b, serve(b)+fmt.Sprintf("?nodes=%d&speed=max", nodes))
				p.leader("")
				if load {
					eval[any](p, `raftlab.load(true)`)
					p.waitFor("the client load on", `document.getElementById("load").checked`)
				}
				var speed, shown, work, advance, writes float64
				n := 0
				for b.Loop() {
					res := eval[[]float64](p, `new Promise(done => {
						const s0 = raftlab.status().now, t0 = performance.now(), w0 = JSON.parse(raftlabWasm.storageStats()).writes;
						const f0 = raftlabFrames.frames, w0ms = raftlabFrames.workMs, a0 = raftlabFrames.advanceMs;
						setTimeout(() => {
							const frames = Math.max(1, raftlabFrames.frames - f0), sim = raftlab.status().now - s0;
							const m = /\(([\d.]+)×\)/.exec(document.getElementById("speedText").textContent);
							done([sim / (performance.now() - t0), m ? Number(m[1]) : 0,
								(raftlabFrames.workMs - w0ms) / frames, (raftlabFrames.advanceMs - a0) / frames,
								(JSON.parse(raftlabWasm.storageStats()).writes - w0) * 1000 / Math.max(1, sim)]);
						}, 5000);
					})`)
					speed += res[0]
					shown += res[1]
					work += res[2]
					advance += res[3]
					writes += res[4]
					n++
				}
				b.ReportMetric(speed/float64(n), "x-real-time")
				b.ReportMetric(shown/float64(n), "x-shown")
				b.ReportMetric(work/float64(n), "ms-work/frame")
				b.ReportMetric(advance/float64(n), "ms-simulating/frame")
				b.ReportMetric(writes/float64(n), "writes/sim-s")
				p.noProblems()
			})
		}
	}
}
