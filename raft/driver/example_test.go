package driver_test

import (
	"fmt"

	"raftlab/raft"
	"raftlab/raft/driver"
)

// A driver of a one-member cluster: it proposes a command, tracks it by its index and term, and
// hands out each Ready with Handle, which applies the entry and answers the proposal.
func Example() {
	rn, err := raft.NewNode(raft.Config{ID: "n1", Members: []string{"n1"}, Storage: raft.NewMapStorage(), Seed: 1}, 0)
	if err != nil {
		panic(err)
	}
	counter := 0
	d := &driver.Node{Raft: rn, Hooks: driver.Hooks{
		Send: func(msgs []raft.Message) {}, // a lone member has no one to send to
		Apply: func(e raft.CommitEntry, answer bool) ([]byte, error) {
			if e.Type != raft.EntryCommand {
				return nil, nil // the leader's no-op
			}
			counter++
			return fmt.Appendf(nil, "%s, count %d", e.Command, counter), nil
		},
	}}
	d.Tracker.Answer = func(ref any, o driver.Outcome) {
		fmt.Printf("%s: index %d, term %d, %q, error %v\n", ref, o.Index, o.Term, o.Value, o.Err)
	}

	now := rn.Deadline() // the driver's clock: its election timeout has passed
	rn.Tick(now)
	d.Handle(now) // it leads, and commits its no-op
	index, term, err := rn.Submit(now, []byte("add 1"))
	if err != nil {
		panic(err)
	}
	d.Tracker.Add(index, term, false, "request 1")
	if err := d.Handle(now); err != nil {
		panic(err)
	}
	fmt.Println("applied up to", d.Applied)
	// Output:
	// request 1: index 2, term 1, "add 1, count 1", error <nil>
	// applied up to 2
}
