//go:build !js

// The mixed cluster in a real browser: two native members in the server and three browser
// members in one page.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"raftlab/raft/wire"
	"raftlab/server/internal/member"
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
	var snap struct{ Events []struct{ Text string } }
	json.Unmarshal([]byte(eval[string](p, "raftlabWasm.mixedSnapshot()")), &snap)
	for _, id := range []string{"b1", "b2", "b3"} {
		found := false
		for _, ev := range snap.Events {
			e := ev.Text
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
	p.click(fmt.Sprintf(`.card[data-node=%s] button[data-act=crash]`, follower))
	waitUntil(t, follower+" reported dead", func() bool { return info().member(follower).State == "dead" })
	p.click(fmt.Sprintf(`.card[data-node=%s] button[data-act=restart]`, follower))
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
	// Settled: every page member joined and reports the leader's term (a member's report can
	// lag the leader's by one status interval; the term is compared below).
	settled := func(c apiCluster) bool {
		if !browsersUp(c) || c.Leader == "" {
			return false
		}
		for _, id := range []string{"b1", "b2", "b3"} {
			if c.member(id).Term != c.Term {
				return false
			}
		}
		return true
	}
	var c apiCluster
	for c = info(); !settled(c); c = info() {
		if time.Now().After(deadline) {
			t.Fatalf("no leader with the page's members joined: %+v\npage events: %s", c, eval[string](p, "raftlabWasm.mixedSnapshot()"))
		}
		time.Sleep(50 * time.Millisecond)
	}
	var cut string
	for _, id := range []string{"b1", "b2", "b3"} {
		if id != c.Leader {
			cut = id
			break
		}
	}
	p.click(fmt.Sprintf(`.card[data-node=%s] button[data-act=disconnect]`, cut))
	waitUntil(t, cut+" to become a pre-candidate", func() bool { return info().member(cut).State == "pre-candidate" })
	if got := info().member(cut).Term; got != c.Term {
		t.Errorf("%s moved from term %d to %d while cut off; with pre-vote it keeps its term", cut, c.Term, got)
	}
	p.click(fmt.Sprintf(`.card[data-node=%s] button[data-act=reconnect]`, cut))
	waitUntil(t, cut+" to follow again", func() bool { return info().member(cut).State == "follower" })
	if now := info(); now.Leader != c.Leader || now.Term != c.Term {
		t.Errorf("after the reconnect %s leads term %d; want %s still leading term %d", now.Leader, now.Term, c.Leader, c.Term)
	}
	p.noProblems()
}

// The mixed page as rich as the lab: a member in the server (n1), a member process (n2) and
// a member in the page (b1). Every member has a card with its log, commit mark and key-value
// contents from its own report; the event log tells the election; the messages of the page's
// member are drawn on the ring and the timeline; the page's controls act on its member; and
// malformed or foreign answers from the server are told, not drawn.
func TestBrowserMixedPageCards(t *testing.T) {
	b := startBrowser(t)
	base, _, _ := startMixedFlags(t, "127.0.0.1:0", &clusterFlags{cluster: "demo", members: "n1,n2,b1", native: "n1", data: t.TempDir()})
	startMember(t, base, "n2")
	info := func() apiCluster { return clusterInfo(t, base) }

	p := b.open(t, "http://"+base+"/?cluster=demo")
	waitUntil(t, "b1 to join and a leader", func() bool { c := info(); return c.member("b1").State != "" && c.Leader != "" })
	p.waitFor("a card per member", `["n1", "n2", "b1"].every((id) => document.querySelector(".card[data-node=" + id + "]"))`)
	pageSubmit(p, "put x 1")
	pageSubmit(p, "put y 2")
	for _, id := range []string{"n1", "n2", "b1"} {
		card := fmt.Sprintf(`document.querySelector(".card[data-node=%s]")`, id)
		p.waitFor(id+"'s card to show its log with put y 2 committed, the commit mark and its store",
			card+`.querySelector(".log .e.committed:last-child")?.title.includes("put y 2") &&
			 `+card+`.querySelector(".log .commit-mark") !== null &&
			 [...`+card+`.querySelectorAll(".kv .pair")].map((e) => e.textContent).join(" ") === "x=1 y=2" &&
			 /^commit index [1-9]/.test(`+card+`.querySelector(".meta").textContent)`)
	}
	// Only the page's member has the page's controls; every member can be made to lead and
	// be removed.
	if got := eval[string](p, `[...document.querySelectorAll(".card[data-node=n2] .actions button")].filter((b) => !b.hidden).map((b) => b.dataset.act).join(",")`); got != "transfer,remove-server" {
		t.Errorf("n2's card offers %q; want transfer and remove-server alone", got)
	}
	if got := eval[string](p, `[...document.querySelectorAll(".card[data-node=b1] .actions button")].filter((b) => !b.hidden).map((b) => b.dataset.act).join(",")`); got != "crash,restart,disconnect,reconnect,timeout,transfer,remove-server" {
		t.Errorf("b1's card offers %q", got)
	}
	// The event log tells the election, whoever won it.
	p.waitFor("the election in the event log", `[...document.querySelectorAll("#events li")].some((li) => /^(n1|n2|b1) became leader in term \d+$/.test(li.lastChild.textContent.trim()))`)
	// b1's messages pass through the page: dots on the ring, arrows on the timeline.
	p.waitFor("b1's messages drawn on the ring", `document.querySelector("#mixedSvg .msgs circle[data-from=b1], #mixedSvg .msgs circle[data-to=b1]") !== null`)
	p.waitFor("the timeline with b1's messages", `document.getElementById("timelineBox").open && Number(document.getElementById("timelineSvg").dataset.shown) > 0 && document.querySelectorAll("#timelineSvg .mark").length > 0`)
	if !eval[bool](p, `document.getElementById("flightNote").textContent.includes("do not pass through this page and are not drawn")`) {
		t.Error("the legend does not say which messages the page cannot see")
	}
	eval[bool](p, `(window.scrollTo(0, 0), true)`)
	p.do(chromedp.EmulateViewport(1400, 1000))
	p.screenshot("mixed-cards.png") // docs/mixed-page.png
	p.do(chromedp.EmulateViewport(1280, 800))
	// A member's circle brings its card into view.
	eval[bool](p, `document.querySelector("#mixedSvg .node[data-node=n2] circle").dispatchEvent(new MouseEvent("click", {bubbles: true}))`)
	p.waitFor("n2's card highlighted", `document.querySelector(".card[data-node=n2]").classList.contains("flash")`)

	// The page's controls on its member: time it out, crash it, restart it.
	p.click(`.card[data-node=b1] button[data-act=crash]`)
	p.waitFor("b1's card crashed", `document.querySelector(".card[data-node=b1]").dataset.state === "dead"`)
	waitUntil(t, "b1 reported dead", func() bool { return info().member("b1").State == "dead" })
	p.click(`.card[data-node=b1] button[data-act=restart]`)
	p.waitFor("b1's card running", `["follower", "leader", "candidate", "pre-candidate"].includes(document.querySelector(".card[data-node=b1]").dataset.state)`)
	p.click(`.card[data-node=b1] button[data-act=timeout]`)
	p.waitFor("the timeout in the event log", `[...document.querySelectorAll("#events li")].some((li) => li.textContent.includes("b1: election timer fired by hand"))`)
	pageSubmit(p, "put z 3")

	// Bad answers from the server: a foreign cluster, then members of every wrong shape. The
	// page says what is wrong and keeps its last picture; nothing throws.
	eval[bool](p, `(() => { window.realFetch = window.fetch; window.fakeAnswer = JSON.stringify({name: "other", members: []});
		window.fetch = (u, o) => String(u).includes("?detail=1") ? Promise.resolve(new Response(window.fakeAnswer, {status: 200})) : window.realFetch(u, o);; return true })()`)
	p.waitFor("the foreign answer told", `document.getElementById("connState").textContent.includes('answered for cluster "other", not demo')`)
	eval[bool](p, `(() => { window.fakeAnswer = JSON.stringify({name: "demo", leader: 7, term: "x", voters: "n1", members: [
		{id: "n1", state: "king", term: -1, detail: {log: [{t: "a", c: 5}, null], kv: "no", events: [null, 5, {q: 1}], progress: [{}]}},
		{id: "<img src=x>", state: "leader"}, 7, null, {id: "n2", detail: 3, dropped: [1]}]}); return true })()`)
	p.waitFor("the malformed answer drawn as far as it goes", `document.querySelector(".card[data-node=n1] .role").textContent === "unknown" && document.getElementById("connState").dataset.state === "connected"`)
	eval[bool](p, `(() => { window.fakeAnswer = "{not json"; return true })()`)
	p.waitFor("an answer that is not JSON told", `document.getElementById("connState").textContent.includes("not JSON")`)
	eval[bool](p, `(() => { window.fetch = window.realFetch; return true })()`)
	p.waitFor("the cards back", `document.querySelector(".card[data-node=n1] .role").textContent !== "unknown" && document.getElementById("connState").dataset.state !== "lost"`)
	if n := eval[int](p, `document.querySelectorAll("img").length`); n != 0 {
		t.Errorf("the page drew %d images from the server's ids", n)
	}
	// Remove on a card: the leader takes n2 out, and its card goes.
	p.click(`.card[data-node=n2] button[data-act=remove-server]`)
	p.waitFor("n2 removed", `document.getElementById("submitMsg").textContent === "n2 removed; voters b1,n1"`)
	p.waitFor("n2's card gone", `document.querySelector(".card[data-node=n2]") === null && document.querySelectorAll(".card").length === 2`)
	pageSubmit(p, "put w 4")
	p.noProblems()
}

// A cluster of native members only (the README's demo): the page has no member to host, so it
// watches from the server's API, with every member on the ring, in the table and on a card,
// and says so; when the server goes away it says that the cards show the last reports.
func TestBrowserMixedPageWatches(t *testing.T) {
	b := startBrowser(t)
	dataDir := t.TempDir()
	base, _, stop := startMixedFlags(t, "127.0.0.1:0", &clusterFlags{cluster: "demo", members: "n1,n2,n3", native: "n1,n2", data: dataDir})
	n3 := startMember(t, base, "n3")
	info := func() apiCluster { return clusterInfo(t, base) }
	waitUntil(t, "a leader", func() bool { return info().Leader != "" })

	p := b.open(t, "http://"+base+"/?cluster=demo")
	if !eval[bool](p, `document.getElementById("banner").hidden`) {
		t.Fatalf("the page shows an error: %s", eval[string](p, `document.getElementById("bannerText").textContent`))
	}
	p.waitFor("the page to say it watches", `document.getElementById("status").textContent.includes("watching (no browser member left for this page to host)")`)
	p.waitFor("every member on the ring, in the table and on a card", `["n1", "n2", "n3"].every((id) =>
		document.querySelector("#mixedSvg .node[data-node=" + id + "]") && document.querySelector("#members tr[data-id=" + id + "]") && document.querySelector(".card[data-node=" + id + "]"))`)
	p.waitFor("the leader drawn", `document.querySelectorAll("#mixedSvg .node[data-state=leader]").length === 1`)
	p.waitFor("connected", `document.getElementById("connState").dataset.state === "connected"`)
	pageSubmit(p, "put x 1")
	p.waitFor("x=1 on every card", `["n1", "n2", "n3"].every((id) => [...document.querySelectorAll(".card[data-node=" + id + "] .kv .pair")].some((e) => e.textContent === "x=1"))`)
	p.waitFor("the election in the event log", `[...document.querySelectorAll("#events li")].some((li) => /^n[123] became leader in term \d+$/.test(li.lastChild.textContent.trim()))`)
	p.waitFor("the members' marks on the timeline", `document.querySelectorAll("#timelineSvg .mark").length > 0`)
	// Nor has the lab's cluster size (it showed a disabled 5 beside a cluster of three).
	if !eval[bool](p, `document.getElementById("nodes").closest("label").getClientRects().length === 0`) {
		t.Error("the page shows the lab's cluster size")
	}
	// The lab's Set voters has no meaning here: a mixed cluster changes a member at a time.
	if got := eval[string](p, `["setVoters", "voters"].filter((id) => document.getElementById(id).getClientRects().length > 0).join(",")`); got != "" {
		t.Errorf("the page shows the lab's %s", got)
	}
	if !eval[bool](p, `document.getElementById("flightNote").textContent.startsWith("This page hosts no member")`) {
		t.Error("the legend does not say that no message passes through the page")
	}
	p.screenshot("mixed-watching.png")

	// A member the server loses (a killed process) keeps its last report on its card, but the
	// table and the ring do not show its state as if it were current: a killed leader would
	// stand beside the new one.
	n3.Close()
	p.waitFor("n3's state shown as its last report", `/ \(last report\)$/.test([...document.querySelectorAll("#members tr[data-id=n3] td")][3].textContent)`)
	// Down, it is still a native process (it read "native", as if it might be something else).
	if got := eval[string](p, `[...document.querySelectorAll("#members tr[data-id=n3] td")][1].textContent`); got != "native process" {
		t.Errorf("the table says n3 runs in %q; want native process", got)
	}
	p.waitFor("n3's card to say it shows its last report", `document.querySelector(".card[data-node=n3] .err").textContent === "unreachable: the server has no connection to it; this is its last report"`)
	p.waitFor("n3 drawn unknown on the ring", `(g => g.dataset.state === "dead" && g.querySelector(".term").textContent === "?")(document.querySelector("#mixedSvg .node[data-node=n3]"))`)

	// A page that asks to host a native member, or names no cluster, is told why at once (it
	// used to retry every few seconds saying nothing but "Connecting to the server…").
	for _, c := range []struct{ query, want string }{
		{"?cluster=demo&members=n1", "The server refused this page: member n1 runs as a native process; a page hosts only the cluster's browser members"},
		{"?cluster=", "?cluster=\"\": want the name of a cluster the server hosts"},
	} {
		p2 := b.open(t, "http://"+base+"/"+c.query)
		p2.waitFor("the refusal of "+c.query, fmt.Sprintf(`!document.getElementById("banner").hidden && document.getElementById("bannerText").textContent.startsWith(%q)`, c.want))
	}

	stop()
	p.waitFor("the server's loss told", `document.getElementById("connState").dataset.state === "lost" && document.getElementById("connState").textContent.includes("The members' cards show their last report.")`)
	// The event log says it too, and the return: a watching page has no connection whose
	// module would say them (it said neither).
	// The table does not go on saying the server reaches each member.
	p.waitFor("the table's reachable and state as unknown and last reported", `["n1", "n2"].every((id) => (td => td[2].textContent === "?" && / \(last report\)$/.test(td[3].textContent))([...document.querySelectorAll("#members tr[data-id=" + id + "] td")]))`)
	p.waitFor("the loss in the event log", `[...document.querySelectorAll("#events li")].some((li) => li.lastChild.textContent.trim().startsWith("lost the server ("))`)
	// What goes through the server is greyed out while it is away, and says why (each failed
	// only when pressed); n1 was a follower, so its Lead was enabled before.
	const serverControls = `[document.querySelector("#submitForm button[type=submit]"), document.getElementById("batch"), document.getElementById("addNode"),
		...["n1", "n2", "n3"].flatMap((id) => ["transfer", "remove-server"].map((a) => document.querySelector(".card[data-node=" + id + "] button[data-act=" + a + "]")))]`
	p.waitFor("the controls through the server greyed out, with why", serverControls+`.every((b) => b.disabled && b.title.startsWith("the server is away"))`)
	p.screenshot("mixed-server-away.png")
	// Away, the page asks the server less often (500 ms doubling to 2 s; it asked four times a
	// second, each refusal a line in the console): over 3 s, at most 4 reads, where there were 12.
	reads := eval[float64](p, `(() => {
		let n = 0;
		const f = window.fetch;
		window.fetch = (...a) => { if (String(a[0]).startsWith("/api/clusters/")) n++; return f(...a); };
		return new Promise((ok) => setTimeout(() => { window.fetch = f; ok(n); }, 3000));
	})()`)
	if reads > 4 {
		t.Errorf("the page read the server's API %v times in 3 s while it was away; want at most 4", reads)
	}
	_, _, stop2 := startMixedFlags(t, base, &clusterFlags{cluster: "demo", members: "n1,n2,n3", native: "n1,n2", data: dataDir})
	defer stop2()
	p.waitFor("the return in the event log", `[...document.querySelectorAll("#events li")].some((li) => /^reconnected to the server after \d+ s away$/.test(li.lastChild.textContent.trim()))`)
	p.waitFor("the controls back", `(bs => bs.slice(0, 3).every((b) => !b.disabled && !b.title.startsWith("the server is away")) &&
		bs.slice(3).some((b) => !b.disabled) && bs.every((b) => !b.title.startsWith("the server is away")))(`+serverControls+`)`)
	pageSubmit(p, "put x 2")
	p.waitFor("x=2 on every card", `["n1", "n2"].every((id) => [...document.querySelectorAll(".card[data-node=" + id + "] .kv .pair")].some((e) => e.textContent === "x=2"))`)
	p.noProblemsBut("Failed to load resource", "net::ERR_CONNECTION_REFUSED")
}

// TestBrowserMixedLead: the Lead button of every card, whoever hosts the member, makes it lead:
// the server asks the leader's host (the server for n1, a node process for n2, the page for
// b1) to hand over, and the page says who leads now. Each of the three hands over once.
func TestBrowserMixedLead(t *testing.T) {
	b := startBrowser(t)
	base, _, _ := startMixedFlags(t, "127.0.0.1:0", &clusterFlags{cluster: "demo", members: "n1,n2,b1", native: "n1", data: t.TempDir()})
	startMember(t, base, "n2")
	info := func() apiCluster { return clusterInfo(t, base) }
	p := b.open(t, "http://"+base+"/?cluster=demo")
	waitUntil(t, "b1 to join and a leader", func() bool { c := info(); return c.member("b1").State != "" && c.Leader != "" })
	pageSubmit(p, "put x 1")
	order := []string{"n1", "n2", "b1"}
	from := info().Leader
	i := slices.Index(order, from)
	for k := 1; k <= 3; k++ {
		to := order[(i+k)%3]
		card := fmt.Sprintf(`.card[data-node=%s] button[data-act=transfer]`, to)
		p.waitFor(to+"'s Lead button enabled", fmt.Sprintf(`!document.querySelector(%q).disabled`, card))
		p.click(card)
		p.waitFor(to+" leading, as the page says", fmt.Sprintf(`/^%s leads term \d+ \(%s handed over\)$/.test(document.getElementById("submitMsg").textContent)`, to, from))
		if c := info(); c.Leader != to {
			t.Fatalf("after Lead on %s's card: the API says %s leads", to, c.Leader)
		}
		p.waitFor(to+"'s Lead button disabled once it leads", fmt.Sprintf(`document.querySelector(%q).disabled`, card))
		pageSubmit(p, "put x "+to)
		from = to
	}
	p.noProblems()
}

// startMember runs member id of cluster demo in this process, as a server node process would,
// joined to the server at base; it is closed when the test ends.
func startMember(t *testing.T, base, id string) *member.Member {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := member.Start(ctx, member.Config{URL: "ws://" + base + "/ws", Cluster: "demo", ID: id, DataDir: t.TempDir(), Logf: t.Logf})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}
