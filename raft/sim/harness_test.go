// A test harness in the vocabulary of faults: CrashPeer, RestartPeer, DisconnectPeer,
// CheckSingleLeader, CheckCommitted; time is the simulator's, never the wall clock.

package sim

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"raftlab/raft"
)

type harness struct {
	t       *testing.T
	c       *Cluster
	applied map[string][]raft.CommitEntry // command entries delivered per node, this lifetime
}

func newHarness(t *testing.T, n int, mods ...func(*Options)) *harness {
	t.Helper()
	h := &harness{t: t, applied: make(map[string][]raft.CommitEntry)}
	o := Options{Nodes: n, Seed: 1, KeepTrace: true}
	for _, m := range mods {
		m(&o)
	}
	o.OnApply = func(id string, e raft.CommitEntry) {
		if e.Type == raft.EntryCommand {
			h.applied[id] = append(h.applied[id], e)
		}
	}
	c, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	h.c = c
	t.Cleanup(func() {
		if err := c.Violation(); err != nil {
			t.Errorf("safety violation: %v", err)
			h.dumpTrace(40)
		}
	})
	return h
}

func (h *harness) dumpTrace(last int) {
	tr := h.c.Trace()
	for _, e := range tr[max(0, len(tr)-last):] {
		h.t.Log(e)
	}
}

func (h *harness) run(d time.Duration) {
	h.t.Helper()
	h.c.RunFor(d)
	if err := h.c.Violation(); err != nil {
		h.t.Fatalf("safety violation: %v", err)
	}
}

// checkSingleLeader waits (in simulated time) for exactly one leader among connected live
// nodes and returns it with its term.
func (h *harness) checkSingleLeader() (string, uint64) {
	h.t.Helper()
	for range 20 {
		leaders := map[uint64][]string{}
		top := uint64(0)
		for _, st := range h.c.Statuses() {
			if st.State == raft.Leader && h.reachable(st.ID) {
				leaders[st.Term] = append(leaders[st.Term], st.ID)
				top = max(top, st.Term)
			}
		}
		if ls := leaders[top]; len(ls) == 1 {
			return ls[0], top
		} else if len(ls) > 1 {
			h.t.Fatalf("term %d has leaders %v", top, ls)
		}
		h.run(150 * time.Millisecond)
	}
	h.t.Fatalf("no leader elected by %v", h.c.Now())
	return "", 0
}

// reachable: alive and connected to at least one other node (a disconnected old leader may
// still think it leads).
func (h *harness) reachable(id string) bool {
	if !h.c.Alive(id) {
		return false
	}
	ids := h.c.IDs()
	if len(ids) == 1 {
		return true
	}
	for _, p := range ids {
		if p != id && h.c.Connected(id, p) && h.c.Alive(p) {
			return true
		}
	}
	return false
}

func (h *harness) checkNoLeader() {
	h.t.Helper()
	for _, st := range h.c.Statuses() {
		if st.State == raft.Leader && h.reachable(st.ID) {
			h.t.Fatalf("%s is leader of term %d; want no leader", st.ID, st.Term)
		}
	}
}

// submitToLeader submits cmd to the current leader and returns its index.
func (h *harness) submit(cmd string) uint64 {
	h.t.Helper()
	id, _ := h.checkSingleLeader()
	idx, err := h.c.Submit(id, []byte(cmd))
	if err != nil {
		h.t.Fatalf("Submit(%s, %q): %v", id, cmd, err)
	}
	return idx
}

// checkCommitted requires cmd to be applied at the same index on exactly want live nodes (and
// on no others) and returns that index.
func (h *harness) checkCommitted(cmd string, want int) uint64 {
	h.t.Helper()
	var idx uint64
	var on []string
	for _, id := range h.c.IDs() {
		if !h.c.Alive(id) {
			continue
		}
		for _, e := range h.applied[id] {
			if string(e.Command) == cmd {
				if idx != 0 && idx != e.Index {
					h.t.Fatalf("%q applied at index %d on one node and %d on %s", cmd, idx, e.Index, id)
				}
				idx = e.Index
				on = append(on, id)
			}
		}
	}
	if len(on) != want {
		h.t.Fatalf("%q applied on %v (%d nodes); want %d nodes", cmd, on, len(on), want)
	}
	return idx
}

// checkNotCommitted requires cmd to be applied nowhere.
func (h *harness) checkNotCommitted(cmd string) {
	h.t.Helper()
	for id, es := range h.applied {
		for _, e := range es {
			if string(e.Command) == cmd {
				h.t.Fatalf("%q applied on %s at index %d; want not committed", cmd, id, e.Index)
			}
		}
	}
}

func (h *harness) crash(id string) {
	h.t.Helper()
	if err := h.c.Crash(id); err != nil {
		h.t.Fatal(err)
	}
	h.applied[id] = nil
}

func (h *harness) restart(id string) {
	h.t.Helper()
	if err := h.c.Restart(id); err != nil {
		h.t.Fatal(err)
	}
}

func (h *harness) commands(id string) []string {
	var cs []string
	for _, e := range h.applied[id] {
		cs = append(cs, string(e.Command))
	}
	return cs
}

func (h *harness) others(ids ...string) []string {
	var out []string
	for _, id := range h.c.IDs() {
		if !slices.Contains(ids, id) {
			out = append(out, id)
		}
	}
	return out
}

func cmd(i int) string { return fmt.Sprintf("cmd-%d", i) }
