//go:build !js

package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// cardSampler runs in the page for at least ms of wall time (longer on a slow machine, see below) and checks every node card at each animation
// frame: the summary line and data attributes against the log drawn beside them. It resolves to
// JSON: the number of samples, how many times a card's last index changed, and what disagreed.
const cardSampler = `new Promise((resolve) => {
  const end = performance.now() + %d;
  const out = { samples: 0, changes: 0, bad: [] };
  const seen = new Map();
  const check = () => {
    for (const c of document.querySelectorAll(".card")) {
      const id = c.dataset.node, last = Number(c.dataset.last), commit = Number(c.dataset.commit);
      const meta = c.querySelector(".meta").textContent;
      const elided = c.querySelector(".log .elided").textContent;
      const shown = c.querySelectorAll(".log .entries .e").length;
      const committed = c.querySelectorAll(".log .entries .e.committed").length;
      const role = c.querySelector(".role").textContent;
      const snap = /snapshot ≤ (\d+)/.exec(c.querySelector(".log .snap").textContent);
      const before = (snap ? Number(snap[1]) : 0) + (elided.startsWith("…") ? Number(elided.slice(1)) : 0);
      const problems = [];
      if (meta !== "commit index " + commit + " · last index " + last) problems.push("summary " + JSON.stringify(meta) + " but data-last " + last + ", data-commit " + commit);
      if ((elided === "empty log") !== (last === 0)) problems.push(JSON.stringify(elided) + " beside last index " + last);
      if ((elided === "no entries after it") !== (snap !== null && shown === 0 && last === Number(snap[1]))) problems.push(JSON.stringify(elided) + " beside a snapshot and last index " + last);
      if (before + shown !== last) problems.push((before > 0 ? before + " elided and " : "") + shown + " entries drawn beside last index " + last);
      if (committed !== Math.max(0, Math.min(commit, last) - before)) problems.push(committed + " entries drawn committed beside commit index " + commit);
      if (role !== c.dataset.state) problems.push("role " + JSON.stringify(role) + " but data-state " + c.dataset.state);
      if (problems.length > 0 && out.bad.length < 20) out.bad.push(id + " at " + document.getElementById("clock").textContent + ": " + problems.join("; "));
      if (seen.has(id) && seen.get(id) !== last) out.changes++;
      seen.set(id, last);
    }
    const status = document.getElementById("status").textContent;
    if (/(^|[^\d.])1 (elections|commands|messages|operations|entries)\b/.test(status) && out.bad.length < 20) out.bad.push("status line: " + status);
    out.samples++;
    // Sample for at least the time given, and on until 20 samples and 20 changes were seen (a
    // loaded machine draws few frames), within 20 s at most.
    const enough = performance.now() >= end && out.samples >= 20 && out.changes >= 20;
    if (!enough && performance.now() < end + 20000) requestAnimationFrame(check); else resolve(JSON.stringify(out));
  };
  requestAnimationFrame(check);
})`

// TestBrowserCardsAgree samples the node cards at every frame while the client load makes the
// logs grow: a card's summary (role, commit and last index) always agrees with the log drawn
// beside it (snapshot, elided entries, entries), whatever frame the eye (or a screenshot)
// catches. The status line counts in
// words ("1 election").
func TestBrowserCardsAgree(t *testing.T) {
	b := startBrowser(t)
	p := b.open(t, serve(t)+"?nodes=5&seed=3&speed=5")
	p.leader("")
	p.click("#load")
	var got struct {
		Samples, Changes int
		Bad              []string
	}
	if err := json.Unmarshal([]byte(eval[string](p, strings.Replace(cardSampler, "%d", "3000", 1))), &got); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d samples, %d changes of a card's last index", got.Samples, got.Changes)
	// The check must have seen the logs move, or agreement proves nothing.
	if got.Samples < 20 || got.Changes < 20 {
		t.Fatalf("%d samples and %d changes of a last index in 23 s; want at least 20 of each (did the client load run?)", got.Samples, got.Changes)
	}
	for _, b := range got.Bad {
		t.Errorf("card disagrees with itself: %s", b)
	}
	p.noProblems()
}
