//go:build !js

// A page member that joins far behind a native leader is caught up by the leader's snapshot,
// keeps it in localStorage across a reload, and serves the state it restored.

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/raft/wire"
)

func TestBrowserMixedSnapshotCatchUp(t *testing.T) {
	b := startBrowser(t)
	base, m, _ := startMixedFlags(t, "127.0.0.1:0", &clusterFlags{cluster: "demo", members: "n1,n2,b1", native: "n1,n2",
		data: t.TempDir(), options: wire.Options{Compact: 20}})
	info := func() apiCluster { return clusterInfo(t, base) }
	waitUntil(t, "a native leader", func() bool { return strings.HasPrefix(info().Leader, "n") })
	var leader *localMember
	findLeader := func() bool {
		for _, n := range m.natives {
			if n.node.Status().State == raft.Leader {
				leader = n
				return true
			}
		}
		return false
	}
	// 300 commands while b1 is away: the natives compact every 20 entries. (A leader change
	// on a loaded machine: the command goes to the next leader, in its session.)
	for i := range 300 {
		cmd := kv.Request{ClientID: "c1", Seq: uint64(i + 1), Command: kv.Put(fmt.Sprintf("k%d", i%7), fmt.Sprintf("v%d", i))}.Encode()
		for try := 0; ; try++ {
			waitUntil(t, "a native leader", findLeader)
			_, err := leader.node.Submit(context.Background(), cmd)
			if err == nil {
				break
			}
			if try == 10 {
				t.Fatal(err)
			}
		}
	}
	waitUntil(t, "a native leader", findLeader)
	ls := leader.node.Status()
	if ls.SnapshotIndex < 250 {
		t.Fatalf("the leader compacted up to %d of %d", ls.SnapshotIndex, ls.LastIndex)
	}

	p := b.open(t, "http://"+base+"/?cluster=demo")
	waitUntil(t, "b1 to join and catch up", func() bool {
		c := info()
		lm, bm := c.member(c.Leader), c.member("b1")
		return bm.Reachable && lm.Commit >= ls.LastIndex && bm.Applied == lm.Commit
	})
	var snap struct {
		Events []struct{ Text string }
		Hosted []struct {
			ID       string
			Snapshot uint64
			Failure  string
		}
	}
	json.Unmarshal([]byte(eval[string](p, "raftlabWasm.mixedSnapshot()")), &snap)
	// From the leader of the moment: on a loaded machine it may have changed since ls was read.
	installed := false
	for _, e := range snap.Events {
		for _, n := range m.natives {
			installed = installed || strings.Contains(e.Text, "b1 installed "+n.id+"'s snapshot up to index")
		}
	}
	if !installed {
		t.Errorf("no snapshot installation in the page's events: %q", snap.Events)
	}
	if len(snap.Hosted) != 1 || snap.Hosted[0].Snapshot < ls.SnapshotIndex || snap.Hosted[0].Failure != "" {
		t.Errorf("b1 = %+v; want a snapshot up to %d or later", snap.Hosted, ls.SnapshotIndex)
	}

	// b1's localStorage holds its snapshot and at most about the threshold of log entries: the
	// page deletes what compaction drops.
	logKeys := eval[int](p, `Object.keys(localStorage).filter((k) => k.startsWith("raftlab/mixed-demo/b1/log/") && k !== "raftlab/mixed-demo/b1/log/last").length`)
	if logKeys > 2*20+2 {
		t.Errorf("b1 stores %d log entries in localStorage with a compaction threshold of 20", logKeys)
	}
	if !eval[bool](p, `localStorage.getItem("raftlab/mixed-demo/b1/snapshot") !== null`) {
		t.Error("b1 stores no snapshot in localStorage")
	}

	// Reload: b1 restarts from the snapshot in localStorage.
	p.do(chromedp.Reload())
	p.waitReady()
	waitUntil(t, "b1 to rejoin", func() bool { return info().member("b1").Reachable })
	json.Unmarshal([]byte(eval[string](p, "raftlabWasm.mixedSnapshot()")), &snap)
	restarted := false
	for _, e := range snap.Events {
		restarted = restarted || strings.Contains(e.Text, "b1 started: term ") && strings.Contains(e.Text, "a snapshot up to")
	}
	if !restarted {
		t.Errorf("b1 did not restart from its snapshot: %q", snap.Events)
	}

	// Stop the leader: b1 and the other native are a majority, and b1's restored store
	// agrees with theirs.
	m.hub.DetachLocal(m.cluster, leader.id)
	leader.node.Stop()
	waitUntil(t, "a new leader", func() bool { c := info(); return c.Leader != "" && c.Leader != leader.id })
	pageSubmit(p, "put k0 after")
	pageSubmit(p, "get k6")
	p.waitFor("get k6 answered v293", `document.getElementById("submitMsg").textContent.endsWith('→ "v293"')`)
	p.noProblems()
}
