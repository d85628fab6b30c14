// The figures raftlab promises, measured in simulated time: submit-to-commit latency (with and
// without immediate AppendEntries), one round trip for a batch, failover after a leader crash,
// and the simulator's speed. Simulated figures are deterministic for a seed, so the tests
// assert them; the benchmarks report them (make bench).

package kvsim

import (
	"fmt"
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/raft/sim"
)

// latencyRun measures submit-to-commit latency on the leader: 5 nodes, default 1–5 ms latency,
// no faults, perSecond commands for dur.
func latencyRun(seed uint64, dur time.Duration, perSecond float64, waitForHeartbeat bool) (*Metrics, error) {
	var m Metrics
	c, err := sim.New(sim.Options{Nodes: 5, Seed: seed, OnEvent: m.Event,
		Raft: raft.Config{WaitForHeartbeat: waitForHeartbeat}})
	if err != nil {
		return nil, err
	}
	c.Schedule(sim.Load(seed, dur, perSecond)...)
	c.RunUntil(dur + time.Second)
	if err := c.Violation(); err != nil {
		return nil, err
	}
	if n, want := len(m.CommitLatencies()), int(perSecond*dur.Seconds())*9/10; n < want {
		return nil, fmt.Errorf("seed=%d: %d commits measured; want at least %d", seed, n, want)
	}
	return &m, nil
}

func TestCommitLatency(t *testing.T) {
	m, err := latencyRun(1, 60*time.Second, 100, false)
	if err != nil {
		t.Fatal(err)
	}
	lat := m.CommitLatencies()
	p50, p99 := Percentile(lat, 50), Percentile(lat, 99)
	// One round trip: 1–5 ms out, 1–5 ms back, to the faster half of the followers.
	if p50 > 7*time.Millisecond || p99 > 10*time.Millisecond {
		t.Errorf("commit latency p50 %v, p99 %v over %d commands; want ≤ 7ms, ≤ 10ms", p50, p99, len(lat))
	}
	w, err := latencyRun(1, 60*time.Second, 100, true)
	if err != nil {
		t.Fatal(err)
	}
	wp50 := Percentile(w.CommitLatencies(), 50)
	// Waiting for the heartbeat (every 50 ms) makes the typical command slower than the
	// slowest immediate one.
	if wp50 <= p99 {
		t.Errorf("with WaitForHeartbeat, commit latency p50 %v; want it above the immediate p99 %v", wp50, p99)
	}
	t.Logf("commit latency: immediate p50 %v p99 %v; waiting for the heartbeat p50 %v p99 %v",
		p50, p99, wp50, Percentile(w.CommitLatencies(), 99))
}

// batchResult is what one batch of commands cost.
type batchResult struct {
	commit  time.Duration  // from the submit to the leader's commit of the last command
	appends map[string]int // AppendEntries carrying the batch's entries, per follower
	size    int
}

// batchRun submits a batch of size commands to a steady leader of 5 nodes with no other
// traffic, and watches the AppendEntries that carry it.
func batchRun(seed uint64, size int) (batchResult, error) {
	res := batchResult{appends: map[string]int{}, size: size}
	var first, last uint64
	var submitted, committed time.Duration
	var leader string
	c, err := sim.New(sim.Options{Nodes: 5, Seed: seed, OnEvent: func(e raft.Event) {
		switch {
		case last == 0:
		case e.Kind == raft.EvSend && e.Msg.Type == raft.MsgApp && e.Node == leader && len(e.Msg.Entries) > 0:
			lo, hi := e.Msg.PrevLogIndex+1, e.Msg.PrevLogIndex+uint64(len(e.Msg.Entries))
			if hi >= first && lo <= last {
				res.appends[e.Peer]++
			}
		case e.Kind == raft.EvCommit && e.Node == leader && e.Index >= last && committed == 0:
			committed = e.Time
		}
	}})
	if err != nil {
		return res, err
	}
	c.RunFor(2 * time.Second)
	leader, ok := c.Leader()
	if !ok {
		return res, fmt.Errorf("seed=%d: no leader after 2s", seed)
	}
	cmds := make([][]byte, size)
	for i := range cmds {
		cmds[i] = fmt.Appendf(nil, "b%d#1 put k%d %d", i, i, i)
	}
	submitted = c.Now() + 7*time.Millisecond // between heartbeats, not on one
	c.RunUntil(submitted)
	// The OnEvent hook sees the sends during SubmitBatch: tell it the indexes first.
	first = c.Status(leader).LastIndex + 1
	last = first + uint64(size) - 1
	if f, l, err := c.SubmitBatch(leader, cmds); err != nil || f != first || l != last {
		return res, fmt.Errorf("seed=%d: SubmitBatch = %d, %d, %v; want %d, %d", seed, f, l, err, first, last)
	}
	c.RunFor(time.Second)
	if committed == 0 {
		return res, fmt.Errorf("seed=%d: the batch did not commit within 1s", seed)
	}
	res.commit = committed - submitted
	return res, c.Violation()
}

func TestBatchOneRoundTrip(t *testing.T) {
	for seed := uint64(1); seed <= 20; seed++ {
		r, err := batchRun(seed, 100)
		if err != nil {
			t.Fatal(err)
		}
		if r.commit > 2*sim.DefaultLatencyMax {
			t.Errorf("seed=%d: a batch of 100 committed %v after its submit; want one round trip, ≤ %v", seed, r.commit, 2*sim.DefaultLatencyMax)
		}
		if len(r.appends) != 4 {
			t.Errorf("seed=%d: the batch went to %d followers; want 4", seed, len(r.appends))
		}
		for f, n := range r.appends {
			if n != 1 {
				t.Errorf("seed=%d: %d AppendEntries carried the batch to %s; want 1", seed, n, f)
			}
		}
	}
}

// failoverRun crashes the leader of a 5-node cluster under light load, crashes times, and
// returns the failover times: from each crash to the next leader's election.
func failoverRun(seed uint64, crashes int) ([]time.Duration, error) {
	var m Metrics
	c, err := sim.New(sim.Options{Nodes: 5, Seed: seed, OnEvent: m.Event})
	if err != nil {
		return nil, err
	}
	dur := time.Duration(crashes) * 2 * time.Second
	c.Schedule(sim.Load(seed, dur, 20)...)
	c.RunFor(time.Second)
	for i := range crashes {
		leader, ok := c.Leader()
		if !ok {
			return nil, fmt.Errorf("seed=%d: no leader before crash %d", seed, i)
		}
		// Crash at a moment unrelated to the heartbeat schedule.
		c.RunFor(time.Duration(seed*7+uint64(i)*13) % 50 * time.Millisecond)
		c.Crash(leader)
		c.RunFor(time.Second)
		c.Restart(leader)
		c.RunFor(time.Second - time.Duration(seed*7+uint64(i)*13)%50*time.Millisecond)
	}
	if err := c.Violation(); err != nil {
		return nil, err
	}
	if f := m.Failovers(); len(f) != crashes {
		return nil, fmt.Errorf("seed=%d: %d failovers measured for %d crashes of the leader", seed, len(f), crashes)
	}
	return m.Failovers(), nil
}

func failovers(seeds, crashes int) ([]time.Duration, error) {
	var all []time.Duration
	for seed := 1; seed <= seeds; seed++ {
		f, err := failoverRun(uint64(seed), crashes)
		if err != nil {
			return nil, err
		}
		all = append(all, f...)
	}
	return all, nil
}

func TestFailover(t *testing.T) {
	all, err := failovers(20, 20)
	if err != nil {
		t.Fatal(err)
	}
	p50, p99 := Percentile(all, 50), Percentile(all, 99)
	if p50 > 200*time.Millisecond || p99 > 500*time.Millisecond {
		t.Errorf("failover p50 %v, p99 %v over %d leader crashes; want ≤ 200ms, ≤ 500ms", p50, p99, len(all))
	}
	t.Logf("failover over %d leader crashes: p50 %v, p99 %v, max %v", len(all), p50, p99, Percentile(all, 100))
}

// BenchmarkCommitLatency reports submit-to-commit latency on the leader in simulated
// milliseconds, sending AppendEntries at once (the default) and waiting for the heartbeat.
func BenchmarkCommitLatency(b *testing.B) {
	for _, mode := range []struct {
		name string
		wait bool
	}{{"immediate", false}, {"wait-for-heartbeat", true}} {
		b.Run(mode.name, func(b *testing.B) {
			var lat []time.Duration
			for i := range b.N {
				m, err := latencyRun(uint64(i+1), 60*time.Second, 100, mode.wait)
				if err != nil {
					b.Fatal(err)
				}
				lat = append(lat, m.CommitLatencies()...)
			}
			b.ReportMetric(Millis(Percentile(lat, 50)), "p50-ms")
			b.ReportMetric(Millis(Percentile(lat, 99)), "p99-ms")
		})
	}
}

// BenchmarkBatch reports how long a batch of 100 commands takes to commit, in simulated
// milliseconds, and how many AppendEntries per follower carried it.
func BenchmarkBatch(b *testing.B) {
	var worst time.Duration
	most := 0
	for i := range b.N {
		r, err := batchRun(uint64(i+1), 100)
		if err != nil {
			b.Fatal(err)
		}
		worst = max(worst, r.commit)
		for _, n := range r.appends {
			most = max(most, n)
		}
	}
	b.ReportMetric(Millis(worst), "commit-ms")
	b.ReportMetric(float64(most), "appends/follower")
}

// BenchmarkFailover reports the time from a leader's crash to the next election, in simulated
// milliseconds, over 20 crashes per iteration.
func BenchmarkFailover(b *testing.B) {
	var all []time.Duration
	for i := range b.N {
		f, err := failoverRun(uint64(i+1), 20)
		if err != nil {
			b.Fatal(err)
		}
		all = append(all, f...)
	}
	b.ReportMetric(Millis(Percentile(all, 50)), "p50-ms")
	b.ReportMetric(Millis(Percentile(all, 99)), "p99-ms")
}

// BenchmarkSimSpeed reports simulated seconds per wall second for 5 nodes with 100 commands
// per simulated second and no faults.
func BenchmarkSimSpeed(b *testing.B) {
	const dur = 100 * time.Second
	for i := range b.N {
		c, err := sim.New(sim.Options{Nodes: 5, Seed: uint64(i + 1)})
		if err != nil {
			b.Fatal(err)
		}
		c.Schedule(sim.Load(uint64(i+1), dur, 100)...)
		c.RunUntil(dur)
		if c.Committed() < 9900 {
			b.Fatalf("%d commands committed; want 10000", c.Committed())
		}
	}
	b.ReportMetric(dur.Seconds()*float64(b.N)/b.Elapsed().Seconds(), "sim-s/s")
}
