package sim

import (
	"fmt"
	"testing"
	"time"

	"raftlab/raft"
)

// paddedApp is the digest application with a snapshot padded to a given size, so that a
// snapshot crosses in many chunks.
type paddedApp struct {
	digestApp
	pad int
}

func (a *paddedApp) Snapshot() []byte { return append(a.digestApp.Snapshot(), make([]byte, a.pad)...) }

func (a *paddedApp) Restore(s *raft.Snapshot) error {
	c := *s
	c.Data = c.Data[:len(c.Data)-a.pad]
	return a.digestApp.Restore(&c)
}

// TestSnapshotTrafficUnderDuplication: a follower cut off while the leader compacts is caught up
// by a snapshot of some 220 bytes in chunks of 1 byte, over a network that duplicates or
// reorders messages. One chunk is in flight at a time: duplicated and stale answers must not
// put more in flight (each answered, each answer sending another, the traffic grew until the
// run stalled, hundreds of thousands of messages per simulated 100 ms).
func TestSnapshotTrafficUnderDuplication(t *testing.T) {
	for _, tc := range []struct {
		name         string
		dup, reorder float64
	}{{"duplicate", 0.3, 0}, {"reorder", 0, 0.3}, {"both", 0.2, 0.2}} {
		t.Run(tc.name, func(t *testing.T) {
			chunks, installs := 0, 0
			c, err := New(Options{Nodes: 3, Seed: 7, Duplicate: tc.dup, Reorder: tc.reorder,
				Raft: raft.Config{CompactThreshold: 8, SnapshotChunkSize: 1},
				App:  func(string) App { return &paddedApp{pad: 200} },
				OnEvent: func(e raft.Event) {
					switch {
					case e.Kind == raft.EvSend && e.Msg.Type == raft.MsgSnap:
						chunks++
					case e.Kind == raft.EvInstall:
						installs++
					}
				}})
			if err != nil {
				t.Fatal(err)
			}
			c.RunFor(time.Second)
			leader, ok := c.Leader()
			if !ok {
				t.Fatal("no leader after 1 s")
			}
			behind := c.IDs()[0]
			if behind == leader {
				behind = c.IDs()[1]
			}
			c.Disconnect(behind)
			for i := range 50 {
				c.SubmitToLeader(fmt.Appendf(nil, "x%d", i))
				c.RunFor(10 * time.Millisecond)
			}
			c.Reconnect(behind)
			start := c.MessagesSent()
			for range 500 {
				c.RunFor(10 * time.Millisecond)
				if c.MessagesSent()-start > 50_000 || installs > 0 && c.Status(behind).CommitIndex >= c.CommitIndex() {
					break
				}
			}
			if err := c.Violation(); err != nil {
				t.Fatal(err)
			}
			st := c.Status(behind)
			if installs == 0 || st.SnapshotIndex == 0 {
				t.Fatalf("%s not caught up by a snapshot within 5 s: %d chunks sent, %d messages, status %+v", behind, chunks, c.MessagesSent()-start, st)
			}
			// About one chunk per byte, a few again after losses or a leader change.
			if limit := 3 * st.SnapshotSize; chunks > limit {
				t.Errorf("%d InstallSnapshot chunks sent for a snapshot of %d bytes in 1-byte chunks; want at most %d", chunks, st.SnapshotSize, limit)
			}
		})
	}
}

// TestSnapshotCatchUpUnderLoad: a follower far behind is caught up by snapshots while the
// leader keeps taking commands and compacting more often than a snapshot takes to cross. Each
// transfer must finish with the snapshot it started with, so that the follower moves on.
func TestSnapshotCatchUpUnderLoad(t *testing.T) {
	installs := 0
	c, err := New(Options{Nodes: 3, Seed: 3,
		Raft: raft.Config{CompactThreshold: 8, SnapshotChunkSize: 4},
		App:  func(string) App { return &paddedApp{pad: 400} },
		OnEvent: func(e raft.Event) {
			if e.Kind == raft.EvInstall {
				installs++
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	c.RunFor(time.Second)
	leader, ok := c.Leader()
	if !ok {
		t.Fatal("no leader after 1 s")
	}
	behind := c.IDs()[0]
	if behind == leader {
		behind = c.IDs()[1]
	}
	c.Disconnect(behind)
	submit := func(i int) {
		c.SubmitToLeader(fmt.Appendf(nil, "x%d", i))
		c.RunFor(10 * time.Millisecond)
	}
	for i := range 50 {
		submit(i)
	}
	c.Reconnect(behind)
	// 100 commands a second: the leader compacts every 90 ms; a snapshot of some 420 bytes in
	// chunks of 4 takes about 100 round trips.
	for i := range 500 {
		submit(50 + i)
	}
	if err := c.Violation(); err != nil {
		t.Fatal(err)
	}
	if installs < 2 {
		t.Fatalf("%s installed %d snapshots in 5 s under load; want it to keep up by snapshots (status %+v)", behind, installs, c.Status(behind))
	}
}
