package native

import (
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"raftlab/raft"
)

// TestStalledFollowerStepsWaitingMessagesFirst: a follower whose goroutine could not run for
// longer than its election timeout (here its Send blocks, as a write to a full socket does),
// while its leader's heartbeat waits in its inbox, must step the heartbeat before it fires
// its timer, and so start no election. Ticking first is what set off elections when a
// restarted follower caught up under load. Both the timer and the inbox are ready when the
// goroutine comes back, and select picks either at random: the stall is repeated so that a
// driver that may tick first fails.
func TestStalledFollowerStepsWaitingMessagesFirst(t *testing.T) {
	for i := range 32 {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var mu sync.Mutex
				var sent []raft.Message
				block := make(chan struct{})
				blocking := false
				n, err := Start(Config{
					Raft: raft.Config{ID: "n2", Members: []string{"n1", "n2", "n3"}, Storage: raft.NewMapStorage(), Seed: uint64(i),
						ElectionTimeoutMin: 100 * time.Millisecond, ElectionTimeoutMax: 200 * time.Millisecond, HeartbeatInterval: 20 * time.Millisecond},
					Send: func(msgs []raft.Message) {
						mu.Lock()
						sent = append(sent, msgs...)
						b := blocking
						blocking = false
						mu.Unlock()
						if b {
							<-block // a write that does not return for a while
						}
					},
				})
				if err != nil {
					t.Fatal(err)
				}
				defer n.Stop()
				heartbeat := raft.Message{Type: raft.MsgApp, From: "n1", To: "n2", Term: 1}
				n.Deliver([]raft.Message{heartbeat})
				synctest.Wait()
				// The reply to the next heartbeat blocks the goroutine in Send.
				mu.Lock()
				blocking = true
				mu.Unlock()
				n.Deliver([]raft.Message{heartbeat})
				synctest.Wait()
				time.Sleep(500 * time.Millisecond) // past every election deadline
				n.Deliver([]raft.Message{heartbeat})
				close(block)
				synctest.Wait()
				mu.Lock()
				defer mu.Unlock()
				for _, m := range sent {
					if m.Type != raft.MsgAppReply {
						t.Fatalf("the follower sent %v after its stall, with the leader's heartbeat waiting; want only AppendEntries replies", m)
					}
				}
				if st := n.Stats(); st.Term != 1 || st.ElectionTimeouts != 0 {
					t.Errorf("after the stall: term %d, %d election timeouts; want term 1 and none", st.Term, st.ElectionTimeouts)
				}
			})
		})
	}
}
