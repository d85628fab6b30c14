package native

import (
	"bytes"

	"raftlab/raft"
)

// groupStore gathers the core's storage writes during one turn of the node's loop (every
// message stepped, every command submitted, the timer) and hands them to the store as one
// SetBatch before the turn's Ready is handled, that is, before anything that depends on them
// leaves the node: one synced transaction a turn instead of one a step. Safety is the core's:
// nothing is sent before the writes it depends on are in the store, and a crash loses only
// writes whose consequences never left (as if those messages had not arrived). The batches
// keep their order, and one transaction holding several is all or nothing, so a crash still
// leaves the state before or after a whole turn.
type groupStore struct {
	s       raft.BatchStorage // also a raft.Deleter (see groupable)
	pending []raft.KV
}

// groupable reports whether s can be grouped: the core hands deletions to a Deleter, so the
// wrapper may implement Delete only for a store that does.
func groupable(s raft.Storage) (raft.BatchStorage, bool) {
	bs, ok := s.(raft.BatchStorage)
	if _, del := s.(raft.Deleter); !ok || !del {
		return nil, false
	}
	return bs, true
}

func (g *groupStore) Set(key string, value []byte) {
	g.pending = append(g.pending, raft.KV{Key: key, Value: bytes.Clone(value)})
}

func (g *groupStore) SetBatch(kvs []raft.KV) {
	for _, kv := range kvs {
		kv.Value = bytes.Clone(kv.Value)
		g.pending = append(g.pending, kv)
	}
}

func (g *groupStore) Delete(key string) {
	g.pending = append(g.pending, raft.KV{Key: key, Delete: true})
}

// Get reads the latest write of key, pending or stored.
func (g *groupStore) Get(key string) ([]byte, bool) {
	for i := len(g.pending) - 1; i >= 0; i-- {
		if kv := g.pending[i]; kv.Key == key {
			if kv.Delete {
				return nil, false
			}
			return bytes.Clone(kv.Value), true
		}
	}
	return g.s.Get(key)
}

func (g *groupStore) HasData() bool { return len(g.pending) > 0 || g.s.HasData() }

// Err reports the store's write error, for a store that has them.
func (g *groupStore) Err() error {
	if se, ok := g.s.(storageErr); ok {
		return se.Err()
	}
	return nil
}

// flush writes what is pending in one SetBatch.
func (g *groupStore) flush() {
	if len(g.pending) == 0 {
		return
	}
	g.s.SetBatch(g.pending)
	clear(g.pending)
	g.pending = g.pending[:0]
}
