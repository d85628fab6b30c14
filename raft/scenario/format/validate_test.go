// Scenario files are validated with every problem named by its place in the file.

package format

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// file builds a scenario file around steps (JSON of the list's items) with a 3-node config.
func file(steps string) string {
	return `{"id":"x","title":"X","config":{"nodes":3,"seed":1},"steps":[` + steps + `]}`
}

func TestParseFileNamesThePlace(t *testing.T) {
	ok := `{"title":"a","text":"b","for":"1s"}`
	for _, tc := range []struct{ name, json, want string }{
		{"syntax", "{\n  \"id\": \"x\",\n  oops\n}", `custom.json: line 3, column 3: not JSON: invalid character 'o'`},
		{"trailing data", file(ok) + `{}`, "custom.json: line 1, column 99: not JSON: invalid character '{' after top-level value"},
		{"unknown top field", `{"id":"x","title":"X","config":{"nodes":3},"steps":[` + ok + `],"extra":1}`,
			`custom.json: extra: unknown field "extra" (want one of id, title, summary, config, steps)`},
		{"field spelled in capitals", `{"ID":"x","title":"X","config":{"nodes":3},"steps":[` + ok + `]}`, `custom.json: ID: unknown field "ID"`},
		{"unknown condition", file(ok + `,` + ok + `,{"title":"a","text":"b","until":{"cond":"leaderr"}}`),
			`custom.json: steps[2].until.cond: unknown condition "leaderr" (want one of commit, committed, entry, last-index, leader, match, no-leader, no-violation, not-committed, state, term, violation)`},
		{"unknown action", file(`{"title":"a","text":"b","do":[{"kind":"explode","node":"n1"}]}`), `custom.json: steps[0].do[0].kind: unknown action "explode" (want one of add-server, batch, crash, crash-all, cut,`},
		{"unknown step field", file(`{"title":"a","text":"b","untill":{"cond":"leader"}}`), `custom.json: steps[0].untill: unknown field "untill" (want one of title, text, let, ask, do, for, until, within, expect, question)`},
		{"wrong type", file(`{"title":"a","text":"b","for":300}`), `custom.json: steps[0].for: want a duration such as "300ms" or "2s", not 300`},
		{"bad duration", file(`{"title":"a","text":"b","for":"soon"}`), `custom.json: steps[0].for: want a duration such as "300ms" or "2s", not "soon"`},
		{"negative number", `{"id":"x","title":"X","config":{"nodes":-3},"steps":[` + ok + `]}`, `custom.json: config.nodes: want a whole number from 0 to 999999999, not -3`},
		{"too many nodes", `{"id":"x","title":"X","config":{"nodes":12},"steps":[` + ok + `]}`, `custom.json: config.nodes: 12 nodes; want 1 to 9`},
		{"no nodes", `{"id":"x","title":"X","config":{},"steps":[` + ok + `]}`, `custom.json: config.nodes: 0 nodes; want 1 to 9`},
		{"no steps", `{"id":"x","title":"X","config":{"nodes":3},"steps":[]}`, `custom.json: steps: a scenario needs at least one step`},
		{"bad id", `{"id":"My Lab","title":"X","config":{"nodes":3},"steps":[` + ok + `]}`, `custom.json: id: "My Lab": want 1 to 64 lower-case letters`},
		{"missing title", file(`{"text":"b"}`), `custom.json: steps[0].title: required, and not blank`},
		{"for and until", file(`{"title":"a","text":"b","for":"1s","until":{"cond":"leader"}}`), `custom.json: steps[0]: set for or until, not both`},
		{"within without until", file(`{"title":"a","text":"b","within":"1s"}`), `custom.json: steps[0].within: bounds the wait for until`},
		{"wait too long", file(`{"title":"a","text":"b","for":"2m"}`), `custom.json: steps[0].for: 120000ms is longer than the most a step may wait, 1m`},
		{"node outside the cluster", file(`{"title":"a","text":"b","do":[{"kind":"crash","node":"n4"}]}`), `custom.json: steps[0].do[0].node: "n4" is not a node of this cluster (n1 to n3`},
		{"unbound name", file(`{"title":"a","text":"b","expect":[{"cond":"leader","node":"$old"}]}`), `custom.json: steps[0].expect[0].node: $old is not bound`},
		{"field not used by the condition", file(`{"title":"a","text":"b","expect":[{"cond":"leader","peer":"n2"}]}`), `custom.json: steps[0].expect[0].peer: not used by condition "leader"`},
		{"field the condition needs", file(`{"title":"a","text":"b","expect":[{"cond":"state"}]}`), `custom.json: steps[0].expect[0]: condition "state" needs state`},
		{"unknown state", file(`{"title":"a","text":"b","expect":[{"cond":"state","state":"boss"}]}`), `custom.json: steps[0].expect[0].state: unknown state "boss"`},
		{"action needs a node", file(`{"title":"a","text":"b","do":[{"kind":"crash"}]}`), `custom.json: steps[0].do[0]: action "crash" needs node`},
		{"ask needs a prompt", file(`{"title":"a","text":"b","ask":{"kind":"crash","node":"n1"}}`), `custom.json: steps[0].ask: action "crash" needs prompt`},
		{"prompt outside ask", file(`{"title":"a","text":"b","do":[{"kind":"crash","node":"n1","prompt":"p"}]}`), `custom.json: steps[0].do[0].prompt: not used by action "crash"`},
		{"long command", file(`{"title":"a","text":"b","do":[{"kind":"submit","command":"put x ` + strings.Repeat("1", MaxCommandLen) + `"}]}`), `custom.json: steps[0].do[0].command: 1006 bytes; at most 1000`},
		{"node before add-server", file(`{"title":"a","text":"b","do":[{"kind":"crash","node":"n4"},{"kind":"add-server","node":"n4"}]}`), `custom.json: steps[0].do[0].node: "n4" is not a node of this cluster (n1 to n3, one an earlier add-server started`},
		{"too many servers", file(`{"title":"a","text":"b","do":[{"kind":"add-server","node":"n16"}]}`), `custom.json: steps[0].do[0].node: "n16": a cluster has at most 15 servers`},
		{"rate out of range", file(`{"title":"a","text":"b","do":[{"kind":"reorder","rate":1.5}]}`), `custom.json: steps[0].do[0].rate: want a number from 0 to 1, not 1.5`},
		{"rate not used", file(`{"title":"a","text":"b","do":[{"kind":"crash","node":"n1","rate":0.5}]}`), `custom.json: steps[0].do[0].rate: not used by action "crash"`},
		{"one group", file(`{"title":"a","text":"b","do":[{"kind":"partition","groups":[["n1","n2","n3"]]}]}`), `custom.json: steps[0].do[0].groups: want two groups of nodes or more`},
		{"question without an answer", file(`{"title":"a","text":"b","question":{"prompt":"?","choices":[{"text":"yes"},{"text":"no"}]}}`),
			`custom.json: steps[0].question.choices: give every choice a "when" condition (what happens decides), or mark exactly one "correct": true (found 0 with when, 0 correct)`},
		{"question with one choice", file(`{"title":"a","text":"b","question":{"prompt":"?","choices":[{"text":"yes","correct":true}]}}`), `custom.json: steps[0].question.choices: 1 choices; want 2 to 6`},
		{"bad condition in a choice", file(`{"title":"a","text":"b","question":{"prompt":"?","choices":[{"text":"y","when":{"cond":"leader","node":"n9"}},{"text":"n","when":{"cond":"no-leader"}}]}}`),
			`custom.json: steps[0].question.choices[0].when.node: "n9" is not a node of this cluster`},
		{"null", file(`{"title":"a","text":"b","until":null}`), `custom.json: steps[0].until: want an object, not null`},
		{"too large", `{"id":"x","title":"` + strings.Repeat("a", MaxFileBytes) + `"}`, fmt.Sprintf("custom.json: %d bytes; a scenario file may have at most %d", MaxFileBytes+21, MaxFileBytes)},
		{"too many steps", file(strings.TrimSuffix(strings.Repeat(ok+",", MaxSteps+1), ",")), `custom.json: steps: 101 steps; at most 100`},
		{"text too long", file(`{"title":"a","text":"` + strings.Repeat("b", MaxText+1) + `"}`), `custom.json: steps[0].text: 5001 bytes; at most 5000`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseFile("custom.json", []byte(tc.json))
			if err == nil {
				t.Fatalf("ParseFile succeeded; want %q", tc.want)
			}
			if _, ok := err.(*Error); !ok {
				t.Errorf("ParseFile's error is a %T; want *Error", err)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("ParseFile:\n%v\nwant it to contain\n%s", err, tc.want)
			}
		})
	}
}

func TestParseFileReportsEveryProblem(t *testing.T) {
	_, err := ParseFile("two.json", []byte(file(`{"title":"","text":"b","do":[{"kind":"crash","node":"n7"}]}`)))
	if err == nil {
		t.Fatal("ParseFile succeeded")
	}
	got := err.Error()
	want := "two.json: steps[0].title: required, and not blank\ntwo.json: steps[0].do[0].node: \"n7\" is not a node of this cluster (n1 to n3, one an earlier add-server started, \"$leader\", or \"$name\" from a let)"
	if got != want {
		t.Errorf("ParseFile:\n%s\nwant\n%s", got, want)
	}
}

func TestParseFileAcceptsAFullScenario(t *testing.T) {
	sc, err := ParseFile("ok.json", []byte(`{"id":"my-lab","title":"My lab","summary":"s",
		"config":{"nodes":5,"seed":3,"electionTimeoutMin":"150ms","electionTimeoutMax":"300ms","preVote":true,"bugs":{"ForgetVote":true}},
		"steps":[
		  {"title":"t","text":"x","until":{"cond":"leader"},"within":"3s",
		   "question":{"prompt":"Which node?","choices":[{"text":"n1","when":{"cond":"leader","node":"n1"}},{"text":"another","when":{"cond":"leader","node":"n2"}}],"explain":"e"}},
		  {"title":"t","text":"x","let":{"old":"$leader"},"ask":{"kind":"crash","node":"$old","prompt":"Crash it."},
		   "do":[{"kind":"submit","command":"put x 1"},{"kind":"batch","commands":["c1#1 put y 2","get y"]},{"kind":"partition","groups":[["$old"],["n2","n3"]]},{"kind":"latency","min":"1ms","max":"5ms"},{"kind":"reorder","rate":0.25},{"kind":"add-server","node":"n7"},{"kind":"remove-server","node":"n1"}],
		   "for":"1s","expect":[{"cond":"state","node":"$old","state":"dead"},{"cond":"term","min":0,"max":3}],
		   "question":{"prompt":"Survives?","choices":[{"text":"yes","correct":true},{"text":"no"}]}},
		  {"title":"t","text":"x","for":"1s","expect":[{"cond":"state","node":"n7","state":"follower"}]}
		]}`))
	if err != nil {
		t.Fatal(err)
	}
	if !sc.Config.Bugs.ForgetVote || sc.Steps[1].Question.Choices[0].Correct != true || sc.Steps[1].Do[3].Max != Duration(5e6) {
		t.Errorf("decoded %+v", sc)
	}
}

// shipped returns the shipped scenario files, by name.
func shipped(t *testing.T) map[string][]byte {
	t.Helper()
	names, err := filepath.Glob("../scenarios/*.json")
	if err != nil || len(names) == 0 {
		t.Fatalf("no shipped scenarios found (%v)", err)
	}
	out := map[string][]byte{}
	for _, n := range names {
		b, err := os.ReadFile(n)
		if err != nil {
			t.Fatal(err)
		}
		out[filepath.Base(n)] = b
	}
	return out
}

// Every shipped scenario passes ParseFile's checks (the page reads them with Decode).
func TestShippedScenariosAreValid(t *testing.T) {
	for name, b := range shipped(t) {
		if _, err := ParseFile(name, b); err != nil {
			t.Error(err)
		}
	}
}
