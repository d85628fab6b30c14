// A runnable example: a stale read caught by the checker.

package lincheck_test

import (
	"fmt"
	"time"

	"raftlab/raft/kv"
	"raftlab/raft/kv/lincheck"
)

func Example() {
	ms := time.Millisecond
	var h lincheck.History
	// Client 0 writes 1, then 2; client 1 reads after the second write has returned.
	h.Add(0, kv.Put("x", "1"), 0, kv.Result{}, 10*ms)
	h.Add(0, kv.Put("x", "2"), 11*ms, kv.Result{}, 20*ms)
	h.Add(1, kv.Get("x"), 30*ms, kv.Result{Value: "2", Found: true}, 40*ms)
	fmt.Println(lincheck.Check(&h, time.Minute).Outcome)

	// The same read answered with the overwritten value is a stale read.
	var stale lincheck.History
	stale.Add(0, kv.Put("x", "1"), 0, kv.Result{}, 10*ms)
	stale.Add(0, kv.Put("x", "2"), 11*ms, kv.Result{}, 20*ms)
	stale.Add(1, kv.Get("x"), 30*ms, kv.Result{Value: "1", Found: true}, 40*ms)
	fmt.Println(lincheck.Check(&stale, time.Minute).Outcome)
	// Output:
	// Ok
	// Illegal
}
