// Every shipped scenario, played on the simulator, does what its narration says.

package scenario

import (
	"fmt"
	"strings"
	"testing"

	"raftlab/raft"
	"raftlab/raft/sim"
)

// play runs a scenario to its end and returns the player and every failed claim.
func play(t *testing.T, sc *Scenario) (*Player, []error) {
	t.Helper()
	p, err := NewPlayer(sc, func(o *sim.Options) { o.KeepTrace = true })
	if err != nil {
		t.Fatal(err)
	}
	var errs []error
	for i := range sc.Steps {
		if err := p.Begin(i); err != nil {
			t.Fatal(err)
		}
		if err := p.Finish(); err != nil {
			errs = append(errs, err)
			break
		}
		errs = append(errs, p.Check()...)
	}
	return p, errs
}

func TestScenarios(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	if len(all) < 9 {
		t.Fatalf("%d scenarios; want at least 9", len(all))
	}
	for _, sc := range all {
		t.Run(sc.ID, func(t *testing.T) {
			p, errs := play(t, sc)
			for _, err := range errs {
				t.Error(err)
			}
			if err := p.Cluster.Violation(); err != nil && !expectsViolation(sc) {
				t.Errorf("violation: %v", err)
			}
			if t.Failed() {
				tr := p.Cluster.Trace()
				for _, e := range tr[max(0, len(tr)-30):] {
					if e.Kind != raft.EvSend {
						t.Log(e)
					}
				}
			}
		})
	}
}

// TestBreakItScenarios: with its break-it switch on, a scenario shows the violation the
// narration promises.
func TestBreakItScenarios(t *testing.T) {
	for _, tc := range []struct {
		id   string
		bugs raft.Bugs
		want string
	}{
		{"figure8", raft.Bugs{CommitByCounting: true}, "Leader Completeness"},
		{"persist-vote", raft.Bugs{ForgetVote: true}, "Election Safety: n1 and n3 are both leaders of term 1"},
		{"election-restriction", raft.Bugs{VoteByLogLength: true}, "Leader Completeness: n1 leads term 3 without the committed entries up to 4"},
	} {
		t.Run(tc.id, func(t *testing.T) {
			sc, err := Get(tc.id)
			if err != nil {
				t.Fatal(err)
			}
			sc.Config.Bugs = tc.bugs
			p, _ := play(t, sc)
			if err := p.Cluster.Violation(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("violation = %v; want %q", err, tc.want)
			}
		})
	}
}

// TestSeekReplaysExactly: going back to a step replays the run event for event.
func TestSeekReplaysExactly(t *testing.T) {
	sc, err := Get("partition")
	if err != nil {
		t.Fatal(err)
	}
	p, err := NewPlayer(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	hashes := map[int]string{}
	for i := range sc.Steps {
		p.Begin(i)
		hashes[i] = p.Cluster.TraceHash()
		if err := p.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	for i := len(sc.Steps) - 1; i >= 0; i-- {
		q, err := Seek(sc, i, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := q.Cluster.TraceHash(); got != hashes[i] {
			t.Fatalf("Seek(step %d): trace %s; played through: %s", i+1, got, hashes[i])
		}
	}
}

// TestAskWaitsForThePerson: a step that asks for an action stands still until it comes, and
// only the asked-for action moves it on.
func TestAskWaitsForThePerson(t *testing.T) {
	sc, _ := Get("leader-crash")
	p, err := Seek(sc, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	ask := p.Asking()
	if ask == nil || ask.Kind != string(sim.ActCrash) {
		t.Fatalf("step 2 asks %+v; want a crash", ask)
	}
	now := p.Cluster.Now()
	if p.Advance(now + 1e9) {
		t.Fatal("step done before the person acted")
	}
	if p.Cluster.Now() != now {
		t.Fatal("time moved while waiting for the person")
	}
	other := "n1"
	if other == ask.Node {
		other = "n2"
	}
	if ok, err := p.Act(sim.Action{Kind: sim.ActTimeout, Node: other}); ok || err != nil {
		t.Fatalf("a different action satisfied the ask (%t, %v)", ok, err)
	}
	if ok, err := p.Act(sim.Action{Kind: sim.ActCrash, Node: ask.Node}); !ok || err != nil {
		t.Fatalf("the asked-for crash: %t, %v", ok, err)
	}
	if p.Asking() != nil {
		t.Fatal("still asking after the action")
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ name, json string }{
		{"not json", `{`},
		{"unknown field", `{"id":"x","title":"X","config":{"nodes":3},"steps":[{"title":"a","text":"b"}],"extra":1}`},
		{"no steps", `{"id":"x","title":"X","config":{"nodes":3}}`},
		{"bad nodes", `{"id":"x","title":"X","config":{"nodes":12},"steps":[{"title":"a","text":"b"}]}`},
		{"bad cond", `{"id":"x","title":"X","config":{"nodes":3},"steps":[{"title":"a","text":"b","until":{"cond":"magic"}}]}`},
		{"bad duration", `{"id":"x","title":"X","config":{"nodes":3},"steps":[{"title":"a","text":"b","for":"soon"}]}`},
		{"for and until", `{"id":"x","title":"X","config":{"nodes":3},"steps":[{"title":"a","text":"b","for":"1s","until":{"cond":"leader"}}]}`},
	} {
		if _, err := Parse([]byte(tc.json)); err == nil {
			t.Errorf("%s: Parse succeeded", tc.name)
		}
	}
	if _, err := Get("nope"); err == nil || !strings.Contains(err.Error(), "leader-election") {
		t.Errorf("Get(nope) = %v; want an error listing the scenarios", err)
	}
}

// The option scenarios' endings are the options' doing: played with the option off, their
// claims fail as the narration says they would.
func TestOptionScenariosNeedTheirOption(t *testing.T) {
	for _, tc := range []struct {
		id, want string
		off      func(*Config)
	}{
		{"pre-vote", "n3 has term", func(c *Config) { c.PreVote = false }},            // n3's term runs away
		{"check-quorum", "did not happen", func(c *Config) { c.CheckQuorum = false }}, // n1 leads on
	} {
		sc, err := Get(tc.id)
		if err != nil {
			t.Fatal(err)
		}
		tc.off(&sc.Config)
		_, errs := play(t, sc)
		found := false
		for _, err := range errs {
			found = found || strings.Contains(err.Error(), tc.want)
		}
		if !found {
			t.Errorf("%s without its option: claims failed with %v; want one saying %q", tc.id, errs, tc.want)
		}
	}
}

// The snapshot scenario shows what it says: n1 and n2 compact while n3 is down, and n3 is
// caught up by n1's snapshot, not by the entries (which n1 no longer holds).
func TestSnapshotScenarioInstallsASnapshot(t *testing.T) {
	sc, err := Get("snapshot")
	if err != nil {
		t.Fatal(err)
	}
	p, errs := play(t, sc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	installs := 0
	for _, e := range p.Cluster.Trace() {
		if e.Kind == raft.EvInstall && e.Node == "n3" && e.Peer == "n1" {
			installs++
		}
	}
	// (A chunk of n1's first snapshot, sent while n3 was down, may still reach it: then n3
	// installs that one and the next.)
	if installs < 1 || p.Cluster.Snapshots() < 4 {
		t.Errorf("n3 installed %d snapshots from n1, %d snapshots taken; want an install, and n1 and n2 compacting twice each", installs, p.Cluster.Snapshots())
	}
	if st := p.Cluster.Status("n3"); st.SnapshotIndex == 0 {
		t.Errorf("n3's status %+v; want a snapshot", st)
	}
}

// ParseFile checks every command with the key-value parser and names its place.
func TestParseFileChecksCommands(t *testing.T) {
	_, err := ParseFile("custom.json", []byte(`{"id":"x","title":"X","config":{"nodes":3},"steps":[
		{"title":"a","text":"b","do":[{"kind":"submit","command":"put x"},{"kind":"batch","commands":["get y","frob z"]}],
		 "until":{"cond":"committed","command":"put x 1 2"},"expect":[{"cond":"not-committed","command":"delete"}]}]}`))
	want := strings.Join([]string{
		"custom.json: steps[0].do[0].command: kv: put needs a value",
		"custom.json: steps[0].do[1].commands[1]: kv: unknown",
		"custom.json: steps[0].expect[0].command: kv: delete needs a key",
	}, "")
	got := ""
	for _, line := range strings.Split(fmt.Sprint(err), "\n") {
		for _, w := range []string{"custom.json: steps[0].do[0].command: kv: put needs a value", "custom.json: steps[0].do[1].commands[1]: kv: unknown", "custom.json: steps[0].expect[0].command: kv: delete needs a key"} {
			if strings.HasPrefix(line, w) {
				got += w
			}
		}
	}
	if got != want {
		t.Errorf("ParseFile:\n%v\nwant lines starting with the three bad commands' places", err)
	}
}

// The questions of the shipped scenarios have one right answer each, and in figure8 the answer
// is the break-it switch's doing: with it, n1 commits X by counting.
func TestShippedQuestions(t *testing.T) {
	all, err := All()
	if err != nil {
		t.Fatal(err)
	}
	with := 0
	for _, sc := range all {
		asks := 0
		p, err := NewPlayer(sc, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i, st := range sc.Steps {
			if err := p.Begin(i); err != nil {
				t.Fatal(err)
			}
			if err := p.Finish(); err != nil {
				t.Fatal(err)
			}
			if st.Question != nil {
				asks++
				if r := p.Right(); len(r) != 1 {
					t.Errorf("%s step %d: right choices %v; want one", sc.ID, i+1, r)
				}
			}
		}
		if asks > 0 {
			with++
		}
	}
	if with < 3 {
		t.Errorf("%d shipped scenarios ask questions; want at least 3", with)
	}
	sc, _ := Get("figure8")
	for _, bug := range []bool{false, true} {
		sc.Config.Bugs.CommitByCounting = bug
		p, err := Seek(sc, 7, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := p.Finish(); err != nil {
			t.Fatal(err)
		}
		want := map[bool]string{false: "No", true: "Yes: it is on a majority"}[bug]
		if r := p.Right(); len(r) != 1 || sc.Steps[7].Question.Choices[r[0]].Text != want {
			t.Errorf("figure8 step 8 with CommitByCounting=%t: right %v; want %q", bug, r, want)
		}
	}
}

// A course's scenario can change the membership: add-server names a server that is not in the
// cluster yet, and later steps may name it.
func TestMembershipActions(t *testing.T) {
	sc, err := ParseFile("grow.json", []byte(`{"id":"grow","title":"Grow the cluster","config":{"nodes":3,"seed":5},"steps":[
	 {"title":"Elect","text":"A leader.","until":{"cond":"commit","min":1}},
	 {"title":"Add n4","text":"n4 joins.","do":[{"kind":"add-server","node":"n4"},{"kind":"submit","command":"put x 1"}],
	  "until":{"cond":"committed","command":"put x 1","nodes":4},"expect":[{"cond":"state","node":"n4","state":"follower"}]},
	 {"title":"Remove n1","text":"n1 leaves.","do":[{"kind":"remove-server","node":"n1"}],"for":"1s","expect":[{"cond":"leader"}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	p, errs := play(t, sc)
	for _, err := range errs {
		t.Error(err)
	}
	if ids := p.Cluster.IDs(); len(ids) != 4 || ids[3] != "n4" {
		t.Errorf("the cluster's servers: %v; want n4 added", ids)
	}
}

// expectsViolation reports whether a scenario claims a violation (one that plants a bug).
func expectsViolation(sc *Scenario) bool {
	for _, st := range sc.Steps {
		for _, c := range st.Expect {
			if c.Cond == "violation" {
				return true
			}
		}
	}
	return false
}

// The single-server bug scenario needs its switch: without it, n2 refuses the removal until it
// has committed an entry of its own term.
func TestSingleServerBugNeedsItsSwitch(t *testing.T) {
	sc, err := Get("single-server-bug")
	if err != nil {
		t.Fatal(err)
	}
	sc.Config.Bugs = raft.Bugs{}
	p, err := NewPlayer(sc, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range sc.Steps {
		if err := p.Begin(i); err != nil {
			if !strings.Contains(err.Error(), "committed an entry of its term") {
				t.Fatalf("step %d: %v; want the removal refused", i+1, err)
			}
			if v := p.Cluster.Violation(); v != nil {
				t.Fatalf("violation without the bug: %v", v)
			}
			return
		}
		if err := p.Finish(); err != nil {
			t.Fatal(err)
		}
	}
	t.Fatal("without the switch, every step ran: the removal was not refused")
}
