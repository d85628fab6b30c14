// Benchmarks of the frame codec on an AppendEntries of 64 commands, a typical frame under load.
package wire

import (
	"fmt"
	"testing"

	"raftlab/raft"
)

func appendFrame() *Envelope {
	m := raft.Message{Type: raft.MsgApp, From: "n1", To: "n2", Term: 3, PrevLogIndex: 100, PrevLogTerm: 3, Commit: 100}
	for i := range 64 {
		m.Entries = append(m.Entries, raft.Entry{Term: 3, Command: fmt.Appendf(nil, "c%d#1 put k%d v", i, i)})
	}
	return &Envelope{Type: TypeMsgs, Cluster: "demo", Msgs: []raft.Message{m}}
}

func BenchmarkEncode(b *testing.B) {
	e := appendFrame()
	for b.Loop() {
		if _, err := Encode(e); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	f, _ := Encode(appendFrame())
	b.SetBytes(int64(len(f)))
	for b.Loop() {
		if _, err := Decode(f); err != nil {
			b.Fatal(err)
		}
	}
}
