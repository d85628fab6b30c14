// Package durhist is a histogram of durations with fixed bounds, cheap enough for a node's
// goroutine (a few atomic adds per observation), read as a snapshot by /metrics.
package durhist

import (
	"sync/atomic"
	"time"
)

// Bounds are the upper bounds shared by raftlab's duration histograms: from 1 ms to 1 s.
var Bounds = []time.Duration{
	time.Millisecond, 5 * time.Millisecond, 10 * time.Millisecond, 25 * time.Millisecond,
	50 * time.Millisecond, 100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
	time.Second,
}

// H counts durations into Bounds. The zero value is ready; it is safe for concurrent use.
type H struct {
	counts [10]atomic.Uint64 // one per bound, and one for over the largest
	count  atomic.Uint64
	sum    atomic.Int64
}

// Observe counts d.
func (h *H) Observe(d time.Duration) {
	i := 0
	for i < len(Bounds) && d > Bounds[i] {
		i++
	}
	h.counts[i].Add(1)
	h.count.Add(1)
	h.sum.Add(int64(d))
}

// Snapshot is a histogram's state: Cumulative[i] counts the observations ≤ Bounds[i].
type Snapshot struct {
	Count      uint64
	Sum        time.Duration
	Cumulative []uint64
}

// Snapshot reads the histogram.
func (h *H) Snapshot() Snapshot {
	s := Snapshot{Count: h.count.Load(), Sum: time.Duration(h.sum.Load()), Cumulative: make([]uint64, len(Bounds))}
	var cum uint64
	for i := range Bounds {
		cum += h.counts[i].Load()
		s.Cumulative[i] = cum
	}
	return s
}
