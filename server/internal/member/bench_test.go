//go:build !js

// Benchmarks of a 3-member native cluster on loopback, members joined through a hub and linked
// directly (as server node processes are):
// commits per second with 64 concurrent submitters, and sequential submit-to-commit latency,
// with in-memory storage and with bbolt.
package member_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/server/internal/hub"
	"raftlab/server/internal/member"
	"raftlab/server/native"
)

// cluster3 starts a hub on loopback and three members connected to it, and waits for a
// leader.
func cluster3(tb testing.TB, durable bool) *cluster {
	tb.Helper()
	h := hub.New(hub.Config{Logf: tb.Logf})
	if err := h.AddCluster("bench", []string{"n1", "n2", "n3"}); err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/ws", h)
	srv := httptest.NewServer(mux)
	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/ws"
	var ms []*member.Member
	tb.Cleanup(func() {
		for _, m := range ms {
			m.Close()
		}
		h.Close()
		srv.Close()
	})
	for _, id := range []string{"n1", "n2", "n3"} {
		cfg := member.Config{URL: url, Cluster: "bench", ID: id, Logf: tb.Logf}
		if durable {
			cfg.DataDir = tb.TempDir()
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		m, err := member.Start(ctx, cfg)
		cancel()
		if err != nil {
			tb.Fatal(err)
		}
		ms = append(ms, m)
	}
	c := &cluster{ms: ms}
	leader := c.leader(tb)
	// Let the new leader's no-op commit before measuring.
	if _, err := leader.Submit(context.Background(), kv.Request{Command: kv.Put("warm", "up")}.Encode()); err != nil {
		tb.Fatal(err)
	}
	return c
}

type cluster struct{ ms []*member.Member }

// leader waits for a leader and returns its node.
func (c *cluster) leader(tb testing.TB) *native.Node {
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		for _, m := range c.ms {
			if m.Node().Status().State == raft.Leader {
				return m.Node()
			}
		}
		time.Sleep(10 * time.Millisecond)
	}
	tb.Fatal("no leader within 10s")
	return nil
}

// submit submits cmd to the leader, following a leader change (on a machine shared with other
// work an election can happen during a run; the run says how many).
func (c *cluster) submit(tb testing.TB, leader **native.Node, cmd []byte, changes *atomic.Int64) {
	for range 10 {
		_, err := (*leader).Submit(context.Background(), cmd)
		if err == nil {
			return
		}
		if !errors.Is(err, raft.ErrNotLeader) && !errors.Is(err, native.ErrReplaced) && !errors.Is(err, native.ErrInSnapshot) {
			tb.Error(err)
			return
		}
		changes.Add(1)
		*leader = c.leader(tb)
	}
	tb.Error("no leader took the command in 10 tries")
}

func storages(b *testing.B, f func(b *testing.B, durable bool)) {
	b.Run("mem", func(b *testing.B) { f(b, false) })
	b.Run("bbolt", func(b *testing.B) { f(b, true) })
}

// BenchmarkCommits: 64 submitters, each submitting its next command as soon as the last one
// committed. Reports commits/s.
func BenchmarkCommits(b *testing.B) {
	storages(b, func(b *testing.B, durable bool) {
		c := cluster3(b, durable)
		const submitters = 64
		var next, changes atomic.Int64
		var wg sync.WaitGroup
		b.ResetTimer()
		start := time.Now()
		for range submitters {
			wg.Add(1)
			go func() {
				defer wg.Done()
				leader := c.leader(b)
				for i := next.Add(1); i <= int64(b.N); i = next.Add(1) {
					c.submit(b, &leader, kv.Request{Command: kv.Put("k"+strconv.FormatInt(i%1000, 10), "v")}.Encode(), &changes)
				}
			}()
		}
		wg.Wait()
		elapsed := time.Since(start)
		b.StopTimer()
		b.ReportMetric(float64(b.N)/elapsed.Seconds(), "commits/s")
		b.ReportMetric(float64(changes.Load()), "leader-changes")
	})
}

// BenchmarkLatency: one submitter, sequential commands. Reports the p50 and p99 of the time
// from Submit to the committed, applied answer.
func BenchmarkLatency(b *testing.B) {
	storages(b, func(b *testing.B, durable bool) {
		c := cluster3(b, durable)
		leader := c.leader(b)
		var changes atomic.Int64
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := range b.N {
			t0 := time.Now()
			c.submit(b, &leader, kv.Request{Command: kv.Put("k"+strconv.Itoa(i%1000), "v")}.Encode(), &changes)
			lat = append(lat, time.Since(t0))
		}
		b.StopTimer()
		slices.Sort(lat)
		b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
		b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		b.ReportMetric(float64(changes.Load()), "leader-changes")
	})
}
