// Node storage over a browser-like key/value store (localStorage in the page, a map in tests),
// namespaced per cluster and node.

package main

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"raftlab/raft"
)

// KeyValue is the part of the Web Storage API the lab uses. In the page it is
// window.localStorage; tests use MemStore.
type KeyValue interface {
	GetItem(key string) (string, bool)
	// SetItem fails when the store is full (localStorage's QuotaExceededError).
	SetItem(key, value string) error
	RemoveItem(key string)
	// Keys lists every key in the store.
	Keys() []string
}

// MemStore is an in-memory KeyValue. Quota, when positive, caps the total length of keys and
// values, as browsers cap localStorage.
type MemStore struct {
	m     map[string]string
	Quota int
	used  int
	nw    int // writes and removals made, for tests
}

// NewMemStore returns an empty MemStore without a quota.
func NewMemStore() *MemStore { return &MemStore{m: make(map[string]string)} }

// ErrQuota is MemStore's answer when a write would exceed its Quota.
var ErrQuota = errors.New("QuotaExceededError: the storage quota has been exceeded")

// GetItem implements KeyValue.
func (s *MemStore) GetItem(k string) (string, bool) {
	v, ok := s.m[k]
	return v, ok
}

// SetItem implements KeyValue.
func (s *MemStore) SetItem(k, v string) error {
	old, had := s.m[k]
	delta := len(v)
	if had {
		delta -= len(old)
	} else {
		delta += len(k)
	}
	if s.Quota > 0 && s.used+delta > s.Quota {
		return ErrQuota
	}
	s.nw++
	s.m[k] = v
	s.used += delta
	return nil
}

// RemoveItem implements KeyValue.
func (s *MemStore) RemoveItem(k string) {
	if old, ok := s.m[k]; ok {
		s.nw++
		s.used -= len(k) + len(old)
		delete(s.m, k)
	}
}

// Keys implements KeyValue.
func (s *MemStore) Keys() []string {
	ks := make([]string, 0, len(s.m))
	for k := range s.m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

// keyRoot prefixes every key the lab writes: raftlab/<cluster>/<node>/<raft key>, for example
// raftlab/lab5/n3/log/12. The cluster's own record is raftlab/<cluster>/cluster.
const keyRoot = "raftlab/"

// formatVersion is written in each cluster's record; data written in another format is
// foreign and is not read. The mixed page's members keep a key per log entry in this format.
const formatVersion = "raftlab-storage-1"

// labFormatVersion is the lab's format: its log in chunks (logchunks.go). The lab reads a
// cluster stored in formatVersion (its entries under their own keys) and moves the record on.
const labFormatVersion = "raftlab-storage-2"

func clusterPrefix(cluster string) string    { return keyRoot + cluster + "/" }
func clusterRecordKey(cluster string) string { return clusterPrefix(cluster) + "cluster" }

// clusterRecord is the value of the cluster record: the format and the members.
func clusterRecord(members []string) string { return formatRecord(formatVersion, members) }

func formatRecord(format string, members []string) string {
	return format + " members=" + strings.Join(members, ",")
}

// ForeignDataError reports stored data under the cluster's prefix that this lab did not write
// (another version of raftlab, or a hand edit).
type ForeignDataError struct {
	Cluster string
	Key     string
	Detail  string
}

func (e *ForeignDataError) Error() string {
	return fmt.Sprintf("the stored data of cluster %q was not written by this version of raftlab (%s: %s)", e.Cluster, e.Key, e.Detail)
}

// checkCluster verifies that what kv holds for cluster was written in this format for these
// members, and writes the cluster record when the cluster is new.
func checkCluster(kv KeyValue, cluster string, members []string) error {
	return checkClusterFormat(kv, cluster, members, formatVersion, "")
}

// checkClusterFormat is checkCluster for data in format, or in the older format it reads
// too (none if ""), whose record it then rewrites in format.
func checkClusterFormat(kv KeyValue, cluster string, members []string, format, older string) error {
	want := formatRecord(format, members)
	got, ok := kv.GetItem(clusterRecordKey(cluster))
	if ok {
		if got == want {
			return nil
		}
		if older == "" || got != formatRecord(older, members) {
			return &ForeignDataError{cluster, clusterRecordKey(cluster), fmt.Sprintf("found %q, want %q", got, want)}
		}
	} else {
		prefix := clusterPrefix(cluster)
		for _, k := range kv.Keys() {
			if strings.HasPrefix(k, prefix) {
				return &ForeignDataError{cluster, k, "a key without the cluster record " + clusterRecordKey(cluster)}
			}
		}
	}
	if err := kv.SetItem(clusterRecordKey(cluster), want); err != nil {
		return fmt.Errorf("could not save %s: %v", clusterRecordKey(cluster), err)
	}
	return nil
}

// clearCluster removes every key of cluster and reports how many there were.
func clearCluster(kv KeyValue, cluster string) int {
	prefix := clusterPrefix(cluster)
	n := 0
	for _, k := range kv.Keys() {
		if strings.HasPrefix(k, prefix) {
			kv.RemoveItem(k)
			n++
		}
	}
	return n
}

// nodeStorage is one node's raft.BatchStorage and raft.Deleter in a KeyValue. Values are the
// core's readable text encodings, so they read well in the browser's devtools.
//
// A write that fails (the quota) is undone, so storage keeps the state of before the call,
// which restores to a valid Raft log; the storage then refuses every later write and reports
// the failure through Err. The driver must stop the node before anything it sent in that call
// is delivered (see Lab.checkStorage).
type nodeStorage struct {
	kv      KeyValue
	prefix  string
	hasData bool
	err     error
	// known holds every key of this node that the store holds (a key it lacks is absent), with
	// its value once read or written. A write needs each key's old value, to undo the batch if
	// a later write of it fails; from known that costs no call to localStorage, which under the
	// client load was a third of the storage's time. Only this node writes its keys (another tab
	// doing so stops this one for good), so known stays true.
	known map[string]knownValue
	// shared is the store's own failure (writeBehind), which stops every node.
	shared interface{ Err() error }
	// chunks, when not nil, keeps the log chunkSize entries to a key (logchunks.go): the
	// lab's nodes; the mixed page's keep a key per entry. An entry under its own key (stored
	// before chunks) is still read, and removed when its index is next written or deleted.
	chunks map[uint64]*logChunk
}

type knownValue struct {
	v      string
	loaded bool // v is the value; else it is still to be read from the store
}

// newNodeStorage returns id's storage; keys is every key of kv (listed once for all nodes).
func newNodeStorage(kv KeyValue, cluster, id string, keys []string) *nodeStorage {
	s := &nodeStorage{kv: kv, prefix: clusterPrefix(cluster) + id + "/", known: make(map[string]knownValue)}
	s.shared, _ = kv.(interface{ Err() error })
	for _, k := range keys {
		if strings.HasPrefix(k, s.prefix) {
			s.hasData = true
			s.known[k] = knownValue{}
		}
	}
	return s
}

// Set implements raft.Storage.
func (s *nodeStorage) Set(key string, value []byte) { s.SetBatch([]raft.KV{{Key: key, Value: value}}) }

// Delete implements raft.Deleter: compaction removes what it drops from localStorage.
func (s *nodeStorage) Delete(key string) { s.SetBatch([]raft.KV{{Key: key, Delete: true}}) }

// SetBatch implements raft.BatchStorage: every pair or none.
func (s *nodeStorage) SetBatch(kvs []raft.KV) {
	if s.Err() != nil {
		return
	}
	var ws []write
	if s.chunks != nil {
		ws = s.chunked(kvs)
	} else {
		ws = make([]write, len(kvs))
		for i, p := range kvs {
			ws[i] = write{s.prefix + p.Key, string(p.Value), p.Delete}
		}
	}
	type undo struct {
		key, old string
		had      bool
	}
	undos := make([]undo, 0, len(ws))
	for _, p := range ws {
		k := p.key
		old, had := s.lookup(k)
		if p.remove {
			if had {
				s.kv.RemoveItem(k)
				delete(s.known, k)
				undos = append(undos, undo{k, old, had})
			}
			continue
		}
		v := p.value
		if err := s.kv.SetItem(k, v); err != nil {
			for i := len(undos) - 1; i >= 0; i-- {
				u := undos[i]
				if u.had {
					s.kv.SetItem(u.key, u.old) // what was there before fits again
					s.known[u.key] = knownValue{u.old, true}
				} else {
					s.kv.RemoveItem(u.key)
					delete(s.known, u.key)
				}
			}
			s.err = fmt.Errorf("could not save %s: %v", k, err)
			if s.shared != nil && s.shared.Err() != nil {
				s.err = s.shared.Err() // a refused flush: its own key and reason
			}
			if s.chunks != nil {
				clear(s.chunks) // read again from known, as the undo left it
			}
			return
		}
		s.known[k] = knownValue{v, true}
		undos = append(undos, undo{k, old, had})
	}
	if len(kvs) > 0 {
		s.hasData = true
	}
}

// write is a write (or with remove, a removal) of a full key of the store.
type write struct {
	key, value string
	remove     bool
}

// lookup returns the value of full key k, from the mirror when it is known.
func (s *nodeStorage) lookup(k string) (string, bool) {
	kv, ok := s.known[k]
	if !ok {
		return "", false
	}
	if !kv.loaded {
		v, ok := s.kv.GetItem(k)
		if !ok { // gone from under us (it cannot be, unless another tab wrote): read it as absent
			delete(s.known, k)
			return "", false
		}
		kv = knownValue{v, true}
		s.known[k] = kv
	}
	return kv.v, true
}

// chunked turns a batch of the core's writes into writes of the store's keys (full keys):
// the entries' chunks, each once, in place of the entries, and the other keys as they are.
// The chunks in memory take the batch at once; SetBatch reads them again if it fails.
func (s *nodeStorage) chunked(kvs []raft.KV) []write {
	out := make([]write, 0, len(kvs)+1)
	var touched []uint64
	for _, p := range kvs {
		i, ok := entryIndex(p.Key)
		if !ok {
			out = append(out, write{s.prefix + p.Key, string(p.Value), p.Delete})
			continue
		}
		first := i - i%chunkSize
		c := s.chunk(first)
		if p.Delete {
			c.set(i-first, "")
		} else {
			c.set(i-first, string(p.Value))
		}
		if len(touched) == 0 || touched[len(touched)-1] != first {
			touched = append(touched, first)
		}
		if legacy := s.prefix + p.Key; s.has(legacy) {
			out = append(out, write{key: legacy, remove: true})
		}
	}
	for j, first := range touched {
		if slices.Contains(touched[:j], first) {
			continue
		}
		c := s.chunks[first]
		if c.n == 0 {
			out = append(out, write{key: c.key, remove: true})
		} else {
			out = append(out, write{key: c.key, value: encodeChunk(c)})
		}
	}
	return out
}

// has reports whether the store holds full key k.
func (s *nodeStorage) has(k string) bool {
	_, ok := s.known[k]
	return ok
}

// Get implements raft.Storage.
func (s *nodeStorage) Get(key string) ([]byte, bool) {
	if s.chunks != nil {
		if i, ok := entryIndex(key); ok {
			first := i - i%chunkSize
			if e := s.chunk(first).e[i-first]; e != "" {
				return []byte(e), true
			}
			// else: an entry stored before chunks, under its own key (or none)
		}
	}
	v, ok := s.lookup(s.prefix + key)
	if !ok {
		return nil, false
	}
	return []byte(v), true
}

// HasData implements raft.Storage.
func (s *nodeStorage) HasData() bool { return s.hasData }

// Err returns the write failure that stopped this storage, if any: its own, or its store's
// (a refused flush of writeBehind stops every node).
func (s *nodeStorage) Err() error {
	if s.err == nil && s.shared != nil {
		return s.shared.Err()
	}
	return s.err
}
