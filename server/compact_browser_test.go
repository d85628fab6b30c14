//go:build !js

package main

import (
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"
)

// storedChars is the characters the lab keeps in localStorage (keys and values), as browsers
// count them against the quota.
const storedChars = `Object.keys(localStorage).filter(k => k.startsWith("raftlab/")).reduce((n, k) => n + k.length + localStorage.getItem(k).length, 0)`

// TestBrowserCompaction runs the free-play lab at max speed with the client load on: nodes
// compact their logs (the cards show their snapshots), localStorage stays small however long it
// runs, no node dies, and a reload restores every node from its snapshot and its log.
func TestBrowserCompaction(t *testing.T) {
	b := startBrowser(t)
	p := b.open(t, serve(t)+"?nodes=5&seed=3")
	p.leader("")
	p.click("#load")
	p.do(chromedp.SetValue(chromedp.CSS("#speed"), "100"))
	eval[bool](p, `(document.getElementById("speed").dispatchEvent(new Event("input")), true)`)
	// A snapshot on every node: more than 100 commands applied everywhere (the page's default
	// threshold). How flat storage stays over a long run: TestLabCompactionKeepsStorageSmall
	// and BenchmarkStoredCharacters in wasm/.
	p.waitFor("every node's first snapshot", `JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).nodes.every(n => (n.snapIndex ?? 0) > 100)`)
	p.waitFor("the cards showing the snapshots", `[...document.querySelectorAll(".card .log .snap")].every(e => /^snapshot ≤ \d+, term \d+, \d+ B$/.test(e.textContent))`)
	chars := eval[int](p, storedChars)
	s := p.snapshot()
	t.Logf("at %.1f simulated s: %d characters in localStorage", s.Now/1000, chars)
	if chars > 100_000 {
		t.Errorf("localStorage holds %d characters after more than 100 commands; want well under 100,000 with compaction", chars)
	}
	for _, n := range s.Nodes {
		if n.State == "dead" {
			t.Errorf("%s died", n.ID)
		}
	}
	// Pause, then reload: every node restores its snapshot and its log.
	p.do(chromedp.KeyEvent(" "))
	// (The load is off after a reload, so each node's snapshot stays where it was.)
	before := eval[string](p, `JSON.stringify(JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).nodes.map(n => [n.id, n.snapIndex]))`)
	p.do(chromedp.Reload())
	p.waitReady()
	p.waitFor("every node restored from its snapshot", fmt.Sprintf(`JSON.stringify(JSON.parse(raftlabWasm.snapshot(1e15, 1e15)).nodes.map(n => [n.id, n.snapIndex])) === %q`, before))
	p.waitFor("the restore told in the event log", `[...document.querySelectorAll("#events li, .events li")].some(e => e.textContent.includes("a snapshot up to index"))`)
	p.noProblems()
}
