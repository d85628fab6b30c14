// A runnable example of the lab driver, on an in-memory store in place of localStorage.

package main

import (
	"fmt"
	"time"
)

func ExampleLab() {
	store := NewMemStore() // the page passes window.localStorage
	lab, err := NewLab(store, Config{Nodes: 3, Seed: 1})
	if err != nil {
		panic(err)
	}
	lab.Advance(time.Second, time.Hour) // the page advances a frame's worth at a time
	fmt.Println("leader elected:", lab.Snapshot(0, 0).Leader != "")

	if err := lab.Do(Action{Kind: "submit", Command: "put greeting hello"}); err != nil {
		panic(err)
	}
	lab.Advance(100*time.Millisecond, time.Hour)
	for _, n := range lab.Snapshot(0, 0).Nodes {
		fmt.Println(n.ID, n.KV)
	}
	// The log is kept 64 entries to a key, one a line (entry 0 is never written).
	v, _ := store.GetItem("raftlab/lab3/n1/log/0-63")
	fmt.Printf("raftlab/lab3/n1/log/0-63 = %q\n", v)

	// A reload: a new lab on the same storage restores every node.
	lab, _ = NewLab(store, Config{Nodes: 3, Seed: 2})
	fmt.Println(lab.Snapshot(0, 0).Events[0].Text)
	// Output:
	// leader elected: true
	// n1 [[greeting hello]]
	// n2 [[greeting hello]]
	// n3 [[greeting hello]]
	// raftlab/lab3/n1/log/0-63 = "\n1 noop\n1 cmd put greeting hello"
	// n1 restored term 1 and 2 log entries from storage
}
