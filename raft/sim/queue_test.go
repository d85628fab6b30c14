// Tests of the event queue: one timer per live node and nothing stale, scheduled actions in
// time order.

package sim

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"raftlab/raft"
)

// The queue holds exactly one timer per live node and the messages on the wire: a timer reset
// moves the node's timer instead of leaving a stale one behind.
func TestQueueHoldsNoStaleTimers(t *testing.T) {
	c, err := New(Options{Nodes: 5, Seed: 1, Duplicate: 0.1})
	if err != nil {
		t.Fatal(err)
	}
	c.Schedule(Load(1, 5*time.Second, 200)...)
	c.Schedule(Action{At: 2 * time.Second, Kind: ActCrash, Node: "n2"}, Action{At: 3 * time.Second, Kind: ActRestart, Node: "n2"})
	steps := 0
	for c.Now() < 5*time.Second && c.Step() {
		steps++
		live := 0
		for _, id := range c.IDs() {
			if c.Alive(id) {
				live++
			}
		}
		if got, want := len(c.queue), len(c.InFlight())+live; got != want {
			t.Fatalf("at %v: %d items queued; want %d (%d messages on the wire, %d timers)", c.Now(), got, want, len(c.InFlight()), live)
		}
	}
	if steps < 10000 || c.Committed() < 800 {
		t.Errorf("%d steps, %d commands committed; want a busy run", steps, c.Committed())
	}
}

// Scheduled actions run in time order whatever order they were given in, those due at the same
// time in the order given, and after the events due then.
func TestScheduleOrder(t *testing.T) {
	c, err := New(Options{Nodes: 3, Seed: 1, KeepTrace: true})
	if err != nil {
		t.Fatal(err)
	}
	note := func(ms int, d string) Action {
		return Action{At: time.Duration(ms) * time.Millisecond, Kind: ActNote, Detail: d}
	}
	c.Schedule(note(500, "c"), note(100, "a"), note(500, "d"))
	c.Schedule(note(300, "b"), note(500, "e"), note(0, "start"))
	c.RunUntil(time.Second)
	var got string
	for _, e := range c.Trace() {
		if e.Kind == raft.EvNote && len(e.Detail) <= 5 {
			got += e.Detail + " "
		}
	}
	if want := "start a b c d e "; got != want {
		t.Errorf("notes in the order %q; want %q", got, want)
	}
}

// The heap hands items out in (at, seq) order through any mix of pushes, moves and removals,
// and every item knows its index.
func TestQueueOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 7))
	var q queue
	var seq uint64
	var live []*item
	check := func() {
		for i, it := range q {
			if it.index != i {
				t.Fatalf("item at %d says index %d", i, it.index)
			}
			if i > 0 && before(it, q[(i-1)/2]) {
				t.Fatalf("item at %d is before its parent", i)
			}
		}
	}
	for range 20000 {
		switch r := rng.IntN(10); {
		case r < 5 || len(live) == 0:
			seq++
			it := &item{at: time.Duration(rng.IntN(100)), seq: seq}
			q.push(it)
			live = append(live, it)
		case r < 7:
			it := live[rng.IntN(len(live))]
			it.at = time.Duration(rng.IntN(100))
			q.fix(it.index)
		case r < 8:
			i := rng.IntN(len(live))
			it := live[i]
			if q.remove(it.index) != it || it.index != -1 {
				t.Fatal("remove returned another item")
			}
			live = slices.Delete(live, i, i+1)
		default:
			it := q.remove(0)
			for _, o := range live {
				if o != it && before(o, it) {
					t.Fatalf("popped (%v,%d) while (%v,%d) was queued", it.at, it.seq, o.at, o.seq)
				}
			}
			live = slices.DeleteFunc(live, func(o *item) bool { return o == it })
		}
		check()
	}
}
