// Tests of the client history: the follower-read switch caught by the linearizability check,
// and histories that survive replay, seek and fork.

package main

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"raftlab/raft/sim"
	"raftlab/wasm/histcheck"
)

// checkLab checks the lab's history as the page does: its JSON handed to the checker.
func checkLab(t testing.TB, l *Lab) histcheck.Verdict {
	t.Helper()
	b, err := json.Marshal(l.History(0))
	if err != nil {
		t.Fatal(err)
	}
	v, err := histcheck.CheckJSON(b, time.Minute, true)
	if err != nil {
		t.Fatalf("the checker refuses the lab's history: %v", err)
	}
	return v
}

func do(t testing.TB, l *Lab, a Action) {
	t.Helper()
	if err := l.Do(a); err != nil {
		t.Fatalf("%+v: %v", a, err)
	}
}

// answered reports whether the lab's last operation has its answer.
func answered(l *Lab) func(Snapshot) bool {
	return func(Snapshot) bool {
		h := l.History(1)
		return len(h.Ops) == 1 && h.Ops[0].State == "ok"
	}
}

// staleFollowerRun writes x=1, partitions the leader away, writes x=2 through the new leader
// and then reads x at the old leader, cut off with its x=1, and at the new leader.
func staleFollowerRun(t *testing.T, followerReads bool) *Lab {
	t.Helper()
	var names []string
	if followerReads {
		names = []string{"FollowerReads"}
	}
	l, err := BreakIt(5, 3, names, 0)
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	do(t, l, Action{Kind: "submit", Command: "put x 1"})
	runUntil(t, l, time.Second, "put x 1 answered", answered(l))
	runUntil(t, l, time.Second, "every node applying x=1", func(s Snapshot) bool {
		for _, n := range s.Nodes {
			if !kvHas(n, "x", "1") {
				return false
			}
		}
		return true
	})
	old := l.Snapshot(0, 0).Leader
	var rest []string
	for _, id := range l.c.IDs() {
		if id != old {
			rest = append(rest, id)
		}
	}
	do(t, l, Action{Kind: "partition", Groups: [][]string{{old}, rest}})
	runUntil(t, l, 5*time.Second, "a new leader", func(s Snapshot) bool { return s.Leader != "" && s.Leader != old })
	do(t, l, Action{Kind: "submit", Command: "put x 2"})
	runUntil(t, l, time.Second, "put x 2 answered", answered(l))
	do(t, l, Action{Kind: "submit", Command: "get x", Node: old})
	do(t, l, Action{Kind: "submit", Command: "get x"})
	runUntil(t, l, time.Second, "get x answered", answered(l))
	l.Advance(100*time.Millisecond, time.Hour)
	return l
}

func TestFollowerReadsAreNotLinearizable(t *testing.T) {
	broken := staleFollowerRun(t, true)
	ops := broken.History(0).Ops
	if len(ops) != 4 {
		t.Fatalf("history %+v; want put, put, and two gets", ops)
	}
	if r := ops[2]; r.Src != "follower read" || r.State != "ok" || r.Out != "1" || r.R != r.C+1 {
		t.Errorf("the get at the cut-off old leader: %+v; want x=1 answered at once from its state", r)
	}
	v := checkLab(t, broken)
	if v.Outcome != histcheck.NotLinearizable || !slices.Equal(v.Keys, []string{"x"}) || v.HTML == "" {
		t.Errorf("with follower reads: %s, keys %v, visualization %d bytes; want not linearizable on x, with a visualization", v.Outcome, v.Keys, len(v.HTML))
	}
	if tl := broken.Timeline(); !slices.Equal(tl.Bugs, []string{"FollowerReads"}) || !broken.Run().FollowerReads {
		t.Errorf("the switch is not carried: timeline %v, run %+v", tl.Bugs, broken.Run())
	}

	sound := staleFollowerRun(t, false)
	ops = sound.History(0).Ops
	if len(ops) != 4 || ops[2].State != "pending" || ops[3].State != "ok" || ops[3].Out != "2" {
		t.Fatalf("without the switch: %+v; want the old leader's get unanswered (it cannot commit) and the new leader's x=2", ops)
	}
	if v := checkLab(t, sound); v.Outcome != histcheck.Linearizable || len(v.Keys) > 0 || v.HTML != "" {
		t.Errorf("without follower reads: %+v; want linearizable", v)
	}
}

func TestFollowerReadsUnderClientLoad(t *testing.T) {
	l, err := BreakIt(5, 11, []string{"FollowerReads"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	do(t, l, Action{Kind: "load", On: true})
	l.Advance(time.Second, time.Hour)
	leader := l.Snapshot(0, 0).Leader
	follower := "n1"
	if leader == follower {
		follower = "n2"
	}
	do(t, l, Action{Kind: "disconnect", Node: follower})
	l.Advance(3*time.Second, time.Hour)
	if v := checkLab(t, l); v.Outcome != histcheck.NotLinearizable {
		t.Errorf("load reading from followers, %s cut off for 3 s: %s (%d ops); want not linearizable", follower, v.Outcome, v.Ops)
	}
	reads := 0
	for _, o := range l.History(0).Ops {
		if o.Src == "load" && o.Op == "get" {
			reads++
		}
	}
	if reads < 30 {
		t.Errorf("%d reads by the load in 4 s; want one a tick", reads)
	}
}

// busyRun records a history with every source of operations: the submit box (gets through the
// log included), batches, the load, a crash, and a partition.
func busyRun(t testing.TB, followerReads bool) *Lab {
	t.Helper()
	var names []string
	if followerReads {
		names = []string{"FollowerReads"}
	}
	l, err := BreakIt(5, 5, names, 0)
	if err != nil {
		t.Fatal(err)
	}
	for range 200 { // until a leader
		if l.Snapshot(0, 0).Leader != "" {
			break
		}
		l.Advance(10*time.Millisecond, time.Hour)
	}
	do(t, l, Action{Kind: "load", On: true})
	for i := range 30 {
		l.Advance(37*time.Millisecond, time.Hour)
		cmd := fmt.Sprintf("append k%d %d", i%3, i)
		if i%2 == 1 {
			cmd = fmt.Sprintf("get k%d", i%3)
		}
		if l.Snapshot(0, 0).Leader != "" || followerReads && i%2 == 1 {
			do(t, l, Action{Kind: "submit", Command: cmd})
		}
		switch i {
		case 10:
			do(t, l, Action{Kind: "batch", Commands: []string{"put b1 x", "get k1", "delete k2"}})
		case 12:
			do(t, l, Action{Kind: "crash", Node: l.Snapshot(0, 0).Leader})
		case 20:
			do(t, l, Action{Kind: "partition", Groups: [][]string{{"n1", "n2"}, {"n3", "n4", "n5"}}})
		case 25:
			do(t, l, Action{Kind: "heal-all"})
		}
	}
	l.Advance(200*time.Millisecond, time.Hour)
	return l
}

// prefix is what the history was at time at: the operations called by then, those answered
// later still unanswered.
func prefix(ops []histOp, at time.Duration) []histOp {
	var out []histOp
	for _, o := range ops {
		if o.C > int64(at) {
			break
		}
		if o.R > int64(at) {
			o.R, o.State, o.Found, o.Out, o.Why = 0, "pending", false, "", ""
		}
		out = append(out, o)
	}
	return out
}

func TestHistorySurvivesReplaySeekAndFork(t *testing.T) {
	for _, fr := range []bool{false, true} {
		l := busyRun(t, fr)
		end, full := l.c.Now(), l.History(0)
		if full.Total < 40 {
			t.Fatalf("follower reads %v: %d operations recorded; want the load's and the box's", fr, full.Total)
		}
		// A share link replays the same history.
		back, err := OpenRun(l.Run(), end, nil, "test")
		if err != nil {
			t.Fatal(err)
		}
		if got := back.History(0); !reflect.DeepEqual(got.Ops, full.Ops) {
			for i := range min(len(got.Ops), len(full.Ops)) {
				if !reflect.DeepEqual(got.Ops[i], full.Ops[i]) {
					t.Errorf("op %d: replay %+v; run %+v", i, got.Ops[i], full.Ops[i])
				}
			}
			t.Fatalf("follower reads %v: the link's replay has another history (%d ops; the run had %d)", fr, got.Total, full.Total)
		}
		// Back to mid-run: the history up to then, with the answers that came later missing.
		mid := end / 2
		s, err := l.Seek(mid)
		if err != nil {
			t.Fatal(err)
		}
		want := prefix(full.Ops, mid)
		got := s.History(0).Ops
		if len(got) != len(want) {
			t.Fatalf("follower reads %v: after a seek to %v, %d ops; want %d", fr, mid, len(got), len(want))
		}
		for i := range got {
			g, w := got[i], want[i]
			g.Why, w.Why = "", ""
			if g.State == "pending" || w.State == "pending" {
				g.State, w.State = "", "" // unanswered yet, or unknown for good: both pending
			}
			if !reflect.DeepEqual(g, w) {
				t.Fatalf("follower reads %v: after a seek to %v, op %d is %+v; want %+v", fr, mid, i, got[i], want[i])
			}
		}
		// Forward again, replaying the recorded actions: the same history as the run's.
		s.Advance(end-mid, time.Hour)
		if got := s.History(0); !reflect.DeepEqual(got.Ops, full.Ops) {
			t.Errorf("follower reads %v: seek back then forward: another history (%d ops; want %d)", fr, got.Total, full.Total)
		}
		// A fork: acting at mid drops the recorded future; the history goes on from the prefix.
		f, err := l.Seek(mid)
		if err != nil {
			t.Fatal(err)
		}
		// mid may fall inside the partition, with the crashed leader on the majority's side:
		// heal and restart in the fork, then run the simulated clock until a leader is elected.
		do(t, f, Action{Kind: "heal-all"})
		for _, nd := range f.Snapshot(0, 0).Nodes {
			if nd.State == "dead" {
				do(t, f, Action{Kind: "restart", Node: nd.ID})
			}
		}
		for i := 0; f.Snapshot(0, 0).Leader == ""; i++ {
			if i == 100 {
				t.Fatalf("follower reads %v: no leader in the fork 5 simulated seconds after healing", fr)
			}
			f.Advance(50*time.Millisecond, time.Hour)
		}
		do(t, f, Action{Kind: "submit", Command: "put forked 1"})
		f.Advance(500*time.Millisecond, time.Hour)
		fops := f.History(0).Ops
		i := slices.IndexFunc(fops, func(o histOp) bool { return o.Key == "forked" })
		if i < len(prefix(full.Ops, mid)) || fops[i].State != "ok" {
			t.Errorf("follower reads %v: the fork's history %+v; want put forked 1 after the run's first ops, answered", fr, fops)
		}
		for i, o := range prefix(full.Ops, mid) {
			if fops[i].C != o.C || fops[i].Key != o.Key || fops[i].Op != o.Op {
				t.Fatalf("follower reads %v: the fork's op %d is %+v; want the run's %+v", fr, i, fops[i], o)
			}
		}
		if v := checkLab(t, l); !fr && v.Outcome != histcheck.Linearizable {
			t.Errorf("busy run without the switch: %s, keys %v; want linearizable", v.Outcome, v.Keys)
		}
	}
}

func TestHistoryStopsAtItsCap(t *testing.T) {
	l, err := BreakIt(3, 2, []string{"FollowerReads"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	do(t, l, Action{Kind: "submit", Command: "put a 1"})
	for i := 0; i < historyCap+10; i++ {
		do(t, l, Action{Kind: "submit", Command: "get a"}) // answered at once: the history fills
	}
	h := l.History(0)
	if !h.Full || h.Total != historyCap {
		t.Fatalf("history after %d reads: full %v, %d ops; want full at %d", historyCap+11, h.Full, h.Total, historyCap)
	}
	if h.Ops[0].State != "pending" || h.Ops[0].Why == "" {
		t.Errorf("the put unanswered when the history stopped: %+v; want pending for good, with the reason", h.Ops[0])
	}
	l.Advance(time.Second, time.Hour)
	if h := l.History(0); h.Ops[0].State != "pending" || h.Total != historyCap {
		t.Errorf("after the history stopped: %+v, %d ops; want nothing more recorded", h.Ops[0], h.Total)
	}
	if v := checkLab(t, l); v.Outcome != histcheck.Linearizable {
		t.Errorf("a stopped history: %s; want linearizable (the reads may precede the unknown put)", v.Outcome)
	}
}

func TestStoredClusterHistoryStartsUnknown(t *testing.T) {
	store := NewMemStore()
	l := newTestLab(t, store, 3)
	runUntil(t, l, 5*time.Second, "a leader election", hasLeader)
	do(t, l, Action{Kind: "submit", Command: "put a 1"})
	runUntil(t, l, time.Second, "put a 1 answered", answered(l))
	// The page reloads: the cluster starts from storage with an empty history.
	l2, err := NewLab(store, Config{Nodes: 3, Seed: 8})
	if err != nil {
		t.Fatal(err)
	}
	runUntil(t, l2, 5*time.Second, "a leader election", hasLeader)
	do(t, l2, Action{Kind: "submit", Command: "get a"})
	runUntil(t, l2, time.Second, "get a answered", answered(l2))
	h := l2.History(0)
	if h.Fresh || len(h.Ops) != 1 || h.Ops[0].Out != "1" {
		t.Fatalf("history after a restart from storage: %+v; want not fresh, the get reading 1", h)
	}
	if v := checkLab(t, l2); v.Outcome != histcheck.Linearizable {
		t.Errorf("a read of a value written before the page loaded: %s; want linearizable", v.Outcome)
	}
}

// BenchmarkHistoryCheck measures the checker on page histories of n operations: the client
// load, gets through the log and follower reads, with faults. Run it natively and under Node
// (GOOS=js GOARCH=wasm), which is close to the page's checker module.
func BenchmarkHistoryCheck(b *testing.B) {
	defer func(c int) { historyCap = c }(historyCap)
	historyCap = 5000
	for _, broken := range []bool{false, true} {
		for _, n := range []int{200, 1000, 2000, 5000} {
			b.Run(fmt.Sprintf("followerReads=%v/ops=%d", broken, n), func(b *testing.B) {
				h := pageHistory(b, n, broken)
				js, _ := json.Marshal(h)
				b.ResetTimer()
				var v histcheck.Verdict
				for b.Loop() {
					var err error
					// As the page's checker does: a failure gets its visualization.
					if v, err = histcheck.CheckJSON(js, 0, true); err != nil {
						b.Fatal(err)
					}
				}
				if (v.Outcome == histcheck.NotLinearizable) != broken {
					b.Errorf("verdict %s", v.Outcome)
				}
				b.ReportMetric(float64(len(js)), "json-bytes")
				b.ReportMetric(float64(len(v.HTML)), "html-bytes")
			})
		}
	}
}

// pageHistory records n operations: the load and a client reading every 50 ms through the
// log, with a leader crash and restart every 5 s; broken, reads go to followers, one of which
// is cut off half the time.
func pageHistory(b *testing.B, n int, broken bool) HistoryView {
	var names []string
	if broken {
		names = []string{"FollowerReads"}
	}
	l, err := BreakIt(5, 9, names, 0)
	if err != nil {
		b.Fatal(err)
	}
	l.Advance(time.Second, time.Hour)
	do(b, l, Action{Kind: "load", On: true})
	for i := 0; len(l.History(0).Ops) < n; i++ {
		l.Advance(50*time.Millisecond, time.Hour)
		if i%100 == 50 {
			if id := l.Snapshot(0, 0).Leader; id != "" {
				do(b, l, Action{Kind: "crash", Node: id})
			}
		}
		if broken && i%100 == 10 {
			do(b, l, Action{Kind: "disconnect", Node: "n3"})
		}
		if broken && i%100 == 60 {
			do(b, l, Action{Kind: "reconnect", Node: "n3"})
		}
		if i%100 == 80 {
			for _, id := range l.c.IDs() {
				if !l.c.Alive(id) {
					do(b, l, Action{Kind: "restart", Node: id})
				}
			}
		}
		if l.Snapshot(0, 0).Leader != "" || broken {
			do(b, l, Action{Kind: "submit", Command: fmt.Sprintf("get k%d", i%10)})
		}
	}
	h := l.History(0)
	h.Ops = h.Ops[:n]
	return h
}

func TestFollowerReadsCarriedByLinks(t *testing.T) {
	l := staleFollowerRun(t, true)
	sh, err := l.Share()
	if err != nil {
		t.Fatal(err)
	}
	run, err := ParseRun(sh.Run)
	if err != nil || !run.FollowerReads {
		t.Fatalf("the link's run: %v, %+v; want the follower-read switch on", err, run)
	}
	back, err := sim.DecodeRun(run.Encode())
	if err != nil || !back.FollowerReads {
		t.Fatalf("sim.DecodeRun of the link: %v; follower reads %v", err, back != nil && back.FollowerReads)
	}
	opened, err := OpenRun(back, l.c.Now(), nil, "a shared run")
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(opened.History(0).Ops, l.History(0).Ops) || opened.TraceHash() != l.TraceHash() {
		t.Errorf("the link opens another run or history")
	}
	if v := checkLab(t, opened); v.Outcome != histcheck.NotLinearizable {
		t.Errorf("the shared run's history: %s; want not linearizable", v.Outcome)
	}
	// A link made before the switch existed decodes with it off.
	old, err := ParseRun([]byte(`{"v":1,"n":3,"s":1,"b":{"ForgetVote":false}}`))
	if err != nil || old.FollowerReads {
		t.Errorf("an old link: %v, %+v", err, old)
	}
}

func TestGuidedScenarioHistory(t *testing.T) {
	// The replication scenario's own script puts x=1 (step 2) and a batch of ten (step 4).
	for _, step := range []int{0, 2} {
		l, err := OpenScenario("replication", step)
		if err != nil {
			t.Fatal(err)
		}
		for range 10 { // to the end: the script submits as it goes
			l.Advance(time.Second, time.Hour)
			if l.Next() != nil {
				break
			}
		}
		h := l.History(0)
		scripted := 0
		for _, o := range h.Ops {
			if o.Src == "scenario" && o.State == "ok" {
				scripted++
			}
		}
		// Opened at the first step, the script's puts are all in the history; opened at the
		// third, put x 1 was replayed before the lab could see it: the start is unknown.
		if step == 0 && (scripted != 11 || !h.Fresh) || step == 2 && (scripted != 10 || h.Fresh) {
			t.Fatalf("opened at step %d: %d scripted ops answered (of %d), fresh %v", step+1, scripted, h.Total, h.Fresh)
		}
		// A read of x=1 after all that is linearizable either way; had the history claimed a
		// fresh start without put x 1, it would not be.
		last := h.Ops[len(h.Ops)-1]
		h.Ops = append(h.Ops, histOp{Src: "submit", Op: "get", Key: "x", C: last.R + 1, R: last.R + 2, State: "ok", Found: true, Out: "1"})
		for _, fresh := range []bool{h.Fresh, true} {
			h.Fresh = fresh
			b, _ := json.Marshal(h)
			v, err := histcheck.CheckJSON(b, time.Minute, false)
			if err != nil {
				t.Fatal(err)
			}
			if want := step == 0 || !fresh; (v.Outcome == histcheck.Linearizable) != want {
				t.Errorf("opened at step %d, fresh %v: %s", step+1, fresh, v.Outcome)
			}
		}
	}
}
