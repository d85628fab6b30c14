//go:build !js

package peer

import (
	"slices"
	"testing"
	"time"

	"raftlab/raft"
)

// benchPair links n1 and n2; n2 answers every AppendEntries at once with a reply, as a
// follower does, and n1 passes the replies to replies.
func benchPair(b *testing.B, replies chan<- []raft.Message) (*Transport, func()) {
	var t2 *Transport
	t1, err := Listen(Config{Cluster: "demo", ID: "n1", Logf: b.Logf, Deliver: func(ms []raft.Message) bool {
		replies <- ms
		return true
	}})
	if err != nil {
		b.Fatal(err)
	}
	t2, err = Listen(Config{Cluster: "demo", ID: "n2", Logf: b.Logf, Deliver: func(ms []raft.Message) bool {
		for i := range ms {
			r := raft.Message{Type: raft.MsgAppReply, From: "n2", To: "n1", Term: ms[i].Term, Success: true, Index: ms[i].PrevLogIndex + uint64(len(ms[i].Entries))}
			t2.Send(&r)
		}
		return true
	}})
	if err != nil {
		b.Fatal(err)
	}
	t1.SetPeer("n2", t2.Addr())
	t2.SetPeer("n1", t1.Addr())
	for !t1.Up("n2") || !t2.Up("n1") {
		time.Sleep(time.Millisecond)
	}
	return t1, func() { t1.Close(); t2.Close() }
}

// BenchmarkRoundTrip is one AppendEntries of one 64-byte command from n1 to n2 over loopback
// and its reply back, one at a time: ns/op is the round trip, and p50-µs its median.
func BenchmarkRoundTrip(b *testing.B) {
	replies := make(chan []raft.Message, 1024)
	t1, stop := benchPair(b, replies)
	defer stop()
	m := raft.Message{Type: raft.MsgApp, From: "n1", To: "n2", Term: 3, PrevLogTerm: 3,
		Entries: []raft.Entry{{Term: 3, Command: make([]byte, 64)}}}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		m.PrevLogIndex, m.Commit = uint64(i), uint64(i)
		start := time.Now()
		if t1.Send(&m) != Sent {
			b.Fatal("not sent")
		}
		<-replies
		lat = append(lat, time.Since(start))
	}
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Nanoseconds())/1e3, "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Nanoseconds())/1e3, "p99-µs")
}

// BenchmarkPipelined keeps up to 64 AppendEntries (one 64-byte command each) in flight from n1
// to n2: msgs/s is how many round trips the link carries a second.
func BenchmarkPipelined(b *testing.B) {
	const window = 64
	replies := make(chan []raft.Message, 1024)
	t1, stop := benchPair(b, replies)
	defer stop()
	m := raft.Message{Type: raft.MsgApp, From: "n1", To: "n2", Term: 3, PrevLogTerm: 3,
		Entries: []raft.Entry{{Term: 3, Command: make([]byte, 64)}}}
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	sent, got := 0, 0
	for got < b.N {
		for sent < b.N && sent-got < window {
			m.PrevLogIndex = uint64(sent)
			switch t1.Send(&m) {
			case Sent:
				sent++
			case Dropped:
				b.Fatal("dropped")
			case NoLink:
				b.Fatal("no link")
			}
		}
		got += len(<-replies)
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "msgs/s")
}
