// Snapshots of the store for log compaction: the data and the client sessions, so that a
// retried request still applies once after the entry of its first attempt was compacted away.

package kv

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// snapshotState is the encoded store. encoding/json writes map keys sorted, so equal stores
// encode to equal bytes.
type snapshotState struct {
	Applied  uint64                     `json:"applied"`
	Data     map[string]string          `json:"data"`
	Sessions map[string]snapshotSession `json:"sessions"`
}

type snapshotSession struct {
	Seq   uint64 `json:"seq"`
	Value string `json:"value,omitempty"`
	Found bool   `json:"found,omitempty"`
}

// Snapshot encodes the store's state after its last applied entry: the data, the client
// sessions (each client's latest request and answer) and the applied index, as JSON.
func (s *Store) Snapshot() []byte {
	st := snapshotState{Applied: s.applied, Data: s.data, Sessions: make(map[string]snapshotSession, len(s.sessions))}
	if !s.ForgetSessions {
		for id, ss := range s.sessions {
			st.Sessions[id] = snapshotSession{Seq: ss.seq, Value: ss.result.Value, Found: ss.result.Found}
		}
	}
	b, err := json.Marshal(st)
	if err != nil {
		panic(fmt.Sprintf("kv: encoding a snapshot: %v", err)) // strings and numbers always encode
	}
	return b
}

// Restore replaces the store's state with a snapshot's, taken after the entry at index. A
// snapshot that does not decode, or that was taken at another index, is an error and changes
// nothing.
func (s *Store) Restore(index uint64, data []byte) error {
	var st snapshotState
	d := json.NewDecoder(bytes.NewReader(data))
	d.DisallowUnknownFields()
	if err := d.Decode(&st); err != nil {
		return fmt.Errorf("kv: snapshot: %v", err)
	}
	if d.More() {
		return fmt.Errorf("kv: snapshot: data after the state")
	}
	if st.Applied != index {
		return fmt.Errorf("kv: snapshot: state after entry %d in a snapshot up to %d", st.Applied, index)
	}
	sessions := make(map[string]session, len(st.Sessions))
	for id, ss := range st.Sessions {
		if err := ValidateClientID(id); err != nil {
			return fmt.Errorf("kv: snapshot: session %q: %v", id, err)
		}
		sessions[id] = session{seq: ss.Seq, result: Result{Value: ss.Value, Found: ss.Found}}
	}
	if st.Data == nil {
		st.Data = make(map[string]string)
	}
	s.data, s.sessions, s.applied = st.Data, sessions, st.Applied
	return nil
}
