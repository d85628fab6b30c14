// Browser tests of the course features: share links replay a run exactly in a fresh browser
// context, the time slider goes back and forward, and a guided scenario is walked with the
// keyboard and the highlighted action.

//go:build !js

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"raftlab/raft"
	"raftlab/raft/sim"
)

// openFresh opens url in a new browser context: its own localStorage, cookies and cache, as
// another person's browser would be.
func (b *browser) openFresh(tb testing.TB, url string) *page {
	tb.Helper()
	p := b.openFreshHost(tb, url)
	p.waitReady()
	return p
}

// openFreshHost opens a page that is not the lab itself (a host page) in a new browser context.
func (b *browser) openFreshHost(tb testing.TB, url string) *page {
	tb.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx, chromedp.WithNewBrowserContext())
	tb.Cleanup(cancel)
	p := &page{tb: tb, ctx: ctx, url: url}
	msgs := chromedp.Console(ctx)
	go func() {
		for m, err := range msgs {
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
	return p
}

// timeline is the run's extent as the page's module reports it.
type timeline struct {
	Now    float64 `json:"now"`
	End    float64 `json:"end"`
	Future int     `json:"future"`
	Memory string  `json:"memory"`
	// ViolationAt is when the checker found a violation, -1 if it did not.
	ViolationAt float64 `json:"violationAt"`
}

func (p *page) timeline() timeline {
	p.tb.Helper()
	return evalJSON[timeline](p, "raftlabWasm.timeline()")
}

func evalJSON[T any](p *page, js string) T {
	p.tb.Helper()
	var v T
	if err := json.Unmarshal([]byte(eval[string](p, js)), &v); err != nil {
		p.tb.Fatalf("%s: %v", js, err)
	}
	return v
}

// seekSlider moves the time slider to ms as a person would (input, then change on release).
func (p *page) seekSlider(ms float64) {
	p.tb.Helper()
	eval[bool](p, fmt.Sprintf(`(() => { const s = document.getElementById("timeSlider"); s.value = %q;
		s.dispatchEvent(new Event("input")); s.dispatchEvent(new Event("change")); return true; })()`, fmt.Sprint(ms)))
	p.waitFor(fmt.Sprintf("the run replayed to %v ms", ms), fmt.Sprintf(`JSON.parse(raftlabWasm.timeline()).now === %v`, ms))
}

func (p *page) raftlabKeys() int {
	return eval[int](p, `Object.keys(localStorage).filter(k => k.startsWith("raftlab/")).length`)
}

func TestBrowserCourse(t *testing.T) {
	b := startBrowser(t)

	t.Run("ShareLinkReplaysTheRunInAFreshBrowser", func(t *testing.T) {
		base := serve(t)
		p := b.open(t, base)
		old := p.leader("")
		p.click(fmt.Sprintf(`.card[data-node=%s] button[data-act=crash]`, old))
		p.leader(old)
		p.submit("put x 1")
		p.click(fmt.Sprintf(`.card[data-node=%s] button[data-act=restart]`, old))
		p.submit("append x 2")
		p.kvOnLive("x", "12")
		// Unreliable only now: a command the page submits once can be lost to a leader change
		// on a lossy network, and the run must still record the switch.
		p.click("#unreliable")
		p.click("#play")
		p.waitFor("paused", `document.body.classList.contains("paused")`)
		tl := p.timeline()
		hash := eval[string](p, "raftlab.traceHash()")
		if tl.Memory != "" {
			t.Errorf("free play reports its run in memory (%q); it uses localStorage", tl.Memory)
		}
		p.click("#share")
		p.waitFor("the share link", `document.getElementById("shareLink").value.includes("run=")`)
		link := eval[string](p, `document.getElementById("shareLink").value`)
		if !strings.Contains(eval[string](p, `document.getElementById("shareNote").textContent`), hash) {
			t.Errorf("the share note does not name the trace hash %s", hash)
		}
		p.screenshot("course-share.png")

		q := b.openFresh(t, link)
		q.waitFor("the shared run at its time", fmt.Sprintf(`JSON.parse(raftlabWasm.timeline()).now === %v`, tl.Now))
		if got := eval[string](q, "raftlab.traceHash()"); got != hash {
			t.Errorf("the link replays to trace %s at %v ms; the run had %s", got, tl.Now, hash)
		}
		if !eval[bool](q, `document.body.classList.contains("paused")`) {
			t.Errorf("a shared run opens running; it should open paused at its time")
		}
		if n := q.raftlabKeys(); n != 0 {
			t.Errorf("opening a link wrote %d raftlab keys to localStorage; runs from links live in memory", n)
		}
		if note := eval[string](q, `document.getElementById("storageNote").textContent`); !strings.Contains(note, "memory") {
			t.Errorf("the page does not say the shared run is in memory: %q", note)
		}
		q.kvOnLive("x", "12")

		// Back in time on both: the same replay.
		half := float64(int(tl.Now / 2))
		p.seekSlider(half)
		q.seekSlider(half)
		h1, h2 := eval[string](p, "raftlab.traceHash()"), eval[string](q, "raftlab.traceHash()")
		if h1 != h2 {
			t.Errorf("at %v ms: the original tab's replay has trace %s, the link's %s", half, h1, h2)
		}
		if tl2 := p.timeline(); tl2.End != tl.Now || tl2.Future == 0 {
			t.Errorf("after going back: %+v; want the end at %v and recorded actions ahead", tl2, tl.Now)
		}
		// Forward again to the end: the original run, event for event.
		p.seekSlider(tl.Now)
		if got := eval[string](p, "raftlab.traceHash()"); got != hash {
			t.Errorf("forward again to %v ms: trace %s; the run had %s", tl.Now, got, hash)
		}
		p.screenshot("course-timetravel.png")
		p.noProblems()
		q.noProblems()
	})

	t.Run("LinkFromTheSimulatorOpensInThePage", func(t *testing.T) {
		run := &sim.Run{Version: sim.RunVersion, Nodes: 3, Seed: 42, Actions: []sim.Action{
			{At: 900 * time.Millisecond, Kind: sim.ActSubmit, Command: "put y 5"},
			{At: 1200 * time.Millisecond, Kind: sim.ActCrash, Node: "n2"},
			{At: 1500 * time.Millisecond, Kind: sim.ActPartition, Groups: [][]string{{"n1"}, {"n2", "n3"}}},
			{At: 2500 * time.Millisecond, Kind: sim.ActHealAll},
		}}
		at := 3 * time.Second
		c, err := run.Replay(sim.Options{}, at)
		if err != nil {
			t.Fatal(err)
		}
		p := b.openFresh(t, serve(t)+"?t=3000&run="+url.QueryEscape(run.Encode()))
		p.waitFor("the run at 3 s", `JSON.parse(raftlabWasm.timeline()).now === 3000`)
		if got := eval[string](p, "raftlab.traceHash()"); got != c.TraceHash() {
			t.Errorf("the page replays sim.Run.Encode's link to trace %s; the simulator to %s", got, c.TraceHash())
		}
		p.noProblems()
	})

	t.Run("ABadLinkIsExplainedAndFreePlayRuns", func(t *testing.T) {
		p := b.openFresh(t, serve(t)+"?run=not*a*link")
		p.waitFor("the message", `document.getElementById("courseMsg").textContent.includes("cannot be opened")`)
		p.leader("")
		p.noProblems()
	})

	t.Run("GuidedScenarioWithKeyboardAndAskedAction", func(t *testing.T) {
		p := b.open(t, serve(t)+"?scenario=leader-crash")
		p.waitFor("step 1 at its pause point", `document.getElementById("guideState")?.dataset.done === "1"`)
		p.screenshot("course-guided.png")
		p.do(chromedp.KeyEvent(kb.ArrowRight))
		p.waitFor("step 2 asking to crash the leader", `document.getElementById("guideState")?.dataset.ask === "crash"`)
		leader := p.snapshot().Leader
		btn := fmt.Sprintf(`.card[data-node=%s] button[data-act=crash]`, leader)
		p.waitFor("the leader's crash button highlighted", fmt.Sprintf(`document.querySelector(%q).classList.contains("asked")`, btn))
		if n := eval[int](p, `document.querySelectorAll("button.asked").length`); n != 1 {
			t.Errorf("%d buttons highlighted; want the leader's crash button alone", n)
		}
		p.screenshot("course-ask.png")
		before := p.snapshot().Now
		time.Sleep(300 * time.Millisecond) // waiting for the person, the clock stands still
		if now := p.snapshot().Now; now != before {
			t.Errorf("while the step waits for the person the clock moved from %v to %v", before, now)
		}
		p.click(btn)
		p.waitFor("step 2 at its pause point", `document.getElementById("guideState")?.dataset.done === "1" && document.querySelector(".guide .steps .current button").dataset.step === "1"`)
		if s := p.snapshot(); s.Leader == "" || s.Leader == leader {
			t.Errorf("after crashing %s the step ended with leader %q", leader, s.Leader)
		}
		if errs := eval[string](p, `[...document.querySelectorAll(".guide .msg.error")].map(e => e.textContent).join("\n")`); errs != "" {
			t.Errorf("the narration reports: %s", errs)
		}
		// ← goes back to step 2's start (replayed): asking again.
		p.do(chromedp.KeyEvent(kb.ArrowLeft))
		p.waitFor("back at step 2, asking", `document.getElementById("guideState")?.dataset.ask === "crash" && document.querySelector(".guide .steps .current button").dataset.step === "1"`)
		// Jump to step 3 with its button.
		p.click(`.guide .steps button[data-step="2"]`)
		p.waitFor("at step 3", `document.querySelector(".guide .steps .current button")?.dataset.step === "2"`)
		if !strings.Contains(eval[string](p, "location.search"), "step=3") {
			t.Errorf("the address does not name step 3: %s", eval[string](p, "location.search"))
		}
		if n := p.raftlabKeys(); n != 0 {
			t.Errorf("the guided scenario wrote %d raftlab keys to localStorage; it runs in memory", n)
		}
		// Leaving for free play: → steps again (outside guided mode it is the step key).
		p.click("#freePlay")
		p.waitFor("free play", `document.getElementById("guide").hidden && JSON.parse(raftlabWasm.timeline()).memory === ""`)
		p.leader("")
		p.do(chromedp.KeyEvent(" "))
		p.waitFor("paused", `document.body.classList.contains("paused")`)
		ev := p.snapshot().Stats.Events
		p.do(chromedp.KeyEvent(kb.ArrowRight))
		p.waitFor("one event stepped", fmt.Sprintf(`JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).stats.events > %d`, ev))
		p.noProblems()
	})
}

// frame evaluates js in the embedded lab with this id.
func frame(id, js string) string {
	return fmt.Sprintf(`(() => { const w = document.getElementById(%q).contentWindow; return w.eval(%q); })()`, id, js)
}

func TestBrowserEmbed(t *testing.T) {
	b := startBrowser(t)

	t.Run("TwoLabsInOneHostPageRunAndStaySeparate", func(t *testing.T) {
		p := b.openFreshHost(t, serve(t)+"embed-demo.html")
		for _, id := range []string{"labA", "labB"} {
			p.waitFor(id+" loaded", fmt.Sprintf(`document.getElementById(%q).contentWindow.document.body.dataset.ready === "1"`, id))
			p.waitFor(id+" elects a leader", frame(id, `document.body.dataset.ready === "1" && JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).leader !== ""`))
		}
		// Both clusters are named lab3; each frame keeps its own namespace.
		for _, ns := range []string{"demo-a", "demo-b"} {
			if n := eval[int](p, fmt.Sprintf(`Object.keys(localStorage).filter(k => k.startsWith("raftlab/%s/lab3/n1/")).length`, ns)); n == 0 {
				t.Errorf("no keys under raftlab/%s/lab3/n1/", ns)
			}
		}
		if n := eval[int](p, `Object.keys(localStorage).filter(k => k.startsWith("raftlab/lab3/")).length`); n != 0 {
			t.Errorf("%d keys in the page's own namespace; embeds should use theirs", n)
		}
		// Crashing A's leader leaves B alone, and neither sees the other's writes as a conflict.
		leadA := eval[string](p, frame("labA", `JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).leader`))
		eval[bool](p, frame("labA", fmt.Sprintf(`document.querySelector(".card[data-node=%s] button[data-act=crash]").click(), true`, leadA)))
		p.waitFor("A's leader down", frame("labA", fmt.Sprintf(`document.querySelector(".card[data-node=%s]").dataset.state === "dead"`, leadA)))
		termB := eval[float64](p, frame("labB", `JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).nodes[0].term`))
		p.waitFor("A elects another leader", frame("labA", fmt.Sprintf(`(l => l !== "" && l !== %q)(JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).leader)`, leadA)))
		if s := eval[string](p, frame("labB", `JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).nodes.map(n => n.state).join(",")`)); strings.Contains(s, "dead") {
			t.Errorf("B's nodes %s: a crash in A reached B", s)
		}
		if got := eval[float64](p, frame("labB", `JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).nodes[0].term`)); got != termB {
			t.Errorf("B's n1 went from term %v to %v while A re-elected", termB, got)
		}
		for _, id := range []string{"labA", "labB"} {
			if eval[bool](p, frame(id, `!document.getElementById("banner").hidden`)) {
				t.Errorf("%s shows a banner: %s", id, eval[string](p, frame(id, `document.getElementById("bannerText").textContent`)))
			}
		}
		p.do(chromedp.EmulateViewport(900, 1150))
		p.screenshot("embed-demo.png")
		p.noProblems()
	})

	t.Run("ParametersApplied", func(t *testing.T) {
		p := b.openFresh(t, serve(t)+"?embed=1&nodes=3&seed=5&autoplay=0&unreliable=1&speed=0.1&controls=play,clock,cards&theme=dark")
		p.waitFor("paused", `document.body.classList.contains("paused")`)
		s := p.snapshot()
		if len(s.Nodes) != 3 {
			t.Errorf("%d nodes; nodes=3 was asked", len(s.Nodes))
		}
		if !eval[bool](p, `JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).unreliable`) {
			t.Errorf("unreliable=1 not applied")
		}
		if got := eval[string](p, `document.getElementById("speedText").textContent`); got != "0.1×" {
			t.Errorf("speed shows %q; speed=0.1 was asked", got)
		}
		if !eval[bool](p, `getComputedStyle(document.getElementById("step")).display === "none" && getComputedStyle(document.getElementById("play")).display !== "none" && getComputedStyle(document.getElementById("submitForm")).display === "none"`) {
			t.Errorf("controls=play,clock,cards: the step button or client is shown, or play is hidden")
		}
		if eval[string](p, `document.body.dataset.theme`) != "dark" || !eval[bool](p, `document.body.classList.contains("embed")`) {
			t.Errorf("theme or embed layout not applied")
		}
		if eval[bool](p, `document.getElementById("paramMsg") !== null`) {
			t.Errorf("good parameters got a message: %s", eval[string](p, `document.getElementById("paramMsg").textContent`))
		}
		p.noProblems()
	})

	t.Run("BadParametersAreNamedAndDefaultsRun", func(t *testing.T) {
		p := b.openFresh(t, serve(t)+"?embed=1&nodes=4&seed=x&speed=fast&controls=play,bogus&theme=pink&autoplay=maybe")
		p.waitFor("the message", `document.getElementById("paramMsg") !== null`)
		msg := eval[string](p, `document.getElementById("paramMsg").textContent`)
		for _, want := range []string{"nodes=4", "seed=x", "speed=fast", "bogus", "theme=pink", "autoplay=maybe"} {
			if !strings.Contains(msg, want) {
				t.Errorf("the message %q does not name %s", msg, want)
			}
		}
		if !eval[bool](p, `document.getElementById("paramMsg").getBoundingClientRect().height > 0`) {
			t.Errorf("the message is not visible")
		}
		p.leader("")
		if n := len(p.snapshot().Nodes); n != 5 {
			t.Errorf("%d nodes; the default is 5", n)
		}
		p.noProblems()
	})

	t.Run("ConflictNamed", func(t *testing.T) {
		p := b.openFresh(t, serve(t)+"?embed=1&nodes=3&seed=9&scenario=figure8")
		p.waitFor("the conflict named", `document.getElementById("paramMsg") !== null`)
		msg := eval[string](p, `document.getElementById("paramMsg").textContent`)
		for _, want := range []string{"nodes=3", "scenario figure8 has 5 nodes", "seed=9"} {
			if !strings.Contains(msg, want) {
				t.Errorf("the message %q does not name %q", msg, want)
			}
		}
		if n := len(p.snapshot().Nodes); n != 5 {
			t.Errorf("%d nodes; the scenario's 5 were to be shown", n)
		}
		if !eval[bool](p, `document.getElementById("paramMsg").getBoundingClientRect().height > 0`) {
			t.Errorf("the message is not visible")
		}
		p.noProblems()
	})

	t.Run("Screenshots800x500", func(t *testing.T) {
		for name, q := range map[string]string{
			"embed-free.png":   "?embed=1&nodes=3&seed=3",
			"embed-guided.png": "?embed=1&scenario=partition&theme=dark",
		} {
			p := b.openFresh(t, serve(t)+q)
			p.do(chromedp.EmulateViewport(800, 500))
			p.leader("")
			time.Sleep(500 * time.Millisecond) // let a few frames draw
			p.screenshot(name)
			if w := eval[float64](p, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
				t.Errorf("%s: the embedded page is %v px wider than 800", q, w)
			}
			// The ring whole and at least one card in the frame, beside the guided text.
			if !eval[bool](p, `(() => {
				const inside = (r) => r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight + 1 && r.right <= innerWidth + 1;
				const ring = document.getElementById("svg").getBoundingClientRect();
				const card = document.querySelector(".card");
				return inside(ring) && ring.height >= 150 && card !== null && inside(card.querySelector("header").getBoundingClientRect());
			})()`) {
				t.Errorf("%s: at 800×500 the ring (%s) or a card's header (%s) is not wholly in the frame", q,
					eval[string](p, `JSON.stringify(document.getElementById("svg").getBoundingClientRect())`),
					eval[string](p, `JSON.stringify(document.querySelector(".card header")?.getBoundingClientRect() ?? null)`))
			}
			if strings.Contains(q, "scenario") && !eval[bool](p, `(r => r.height > 0 && r.top < innerHeight)(document.getElementById("guide").getBoundingClientRect())`) {
				t.Errorf("%s: the guided text is not in the frame", q)
			}
			p.noProblems()
		}
	})
}

func TestBrowserBreakIt(t *testing.T) {
	b := startBrowser(t)

	t.Run("ViolationNamedAndReplayedToJustBefore", func(t *testing.T) {
		// As wasm's TestBreakItViolationAndReplayBeforeIt: with ForgetVote, n2 votes twice in term 1.
		run := &sim.Run{Version: sim.RunVersion, Nodes: 3, Seed: 1, Bugs: raft.Bugs{ForgetVote: true}, Actions: []sim.Action{
			{At: 0, Kind: sim.ActCut, Node: "n1", Peer: "n3"},
			{At: 0, Kind: sim.ActLinkLatency, Node: "n1", Peer: "n2", Min: 50 * time.Millisecond, Max: 50 * time.Millisecond},
			{At: 0, Kind: sim.ActTimeout, Node: "n1"},
			{At: 120 * time.Millisecond, Kind: sim.ActDisconnect, Node: "n1"},
			{At: 121 * time.Millisecond, Kind: sim.ActCrash, Node: "n2"},
			{At: 122 * time.Millisecond, Kind: sim.ActRestart, Node: "n2"},
			{At: 123 * time.Millisecond, Kind: sim.ActTimeout, Node: "n3"},
		}}
		p := b.openFresh(t, serve(t)+"?t=1000&run="+url.QueryEscape(run.Encode()))
		p.waitFor("the violation shown", `!document.getElementById("banner").hidden && document.getElementById("bannerText").textContent.includes("Election Safety")`)
		msg := eval[string](p, `document.getElementById("bannerText").textContent`)
		for _, want := range []string{"n1 and n3 are both leaders of term 1", "seed=1", "event:"} {
			if !strings.Contains(msg, want) {
				t.Errorf("the violation %q does not name %q", msg, want)
			}
		}
		if !eval[bool](p, `!document.getElementById("brokenBadge").hidden && document.getElementById("brokenBadge").textContent.includes("ForgetVote") && document.querySelector("input[data-bug=ForgetVote]").checked`) {
			t.Errorf("the planted switch is not marked")
		}
		p.screenshot("breakit-violation.png")
		at := p.timeline()
		p.click("#beforeViolation")
		p.waitFor("the run before the violation", `document.getElementById("banner").hidden`)
		if before := p.timeline(); at.ViolationAt < 123 || before.Now >= at.ViolationAt || before.ViolationAt != -1 {
			t.Errorf("replayed to %+v; the violation came at %v ms", before, at.ViolationAt)
		}
		for i := 0; i < 60 && eval[bool](p, `document.getElementById("banner").hidden`); i++ {
			p.do(chromedp.KeyEvent(kb.ArrowRight))
			time.Sleep(20 * time.Millisecond)
		}
		p.waitFor("the violation again after stepping", `!document.getElementById("banner").hidden && document.getElementById("bannerText").textContent.includes("n1 and n3 are both leaders of term 1")`)
		p.noProblems()
	})

	t.Run("PreVoteOption", func(t *testing.T) {
		p := b.openFresh(t, serve(t))
		p.leader("")
		p.click("#options summary")
		p.click(`input[data-option=PreVote]`)
		p.waitFor("pre-vote on", `JSON.stringify(JSON.parse(raftlabWasm.timeline()).options) === '["PreVote"]'`)
		if !eval[bool](p, `document.getElementById("brokenBadge").hidden`) {
			t.Errorf("pre-vote is an option, not a bug: the BROKEN badge shows")
		}
		lead := p.leader("")
		follower := eval[string](p, `document.querySelector(".card:not([data-state=leader])").dataset.node`)
		p.click(fmt.Sprintf(`.card[data-node=%s] button[data-act=disconnect]`, follower))
		p.waitFor(follower+" shown as a pre-candidate", fmt.Sprintf(`document.querySelector(".card[data-node=%s]").dataset.state === "pre-candidate"`, follower))
		p.click(fmt.Sprintf(`.card[data-node=%s] button[data-act=reconnect]`, follower))
		p.waitFor(follower+" following again", fmt.Sprintf(`document.querySelector(".card[data-node=%s]").dataset.state === "follower"`, follower))
		if now := p.leader(""); now != lead {
			t.Errorf("with pre-vote a reconnected follower deposed %s (now %s leads)", lead, now)
		}
		p.screenshot("prevote.png")
		p.click(`input[data-option=PreVote]`)
		p.waitFor("free play again", `JSON.parse(raftlabWasm.timeline()).memory === "" && JSON.parse(raftlabWasm.timeline()).options.length === 0`)
		p.noProblems()
	})

	t.Run("SwitchesRestartInMemoryAndOffReturnsToFreePlay", func(t *testing.T) {
		p := b.openFresh(t, serve(t))
		p.leader("")
		p.click("#breakIt summary")
		p.click(`input[data-bug=IgnoreHigherTerm]`)
		p.waitFor("the switch planted", `JSON.stringify(JSON.parse(raftlabWasm.timeline()).bugs) === '["IgnoreHigherTerm"]'`)
		if tl := p.timeline(); tl.Memory == "" {
			t.Errorf("a broken cluster runs on localStorage; it should be in memory")
		}
		if !eval[bool](p, `!document.getElementById("brokenBadge").hidden`) {
			t.Errorf("no BROKEN badge")
		}
		p.leader("")
		p.screenshot("breakit-switch.png")
		p.click(`input[data-bug=IgnoreHigherTerm]`)
		p.waitFor("free play again", `JSON.parse(raftlabWasm.timeline()).memory === "" && JSON.parse(raftlabWasm.timeline()).bugs.length === 0`)
		// The broken run wrote nothing to localStorage: only the free-play cluster's keys are there.
		if n := eval[int](p, `Object.keys(localStorage).filter(k => !k.startsWith("raftlab/lab5/")).length`); n != 0 {
			t.Errorf("%d keys outside the free-play cluster", n)
		}
		p.noProblems()
	})
}

// hostPage serves, on its own origin, a course page that embeds the lab at labURL and talks
// to it only through postMessage: window.call(method, ...args) resolves to the lab's answer.
func hostPage(tb testing.TB, labURL string) string {
	tb.Helper()
	html := `<!doctype html><html><head><meta charset="utf-8"><link rel="icon" href="data:,"><title>host</title></head><body>
<iframe id="f" width="800" height="500" src="` + labURL + `"></iframe>
<script>
let seq = 0; const waiting = {};
window.labReady = false;
window.addEventListener("message", (e) => {
  const d = e.data;
  if (d && d.raftlab === "ready") window.labReady = true;
  if (d && d.raftlab in waiting) { waiting[d.raftlab](d); delete waiting[d.raftlab]; }
});
window.call = (method, ...args) => new Promise((done) => {
  const id = ++seq; waiting[id] = done;
  document.getElementById("f").contentWindow.postMessage({ raftlab: id, method, args }, "*");
  setTimeout(() => { if (waiting[id]) { delete waiting[id]; done({ raftlab: id, error: "no answer within 10 s" }); } }, 10000);
});
</script></body></html>`
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		io.WriteString(w, html)
	})}
	go srv.Serve(ln)
	tb.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

func TestBrowserHostAPI(t *testing.T) {
	b := startBrowser(t)

	t.Run("WindowRaftlab", func(t *testing.T) {
		p := b.openFresh(t, serve(t))
		lead := p.leader("")
		if got := eval[bool](p, fmt.Sprintf(`raftlab.crash(%q) === null`, lead)); !got {
			t.Errorf("crash(%s) did not return null", lead)
		}
		p.waitFor("the crash drawn", fmt.Sprintf(`document.querySelector(".card[data-node=%s]").dataset.state === "dead"`, lead))
		if msg := eval[string](p, `(() => { try { raftlab.crash("n9"); return ""; } catch (e) { return e.message; } })()`); !strings.Contains(msg, "n9") {
			t.Errorf("crash(n9) threw %q; want an error naming n9", msg)
		}
		p.waitFor("a new leader", fmt.Sprintf(`(l => l !== "" && l !== %q)(raftlab.status().leader)`, lead))
		eval[bool](p, `raftlab.submit("put z 9") === null`)
		p.kvOnLive("z", "9")
		newLead := eval[string](p, "raftlab.status().leader")
		to := eval[string](p, fmt.Sprintf(`raftlab.status().nodes.find((n) => n.state === "follower" && n.id !== %q).id`, lead))
		if !eval[bool](p, fmt.Sprintf(`raftlab.transfer(%q) === null`, to)) {
			t.Errorf("transfer(%s) did not return null", to)
		}
		p.waitFor(to+" leading after the transfer from "+newLead, fmt.Sprintf(`raftlab.status().leader === %q`, to))
		eval[bool](p, fmt.Sprintf(`raftlab.restart(%q) === null && raftlab.partition(["n1", "n2"], ["n3", "n4", "n5"]) === null`, lead))
		p.waitFor("six links cut", `JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).cut.length === 6`)
		eval[bool](p, `raftlab.load(true) === null`)
		p.waitFor("the client load on, as the checkbox shows", `document.getElementById("load").checked && raftlab.history().ops.some(o => o.src === "load")`)
		if msg := eval[string](p, `(() => { try { raftlab.load("yes"); return ""; } catch (e) { return e.message; } })()`); !strings.Contains(msg, "true or false") {
			t.Errorf("load(\"yes\") threw %q; want an error asking for true or false", msg)
		}
		eval[bool](p, `raftlab.load(false) === null`)
		p.waitFor("the client load off", `!document.getElementById("load").checked`)
		eval[bool](p, `raftlab.heal() === null && raftlab.pause() === null`)
		st := evalJSON[struct {
			Now     float64 `json:"now"`
			Running bool    `json:"running"`
			Nodes   []struct {
				State string `json:"state"`
			} `json:"nodes"`
		}](p, `JSON.stringify(raftlab.status())`)
		if st.Running || len(st.Nodes) != 5 {
			t.Errorf("status after pause: %+v", st)
		}
		hash := eval[string](p, "raftlab.traceHash()")
		half := float64(int(st.Now / 2))
		eval[bool](p, fmt.Sprintf(`raftlab.seek(%v) === null`, half))
		if now := eval[float64](p, `raftlab.status().now`); now != half {
			t.Errorf("after seek(%v): now %v", half, now)
		}
		eval[bool](p, fmt.Sprintf(`raftlab.seek(%v) === null`, st.Now))
		if got := eval[string](p, "raftlab.traceHash()"); got != hash {
			t.Errorf("seek back and forward: trace %s; was %s", got, hash)
		}
		p.noProblems()
	})

	t.Run("PostMessageFromAnotherOrigin", func(t *testing.T) {
		lab := serve(t)
		p := b.openFreshHost(t, hostPage(t, lab+"?embed=1&nodes=3&seed=4"))
		if !eval[bool](p, `(() => { try { return document.getElementById("f").contentWindow.raftlab === undefined; } catch (e) { return true; } })()`) {
			t.Fatalf("the host page can reach into the lab: it is not cross-origin")
		}
		p.waitFor("the lab's ready message", `window.labReady`)
		p.waitFor("a leader through postMessage", `window.call("status").then(r => !!(r.result && r.result.leader))`)
		lead := eval[string](p, `(async () => {
			let r;
			for (let i = 0; i < 500; i++) { // a new election may be under way: ask until a leader is known
				r = await window.call("status");
				if (r.result && r.result.leader) return r.result.leader;
				await new Promise((done) => setTimeout(done, 20));
			}
			return "no leader: " + JSON.stringify(r);
		})()`)
		if strings.HasPrefix(lead, "no leader") {
			t.Fatal(lead)
		}
		if r := eval[string](p, `window.call("submit", "put h 1").then(() => window.call("history")).then(r => JSON.stringify(r.result.ops.map(o => o.op + " " + o.key)))`); r != `["put h"]` {
			t.Errorf("history through postMessage after a submit: %s", r)
		}
		if r := eval[string](p, fmt.Sprintf(`window.call("crash", %q).then(r => JSON.stringify(r))`, lead)); !strings.Contains(r, `"result":null`) {
			t.Errorf("crash through postMessage: %s", r)
		}
		p.waitFor("the crash seen through postMessage", fmt.Sprintf(`window.call("status").then(r => r.result.nodes.find(n => n.id === %q).state === "dead")`, lead))
		if r := eval[string](p, `window.call("load", true).then(r => JSON.stringify(r))`); !strings.Contains(r, `"result":null`) {
			t.Errorf("load through postMessage: %s", r)
		}
		p.waitFor("the client load's commands through postMessage", `window.call("history").then(r => r.result.ops.some(o => o.src === "load"))`)
		if r := eval[string](p, `window.call("load", false).then(r => JSON.stringify(r))`); !strings.Contains(r, `"result":null`) {
			t.Errorf("load(false) through postMessage: %s", r)
		}
		if r := eval[string](p, `window.call("bogus").then(r => r.error || "")`); !strings.Contains(r, "unknown method") {
			t.Errorf("an unknown method: %q", r)
		}
		if r := eval[string](p, `window.call("submit", 42).then(r => r.error || "")`); !strings.Contains(r, "submit") {
			t.Errorf("a bad argument: %q", r)
		}
		if h := eval[string](p, `window.call("traceHash").then(r => r.result)`); len(h) != 16 {
			t.Errorf("traceHash through postMessage: %q", h)
		}
		// history() and checkHistory() (a promise in the lab: answered when it settles).
		if r := eval[string](p, `window.call("checkHistory").then(r => r.result ? r.result.outcome : r.error)`); r != "linearizable" {
			t.Errorf("checkHistory through postMessage: %q", r)
		}
		p.noProblems()
	})
}

func TestBrowserTimeline(t *testing.T) {
	b := startBrowser(t)
	p := b.openFresh(t, serve(t)+"?seed=3")
	lead := p.leader("")
	p.click("#timelineBox summary")
	p.waitFor("messages drawn as arrows", `document.querySelectorAll("#timelineSvg line.msg").length > 0`)
	p.waitFor("a lane per node", `[...document.querySelectorAll("#timelineSvg text")].filter(e => /^n\d$/.test(e.textContent)).length === 5`)
	p.click("#tlOut")
	p.click("#tlOut") // 10 s: the election is in view
	p.waitFor("the leader marked", `document.querySelector("#timelineSvg .mark.leader") !== null`)
	p.click(fmt.Sprintf(`.card[data-node=%s] button[data-act=crash]`, lead))
	p.waitFor("the crash marked", `document.querySelector("#timelineSvg .mark.crash") !== null`)
	p.leader(lead) // a command needs a leader: wait for the next one before submitting
	p.submit("put t 1")
	p.click("#unreliable")
	p.waitFor("a commit marked", `document.querySelector("#timelineSvg .mark.commit") !== null`)
	p.waitFor("a lost message marked", `document.querySelector("#timelineSvg line.msg.dropped") !== null`)
	p.click("#tlIn")
	p.click("#tlIn")
	p.click("#tlIn") // 300 ms: the diagram scrolls with time
	p.screenshot("timeline.png")
	first := eval[string](p, `document.querySelector("#timelineSvg line.msg").getAttribute("x1")`)
	p.waitFor("the diagram scrolled", fmt.Sprintf(`document.querySelector("#timelineSvg line.msg").getAttribute("x1") !== %q`, first))
	p.click("#tlExport")
	p.waitFor("the SVG file", `(document.getElementById("tlDownload")?.dataset.svg ?? "").startsWith("<?xml")`)
	if !eval[bool](p, `(() => {
		const doc = new DOMParser().parseFromString(document.getElementById("tlDownload").dataset.svg, "image/svg+xml");
		return doc.querySelector("parsererror") === null && doc.documentElement.localName === "svg" &&
			doc.querySelectorAll("line.msg").length > 0 && document.getElementById("tlDownload").download.endsWith(".svg");
	})()`) {
		t.Errorf("the exported file is not an SVG with the messages")
	}
	p.noProblems()
}
