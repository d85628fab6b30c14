// Randomized fault schedules over many seeds: safety after every event, then liveness once the
// faults heal.

package sim

import (
	"flag"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"raftlab/raft"
)

var (
	seedsFlag = flag.Int("seeds", 0, "randomized runs for TestRandomized (default 1000 natively, 60 under wasm)")
	seedFlag  = flag.Uint64("seed", 0, "run TestRandomized for this one seed")
)

// randomRun runs one seed: 30 simulated seconds of every kind of fault under a light load, then
// the faults heal and the cluster must elect a leader and commit a fresh command on every node.
func randomRun(seed uint64, dur time.Duration) error {
	nodes := 3 + 2*int(seed%3) // 3, 5 or 7
	applied := make(map[string]map[string]bool)
	c, err := New(Options{
		Nodes: nodes, Seed: seed, Reorder: 0.02,
		OnApply: func(id string, e raft.CommitEntry) {
			if applied[id] == nil {
				applied[id] = make(map[string]bool)
			}
			applied[id][string(e.Command)] = true
		},
	})
	if err != nil {
		return err
	}
	c.Schedule(RandomFaults(seed, c.IDs(), dur, AllFaults)...)
	c.Schedule(Load(seed, dur, 20)...)
	c.Schedule(Healing(dur)...)
	c.RunUntil(dur)
	if err := c.Violation(); err != nil {
		return err
	}
	// Liveness: with every fault healed, a leader commits a new command everywhere. Like a
	// client, resubmit to whoever leads when the command has not arrived after a while (a leader
	// elected in a minority partition may have taken it and been deposed).
	probe := []byte("liveness-probe")
	everywhere := func() bool {
		for _, id := range c.IDs() {
			if !applied[id][string(probe)] {
				return false
			}
		}
		return true
	}
	for deadline := dur + 20*time.Second; !everywhere(); {
		if c.Now() >= deadline {
			return fmt.Errorf("seed=%d: a command submitted after healing was not applied on every node within 20s", seed)
		}
		if leader, ok := c.Leader(); ok {
			c.Submit(leader, probe) // a refusal (stale leader) is retried next round
		}
		c.RunUntilTrue(time.Second, everywhere)
		if err := c.Violation(); err != nil {
			return err
		}
	}
	return nil
}

func TestRandomized(t *testing.T) {
	seeds := 1000
	if runtime.GOOS == "js" {
		seeds = 60 // the same runs compiled to wasm under Node, fewer of them
	}
	if *seedsFlag > 0 {
		seeds = *seedsFlag
	}
	first := uint64(1)
	if *seedFlag != 0 {
		first, seeds = *seedFlag, 1
	}
	var next atomic.Uint64
	next.Store(first)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed []error
	for range runtime.GOMAXPROCS(0) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				s := next.Add(1) - 1
				if s >= first+uint64(seeds) {
					return
				}
				if err := randomRun(s, 30*time.Second); err != nil {
					mu.Lock()
					failed = append(failed, err)
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	for i, err := range failed {
		if i == 10 {
			t.Errorf("… and %d more", len(failed)-10)
			break
		}
		t.Errorf("%v\nreproduce: go test ./raft/sim -run TestRandomized -seed=<seed> -v", err)
	}
	t.Logf("%d seeds × 30 simulated seconds, %d failed", seeds, len(failed))
}
