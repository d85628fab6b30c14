// Share links and time travel: a recorded run replays exactly, also from its encoded form.

package sim

import (
	"strings"
	"testing"
	"time"

	"raftlab/raft"
)

// person plays a person at the page: runs the clock in uneven frames and acts between them.
func person(t *testing.T, c *Cluster) {
	t.Helper()
	frame := 0
	step := func(d time.Duration) {
		for end := c.Now() + d; c.Now() < end; frame++ {
			c.RunFor(time.Duration(7+frame%11) * time.Millisecond)
		}
	}
	step(400 * time.Millisecond)
	leader, ok := c.Leader()
	if !ok {
		t.Fatal("no leader")
	}
	c.Do(Action{Kind: ActSubmit, Command: "put x 1"})
	step(30 * time.Millisecond)
	c.Do(Action{Kind: ActCrash, Node: leader})
	step(500 * time.Millisecond)
	c.Do(Action{Kind: ActPartition, Groups: [][]string{{"n1", "n2"}, {"n3", "n4", "n5"}}})
	c.Do(Action{Kind: ActUnreliable, On: true})
	step(700 * time.Millisecond)
	c.Do(Action{Kind: ActRestart, Node: leader})
	c.Do(Action{Kind: ActHealAll})
	step(600 * time.Millisecond)
}

func TestRunReplaysExactly(t *testing.T) {
	c, err := New(Options{Nodes: 5, Seed: 42, Record: true})
	if err != nil {
		t.Fatal(err)
	}
	person(t, c)
	end, want := c.Now(), c.TraceHash()
	run := &Run{Version: RunVersion, Nodes: 5, Seed: 42, Actions: c.Recorded()}
	link := run.Encode()
	if len(link) > 400 {
		t.Errorf("link of %d characters for %d actions", len(link), len(run.Actions))
	}
	back, err := DecodeRun(link)
	if err != nil {
		t.Fatal(err)
	}
	r, err := back.Replay(Options{}, end)
	if err != nil {
		t.Fatal(err)
	}
	if got := r.TraceHash(); got != want {
		t.Fatalf("replayed from the link: trace %s; recorded %s", got, want)
	}
}

// TestTimeTravelFork: going back to an earlier time replays the run to there; acting then
// forks a new run whose actions are the old ones up to that time plus the new one.
func TestTimeTravelFork(t *testing.T) {
	c, _ := New(Options{Nodes: 5, Seed: 42, Record: true})
	person(t, c)
	run := &Run{Version: RunVersion, Nodes: 5, Seed: 42, Actions: c.Recorded()}
	back := 600 * time.Millisecond // after the first two actions
	past, err := run.Replay(Options{Record: true}, back)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(past.Recorded()); n != 2 {
		t.Fatalf("at %v the run had %d actions; want 2", back, n)
	}
	crashed := run.Actions[1].Node
	if err := past.Do(Action{Kind: ActTimeout, Node: crashed}); err == nil {
		t.Fatalf("timeout of the crashed %s succeeded", crashed)
	}
	live := "n1"
	if live == crashed {
		live = "n2"
	}
	if err := past.Do(Action{Kind: ActTimeout, Node: live}); err != nil {
		t.Fatal(err)
	}
	past.RunFor(time.Second)
	fork := &Run{Version: RunVersion, Nodes: 5, Seed: 42, Actions: past.Recorded()}
	again, _ := fork.Replay(Options{}, past.Now())
	if again.TraceHash() != past.TraceHash() {
		t.Fatal("the fork does not replay")
	}
	if c.TraceHash() == past.TraceHash() {
		t.Fatal("the fork equals the original run")
	}
}

func TestDecodeRunErrors(t *testing.T) {
	good := (&Run{Version: RunVersion, Nodes: 3, Seed: 1}).Encode()
	for _, s := range []string{
		"", "!!!", "aGVsbG8", good[:len(good)/2],
		(&Run{Version: 99, Nodes: 3}).Encode(),
		(&Run{Version: RunVersion, Nodes: 0}).Encode(),
		(&Run{Version: RunVersion, Nodes: 3, Actions: []Action{{At: 5, Kind: ActHealAll}, {At: 1, Kind: ActHealAll}}}).Encode(),
	} {
		if _, err := DecodeRun(s); err == nil || !strings.HasPrefix(err.Error(), "run: ") {
			t.Errorf("DecodeRun(%q) = %v; want a run: error", s, err)
		}
	}
	if _, err := DecodeRun(good); err != nil {
		t.Fatal(err)
	}
}

func FuzzDecodeRun(f *testing.F) {
	f.Add((&Run{Version: RunVersion, Nodes: 3, Seed: 1, Actions: []Action{{At: 1, Kind: ActCrash, Node: "n1"}}}).Encode())
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		r, err := DecodeRun(s)
		if err != nil {
			return
		}
		if r.Validate() != nil {
			t.Fatal("DecodeRun returned an invalid run")
		}
	})
}

// v1Link is a share link of run version 1, written by Run.Encode before links were FIFO (at
// commit 168d678): five nodes, seed 7, a put, n2 crashed and restarted, a batch and a put.
// Replayed to 2 s, that version's simulator gave trace hash v1Hash.
const (
	v1Link = "jI-9TsMwFIV3nsI6s4cm_FR4JKKCmYql6uA4l8RKbVf2DUoU5d2RQghDGPB05O_86I74hMokPNS9RILaS5RQIw4h1sTvgQnqQ18SSRTBOctPQxE6z9bXKzjYnqrnCxm2wR-to9DxCt9aey2CTzYxeTMUDZl2ha-1D5FebN1QPFJ0C5gkNNRphGaou93yJFrrKyikrnSWIWGCc3r-unYsepFhkt-hh03IRJ0aSPhQERR8vnr3G2-p2TS__QnqNC9okUHOqhT5ooy4xfmn6nFTFSmxjvzncLb772mDyDGdp5uvAAAA__8"
	v1Hash = "7194de2414d78010"
)

// TestVersion1LinksReplay: a link from before FIFO links decodes and replays with the network
// it was recorded on (every message drawing its own delay), to the same trace hash; the same
// run as version 2 has FIFO links and another trace.
func TestVersion1LinksReplay(t *testing.T) {
	r, err := DecodeRun(v1Link)
	if err != nil {
		t.Fatal(err)
	}
	if r.Version != 1 || !r.Options().Unordered {
		t.Fatalf("version %d, unordered %v; want a version 1 run on unordered links", r.Version, r.Options().Unordered)
	}
	c, err := r.Replay(Options{}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if got := c.TraceHash(); got != v1Hash {
		t.Fatalf("version 1 link replayed to trace %s; want %s, as recorded", got, v1Hash)
	}
	if !c.Unordered() {
		t.Fatal("the replayed cluster's links are FIFO; want the version 1 network")
	}
	r2 := *r
	r2.Version = RunVersion
	c2, err := r2.Replay(Options{}, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Unordered() || c2.TraceHash() == v1Hash {
		t.Fatalf("version %d: unordered %v, trace %s; want FIFO links and another trace", RunVersion, c2.Unordered(), c2.TraceHash())
	}
	bad := *r
	bad.Version = 3
	if err := bad.Validate(); err == nil || !strings.Contains(err.Error(), "version 3") {
		t.Fatalf("Validate of a version 3 run: %v; want an error naming the version", err)
	}
}

// TestDropMessageByHand: a message on the wire dropped by hand is lost on arrival, the drop is
// recorded as an action, and the recorded run replays to the same trace.
func TestDropMessageByHand(t *testing.T) {
	var drops []raft.Event
	c, err := New(Options{Nodes: 3, Seed: 5, Record: true, OnEvent: func(e raft.Event) {
		if e.Kind == raft.EvDrop {
			drops = append(drops, e)
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	c.RunUntil(time.Second)
	fs := c.InFlight()
	for len(fs) == 0 {
		c.Step()
		fs = c.InFlight()
	}
	f := fs[0]
	if got, ok := c.Flight(f.Seq); !ok || got.Msg.From != f.Msg.From || got.Seq != f.Seq {
		t.Fatalf("Flight(%d) = %+v, %v; want the message on the wire", f.Seq, got, ok)
	}
	if err := c.Do(Action{Kind: ActDropMessage, Msg: f.Seq}); err != nil {
		t.Fatal(err)
	}
	if got, _ := c.Flight(f.Seq); !got.Dropped {
		t.Fatalf("message %d not shown as lost after the drop", f.Seq)
	}
	if err := c.Do(Action{Kind: ActDropMessage, Msg: f.Seq}); err == nil {
		t.Fatal("dropping a message twice succeeded")
	}
	c.RunUntil(c.Now() + 100*time.Millisecond)
	if len(drops) != 1 || drops[0].Detail != "dropped by hand" || drops[0].Node != f.Msg.From || drops[0].Peer != f.Msg.To {
		t.Fatalf("drops %v; want the one message, dropped by hand", drops)
	}
	if err := c.Do(Action{Kind: ActDropMessage, Msg: f.Seq}); err == nil || !strings.Contains(err.Error(), "not on the wire") {
		t.Fatalf("dropping a message that has left the wire: %v; want an error saying so", err)
	}
	run := Run{Version: RunVersion, Nodes: 3, Seed: 5, Actions: c.Recorded()}
	back, err := DecodeRun(run.Encode())
	if err != nil {
		t.Fatal(err)
	}
	r, err := back.Replay(Options{}, c.Now())
	if err != nil {
		t.Fatal(err)
	}
	if r.TraceHash() != c.TraceHash() {
		t.Fatalf("the run with a message dropped by hand replays to trace %s; want %s", r.TraceHash(), c.TraceHash())
	}
}
