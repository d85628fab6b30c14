//go:build !js

package main

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBrowserMembership: Add node brings n4 into a three-node cluster, drawn as a learner
// until it has caught up, then as a voter; Remove on the leader's card takes it out, the others
// elect a leader among themselves (its card says it was removed, and Restart is off: only adding
// it again brings it back), and commands still commit; the host API does the same.
func TestBrowserMembership(t *testing.T) {
	b := startBrowser(t)
	p := b.open(t, serve(t)+"?nodes=3&seed=7")
	leader := p.leader("")
	p.click("#addNode")
	p.waitFor("n4's card, a voter", `document.querySelector('.card[data-node="n4"][data-role="voter"]') !== null`)
	p.waitFor("n4 in the cluster view", `document.querySelector('g[data-role="voter"]') !== null && document.querySelectorAll("#svg g[data-state]").length === 4`)
	p.waitFor("the story in the event log", `[...document.querySelectorAll("#events li")].some(e => e.textContent.includes("n4 joins as a learner")) && [...document.querySelectorAll("#events li")].some(e => e.textContent.includes("n4 caught up and becomes a voter"))`)
	p.click(`.card[data-node="` + leader + `"] button[data-act="remove-server"]`)
	p.waitFor("a new leader without "+leader, `(l => l !== null && l.dataset.node !== "`+leader+`")(document.querySelector(".card[data-state=leader]")) && document.querySelector('.card[data-node="`+leader+`"]').dataset.state === "dead"`)
	p.waitFor(leader+"'s card saying it was removed, its Restart off", `(c => c.dataset.role === "removed" && c.querySelector(".conf").textContent.startsWith("removed from the cluster") && c.querySelector('button[data-act="restart"]').disabled)(document.querySelector('.card[data-node="`+leader+`"]'))`)
	p.submit("put m 1")
	p.waitFor("put m 1 applied on the three voters", `[...document.querySelectorAll('.card[data-role="voter"]')].filter(c => [...c.querySelectorAll(".kv .pair")].some(e => e.textContent === "m=1")).length === 3`)
	// The host API: bad arguments and refused changes throw with the reason, and change nothing.
	for js, want := range map[string]string{
		`raftlab.removeNode()`:          `removeNode: want a node's id, such as "n2"`,
		`raftlab.removeNode("n9")`:      "refused to remove n9: n9 is not a member",
		`raftlab.addNode("n16")`:        `add "n16": servers are named n1 to n15`,
		`raftlab.setVoters("n1", "n1")`: "set voters: n1 is named twice",
	} {
		if got := eval[string](p, `(() => { try { `+js+`; return "no error" } catch (e) { return e.message } })()`); !strings.Contains(got, want) {
			t.Errorf("%s: %q; want %q", js, got, want)
		}
	}
	if n := eval[int](p, `document.querySelectorAll(".card").length`); n != 4 {
		t.Errorf("%d cards after the refused changes; want 4", n)
	}
	// The host API: addNode brings the removed node back.
	p.waitFor("addNode", `(window.raftlab.addNode("`+leader+`"), true)`)
	p.waitFor(leader+" back as a voter", `document.querySelector('.card[data-node="`+leader+`"][data-role="voter"]') !== null`)
	p.screenshot("membership.png")
	p.noProblems()
}

// TestBrowserJointConsensus: the guided scenario "joint consensus" asks for Set voters with
// n4 n5 n6 filled in, highlighted and scrolled into view; pressing it replaces the three
// servers, the next step's narration comes back into view, the cards show
// the joint configuration at its step, and n4…n6 end up leading alone.
func TestBrowserJointConsensus(t *testing.T) {
	b := startBrowser(t)
	p := b.open(t, serve(t)+"?scenario=joint-consensus&step=3")
	p.waitFor("step 3 asking for Set voters", `document.getElementById("guideState")?.dataset.ask === "set-voters" && document.getElementById("setVoters").classList.contains("asked")`)
	p.waitFor("the voters filled in", `document.getElementById("voters").value === "n4 n5 n6"`)
	p.waitFor("Set voters scrolled into view", `(r => r.top >= 0 && r.bottom <= innerHeight)(document.getElementById("setVoters").getBoundingClientRect())`)
	p.click("#setVoters")
	p.waitFor("step 3 at its pause point", `document.getElementById("guideState")?.dataset.done === "1"`)
	p.click("#guideNext")
	p.waitFor("step 4's narration back in view", `document.querySelector("#guide h3")?.textContent.startsWith("Step 4") && document.getElementById("guide").getBoundingClientRect().top >= 0`)
	p.waitFor("a card showing the joint configuration", `[...document.querySelectorAll(".card .conf")].some(e => e.textContent.includes("joint n1,n2,n3 → n4,n5,n6"))`)
	p.screenshot("joint-consensus.png")
	p.click("#guideNext")
	p.waitFor("step 5: n1 stopped", `document.getElementById("guideState")?.dataset.done === "1" && document.querySelector('.card[data-node="n1"]').dataset.state === "dead"`)
	p.waitFor("the story in the event log", `[...document.querySelectorAll("#events li")].some(e => e.textContent.includes("joint consensus begins")) && [...document.querySelectorAll("#events li")].some(e => e.textContent.includes("joint consensus ends"))`)
	p.noProblems()
}

// TestBrowserMembershipAsksInAnEmbed: an embed hides the client panel, but a guided step that
// asks for Add node or Set voters shows and highlights the button while it asks (and hides it
// again after), so that the student can do what the narration says.
func TestBrowserMembershipAsksInAnEmbed(t *testing.T) {
	b := startBrowser(t)
	base := serve(t)
	for _, c := range []struct{ scenario, ask, button string }{
		{"membership", "add-server", "#addNode"},
		{"joint-consensus", "set-voters", "#setVoters"},
	} {
		p := b.openFresh(t, base+"?embed=1&scenario="+c.scenario+"&step=3")
		p.do(chromedp.EmulateViewport(800, 500))
		p.waitFor(c.ask+" asked", `document.getElementById("guideState")?.dataset.ask === "`+c.ask+`"`)
		p.waitFor(c.button+" shown and highlighted", `(e => e.classList.contains("asked") && e.getClientRects().length > 0 && (r => r.top >= 0 && r.bottom <= innerHeight)(e.getBoundingClientRect()))(document.querySelector("`+c.button+`"))`)
		p.screenshot("embed-" + c.scenario + "-asks.png")
		p.click(c.button)
		p.waitFor("the step at its pause point", `document.getElementById("guideState")?.dataset.done === "1"`)
		p.waitFor("the client panel hidden again", `document.getElementById("submitForm").getClientRects().length === 0`)
		p.noProblems()
	}
}

// TestBrowserSingleServerBugViolation: the 2015 bug's scenario ends at the checker's violation;
// its banner offers the replay to just before it, and no reset of storage (a run in memory has
// none: the button cleared the free-play cluster's).
func TestBrowserSingleServerBugViolation(t *testing.T) {
	b := startBrowser(t)
	p := b.openFresh(t, serve(t)+"?scenario=single-server-bug&step=7")
	p.waitFor("the violation's banner", `!document.getElementById("banner").hidden && document.getElementById("bannerText").textContent.includes("need not meet")`)
	p.waitFor("the replay offered, the reset not", `document.getElementById("reset").hidden && !document.getElementById("beforeViolation").hidden`)
	p.waitFor("the step at its end", `document.getElementById("guideState")?.dataset.done === "1"`)
	p.noProblems()
}
