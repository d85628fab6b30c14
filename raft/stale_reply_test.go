// A reply from an earlier term is stale: here, an AppendEntries acknowledgement that a leader
// receives after it lost its term, had its log overwritten, and was elected again.

package raft

import "testing"

// TestStaleAppendReplyNotCounted: a, leader of term 1, sends its no-op and five entries to b;
// b's answer (match 6, term 1) is delayed. c leads term 2 with d and e and overwrites a's log
// with its no-op at 1; a leads term 3 with d and e and appends its no-op at 2. b's old answer
// finally arrives. It says nothing about a's log of term 3: counted, it would make a commit
// index 2 with only d holding it besides a (2 of 5), an entry that a later leader can lose.
func TestStaleAppendReplyNotCounted(t *testing.T) {
	ids := []string{"a", "b", "c", "d", "e"}
	nodes := map[string]*Node{}
	for _, id := range ids {
		nodes[id] = newTestNode(t, id, ids, NewMapStorage())
	}
	// out collects what a node sent, and send delivers the messages that match keep.
	out := func(id string) []Message { return nodes[id].Ready().Messages }
	deliver := func(ms []Message, keep func(Message) bool) []Message {
		var rest []Message
		for _, m := range ms {
			if keep(m) {
				nodes[m.To].Step(0, m)
			} else {
				rest = append(rest, m)
			}
		}
		return rest
	}
	to := func(ids ...string) func(Message) bool {
		return func(m Message) bool {
			for _, id := range ids {
				if m.To == id {
					return true
				}
			}
			return false
		}
	}
	elect := func(cand string, voters ...string) {
		t.Helper()
		nodes[cand].Campaign(0)
		deliver(out(cand), to(voters...))
		for _, v := range voters {
			deliver(out(v), to(cand))
		}
		if s, _ := nodes[cand].Role(); s != Leader {
			t.Fatalf("%s not elected by %v", cand, voters)
		}
	}
	elect("a", "b", "c")
	if _, _, _, err := nodes["a"].SubmitBatch(0, [][]byte{[]byte("x1"), []byte("x2"), []byte("x3"), []byte("x4"), []byte("x5")}); err != nil {
		t.Fatal(err)
	}
	// b gets the no-op and the entries and answers; the answer that matches all six is held
	// back.
	var stale Message
	for round := 0; stale.Index == 0; round++ {
		if round == 10 {
			t.Fatal("b never acknowledged a's entries")
		}
		deliver(out("a"), to("b"))
		for _, m := range out("b") {
			if m.Success && m.Index >= 6 {
				stale = m
			} else {
				nodes["a"].Step(0, m)
			}
		}
	}
	// c leads term 2 with d and e, and overwrites a's log from index 2 on.
	elect("c", "d", "e")
	for range 3 {
		deliver(out("c"), to("a", "d", "e"))
		for _, id := range []string{"a", "d", "e"} {
			deliver(out(id), to("c"))
		}
	}
	if e, ok := nodes["a"].Entry(1); !ok || e.Term != 2 || nodes["a"].Status().LastIndex != 1 {
		t.Fatalf("a's entry 1 is %+v, last index %d; want c's no-op of term 2 alone", e, nodes["a"].Status().LastIndex)
	}
	// a leads term 3 with d and e, and appends its no-op at 2; only d gets it.
	out("a")
	elect("a", "d", "e")
	for range 3 {
		deliver(out("a"), to("d"))
		deliver(out("d"), to("a"))
	}
	nodes["a"].Step(0, stale) // b's answer of term 1
	for range 2 {
		deliver(out("a"), to("d"))
		deliver(out("d"), to("a"))
	}
	if st := nodes["a"].Status(); st.CommitIndex >= 2 {
		t.Fatalf("a committed %d with its entry 2 on a and d only (2 of 5): b's answer of term %d was counted in term %d", st.CommitIndex, stale.Term, st.Term)
	}
}
