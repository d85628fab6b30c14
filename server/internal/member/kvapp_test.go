//go:build !js

package member

import (
	"testing"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/server/native"
)

// TestKVAppRestoresTheCheckedSnapshot: the store CheckSnapshot decoded a snapshot into is the one
// Restore installs for that snapshot, and any other snapshot Restore gets (the one a node
// restarts from, one whose check failed or was followed by another's) is decoded from its own
// bytes; either way the member's store is the snapshot's state.
func TestKVAppRestoresTheCheckedSnapshot(t *testing.T) {
	var nc native.Config
	rep := KVApp(&nc, t.Logf)
	state := func(applied uint64, kvs ...string) []byte {
		s := kv.NewStore()
		for i := 0; i < len(kvs); i += 2 {
			req := kv.Request{Command: kv.Put(kvs[i], kvs[i+1])}
			if _, err := s.Apply(raft.CommitEntry{Index: uint64(i/2 + 1), Type: raft.EntryCommand, Command: req.Encode()}); err != nil {
				t.Fatal(err)
			}
		}
		for s.Applied() < applied {
			s.Apply(raft.CommitEntry{Index: s.Applied() + 1, Type: raft.EntryNoop})
		}
		return s.Snapshot()
	}
	check := func(step string, applied uint64, want string) {
		t.Helper()
		if got := rep.sm.Applied(); got != applied {
			t.Errorf("%s: applied %d; want %d", step, got, applied)
		}
		if got, _ := rep.sm.Get("k"); got != want {
			t.Errorf("%s: k = %q; want %q", step, got, want)
		}
	}

	a := &raft.Snapshot{Index: 10, Data: state(10, "k", "a")}
	if err := nc.Raft.CheckSnapshot(a); err != nil {
		t.Fatal(err)
	}
	if err := nc.Restore(a); err != nil {
		t.Fatal(err)
	}
	check("checked, then restored", 10, "a")

	// Restoring another snapshot than the one checked last decodes its own bytes.
	b := &raft.Snapshot{Index: 20, Data: state(20, "k", "b")}
	c := &raft.Snapshot{Index: 30, Data: state(30, "k", "c")}
	if err := nc.Raft.CheckSnapshot(b); err != nil {
		t.Fatal(err)
	}
	if err := nc.Restore(c); err != nil {
		t.Fatal(err)
	}
	check("restored another than the one checked", 30, "c")
	if err := nc.Restore(b); err != nil {
		t.Fatal(err)
	}
	check("restored the checked one after another", 20, "b")

	// A snapshot that fails its check leaves nothing behind for the next Restore.
	bad := &raft.Snapshot{Index: 40, Data: []byte("{not json")}
	if err := nc.Raft.CheckSnapshot(bad); err == nil {
		t.Fatal("CheckSnapshot accepted a snapshot that does not decode")
	}
	if err := nc.Restore(bad); err == nil {
		t.Fatal("Restore accepted a snapshot that does not decode")
	}
	check("after a refused snapshot", 20, "b")

	// The restored store goes on applying after the snapshot, and snapshots itself.
	req := kv.Request{Command: kv.Put("k", "d")}
	nc.Apply(raft.CommitEntry{Index: 21, Type: raft.EntryCommand, Command: req.Encode()})
	check("applied after the restore", 21, "d")
	if got, want := string(nc.Snapshot()), string(state(21, "k", "d")); got != want {
		t.Errorf("snapshot after the restore: %s; want %s", got, want)
	}
}
