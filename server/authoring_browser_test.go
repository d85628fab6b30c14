// Browser tests of course authoring: a course's own scenario file opened with ?scenario-url=
// from a plain static host (the export), embedded and not; files that cannot be fetched, are
// not JSON or break the format named with their place, and free play going on; a hostile
// file's text shown as text; loadScenario from a script and over postMessage; questions,
// answers kept and reported to a host page; and Save as scenario replaying the run.

//go:build !js

package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"raftlab/raft/scenario"
	"raftlab/web"
)

// courseFile is a course's scenario: three nodes, two questions (one decided by what happens,
// one by the author), an asked action.
const courseFile = `{
  "id": "my-first-lab",
  "title": "A leader crashes",
  "summary": "Three nodes elect a leader; crash it and another takes over.",
  "config": {"nodes": 3, "seed": 42},
  "steps": [
    {"title": "An election", "text": "The first timer to fire starts an election.",
     "question": {"prompt": "Which node will win the first election?", "choices": [
        {"text": "n1", "when": {"cond": "leader", "node": "n1"}},
        {"text": "n2", "when": {"cond": "leader", "node": "n2"}},
        {"text": "n3", "when": {"cond": "leader", "node": "n3"}}],
      "explain": "The node whose randomized timer fires first asks for votes."},
     "until": {"cond": "leader"}},
    {"title": "Two of three", "text": "The leader crashes; a command still commits.",
     "question": {"prompt": "With one node of three down, does put x 1 commit?", "choices": [
        {"text": "Yes", "correct": true}, {"text": "No"}]},
     "do": [{"kind": "crash", "node": "$leader"}],
     "until": {"cond": "leader"}, "within": "3s"},
    {"title": "Submit", "text": "put x 1 goes to the new leader.",
     "do": [{"kind": "submit", "command": "put x 1"}],
     "until": {"cond": "committed", "command": "put x 1", "nodes": 2}}
  ]
}`

// staticExport exports the built page into a folder with the given extra files beside it, and
// serves the folder with a plain file server (no raftlab server). It returns the base URL.
func staticExport(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "lab")
	if _, err := exportPage(web.Dist(), dir); err != nil {
		t.Fatal(err)
	}
	for name, text := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.FileServer(http.Dir(dir))}
	go srv.Serve(ln) // returns when Close is called
	t.Cleanup(func() { srv.Close() })
	return "http://" + ln.Addr().String() + "/"
}

// guideState is the narration state as the module reports it.
type guideState struct {
	ID       string `json:"id"`
	Step     int    `json:"step"`
	Done     bool   `json:"done"`
	Course   bool   `json:"course"`
	Question *struct {
		Chosen int   `json:"chosen"`
		Right  []int `json:"right"`
	} `json:"question"`
}

func (p *page) guide() guideState {
	p.tb.Helper()
	return evalJSON[guideState](p, "raftlabWasm.guideState()")
}

func TestBrowserCourseScenario(t *testing.T) {
	b := startBrowser(t)
	bad := strings.Replace(courseFile, `"until": {"cond": "committed"`, `"until": {"cond": "leaderr"`, 1)
	hostile := strings.NewReplacer(
		`"A leader crashes"`, `"<img src=x onerror=\"window.pwned=1\">A leader crashes"`,
		`"The first timer to fire starts an election."`, `"<script>window.pwned=2</script><b>bold?</b>"`,
		`{"text": "Yes", "correct": true}`, `{"text": "<a href=\"javascript:window.pwned=3\">Yes</a>", "correct": true}`,
	).Replace(courseFile)
	base := staticExport(t, map[string]string{"my-lab.json": courseFile, "custom.json": bad, "broken.json": `{"id": "x",`, "hostile.json": hostile})

	t.Run("FromAStaticHostWithQuestions", func(t *testing.T) {
		p := b.openFresh(t, base+"?scenario-url=my-lab.json")
		p.waitFor("the course's scenario open at step 1", `document.querySelector("#guide h2")?.textContent === "A leader crashes"`)
		if g := p.guide(); !g.Course || g.Step != 0 || g.Question == nil || g.Question.Chosen != -1 {
			t.Fatalf("guide state %+v; want the course's scenario at step 1 asking its question", g)
		}
		// The question holds time: nothing runs until it is answered.
		if now := p.snapshot().Now; now != 0 {
			t.Errorf("time ran to %v ms before the answer", now)
		}
		p.screenshot("course-question.png")
		p.click(`#question button[data-choice="0"]`) // n1
		p.waitFor("the step's pause point", `document.getElementById("guideState")?.dataset.done === "1"`)
		g := p.guide()
		if g.Question == nil || len(g.Question.Right) != 1 {
			t.Fatalf("after the answer: %+v; want one right choice", g.Question)
		}
		right := g.Question.Right[0] == 0
		leader := p.snapshot().Leader
		if want := map[bool]string{true: "Right.", false: "Not quite: the answer is " + leader + "."}[right]; eval[string](p, `document.getElementById("answerVerdict").textContent`) != want {
			t.Errorf("verdict %q; want %q", eval[string](p, `document.getElementById("answerVerdict").textContent`), want)
		}
		if !strings.Contains(eval[string](p, `document.getElementById("question").textContent`), "randomized timer fires first") {
			t.Errorf("the explanation is not shown with the answer")
		}
		p.screenshot("course-answer.png")
		// The answer is kept in localStorage under the lab's namespace, and counted.
		stored := eval[string](p, `localStorage.getItem("raftlab/answers/my-first-lab") ?? ""`)
		if !strings.Contains(stored, `"1":{"choice":"n1","right":`+fmt.Sprint(right)) {
			t.Errorf("stored answers %q", stored)
		}
		wantProgress := fmt.Sprintf("Your answers to this scenario: %d of 2 right (1 answered).", map[bool]int{true: 1, false: 0}[right])
		if got := eval[string](p, `document.getElementById("answerProgress").firstChild.textContent.trim()`); got != wantProgress {
			t.Errorf("progress %q; want %q", got, wantProgress)
		}
		// Step 2: the author's fixed answer.
		p.click("#guideNext")
		p.waitFor("step 2's question", `document.querySelector("#question .prompt")?.textContent.startsWith("With one node")`)
		p.click(`#question button[data-choice="0"]`)
		p.waitFor("step 2's answer", `document.getElementById("answerVerdict")?.textContent === "Right."`)
		if n := eval[int](p, `(JSON.parse(localStorage.getItem("raftlab/answers/my-first-lab")) ?? {})["2"]?.right === true ? 1 : 0`); n != 1 {
			t.Errorf("step 2's right answer is not stored")
		}
		// The URL keeps the file, so a reload or a jump opens it again; reset forgets the answers.
		if u := eval[string](p, "location.search"); !strings.Contains(u, "scenario-url=my-lab.json") || !strings.Contains(u, "step=2") || strings.Contains(u, "scenario=") {
			t.Errorf("address %q; want the scenario-url and step 2", u)
		}
		p.click(`#guide .steps button[data-step="0"]`)
		p.waitFor("step 1 again, asking", `document.querySelector("#question .prompt")?.textContent.startsWith("Which node")`)
		p.click("#resetAnswers")
		p.waitFor("the answers forgotten", `localStorage.getItem("raftlab/answers/my-first-lab") === null`)
		p.noProblems()
	})

	t.Run("EmbeddedFromAStaticHost", func(t *testing.T) {
		q := b.openFresh(t, base+"?embed=1&scenario-url=my-lab.json")
		q.do(chromedp.EmulateViewport(800, 500))
		q.waitFor("the question, embedded", `document.querySelector('#question button[data-choice="2"]') !== null`)
		q.click(`#question button[data-choice="2"]`)
		q.waitFor("the answer, embedded", `document.getElementById("answerVerdict")?.dataset.right !== undefined`)
		q.screenshot("course-embed-question.png")
		if w := eval[float64](q, `document.documentElement.scrollWidth - window.innerWidth`); w > 0 {
			t.Errorf("the embedded page with a question is %v px wider than 800", w)
		}
		q.noProblems()
		p := b.openFresh(t, base+"?embed=1&scenario-url=my-lab.json&step=3")
		p.waitFor("step 3 of the course's scenario", `document.querySelector("#guide h3")?.textContent === "Step 3 of 3: Submit"`)
		p.waitFor("its pause point", `document.getElementById("guideState")?.dataset.done === "1"`)
		// Embedded labs keep answers under their own namespace.
		if !eval[bool](p, `Object.keys(localStorage).every(k => !k.startsWith("raftlab/answers/"))`) {
			t.Errorf("an embedded lab wrote answers outside its namespace")
		}
		p.noProblems()
	})

	t.Run("AMalformedFileIsNamedAndFreePlayRuns", func(t *testing.T) {
		for _, tc := range []struct{ file, want string }{
			{"custom.json", `custom.json: steps[2].until.cond: unknown condition "leaderr" (want one of commit, committed,`},
			{"broken.json", `broken.json: line 1, column 11: not JSON: unexpected end of JSON input`},
			{"missing.json", `missing.json: cannot fetch ` + base + `missing.json: HTTP 404`},
			{"bad%25zz.json", `bad%zz.json: cannot fetch ` + base + `bad%zz.json: HTTP 400`}, // a name that does not decode
		} {
			p := b.openFresh(t, base+"?scenario-url="+tc.file)
			p.waitFor("the error naming "+tc.file, `document.getElementById("scenarioError") !== null`)
			if got := eval[string](p, `document.querySelector("#scenarioError pre").textContent`); !strings.Contains(got, tc.want) {
				t.Errorf("%s: the frame says %q; want %q", tc.file, got, tc.want)
			}
			p.leader("") // free play runs
			if !eval[bool](p, `document.getElementById("guide").hidden`) {
				t.Errorf("%s: the guide is shown after the file was refused", tc.file)
			}
			if tc.file == "custom.json" {
				p.screenshot("course-bad-file.png")
			}
			p.noProblemsBut("404 (Not Found)", "400 (Bad Request)") // the browser's own log of a failed fetch
		}
	})

	t.Run("AHostileFileIsShownAsText", func(t *testing.T) {
		p := b.openFresh(t, base+"?scenario-url=hostile.json")
		p.waitFor("the hostile scenario open", `(document.querySelector("#guide h2")?.textContent ?? "").endsWith("A leader crashes")`)
		p.click(`#question button[data-choice="0"]`)
		p.waitFor("step 1's pause point", `document.getElementById("guideState")?.dataset.done === "1"`)
		p.click("#guideNext")
		p.waitFor("step 2's choices", `document.querySelector('#question button[data-choice="0"]') !== null`)
		if n := eval[int](p, `document.querySelectorAll("#guide img, #guide script, #guide b, #guide a, #scenario img").length`); n != 0 {
			t.Errorf("%d elements made from the file's text; it must be shown as text", n)
		}
		if got := eval[string](p, `document.querySelector('#question button[data-choice="0"]').textContent`); got != `<a href="javascript:window.pwned=3">Yes</a>` {
			t.Errorf("a choice reads %q; want its text as written", got)
		}
		p.click(`#question button[data-choice="0"]`)
		if eval[bool](p, `window.pwned !== undefined`) {
			t.Errorf("the file's markup ran: window.pwned = %v", eval[any](p, "window.pwned"))
		}
		p.noProblems()
	})

	t.Run("LoadScenarioFromAScriptAndPostMessage", func(t *testing.T) {
		p := b.openFresh(t, base)
		p.leader("")
		r := eval[string](p, fmt.Sprintf(`raftlab.loadScenario(%s, "mine.json").then(r => JSON.stringify(r), e => "error: " + e.message)`, jsString(courseFile)))
		if r != `{"id":"my-first-lab","title":"A leader crashes","steps":3}` {
			t.Errorf("loadScenario: %s", r)
		}
		msg := eval[string](p, fmt.Sprintf(`raftlab.loadScenario(%s, "custom.json").then(() => "loaded", e => e.message)`, jsString(bad)))
		if !strings.HasPrefix(msg, `custom.json: steps[2].until.cond: unknown condition "leaderr"`) {
			t.Errorf("loadScenario of a bad file: %q", msg)
		}
		if g := p.guide(); g.ID != "my-first-lab" {
			t.Errorf("a refused file replaced the open scenario: %+v", g)
		}
		msg = eval[string](p, `raftlab.loadScenario("{\"id\": \"x\", \"unknownField\": 1}").then(() => "loaded", e => e.message)`)
		if !strings.Contains(msg, `scenario.json: unknownField: unknown field "unknownField"`) {
			t.Errorf("an unknown field: %q", msg)
		}

		// A host page on another origin loads, answers, and is told of each answer.
		h := b.openFreshHost(t, hostPage(t, base+"?embed=1"))
		h.waitFor("the lab's ready message", `window.labReady`)
		eval[bool](h, `(() => { window.answers = []; window.addEventListener("message", (e) => { if (e.data && e.data.raftlab === "answer") window.answers.push(e.data); }); return true; })()`)
		r = eval[string](h, fmt.Sprintf(`window.call("loadScenario", %s, "mine.json").then(r => JSON.stringify(r))`, jsString(courseFile)))
		if !strings.Contains(r, `"result":{"id":"my-first-lab"`) {
			t.Fatalf("loadScenario through postMessage: %s", r)
		}
		if r := eval[string](h, `window.call("answer", 2).then(r => JSON.stringify(r))`); !strings.Contains(r, `"result":null`) {
			t.Errorf("answer through postMessage: %s", r)
		}
		h.waitFor("the answer reported to the host", `window.answers.length === 1`)
		var got struct {
			Scenario string `json:"scenario"`
			Step     int    `json:"step"`
			Choice   int    `json:"choice"`
			Text     string `json:"text"`
			Right    bool   `json:"right"`
			Progress struct {
				Questions, Answered, Right int
			} `json:"progress"`
		}
		if err := json.Unmarshal([]byte(eval[string](h, `JSON.stringify(window.answers[0])`)), &got); err != nil {
			t.Fatal(err)
		}
		if got.Scenario != "my-first-lab" || got.Step != 1 || got.Choice != 2 || got.Text != "n3" || got.Progress.Questions != 2 || got.Progress.Answered != 1 {
			t.Errorf("reported answer %+v", got)
		}
		if r := eval[string](h, `window.call("answers").then(r => JSON.stringify(r.result))`); !strings.Contains(r, `"answered":1`) {
			t.Errorf("answers through postMessage: %s", r)
		}
		if r := eval[string](h, fmt.Sprintf(`window.call("loadScenario", %s, "custom.json").then(r => r.error || "")`, jsString(bad))); !strings.Contains(r, `custom.json: steps[2].until.cond`) {
			t.Errorf("a bad file through postMessage: %q", r)
		}
		p.noProblems()
		h.noProblems()
	})

	t.Run("SaveAsScenarioReplaysTheRun", func(t *testing.T) {
		p := b.openFresh(t, serve(t)+"?seed=11")
		lead := p.leader("")
		p.submit("put x 1")
		eval[bool](p, fmt.Sprintf(`raftlab.crash(%q) === null`, lead))
		p.leader(lead)
		p.submit("append x 2")
		p.kvOnLive("x", "12")
		eval[bool](p, `raftlab.partition(["n1", "n2"], ["n3", "n4", "n5"]) === null`)
		eval[bool](p, fmt.Sprintf(`raftlab.restart(%q) === null && raftlab.heal() === null && raftlab.pause() === null`, lead))
		hash := eval[string](p, "raftlab.traceHash()")
		now := eval[float64](p, "raftlab.status().now")
		p.click("#saveScenario")
		p.waitFor("the scenario file", `(document.getElementById("scenarioDownload")?.dataset.file ?? "").startsWith("{")`)
		name := eval[string](p, `document.getElementById("scenarioDownload").download`)
		file := eval[string](p, `document.getElementById("scenarioDownload").dataset.file`)
		sc, err := scenario.ParseFile(name, []byte(file)) // scenario check's validation
		if err != nil {
			t.Fatalf("the saved file is not valid: %v\n%s", err, file)
		}
		if name != "recorded-seed-11.json" || sc.Config.Seed != 11 || len(sc.Steps) < 7 || !strings.Contains(file, "Describe what happens in this step") {
			t.Errorf("saved %s: %d steps, config %+v", name, len(sc.Steps), sc.Config)
		}

		// Opened in a fresh browser, played step by step to its end: the same run.
		q := b.openFresh(t, serve(t))
		q.leader("")
		if r := eval[string](q, fmt.Sprintf(`raftlab.loadScenario(%s, %q).then(() => "", e => e.message)`, jsString(file), name)); r != "" {
			t.Fatalf("loadScenario of the saved file: %s", r)
		}
		for i := 0; i < 3*len(sc.Steps); i++ { // Next: to each pause point, then into the next step
			if eval[bool](q, `(g => g.done && g.last)(JSON.parse(raftlabWasm.guideState()))`) {
				break
			}
			q.click("#guideNext")
		}
		q.waitFor("the last step's pause point", `(g => g.done && g.last)(JSON.parse(raftlabWasm.guideState()))`)
		if got, at := eval[string](q, "raftlab.traceHash()"), eval[float64](q, "raftlab.status().now"); got != hash || at != now {
			t.Errorf("the saved scenario ends with trace %s at %v ms; the run had %s at %v ms", got, at, hash, now)
		}
		p.noProblems()
		q.noProblems()
	})
}

// jsString quotes s as a JavaScript string literal.
func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
