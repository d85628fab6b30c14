//go:build !js

// The mixed cluster in a real browser: two native members in the server and three browser
// members in one page.

package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"raftlab/server/wire"
)

func TestBrowserMixedCluster(t *testing.T) {
	b := startBrowser(t)
	base, m, _ := startMixed(t, "127.0.0.1:0", t.TempDir())
	info := func() apiCluster { return clusterInfo(t, base) }
	browserUp := func() bool { return browsersUp(info()) }

	p := b.open(t, "http://"+base+"/?cluster=demo")
	waitUntil(t, "the page's three members to join", browserUp)
	waitUntil(t, "a leader", func() bool { return info().Leader != "" })
	p.waitFor("every member in the table", `document.querySelectorAll("#members tr[data-id]").length === 5`)
	// The mixed page's own module: nothing of the simulator is downloaded.
	if got := eval[string](p, `performance.getEntriesByType("resource").map((e) => e.name.split("/").pop()).filter((n) => n.endsWith(".wasm")).join(",")`); got != "mixed.wasm" {
		t.Errorf("the mixed page fetched the modules %q; want mixed.wasm alone", got)
	}
	p.waitFor("the real-time notice", `document.getElementById("mixedNote").textContent.includes("pause, step and speed are off") && document.getElementById("play").disabled`)
	pageSubmit(p, "put x 1")
	p.screenshot("mixed-5.png")

	// Stop the native members: the page's three are a majority and carry on.
	before := info()
	for _, n := range m.natives {
		m.hub.DetachLocal(m.cluster, n.id)
		n.node.Stop()
	}
	waitUntil(t, "a leader in the page", func() bool { return strings.HasPrefix(info().Leader, "b") })
	pageSubmit(p, "put y 2")
	p.waitFor("n1 shown unreachable", `[...document.querySelectorAll("#members tr[data-id=n1] td")][2].textContent === "no"`)
	// The hub drops what the others still send to n1, and the table says so.
	p.waitFor("drops to n1 shown", `/^\d+ unreachable/.test([...document.querySelectorAll("#members tr[data-id=n1] td")][8].textContent)`)
	if c := info(); c.Term < before.Term {
		t.Errorf("term went back from %d to %d", before.Term, c.Term)
	}

	// Reload: the page's members restore from localStorage and rejoin.
	lasts := map[string]uint64{}
	for _, id := range []string{"b1", "b2", "b3"} {
		lasts[id] = info().member(id).Last
	}
	p.do(chromedp.Reload())
	p.waitReady()
	waitUntil(t, "the page's members to rejoin after the reload", browserUp)
	var snap struct{ Events []string }
	json.Unmarshal([]byte(eval[string](p, "raftlabWasm.mixedSnapshot()")), &snap)
	for _, id := range []string{"b1", "b2", "b3"} {
		found := false
		for _, e := range snap.Events {
			i := strings.Index(e, id+" started: ")
			if i < 0 {
				continue
			}
			var term, n uint64
			if _, err := fmt.Sscanf(e[i:], id+" started: term %d, %d log entries", &term, &n); err == nil {
				found = true
				if n < lasts[id] || n == 0 {
					t.Errorf("%s restored %d log entries; it had %d", id, n, lasts[id])
				}
			}
		}
		if !found {
			t.Errorf("no restart of %s in the page's events: %q", id, snap.Events)
		}
	}
	waitUntil(t, "a leader after the reload", func() bool { return strings.HasPrefix(info().Leader, "b") })
	pageSubmit(p, "get y")
	p.waitFor("get y answered 2", `document.getElementById("submitMsg").textContent.endsWith('→ "2"')`)
	p.screenshot("mixed-reloaded.png")

	// Crash and restart a follower from the page; its peers see it dead, then back.
	var follower string
	for _, id := range []string{"b1", "b2", "b3"} {
		if id != info().Leader {
			follower = id
			break
		}
	}
	p.click(fmt.Sprintf(`#members tr[data-id=%s] button[data-act=crash]`, follower))
	waitUntil(t, follower+" reported dead", func() bool { return info().member(follower).State == "dead" })
	p.click(fmt.Sprintf(`#members tr[data-id=%s] button[data-act=restart]`, follower))
	waitUntil(t, follower+" running again", func() bool { return info().member(follower).State == "follower" })

	// A second tab that asks for a member this one hosts is refused, and says why.
	p2 := b.open(t, "http://"+base+"/?cluster=demo&members=b1")
	p2.waitFor("the refusal", `!document.getElementById("banner").hidden && document.getElementById("bannerText").textContent.includes("member b1 is already hosted by a browser connection")`)
	pageSubmit(p, "get x")
	p.noProblems()
}

// pageSubmit types a command into the page's client and waits for it to commit.
func pageSubmit(p *page, cmd string) {
	p.tb.Helper()
	p.do(chromedp.SetValue(chromedp.CSS("#cmd"), cmd), chromedp.Click(chromedp.CSS(`#submitForm button[type=submit]`)))
	p.waitFor("the command "+cmd+" committed", fmt.Sprintf(`document.getElementById("submitMsg").textContent.startsWith(%q + " committed at index")`, cmd))
}

// With -prevote, every member runs pre-vote wherever it runs: a member the page disconnects
// becomes a pre-candidate and its term stays, and the leader keeps leading.
func TestBrowserMixedClusterPreVote(t *testing.T) {
	b := startBrowser(t)
	base, _, _ := startMixedWith(t, "127.0.0.1:0", t.TempDir(), wire.Options{PreVote: true})
	info := func() apiCluster { return clusterInfo(t, base) }
	p := b.open(t, "http://"+base+"/?cluster=demo")
	deadline := time.Now().Add(30 * time.Second)
	for c := info(); !browsersUp(c) || c.Leader == ""; c = info() {
		if time.Now().After(deadline) {
			t.Fatalf("no leader with the page's members joined: %+v\npage events: %s", c, eval[string](p, "raftlabWasm.mixedSnapshot()"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	c := info()
	var cut string
	for _, id := range []string{"b1", "b2", "b3"} {
		if id != c.Leader {
			cut = id
			break
		}
	}
	p.click(fmt.Sprintf(`#members tr[data-id=%s] button[data-act=disconnect]`, cut))
	waitUntil(t, cut+" to become a pre-candidate", func() bool { return info().member(cut).State == "pre-candidate" })
	if got := info().member(cut).Term; got != c.Term {
		t.Errorf("%s moved from term %d to %d while cut off; with pre-vote it keeps its term", cut, c.Term, got)
	}
	p.click(fmt.Sprintf(`#members tr[data-id=%s] button[data-act=reconnect]`, cut))
	waitUntil(t, cut+" to follow again", func() bool { return info().member(cut).State == "follower" })
	if now := info(); now.Leader != c.Leader || now.Term != c.Term {
		t.Errorf("after the reconnect %s leads term %d; want %s still leading term %d", now.Leader, now.Term, c.Leader, c.Term)
	}
	p.noProblems()
}
