// Tests of the simulated key-value service: clients, sessions under faults, linearizability
// on every seed.

package kvsim

import (
	"flag"
	"fmt"
	"maps"
	"runtime"
	"strings"
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/raft/sim"
)

var (
	seedsFlag = flag.Int("seeds", 0, "seeds for TestLinearizableUnderFaults (default 300 natively, 30 under wasm)")
	seedFlag  = flag.Uint64("seed", 0, "run TestLinearizableUnderFaults for this one seed")
	outFlag   = flag.String("out", "", "directory for the visualization of a non-linearizable history (default: the system's temporary directory)")
)

// checkStores verifies that every live node that applied the same number of entries holds the
// same data.
func checkStores(k *Cluster) error {
	byApplied := map[uint64]string{}
	for _, id := range k.IDs() {
		st := k.Store(id)
		if st == nil {
			continue
		}
		if other, ok := byApplied[st.Applied()]; ok && !maps.Equal(k.Store(other).Data(), st.Data()) {
			return fmt.Errorf("stores of %s and %s differ after %d entries: %v vs %v", other, id, st.Applied(), k.Store(other).Data(), st.Data())
		}
		byApplied[st.Applied()] = id
	}
	return nil
}

func TestNoFaults(t *testing.T) {
	k, err := New(sim.Options{Nodes: 5, Seed: 1}, Options{Clients: 5, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	k.RunFor(5 * time.Second)
	if !k.Drain(time.Second) {
		t.Fatalf("%d operations still outstanding a second after the clients stopped", k.Outstanding())
	}
	if err := k.Violation(); err != nil {
		t.Fatal(err)
	}
	if err := k.Err(); err != nil {
		t.Fatal(err)
	}
	st := k.Stats()
	// Five clients, each one round trip (≤ 10 ms) plus up to 10 ms of thinking per operation,
	// for ~4.7 s after the first election: well over 1,000 operations.
	if st.Ops < 1000 || st.Pending != 0 {
		t.Errorf("Stats() = %+v; want over 1000 operations, none pending", st)
	}
	if r := k.Check(time.Minute); !r.Ok() {
		t.Errorf("history of %d operations: %s; want linearizable", k.History().Len(), r.Outcome)
	}
	if err := checkStores(k); err != nil {
		t.Error(err)
	}
	// All nodes caught up, and the store holds the keys clients wrote.
	k.RunFor(100 * time.Millisecond)
	leader, _ := k.Leader()
	for _, id := range k.IDs() {
		if got, want := k.Store(id).Applied(), k.Store(leader).Applied(); got != want {
			t.Errorf("%s applied %d entries, the leader %d", id, got, want)
		}
	}
	t.Logf("%+v", st)
	if k.Store(leader).Len() == 0 {
		t.Errorf("the leader's store is empty after %d operations", st.Ops)
	}
}

// Clients that lose their node retry with the same sequence number; the store applies each
// request once. A crash of the leader in the middle of traffic must not apply anything twice:
// each append's value names its request, so a duplicate would show in the final values.
func TestRetriesApplyOnce(t *testing.T) {
	k, err := New(sim.Options{Nodes: 3, Seed: 7, Duplicate: 0.2, Unreliable: true}, Options{Clients: 4, Keys: 2, Seed: 7, Timeout: 30 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	k.RunFor(2 * time.Second)
	leader, ok := k.Leader()
	if !ok {
		t.Fatal("no leader after 2s")
	}
	k.Crash(leader)
	k.RunFor(2 * time.Second)
	k.Restart(leader)
	k.SetUnreliable(false)
	if !k.Drain(5 * time.Second) {
		t.Fatalf("%d operations outstanding 5s after healing", k.Outstanding())
	}
	st := k.Stats()
	if st.Retries == 0 || st.Redirects == 0 {
		t.Errorf("Stats() = %+v; want retries and redirects in this run", st)
	}
	if r := k.Check(time.Minute); !r.Ok() {
		t.Errorf("history: %s; want linearizable", r.Outcome)
	}
	if err := checkStores(k); err != nil {
		t.Error(err)
	}
	if err := k.Err(); err != nil {
		t.Error(err)
	}
	// Every appended token names its request ("c2.17;"): none may appear twice.
	leader, _ = k.Leader()
	for key, v := range k.Store(leader).Data() {
		seen := map[string]bool{}
		for _, tok := range strings.Split(strings.TrimSuffix(v, ";"), ";") {
			if seen[tok] {
				t.Errorf("%s = %q holds %q twice: a request was applied twice", key, v, tok)
			}
			seen[tok] = true
		}
	}
	t.Logf("%+v", st)
}

// linearizabilityRun runs one seed: dur of every kind of fault under the clients' load, then
// the faults heal and every outstanding operation must be answered; the history must be
// linearizable.
func linearizabilityRun(seed uint64, dur time.Duration) error {
	if err := linearizabilityRun1(seed, dur); err != nil {
		return fmt.Errorf("%w\nreproduce: go test ./raft/kv/kvsim -run TestLinearizableUnderFaults -seed=%d -v", err, seed)
	}
	return nil
}

func linearizabilityRun1(seed uint64, dur time.Duration) error {
	nodes := 3 + 2*int(seed%2)
	clients := 1 + int(seed%7)
	compact := 4 + int(seed*7%61) // five seeds in six compact every 4 to 64 entries
	if seed%6 == 5 {
		compact = 0
	}
	joint := seed%6 == 4 // half the membership seeds change their members by joint consensus
	k, err := New(sim.Options{Nodes: nodes, Seed: seed, Reorder: 0.02, Raft: raft.Config{CompactThreshold: compact, SnapshotChunkSize: 64, JointConsensus: joint}},
		Options{Clients: clients, Keys: 1 + int(seed%5), Seed: seed, Timeout: time.Duration(50+seed%200) * time.Millisecond})
	if err != nil {
		return err
	}
	k.Schedule(sim.RandomFaults(seed, k.IDs(), dur, sim.AllFaults)...)
	switch {
	case joint: // a third of the seeds add, remove and replace servers
		k.Schedule(sim.RandomJointMembership(seed, k.IDs(), dur)...)
	case seed%3 == 1:
		k.Schedule(sim.RandomMembership(seed, k.IDs(), dur)...)
	}
	k.Schedule(sim.Healing(dur)...)
	k.RunUntil(dur)
	if err := k.Violation(); err != nil {
		return err
	}
	drained := k.Drain(20 * time.Second)
	if err := k.Violation(); err != nil {
		return err
	}
	if err := k.Err(); err != nil {
		return fmt.Errorf("seed=%d: %w", seed, err)
	}
	if err := checkStores(k); err != nil {
		return fmt.Errorf("seed=%d: %w", seed, err)
	}
	r := k.Check(time.Minute)
	if !r.Ok() {
		path, err := r.Report(*outFlag, fmt.Sprintf("seed-%d", seed))
		if err != nil {
			path = err.Error()
		}
		return fmt.Errorf("seed=%d: history of %d operations is %s; visualization: %s", seed, k.History().Len(), r.Outcome, path)
	}
	if !drained {
		return fmt.Errorf("seed=%d: %d operations still outstanding 20s after the faults healed", seed, k.Outstanding())
	}
	return nil
}

func TestLinearizableUnderFaults(t *testing.T) {
	seeds := 300
	if runtime.GOOS == "js" {
		seeds = 30
	}
	if *seedsFlag > 0 {
		seeds = *seedsFlag
	}
	first := uint64(1)
	if *seedFlag != 0 {
		first, seeds = *seedFlag, 1
	}
	failed := sim.RunSeeds(first, seeds, func(s uint64) error { return linearizabilityRun(s, 8*time.Second) })
	for i, err := range failed {
		if i == 10 {
			t.Errorf("… and %d more", len(failed)-10)
			break
		}
		t.Error(err)
	}
	t.Logf("%d seeds × 8 simulated seconds of faults with clients, %d failed", seeds, len(failed))
}

// TestForgetSessionsIsCaught proves that the break-it switch kv.Store.ForgetSessions (snapshots
// without the client sessions) breaks the service where people can see it: on some seed a
// retried request applies twice, and the live checker (application states that differ at one
// index) or the linearizability check says so; the same seed without the bug runs clean.
func TestForgetSessionsIsCaught(t *testing.T) {
	run := func(seed uint64, forget bool) error {
		k, err := New(sim.Options{Nodes: 3, Seed: seed, Duplicate: 0.1, Unreliable: true, Raft: raft.Config{CompactThreshold: 4}},
			Options{Clients: 4, Keys: 2, Seed: seed, Timeout: 30 * time.Millisecond, ForgetSessions: forget})
		if err != nil {
			return err
		}
		k.Schedule(sim.RandomFaults(seed, k.IDs(), 5*time.Second, sim.FaultCrash)...)
		k.Schedule(sim.Healing(5 * time.Second)...)
		k.RunUntil(5 * time.Second)
		k.Drain(5 * time.Second)
		if err := k.Violation(); err != nil {
			return err
		}
		if r := k.Check(time.Minute); !r.Ok() {
			return fmt.Errorf("seed=%d: history is %s", seed, r.Outcome)
		}
		return nil
	}
	for seed := uint64(1); seed <= 100; seed++ {
		err := run(seed, true)
		if err == nil {
			continue
		}
		t.Logf("seed %d: %v", seed, err)
		if err := run(seed, false); err != nil {
			t.Fatalf("seed %d without the bug: %v", seed, err)
		}
		return
	}
	t.Fatal("no seed in 1–100 showed the bug")
}
