// A runnable example: clients on a simulated cluster, a leader crash, a checked history.

package kvsim_test

import (
	"fmt"
	"time"

	"raftlab/raft/kv/kvsim"
	"raftlab/raft/sim"
)

func Example() {
	k, err := kvsim.New(sim.Options{Nodes: 5, Seed: 1}, kvsim.Options{Clients: 3, Seed: 1})
	if err != nil {
		panic(err)
	}
	k.RunFor(2 * time.Second)
	leader, _ := k.Leader()
	k.Crash(leader) // clients waiting on it retry elsewhere, with the same sequence numbers
	k.RunFor(2 * time.Second)
	k.Drain(time.Second) // stop the clients and let the outstanding operations finish

	fmt.Println("outstanding:", k.Outstanding())
	fmt.Println("linearizable:", k.Check(time.Minute).Ok())
	fmt.Println("failovers measured:", len(k.Metrics().Failovers()))
	// Output:
	// outstanding: 0
	// linearizable: true
	// failovers measured: 1
}
