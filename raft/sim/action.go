// Timed actions (the replayable record of what a person or a test did) and the trace hash.

package sim

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"raftlab/raft"
)

// ActionKind names an action. The names are stable: share links and scenario files use them.
type ActionKind string

const (
	ActCrash        ActionKind = "crash"     // Node
	ActRestart      ActionKind = "restart"   // Node
	ActCrashAll     ActionKind = "crash-all" //
	ActRestartAll   ActionKind = "restart-all"
	ActDisconnect   ActionKind = "disconnect" // Node
	ActReconnect    ActionKind = "reconnect"  // Node
	ActCut          ActionKind = "cut"        // Node, Peer
	ActHeal         ActionKind = "heal"       // Node, Peer
	ActPartition    ActionKind = "partition"  // Groups
	ActHealAll      ActionKind = "heal-all"
	ActTimeout      ActionKind = "timeout"       // Node
	ActTransfer     ActionKind = "transfer"      // Node: the leader hands its leadership to Node
	ActSubmit       ActionKind = "submit"        // Command to Node, or to the leader if Node is ""
	ActUnreliable   ActionKind = "unreliable"    // On
	ActSetLatency   ActionKind = "latency"       // Min, Max
	ActLinkLatency  ActionKind = "link-latency"  // Node, Peer, Min, Max
	ActSetDuplicate ActionKind = "duplicate"     // Rate
	ActSetReorder   ActionKind = "reorder"       // Rate: messages taken out of their link's order
	ActSubmitBatch  ActionKind = "batch"         // Commands to Node or the leader
	ActNote         ActionKind = "note"          // Detail written to the trace
	ActAddServer    ActionKind = "add-server"    // Node joins the cluster (a membership change)
	ActRemoveServer ActionKind = "remove-server" // Node leaves the cluster
	ActDropMessage  ActionKind = "drop-message"  // Msg: the message on the wire (Flight.Seq) is lost
	// ActSetVoters: the leader changes the voters to Voters (with joint consensus, several servers
	// at once; see Cluster.SetVoters).
	ActSetVoters ActionKind = "set-voters"
)

// Action is one timed action on a cluster.
type Action struct {
	At       time.Duration `json:"at"`
	Kind     ActionKind    `json:"kind"`
	Node     string        `json:"node,omitempty"`
	Peer     string        `json:"peer,omitempty"`
	Groups   [][]string    `json:"groups,omitempty"`
	Command  string        `json:"command,omitempty"`
	Commands []string      `json:"commands,omitempty"`
	On       bool          `json:"on,omitempty"`
	Min      time.Duration `json:"min,omitempty"`
	Max      time.Duration `json:"max,omitempty"`
	Rate     float64       `json:"rate,omitempty"`
	Msg      uint64        `json:"msg,omitempty"`
	Voters   []string      `json:"voters,omitempty"`
	Detail   string        `json:"detail,omitempty"`
}

func (a Action) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%v %s", a.At, a.Kind)
	for _, s := range []string{a.Node, a.Peer, a.Command} {
		if s != "" {
			b.WriteString(" " + strconv.Quote(s))
		}
	}
	if len(a.Groups) > 0 {
		fmt.Fprintf(&b, " %v", a.Groups)
	}
	if len(a.Voters) > 0 {
		fmt.Fprintf(&b, " %v", a.Voters)
	}
	return b.String()
}

// Schedule queues actions to run at their times (an action in the past runs at once, in order).
func (c *Cluster) Schedule(actions ...Action) {
	acts := slices.Clone(actions) // one allocation for a whole client load
	c.actions = slices.Grow(c.actions, len(acts))
	for i := range acts {
		s := scheduled{at: max(acts[i].At, c.now), action: &acts[i]}
		// Keep c.actions in time order, each after every action due at or before it.
		j := len(c.actions)
		if j > 0 && c.actions[j-1].at > s.at {
			j, _ = slices.BinarySearchFunc(c.actions, s.at, func(x scheduled, t time.Duration) int {
				if x.at <= t {
					return -1
				}
				return 1
			})
		}
		c.actions = slices.Insert(c.actions, j, s)
	}
}

// Do performs an action now. If Options.Record is set and the action succeeded, it is
// recorded (a failed action changed nothing, so a replay needs nothing of it).
func (c *Cluster) Do(a Action) error {
	a.At = c.now
	if err := c.do(a); err != nil {
		return err
	}
	if c.opts.Record {
		c.recorded = append(c.recorded, a)
	}
	return nil
}

// Recorded returns the actions performed with Do so far (Options.Record must be set).
func (c *Cluster) Recorded() []Action { return slices.Clone(c.recorded) }

func (c *Cluster) do(a Action) error {
	switch a.Kind {
	case ActCrash:
		return c.Crash(a.Node)
	case ActRestart:
		return c.Restart(a.Node)
	case ActCrashAll:
		c.CrashAll()
	case ActRestartAll:
		return c.RestartAll()
	case ActDisconnect:
		return c.Disconnect(a.Node)
	case ActReconnect:
		return c.Reconnect(a.Node)
	case ActCut:
		return c.Cut(a.Node, a.Peer)
	case ActHeal:
		return c.Heal(a.Node, a.Peer)
	case ActPartition:
		return c.Partition(a.Groups...)
	case ActHealAll:
		c.HealAll()
	case ActTimeout:
		return c.Timeout(a.Node)
	case ActTransfer:
		return c.Transfer(a.Node)
	case ActSubmit, ActSubmitBatch:
		cmds := a.Commands
		if a.Kind == ActSubmit {
			cmds = []string{a.Command}
		}
		bs := make([][]byte, len(cmds))
		for i, s := range cmds {
			bs[i] = []byte(s)
		}
		id := a.Node
		if id == "" {
			var ok bool
			if id, ok = c.Leader(); !ok {
				c.record(raft.Event{Kind: raft.EvNote, Detail: "no leader to take the command"})
				return nil
			}
		}
		_, _, err := c.SubmitBatch(id, bs)
		if err != nil && a.Node == "" {
			return nil // refused by a stale leader: recorded in the trace, not an error of the action
		}
		return err
	case ActUnreliable:
		c.SetUnreliable(a.On)
	case ActSetLatency:
		return c.SetLatency(a.Min, a.Max)
	case ActLinkLatency:
		return c.SetLinkLatency(a.Node, a.Peer, a.Min, a.Max)
	case ActSetDuplicate:
		if a.Rate < 0 || a.Rate > 1 {
			return fmt.Errorf("sim: duplicate rate %v outside 0–1", a.Rate)
		}
		c.opts.Duplicate = a.Rate
	case ActSetReorder:
		return c.SetReorder(a.Rate)
	case ActNote:
		c.record(raft.Event{Kind: raft.EvNote, Detail: a.Detail})
	case ActAddServer, ActRemoveServer:
		var err error
		if a.Kind == ActAddServer {
			err = c.AddServer(a.Node)
		} else {
			err = c.RemoveServer(a.Node)
		}
		return err
	case ActSetVoters:
		return c.SetVoters(a.Voters)
	case ActDropMessage:
		return c.DropMessage(a.Msg)
	default:
		return fmt.Errorf("sim: unknown action %q", a.Kind)
	}
	return nil
}

// traceHash folds every field of every event into 64 bits, a word at a time (strings eight
// bytes to a word, the last word marked with the length, so that field boundaries count). Each
// step (h^v)*K is a bijection of h, so two traces that differ in one word never collide; String
// mixes the bits once at the end.
type traceHash struct{ h uint64 }

func newTraceHash() traceHash { return traceHash{h: 0xcbf29ce484222325} }

func mixWord(h, v uint64) uint64 { return (h ^ v) * 0x9e3779b97f4a7c15 }

func mixString(h uint64, s string) uint64 {
	var w uint64
	for i := 0; i < len(s); i++ {
		w |= uint64(s[i]) << (8 * (i & 7))
		if i&7 == 7 {
			h, w = mixWord(h, w), 0
		}
	}
	// The last word holds at most seven bytes: its top byte is free for the length.
	return mixWord(h, w^uint64(len(s))<<56)
}

// msgHash folds every field of a message (0 for none); a message is hashed once however many
// events name it.
func msgHash(m *raft.Message) uint64 {
	if m == nil {
		return 0
	}
	success := uint64(0)
	if m.Success {
		success = 1
	}
	h := mixWord(0x84222325cbf29ce4, uint64(m.Type)|success<<8|uint64(len(m.Entries))<<16)
	h = mixString(h, m.From)
	h = mixString(h, m.To)
	for _, v := range [...]uint64{m.Term, m.LastLogIndex, m.LastLogTerm, m.PrevLogIndex, m.PrevLogTerm,
		m.Commit, m.Index, m.ConflictTerm, m.ConflictIndex} {
		h = mixWord(h, v)
	}
	return h | 1 // never 0, so that "a message" and "none" differ
}

// add folds event e, whose message (if any) hashes to mh.
func (t *traceHash) add(e *raft.Event, mh uint64) {
	h := mixWord(t.h, uint64(e.Time))
	h = mixWord(h, uint64(e.Kind)|uint64(e.State)<<8)
	if mh == 0 { // a message event's Node and Peer are its From and To, already in mh
		h = mixString(h, e.Node)
		h = mixString(h, e.Peer)
	}
	h = mixWord(h, e.Term)
	h = mixWord(h, e.Index)
	h = mixWord(h, e.Last)
	h = mixString(h, e.Detail)
	t.h = mixWord(h, mh)
}

func (t *traceHash) String() string {
	h := t.h // a final avalanche (splitmix64's), so that every input bit reaches every output bit
	h = (h ^ h>>30) * 0xbf58476d1ce4e5b9
	h = (h ^ h>>27) * 0x94d049bb133111eb
	return fmt.Sprintf("%016x", h^h>>31)
}
