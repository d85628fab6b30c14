package linkstats

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"raftlab/raft"
)

func msgs(from, to string, n int) []raft.Message {
	ms := make([]raft.Message, n)
	for i := range ms {
		ms[i] = raft.Message{Type: raft.MsgApp, From: from, To: to, Term: 1}
	}
	return ms
}

func TestCounts(t *testing.T) {
	c := New(nil)
	c.Sent("demo", append(msgs("n1", "n2", 3), msgs("n2", "n1", 2)...))
	c.Delivered("demo", msgs("n1", "n2", 3))
	c.Dropped("demo", msgs("n1", "n3", 4), QueueFull)
	c.Dropped("demo", msgs("n1", "n3", 1), Unreachable)
	c.Dropped("demo", msgs("n2", "n3", 2), QueueFull)
	totals, dropped := c.Snapshot()
	if got := fmt.Sprint(totals); got != "[{demo n1 3 0} {demo n2 2 3}]" {
		t.Errorf("totals = %s; want n1 sent 3, n2 sent 2 and was delivered 3", got)
	}
	want := map[Key]uint64{
		{"demo", "n1", "n3", QueueFull}: 4, {"demo", "n1", "n3", Unreachable}: 1, {"demo", "n2", "n3", QueueFull}: 2,
	}
	if fmt.Sprint(dropped) != fmt.Sprint(want) {
		t.Errorf("dropped = %v; want %v", dropped, want)
	}
	if got := c.DroppedTo("demo", "n3"); got[QueueFull] != 6 || got[Unreachable] != 1 || len(got) != 2 {
		t.Errorf("DroppedTo(n3) = %v; want 6 queue_full and 1 unreachable", got)
	}
	var nilCounters *Counters
	nilCounters.Sent("demo", msgs("n1", "n2", 1)) // nil counters count nothing, without panicking
}

// A drop now and then is not logged; drops in two seconds in a row are, once per spell.
func TestSustainedDropsLoggedOnce(t *testing.T) {
	var mu sync.Mutex
	var lines []string
	c := New(func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		lines = append(lines, fmt.Sprintf(format, args...))
	})
	t0 := time.Now()
	k := Key{"demo", "n1", "b1", QueueFull}
	c.sustained(k, t0)
	c.sustained(k, t0.Add(500*time.Millisecond))
	if len(lines) != 0 {
		t.Fatalf("drops within one second logged: %q", lines)
	}
	c.sustained(k, t0.Add(1200*time.Millisecond))
	c.sustained(k, t0.Add(1500*time.Millisecond))
	c.sustained(k, t0.Add(2500*time.Millisecond))
	if len(lines) != 1 || !strings.Contains(lines[0], "messages from n1 to b1 in cluster demo: dropping (queue_full) for 2 s in a row, 3 so far") {
		t.Fatalf("log = %q; want one line for the spell", lines)
	}
	// A quiet gap ends the spell; a new one is logged again.
	c.sustained(k, t0.Add(6*time.Second))
	c.sustained(k, t0.Add(7100*time.Millisecond))
	if len(lines) != 2 {
		t.Fatalf("log = %q; want a second line for the second spell", lines)
	}
}

// Messages to a member whose node has not started (not_running) are counted, and not logged
// as a sustained drop however long it lasts: the member's host says once why; the same drops
// for another reason are logged.
func TestNotRunningCountedNotLogged(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var lines []string
		c := New(func(format string, args ...any) { lines = append(lines, fmt.Sprintf(format, args...)) })
		for range 30 { // three seconds of drops, a batch each 100 ms
			c.Dropped("demo", msgs("n1", "n3", 2), NotRunning)
			time.Sleep(100 * time.Millisecond)
		}
		if len(lines) != 0 {
			t.Errorf("not_running drops logged: %q", lines)
		}
		if got := c.DroppedTo("demo", "n3"); got[NotRunning] != 60 || len(got) != 1 {
			t.Errorf("DroppedTo(n3) = %v; want 60 not_running", got)
		}
		for range 30 {
			c.Dropped("demo", msgs("n1", "n3", 2), Unreachable)
			time.Sleep(100 * time.Millisecond)
		}
		if len(lines) != 1 || !strings.Contains(lines[0], "dropping (unreachable) for 2 s in a row") {
			t.Errorf("unreachable drops for three seconds logged %q; want one line", lines)
		}
	})
}
