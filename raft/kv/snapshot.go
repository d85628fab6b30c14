// Snapshots of the store for log compaction: the data and the client sessions, so that a
// retried request still applies once after the entry of its first attempt was compacted away.

package kv

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
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
// sessions (each client's latest request and answer) and the applied index, as JSON. The bytes
// are encoding/json's of snapshotState, written by hand (a snapshot is taken every thousand
// entries or so, and json.Marshal sorting and reflecting over the maps cost more than applying
// them); TestSnapshotEncoding checks the two agree.
func (s *Store) Snapshot() []byte {
	b := make([]byte, 0, 64+len(s.data)*24+len(s.sessions)*40)
	b = append(b, `{"applied":`...)
	b = strconv.AppendUint(b, s.applied, 10)
	b = append(b, `,"data":{`...)
	if s.sortedKeys == nil {
		s.sortedKeys = slices.Sorted(maps.Keys(s.data))
	}
	for i, k := range s.sortedKeys {
		if i > 0 {
			b = append(b, ',')
		}
		b = AppendJSONString(b, k)
		b = append(b, ':')
		b = AppendJSONString(b, s.data[k])
	}
	b = append(b, `},"sessions":{`...)
	if !s.ForgetSessions {
		if s.sortedSessions == nil {
			s.sortedSessions = slices.Sorted(maps.Keys(s.sessions))
		}
		for i, id := range s.sortedSessions {
			ss := s.sessions[id]
			if i > 0 {
				b = append(b, ',')
			}
			b = AppendJSONString(b, id)
			b = append(b, `:{"seq":`...)
			b = strconv.AppendUint(b, ss.seq, 10)
			if ss.result.Value != "" {
				b = append(b, `,"value":`...)
				b = AppendJSONString(b, ss.result.Value)
			}
			if ss.result.Found {
				b = append(b, `,"found":true`...)
			}
			b = append(b, '}')
		}
	}
	return append(b, "}}"...)
}

// AppendJSONString appends s as encoding/json encodes a string. Strings of printable ASCII
// that needs no escaping (keys, values and ids usually are) are copied; the others go through
// encoding/json itself, so the bytes are always its.
func AppendJSONString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, err := json.Marshal(s)
			if err != nil {
				panic(fmt.Sprintf("kv: encoding a string: %v", err)) // strings always encode
			}
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
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
	s.sortedKeys, s.sortedSessions = nil, nil
	return nil
}
