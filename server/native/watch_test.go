package native

import (
	"context"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"raftlab/raft"
)

// lines collects log lines.
type lines struct {
	mu sync.Mutex
	l  []string
}

func (l *lines) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.l = append(l.l, fmt.Sprintf(format, args...))
}

func (l *lines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.l, "\n")
}

// TestStatsAndLogLines: Stats follows the node's state and counts its elections; the log has
// one line per leader and term change, and an election timeout names the leader it stopped
// hearing from.
func TestStatsAndLogLines(t *testing.T) {
	members := []string{"n1", "n2", "n3"}
	nw := &net{nodes: map[string]*Node{}}
	logs := &lines{}
	nodes := map[string]*Node{}
	for _, id := range members {
		n, err := Start(Config{
			Raft: raft.Config{ID: id, Members: members, Storage: raft.NewMapStorage(), Seed: 3,
				ElectionTimeoutMin: 200 * time.Millisecond, ElectionTimeoutMax: 400 * time.Millisecond, HeartbeatInterval: 20 * time.Millisecond},
			Send: nw.send,
			Logf: logs.logf,
		})
		if err != nil {
			t.Fatal(err)
		}
		nw.set(id, n)
		nodes[id] = n
	}
	defer func() {
		for _, n := range nodes {
			n.Stop()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := submitTo(ctx, nodes, "put x 1")
	if err != nil {
		t.Fatal(err)
	}
	old, _ := leaderOf(nodes)
	waitFor(t, "every node to apply the command and know the leader", 10*time.Second, func() bool {
		for _, n := range nodes {
			if s := n.Stats(); s.Applied < res.Index || s.Leader != old {
				return false
			}
		}
		return true
	})
	for id, n := range nodes {
		s, st := n.Stats(), n.Status()
		if s.State != st.State || s.Term != st.Term || s.Commit != st.CommitIndex || s.Last != st.LastIndex || s.Applied != st.Applied {
			t.Errorf("%s: Stats %+v disagree with Status %+v", id, s, st)
		}
		if (id == old && s.ElectionsWon == 0) || s.LeaderChanges == 0 {
			t.Errorf("%s: Stats %+v; want a leader change, and an election won by the leader %s", id, s, old)
		}
	}
	if want := fmt.Sprintf("%s: leader of term %d", old, res.Term); !strings.Contains(logs.String(), want) {
		t.Errorf("no line %q in the log:\n%s", want, logs)
	}

	// Stop the leader: a follower times out naming it, and a new leader is logged.
	nodes[old].Stop()
	if s := nodes[old].Stats(); s.State != raft.Dead {
		t.Errorf("a stopped node's Stats say %v; want dead", s.State)
	}
	nw.set(old, nil)
	delete(nodes, old)
	waitFor(t, "a new leader", 10*time.Second, func() bool { _, ok := leaderOf(nodes); return ok })
	nl, _ := leaderOf(nodes)
	term := nodes[nl].Stats().Term
	timeout := regexp.MustCompile(`n\d: election timeout in term \d+ as follower: nothing from leader ` + old + ` for \d+ms \(timer fired \S+ late, \d+ message batches stepped first\): election for term \d+`)
	for _, want := range []*regexp.Regexp{
		timeout,
		regexp.MustCompile(regexp.QuoteMeta(fmt.Sprintf("%s: leader of term %d", nl, term))),
		regexp.MustCompile(`n\d: term \d+ → \d+ \((RequestVote from n\d|its own election)\), now (follower|candidate)`),
	} {
		waitFor(t, fmt.Sprintf("a log line %v", want), 5*time.Second, func() bool { return want.MatchString(logs.String()) })
	}
	for id, n := range nodes {
		if s := n.Stats(); s.ElectionTimeouts == 0 && id == nl {
			t.Errorf("%s led after the old leader stopped without an election timeout: %+v", id, s)
		}
	}
	if s := nodes[nl].Stats(); s.ElectionsStarted == 0 || s.ElectionsWon == 0 {
		t.Errorf("new leader %s: Stats %+v; want an election started and won", nl, s)
	}
}

// TestHandoverLogLine: a follower told by its leader to take over (TimeoutNow, Raft thesis
// §3.10) says so, and not that its election timer fired without a leader: it starts its
// election at once, without pre-vote, and counts no election timeout.
func TestHandoverLogLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var mu sync.Mutex
		var sent []raft.Message
		logs := &lines{}
		n, err := Start(Config{
			Raft: raft.Config{ID: "n2", Members: []string{"n1", "n2", "n3"}, Storage: raft.NewMapStorage(), Seed: 1, PreVote: true,
				ElectionTimeoutMin: 100 * time.Millisecond, ElectionTimeoutMax: 200 * time.Millisecond, HeartbeatInterval: 20 * time.Millisecond},
			Send: func(msgs []raft.Message) {
				mu.Lock()
				defer mu.Unlock()
				sent = append(sent, msgs...)
			},
			Logf: logs.logf,
		})
		if err != nil {
			t.Fatal(err)
		}
		defer n.Stop()
		n.Deliver([]raft.Message{{Type: raft.MsgApp, From: "n1", To: "n2", Term: 1}})
		synctest.Wait()
		n.Deliver([]raft.Message{{Type: raft.MsgTimeoutNow, From: "n1", To: "n2", Term: 1}})
		synctest.Wait()
		mu.Lock()
		votes := 0
		for _, m := range sent {
			switch m.Type {
			case raft.MsgVote:
				votes++
			case raft.MsgPreVote:
				t.Errorf("n2 asked for a pre-vote after its leader's TimeoutNow: %v", m)
			}
		}
		mu.Unlock()
		if st := n.Stats(); st.Term != 2 || st.State != raft.Candidate || votes != 2 || st.ElectionTimeouts != 0 {
			t.Errorf("after TimeoutNow: %+v, %d RequestVotes sent; want a candidate of term 2 that asked both others, and no election timeout", st, votes)
		}
		for _, want := range []string{
			"n2: n1 hands its leadership of term 1 over to it (TimeoutNow): election for term 2 at once, without pre-vote",
			"n2: term 1 → 2 (TimeoutNow from n1), now candidate",
		} {
			if !strings.Contains(logs.String(), want) {
				t.Errorf("no line %q in the log:\n%s", want, logs)
			}
		}
		if strings.Contains(logs.String(), "election timeout") {
			t.Errorf("a handover logged as an election timeout:\n%s", logs)
		}
	})
}
