// The page's storage under compaction: what localStorage holds after many commands.

package main

import (
	"fmt"
	"testing"
	"time"

	"raftlab/raft/sim"
)

// BenchmarkStoredCharacters runs the page's lab (five nodes on one in-memory localStorage, the
// page's default compaction threshold) through 10,000, 100,000 and 1,000,000 commands at 1,000
// a simulated second, and reports the characters stored at the end: flat, not linear. With
// compaction off, 10,000 commands already take about 1.7 million characters.
func BenchmarkStoredCharacters(b *testing.B) {
	for _, tc := range []struct {
		commands int
		compact  int
	}{{10_000, 0}, {10_000, DefaultCompact}, {100_000, DefaultCompact}, {1_000_000, DefaultCompact}} {
		b.Run(fmt.Sprintf("commands=%d/compact=%d", tc.commands, tc.compact), func(b *testing.B) {
			for range b.N {
				store := NewMemStore()
				l, err := NewLab(store, Config{Nodes: 5, Seed: 1, Compact: tc.compact})
				if err != nil {
					b.Fatal(err)
				}
				dur := time.Duration(tc.commands) * time.Millisecond
				l.c.Schedule(sim.Load(1, dur, 1000)...)
				l.Advance(dur+time.Second, 24*time.Hour)
				if err := l.c.Violation(); err != nil {
					b.Fatal(err)
				}
				b.ReportMetric(float64(store.used), "chars")
				b.ReportMetric(float64(len(store.m)), "keys")
				b.ReportMetric(float64(l.c.Committed()), "committed")
			}
		})
	}
}
