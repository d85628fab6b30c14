package durhist

import (
	"fmt"
	"testing"
	"time"
)

func TestSnapshotIsCumulative(t *testing.T) {
	var h H
	for _, d := range []time.Duration{0, time.Millisecond, 3 * time.Millisecond, 60 * time.Millisecond, time.Second, 3 * time.Second} {
		h.Observe(d)
	}
	s := h.Snapshot()
	// ≤1ms: 0 and 1ms; ≤5ms: +3ms; ≤100ms: +60ms; ≤1s: +1s; 3s is over every bound.
	if got, want := fmt.Sprint(s.Cumulative), "[2 3 3 3 3 4 4 4 5]"; got != want {
		t.Errorf("cumulative counts %s; want %s", got, want)
	}
	if s.Count != 6 || s.Sum != 4064*time.Millisecond {
		t.Errorf("count %d, sum %v; want 6 and 4.064s", s.Count, s.Sum)
	}
}
