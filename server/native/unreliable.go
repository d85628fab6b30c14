// The reference article's unreliable RPC mode for native nodes: some messages dropped, some
// delayed.
package native

import (
	"math/rand/v2"
	"os"
	"sync"
	"time"

	"raftlab/raft"
)

// Unreliable-mode rates, as in the reference article and the simulator.
const (
	UnreliableDrop  = 0.10
	UnreliableDelay = 0.10
	UnreliableLag   = 75 * time.Millisecond
)

// UnreliableFromEnv reports whether RAFT_UNRELIABLE_RPC is set (to anything but "" or "0").
func UnreliableFromEnv() bool {
	v := os.Getenv("RAFT_UNRELIABLE_RPC")
	return v != "" && v != "0"
}

// Unreliable wraps send so that each message is dropped with probability UnreliableDrop,
// delayed by UnreliableLag with probability UnreliableDelay, and otherwise sent at once.
// dropped, if not nil, is told of each message dropped. The returned function must be called
// from one goroutine (a Node's). Delayed messages are sent from a timer's goroutine, but send
// is never entered by two goroutines at once, so a send that reuses a buffer of its own (as the
// server's members do) stays safe.
func Unreliable(send func([]raft.Message), seed uint64, dropped func([]raft.Message)) func([]raft.Message) {
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	var mu sync.Mutex
	send1 := func(msgs []raft.Message) {
		mu.Lock()
		defer mu.Unlock()
		send(msgs)
	}
	return func(msgs []raft.Message) {
		now := make([]raft.Message, 0, len(msgs))
		for _, m := range msgs {
			switch r := rng.Float64(); {
			case r < UnreliableDrop:
				if dropped != nil {
					dropped([]raft.Message{m})
				}
			case r < UnreliableDrop+UnreliableDelay:
				late := []raft.Message{m}
				time.AfterFunc(UnreliableLag, func() { send1(late) })
			default:
				now = append(now, m)
			}
		}
		if len(now) > 0 {
			send1(now)
		}
	}
}
