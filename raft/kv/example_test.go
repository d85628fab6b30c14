// A runnable example of the package: parse, encode, apply.

package kv_test

import (
	"fmt"

	"raftlab/raft"
	"raftlab/raft/kv"
)

func Example() {
	// A person types a command; it is checked before it goes anywhere near the log.
	if _, err := kv.ParseCommand("put greeting"); err != nil {
		fmt.Println(err)
	}
	cmd, _ := kv.ParseCommand("put greeting hello world")

	// The client wraps it in its session and submits the bytes to the leader.
	req := kv.Request{ClientID: "c1", Seq: 1, Command: cmd}
	entry := req.Encode()
	fmt.Printf("log entry: %s\n", entry)

	// Every node applies committed entries in order. The client timed out and retried, so the
	// request was committed twice; it takes effect once.
	store := kv.NewStore()
	for i, b := range [][]byte{entry, entry, kv.Request{ClientID: "c1", Seq: 2, Command: kv.Get("greeting")}.Encode()} {
		out, err := store.Apply(raft.CommitEntry{Index: uint64(i + 1), Type: raft.EntryCommand, Command: b})
		if err != nil {
			panic(err)
		}
		fmt.Println(out)
	}
	// Output:
	// kv: put needs a value after the key (write "" for an empty one): put <key> <value>
	// log entry: c1#1 put greeting hello world
	// 1 c1#1 put greeting hello world → ok
	// 2 c1#1 put greeting hello world → ok (duplicate)
	// 3 c1#2 get greeting → "hello world"
}
