// The state machine: committed entries applied in index order, with client sessions.

package kv

import (
	"fmt"
	"maps"
	"slices"
	"strconv"

	"raftlab/raft"
)

// Result is a command's answer. For get, Value and Found give the key's value and whether it
// was present; for delete, Found says whether the key was present. Put and append answer with
// the zero Result.
type Result struct {
	Value string
	Found bool
}

// OutcomeKind says what applying an entry did.
type OutcomeKind uint8

const (
	// Applied: the command took effect now; Result is its answer.
	Applied OutcomeKind = iota + 1
	// Duplicate: a retry of the client's latest request, already applied at an earlier index.
	// Nothing changes; Result repeats the first answer.
	Duplicate
	// Superseded: an older request of a client that has since sent a newer one (a stale
	// retry that was still travelling). Nothing changes and nobody waits for an answer.
	Superseded
	// Noop: the empty entry a new leader appends.
	Noop
	// Invalid: the entry is not a request (a raw command submitted around ParseCommand).
	// Every node skips it alike; Err says why.
	Invalid
)

var outcomeNames = [...]string{Applied: "applied", Duplicate: "duplicate", Superseded: "superseded", Noop: "noop", Invalid: "invalid"}

func (k OutcomeKind) String() string {
	if k >= Applied && k <= Invalid {
		return outcomeNames[k]
	}
	return fmt.Sprintf("OutcomeKind(%d)", uint8(k))
}

// Outcome is what Store.Apply did with one committed entry.
type Outcome struct {
	Index   uint64
	Kind    OutcomeKind
	Request Request // zero for Noop and Invalid
	Result  Result  // for Applied and Duplicate
	Err     error   // for Invalid
}

// String describes the outcome for a person: "7 c1#3 get x → "1"".
func (o Outcome) String() string {
	head := strconv.FormatUint(o.Index, 10) + " "
	switch o.Kind {
	case Noop:
		return head + "noop"
	case Invalid:
		return head + "invalid entry: " + o.Err.Error()
	}
	s := head + o.Request.String()
	switch o.Request.Command.Op {
	case OpGet:
		if o.Result.Found {
			s += " → " + strconv.Quote(o.Result.Value)
		} else {
			s += " → not found"
		}
	case OpDelete:
		if o.Result.Found {
			s += " → deleted"
		} else {
			s += " → not found"
		}
	default:
		s += " → ok"
	}
	if o.Kind != Applied {
		s += " (" + o.Kind.String() + ")"
	}
	return s
}

// session is what the store remembers of a client: its latest request and the answer.
type session struct {
	seq    uint64
	result Result
}

// Store is the key-value state machine of one node. Feed it the node's committed entries, in
// index order from index 1, with Apply; every node that applies the same entries reaches the
// same state and gives the same answers. A node that restarts starts a new Store, restored
// from the node's snapshot if it has one. The zero Store is not usable; call NewStore.
type Store struct {
	data     map[string]string
	sessions map[string]session
	applied  uint64
	// The keys of data and of sessions, sorted, as Snapshot writes them; nil when a key was
	// added or removed since Snapshot last sorted them. Most commands change the value of a
	// key that exists, so a snapshot rarely sorts the keys again.
	sortedKeys, sortedSessions []string
	// ForgetSessions is a break-it switch: snapshots leave the client sessions out, so a
	// node restored from one applies a retried request again.
	ForgetSessions bool
}

// NewStore returns an empty store that expects index 1 next.
func NewStore() *Store {
	return &Store{data: make(map[string]string), sessions: make(map[string]session)}
}

// Apply applies the committed entry e, which must be the one after the last applied
// (Applied()+1, which follows a restored snapshot); anything else is the driver's mistake and returns an error, changing nothing.
// An entry that does not decode as a Request is not an error: it yields an Invalid outcome,
// the same on every node.
func (s *Store) Apply(e raft.CommitEntry) (Outcome, error) {
	if e.Index != s.applied+1 {
		return Outcome{}, fmt.Errorf("kv: apply index %d after %d: entries must be applied in order, once", e.Index, s.applied)
	}
	s.applied = e.Index
	o := Outcome{Index: e.Index}
	if e.Type != raft.EntryCommand { // a leader's no-op, a configuration
		o.Kind = Noop
		return o, nil
	}
	r, err := DecodeRequest(e.Command)
	if err != nil {
		o.Kind, o.Err = Invalid, err
		return o, nil
	}
	o.Request = r
	known := false
	if r.ClientID != "" {
		ss, ok := s.sessions[r.ClientID]
		if ok && r.Seq <= ss.seq {
			if r.Seq == ss.seq {
				o.Kind, o.Result = Duplicate, ss.result
			} else {
				o.Kind = Superseded
			}
			return o, nil
		}
		known = ok
	}
	o.Kind, o.Result = Applied, s.exec(r.Command)
	if r.ClientID != "" {
		s.sessions[r.ClientID] = session{seq: r.Seq, result: o.Result}
		if !known {
			s.sortedSessions = nil
		}
	}
	return o, nil
}

func (s *Store) exec(c Command) Result {
	v, found := s.data[c.Key]
	switch c.Op {
	case OpGet:
		return Result{Value: v, Found: found}
	case OpPut:
		s.data[c.Key] = c.Value
	case OpAppend:
		s.data[c.Key] = v + c.Value
	case OpDelete:
		delete(s.data, c.Key)
		if found {
			s.sortedKeys = nil
		}
		return Result{Found: found}
	}
	if !found {
		s.sortedKeys = nil
	}
	return Result{}
}

// Applied returns the index of the last applied entry.
func (s *Store) Applied() uint64 { return s.applied }

// Get returns key's value, read locally (not linearizable: submit a get command for that).
func (s *Store) Get(key string) (string, bool) {
	v, ok := s.data[key]
	return v, ok
}

// Len returns the number of keys.
func (s *Store) Len() int { return len(s.data) }

// Keys returns the keys, sorted.
func (s *Store) Keys() []string { return slices.Sorted(maps.Keys(s.data)) }

// FirstKeys returns the n smallest keys, sorted, in one pass over the store: it does not sort
// them all (the mixed page's cards show the first few of a store of any size).
func (s *Store) FirstKeys(n int) []string {
	out := make([]string, 0, n+1)
	for k := range s.data {
		if len(out) == n && (n == 0 || k >= out[n-1]) {
			continue
		}
		i, _ := slices.BinarySearch(out, k)
		out = slices.Insert(out, i, k)
		if len(out) > n {
			out = out[:n]
		}
	}
	return out
}

// Data returns a copy of the whole map.
func (s *Store) Data() map[string]string { return maps.Clone(s.data) }

// Session returns the sequence number of the latest request applied for client.
func (s *Store) Session(client string) (seq uint64, ok bool) {
	ss, ok := s.sessions[client]
	return ss.seq, ok
}
