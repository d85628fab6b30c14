// Tests of the RPC proxy: latency, per-link latency, unreliable mode, duplication, partitions.

package sim

import (
	"math"
	"testing"
	"time"

	"raftlab/raft"
)

// netStats runs a cluster under load and returns the delay of every scheduled delivery (from
// InFlight, sampled after every event) and counts of sent, dropped and delivered messages.
func netStats(t *testing.T, o Options, d time.Duration) (delays []time.Duration, sent, dropped, delivered int, c *Cluster) {
	t.Helper()
	o.OnEvent = func(e raft.Event) {
		switch e.Kind {
		case raft.EvSend:
			sent++
		case raft.EvDrop:
			dropped++
		case raft.EvDeliver:
			delivered++
		}
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	c.Schedule(Load(o.Seed, d, 50)...)
	type flight struct {
		sent, deliver time.Duration
		msg           string
	}
	seen := map[flight]bool{}
	for c.Step() && c.Now() < d {
		for _, f := range c.InFlight() {
			k := flight{f.Sent, f.Deliver, f.Msg.String()}
			if !seen[k] {
				seen[k] = true
				delays = append(delays, f.Deliver-f.Sent)
			}
		}
	}
	if err := c.Violation(); err != nil {
		t.Fatal(err)
	}
	return delays, sent, dropped, delivered, c
}

func TestLatencyDefault(t *testing.T) {
	delays, sent, dropped, _, _ := netStats(t, Options{Nodes: 3, Seed: 2}, 2*time.Second)
	if dropped != 0 || sent < 200 {
		t.Fatalf("reliable network: %d sent, %d dropped", sent, dropped)
	}
	for _, d := range delays {
		if d < time.Millisecond || d > 5*time.Millisecond {
			t.Fatalf("delay %v outside 1–5 ms", d)
		}
	}
}

func TestUnreliableRates(t *testing.T) {
	delays, sent, dropped, _, _ := netStats(t, Options{Nodes: 5, Seed: 3, Unreliable: true}, 5*time.Second)
	dropRate := float64(dropped) / float64(sent)
	long := 0
	for _, d := range delays {
		if d >= UnreliableDelay {
			long++
		}
	}
	longRate := float64(long) / float64(len(delays))
	// 10% dropped; of the rest, 10/90 ≈ 11% delayed by 75 ms. Thousands of messages, fixed seed.
	if math.Abs(dropRate-0.10) > 0.02 || math.Abs(longRate-0.111) > 0.025 {
		t.Fatalf("unreliable: %d sent, %.3f dropped, %.3f of deliveries delayed 75ms; want ≈0.10 and ≈0.11", sent, dropRate, longRate)
	}
}

// linkOrder runs a loaded cluster and counts the messages that arrived before a message sent
// earlier on the same link (same sender and receiver), out of those delivered.
func linkOrder(t *testing.T, o Options) (overtaken, delivered int) {
	t.Helper()
	type link struct{ from, to string }
	sentSeq := map[*raft.Message]int{} // a travelling message's item is its identity
	last := map[link]int{}
	n := 0
	o.OnEvent = func(e raft.Event) {
		switch e.Kind {
		case raft.EvSend:
			n++
			sentSeq[e.Msg] = n
		case raft.EvDeliver:
			seq, ok := sentSeq[e.Msg]
			if !ok {
				return // a duplicate's second copy
			}
			delete(sentSeq, e.Msg)
			delivered++
			l := link{e.Msg.From, e.Msg.To}
			if seq < last[l] {
				overtaken++
			}
			last[l] = max(last[l], seq)
		case raft.EvDrop:
			if e.Detail != "link cut" && e.Detail != "unreliable network" {
				delete(sentSeq, e.Msg) // lost on arrival
			}
		}
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	c.Schedule(Load(o.Seed, 3*time.Second, 400)...)
	c.RunUntil(3 * time.Second)
	if err := c.Violation(); err != nil {
		t.Fatal(err)
	}
	return overtaken, delivered
}

// TestLinksFIFO: by default no message overtakes an earlier one on its link, whatever the
// latencies, with duplicates too; Reorder, the unreliable network's 75 ms delays, and the
// network of version 1 runs (Unordered) let messages overtake.
func TestLinksFIFO(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
		fifo bool
	}{
		{"default", Options{Nodes: 5, Seed: 11}, true},
		{"wide latency", Options{Nodes: 5, Seed: 12, LatencyMin: time.Millisecond, LatencyMax: 20 * time.Millisecond}, true},
		{"duplicates", Options{Nodes: 5, Seed: 15, Duplicate: 0.3}, true},
		{"unreliable", Options{Nodes: 5, Seed: 16, Unreliable: true}, false},
		{"reorder", Options{Nodes: 5, Seed: 13, Reorder: 0.1}, false},
		{"unordered (version 1 runs)", Options{Nodes: 5, Seed: 14, Unordered: true}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			over, delivered := linkOrder(t, tc.o)
			if delivered < 2000 {
				t.Fatalf("%d messages delivered; want thousands", delivered)
			}
			if tc.fifo && over != 0 {
				t.Fatalf("%d of %d messages overtook an earlier one on their link; want none", over, delivered)
			}
			if !tc.fifo && over < delivered/200 {
				t.Fatalf("%d of %d messages overtook an earlier one on their link; want reordering", over, delivered)
			}
		})
	}
}

func TestUnreliableFromEnv(t *testing.T) {
	t.Setenv("RAFT_UNRELIABLE_RPC", "1")
	c, _ := New(Options{Nodes: 3, UnreliableFromEnv: true})
	if !c.Unreliable() {
		t.Fatal("RAFT_UNRELIABLE_RPC set, UnreliableFromEnv: network reliable")
	}
	c, _ = New(Options{Nodes: 3})
	if c.Unreliable() {
		t.Fatal("without UnreliableFromEnv the environment must not matter")
	}
}

func TestLinkLatency(t *testing.T) {
	var slow, fast int
	c, _ := New(Options{Nodes: 3, Seed: 4})
	if err := c.SetLinkLatency("n1", "n2", 40*time.Millisecond, 40*time.Millisecond); err != nil {
		t.Fatal(err)
	}
	for range 300 {
		c.RunFor(10 * time.Millisecond)
		for _, f := range c.InFlight() {
			d := f.Deliver - f.Sent
			if (f.Msg.From == "n1" && f.Msg.To == "n2") || (f.Msg.From == "n2" && f.Msg.To == "n1") {
				if d != 40*time.Millisecond {
					t.Fatalf("n1–n2 message delay %v; want 40ms", d)
				}
				slow++
			} else {
				if d < time.Millisecond || d > 5*time.Millisecond {
					t.Fatalf("%s delay %v; want 1–5ms", f.Msg, d)
				}
				fast++
			}
		}
	}
	if slow == 0 || fast == 0 {
		t.Fatalf("saw %d slow and %d fast messages in flight", slow, fast)
	}
	if err := c.SetLinkLatency("n1", "zz", 0, 0); err == nil {
		t.Fatal("SetLinkLatency to an unknown node succeeded")
	}
}

func TestDuplication(t *testing.T) {
	_, sent, _, delivered, _ := netStats(t, Options{Nodes: 3, Seed: 5, Duplicate: 0.5}, 2*time.Second)
	ratio := float64(delivered) / float64(sent)
	if ratio < 1.4 || ratio > 1.6 {
		t.Fatalf("duplicate 0.5: %d delivered for %d sent (%.2f); want ≈1.5", delivered, sent, ratio)
	}
}

// TestPartitionShapes: a majority side keeps committing, a minority side cannot, and a node
// connected to both halves of a "bridge" partition sees both.
func TestPartitionShapes(t *testing.T) {
	h := newHarness(t, 5)
	leader, _ := h.checkSingleLeader()
	minority := []string{leader, h.others(leader)[0]}
	majority := h.others(minority...)
	if err := h.c.Partition(minority, majority); err != nil {
		t.Fatal(err)
	}
	if _, err := h.c.Submit(leader, []byte("minority")); err != nil {
		t.Fatal(err)
	}
	h.run(600 * time.Millisecond)
	h.checkNotCommitted("minority")
	var nl string
	for _, id := range majority {
		if h.c.Status(id).State == raft.Leader {
			nl = id
		}
	}
	if nl == "" {
		t.Fatalf("majority side %v elected no leader", majority)
	}
	if _, err := h.c.Submit(nl, []byte("majority")); err != nil {
		t.Fatal(err)
	}
	h.run(50 * time.Millisecond)
	h.checkCommitted("majority", 3)
	// Heal: the minority's entry is discarded, the majority's reaches everyone.
	h.c.HealAll()
	h.run(500 * time.Millisecond)
	h.checkCommitted("majority", 5)
	h.checkNotCommitted("minority")

	if err := h.c.Partition([]string{"n1"}, []string{"n1", "n2"}); err == nil {
		t.Fatal("a node in two groups was accepted")
	}
	if err := h.c.Partition([]string{"nope"}); err == nil {
		t.Fatal("an unknown node was accepted")
	}
}
