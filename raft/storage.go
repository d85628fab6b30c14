// Persistent state: the Storage interface, its in-memory implementation, and the encoding of
// currentTerm, votedFor and the log into keys.

package raft

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Storage is a durable map from string keys to byte values, as in the reference article.
// The core writes currentTerm, votedFor and the log through it before anything that depends on
// them leaves the node, and restores them on start when HasData reports true. The core never
// modifies a value after passing it to Set, so an implementation may keep it without copying.
type Storage interface {
	Set(key string, value []byte)
	Get(key string) ([]byte, bool)
	// HasData returns true iff any Sets were made on this Storage.
	HasData() bool
}

// BatchStorage is an optional extension of Storage for stores that can write several keys
// atomically (a bbolt transaction; localStorage writes inside one JavaScript task). When a
// Storage implements it, the core hands each call's writes over in one SetBatch.
type BatchStorage interface {
	Storage
	// SetBatch writes every pair, in order, all or nothing.
	SetBatch(kvs []KV)
}

// Deleter is an optional extension of Storage for stores that can delete keys, so that log
// compaction frees what it drops: without it, compacted entries stay stored (harmless, but
// the store grows with history). A store that implements both Deleter and BatchStorage is
// handed its deletions inside SetBatch, as KVs with Delete set, in order with the writes.
type Deleter interface {
	Storage
	Delete(key string)
}

// KV is one key/value write, or with Delete set the deletion of Key (Value is then nil).
type KV struct {
	Key    string
	Value  []byte
	Delete bool
}

// Keys the core uses. Values are short ASCII text so that they read well in the browser's
// devtools:
//
//	currentTerm  "7"
//	votedFor     "7 n2"         (the term the vote was cast in, then the candidate; "" if none)
//	log/last     "42"           (index of the last entry; entries above it are garbage)
//	log/17       "6 cmd put x 1" (term, type, then the command's raw bytes)
//	snapshot     "240 3 1 n1,n2,n3" (last included index and term, the slot holding the
//	             state, the configuration: voters, a joint one's as old>new "n1,n2>n3,n4",
//	             then learners if any); absent while nothing is compacted
//	snapshot/1   the application's state, as the application encoded it
//
// With a snapshot, the log holds entries snapshot index+1 … log/last; a log/last below the
// snapshot index means an empty log after it.
const (
	KeyCurrentTerm = "currentTerm"
	KeyVotedFor    = "votedFor"
	KeyLogLast     = "log/last"
	KeySnapshot    = "snapshot"
	keyLogPrefix   = "log/"
)

// KeySnapshotData is the key of the snapshot's state in slot 0 or 1. A new snapshot is
// written to the slot the current one does not use, then KeySnapshot switches to it in one
// write, so that a crash between any two writes leaves one whole snapshot.
func KeySnapshotData(slot int) string { return "snapshot/" + strconv.Itoa(slot) }

// KeyLogEntry is the key of the log entry at index.
func KeyLogEntry(index uint64) string {
	var b [24]byte
	return string(strconv.AppendUint(append(b[:0], keyLogPrefix...), index, 10))
}

// StorageError says which stored key could not be restored and why.
type StorageError struct {
	Key string
	Err error
}

func (e *StorageError) Error() string { return fmt.Sprintf("raft: stored %q: %v", e.Key, e.Err) }
func (e *StorageError) Unwrap() error { return e.Err }

var errMissing = errors.New("missing")

// EncodeEntry encodes a log entry as stored under KeyLogEntry.
func EncodeEntry(e Entry) []byte { return appendEntry(make([]byte, 0, encodedMax(e)), e) }

// encodedMax bounds the length of EncodeEntry(e).
func encodedMax(e Entry) int { return 26 + len(e.Command) }

func appendEntry(b []byte, e Entry) []byte {
	b = strconv.AppendUint(b, e.Term, 10)
	b = append(b, ' ')
	b = append(b, e.Type.String()...)
	if e.Type != EntryNoop {
		b = append(b, ' ')
		b = append(b, e.Command...)
	}
	return b
}

// DecodeEntry decodes what EncodeEntry wrote. The command is copied out of b.
func DecodeEntry(b []byte) (Entry, error) {
	termText, rest, ok := bytes.Cut(b, []byte{' '})
	if !ok {
		return Entry{}, errors.New("truncated entry: no type after the term")
	}
	term, err := parseUint(termText)
	if err != nil {
		return Entry{}, fmt.Errorf("bad term: %v", err)
	}
	if term == 0 {
		return Entry{}, errors.New("bad term: entries have terms of 1 or more")
	}
	typeText, cmd, hasCmd := bytes.Cut(rest, []byte{' '})
	switch string(typeText) {
	case "cmd":
		if !hasCmd {
			return Entry{}, errors.New("truncated entry: command entry without a command")
		}
		return Entry{Term: term, Type: EntryCommand, Command: bytes.Clone(cmd)}, nil
	case "config":
		if !hasCmd {
			return Entry{}, errors.New("truncated entry: config entry without a configuration")
		}
		if _, err := decodeConfig(cmd); err != nil {
			return Entry{}, fmt.Errorf("bad configuration: %v", err)
		}
		return Entry{Term: term, Type: EntryConfig, Command: bytes.Clone(cmd)}, nil
	case "noop":
		if hasCmd {
			return Entry{}, errors.New("noop entry with trailing data")
		}
		return Entry{Term: term, Type: EntryNoop}, nil
	}
	return Entry{}, fmt.Errorf("unknown entry type %q", typeText)
}

func parseUint(b []byte) (uint64, error) {
	if len(b) == 0 {
		return 0, errors.New("empty number")
	}
	if len(b) > 1 && b[0] == '0' {
		return 0, fmt.Errorf("number %q has a leading zero", b)
	}
	return strconv.ParseUint(string(b), 10, 64)
}

func encodeVote(term uint64, votedFor string) []byte {
	if votedFor == "" {
		return []byte{}
	}
	return []byte(strconv.FormatUint(term, 10) + " " + votedFor)
}

// decodeVote returns the candidate voted for in term, or "" when the stored vote belongs to an
// earlier term (a crash between writing currentTerm and votedFor) or there is none.
func decodeVote(b []byte, term uint64) (string, error) {
	if len(b) == 0 {
		return "", nil
	}
	termText, id, ok := bytes.Cut(b, []byte{' '})
	if !ok || len(id) == 0 {
		return "", errors.New("want \"<term> <id>\"")
	}
	voteTerm, err := parseUint(termText)
	if err != nil {
		return "", fmt.Errorf("bad term: %v", err)
	}
	if voteTerm > term {
		return "", fmt.Errorf("vote for term %d is newer than currentTerm %d", voteTerm, term)
	}
	if voteTerm < term {
		return "", nil
	}
	return string(id), nil
}

// encodeSnapshotMeta encodes KeySnapshot's value: index, term, slot, voters (a joint
// configuration's as old>new) and, if any, learners.
func encodeSnapshotMeta(index, term uint64, slot int, c Configuration) []byte {
	b := strconv.AppendUint(nil, index, 10)
	b = append(b, ' ')
	b = strconv.AppendUint(b, term, 10)
	b = append(b, ' ', byte('0'+slot), ' ')
	if c.Joint() {
		b = append(b, strings.Join(c.Outgoing, ",")...)
		b = append(b, '>')
	}
	for i, m := range c.Voters {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, m...)
	}
	if len(c.Learners) > 0 {
		b = append(b, ' ')
		b = append(b, strings.Join(c.Learners, ",")...)
	}
	return b
}

func decodeSnapshotMeta(b []byte) (index, term uint64, slot int, conf Configuration, err error) {
	f := bytes.Fields(b)
	if len(f) != 4 && len(f) != 5 {
		return 0, 0, 0, conf, errors.New("want \"<index> <term> <slot> <voters> [<learners>]\"")
	}
	if index, err = parseUint(f[0]); err != nil || index == 0 {
		return 0, 0, 0, conf, fmt.Errorf("bad index %q", f[0])
	}
	if term, err = parseUint(f[1]); err != nil || term == 0 {
		return 0, 0, 0, conf, fmt.Errorf("bad term %q", f[1])
	}
	switch string(f[2]) {
	case "0", "1":
		slot = int(f[2][0] - '0')
	default:
		return 0, 0, 0, conf, fmt.Errorf("bad slot %q: want 0 or 1", f[2])
	}
	text := string(f[3])
	if len(f) == 5 {
		text += ";" + string(f[4])
	}
	if conf, err = decodeConfig([]byte(text)); err != nil {
		return 0, 0, 0, conf, fmt.Errorf("bad configuration %q: %v", text, err)
	}
	return index, term, slot, conf, nil
}

// persisted is what a node restores from Storage.
type persisted struct {
	term     uint64
	votedFor string
	snap     *Snapshot // nil when nothing is compacted
	slot     int       // the slot snap's state is stored in
	log      []Entry   // log[i] is the entry at index snap.Index+i+1
	// garbage lists stored keys that nothing refers to (left by a crash in the middle of a
	// compaction or truncation); filled only for a store that can delete them.
	garbage []string
	// storedLast is log/last as stored; above the restored log's last index when an
	// installation that discards a conflicting log was cut short before log/last came down.
	storedLast uint64
	// snapConflict: the stored entry at the snapshot's index conflicts with it (a discarded
	// log's, or a truncation's leftover). Once log/last is at the snapshot's index it must go
	// (or, in a store that cannot delete, be overwritten): entries appended after the snapshot
	// would raise log/last above it, and restore would take them for the discarded log.
	snapConflict bool
	// fresh: the storage holds nothing, or only the start of a node's first initialization
	// (a crash between its writes): the node starts empty and writes its initial state again.
	fresh bool
}

// unfinishedInit reports whether s holds only a prefix of a fresh node's initial writes
// (currentTerm "0", votedFor "", log/last "0", in that order) without the last one. Nothing
// else can be stored then: every later write follows a complete initialization.
func unfinishedInit(s Storage) bool {
	if _, ok := s.Get(KeyLogLast); ok {
		return false
	}
	term, ok := s.Get(KeyCurrentTerm)
	if !ok || string(term) != "0" {
		return false
	}
	vote, ok := s.Get(KeyVotedFor)
	return !ok || len(vote) == 0
}

// restore reads a node's persistent state. Empty storage restores to the zero state.
func restore(s Storage) (persisted, error) {
	p := persisted{fresh: true}
	if !s.HasData() || unfinishedInit(s) {
		return p, nil
	}
	p.fresh = false
	get := func(key string) ([]byte, error) {
		v, ok := s.Get(key)
		if !ok {
			return nil, &StorageError{key, errMissing}
		}
		return v, nil
	}
	v, err := get(KeyCurrentTerm)
	if err != nil {
		return p, err
	}
	if p.term, err = parseUint(v); err != nil {
		return p, &StorageError{KeyCurrentTerm, err}
	}
	if v, err = get(KeyVotedFor); err != nil {
		return p, err
	}
	if p.votedFor, err = decodeVote(v, p.term); err != nil {
		return p, &StorageError{KeyVotedFor, err}
	}
	if v, err = get(KeyLogLast); err != nil {
		return p, err
	}
	last, err := parseUint(v)
	if err != nil {
		return p, &StorageError{KeyLogLast, err}
	}
	first, prevTerm, stored := uint64(1), uint64(0), last
	if v, ok := s.Get(KeySnapshot); ok {
		index, term, slot, conf, err := decodeSnapshotMeta(v)
		if err != nil {
			return p, &StorageError{KeySnapshot, err}
		}
		if term > p.term {
			return p, &StorageError{KeySnapshot, fmt.Errorf("term %d is newer than currentTerm %d", term, p.term)}
		}
		data, err := get(KeySnapshotData(slot))
		if err != nil {
			return p, err
		}
		p.snap = &Snapshot{Index: index, Term: term, Members: conf.Voters, Learners: conf.Learners, Outgoing: conf.Outgoing, Data: data}
		p.slot = slot
		first, prevTerm = index+1, term
		if v, ok := s.Get(KeyLogEntry(index)); ok {
			if e, err := DecodeEntry(v); err != nil || e.Term != term {
				p.snapConflict = true
				// A log that conflicts with the snapshot was being discarded (an installation
				// cut short before log/last came down): what follows is garbage.
				last = min(last, index)
			}
		}
		last = max(last, index)
	}
	// Don't trust last for an allocation: a corrupt value must not exhaust memory.
	p.log = make([]Entry, 0, min(last-first+1, 1<<16))
	for i := first; i <= last; i++ {
		key := KeyLogEntry(i)
		v, err := get(key)
		if err != nil {
			return p, err
		}
		e, err := DecodeEntry(v)
		if err != nil {
			return p, &StorageError{key, err}
		}
		if e.Term < prevTerm {
			return p, &StorageError{key, fmt.Errorf("term %d after an entry of term %d", e.Term, prevTerm)}
		}
		if e.Term > p.term {
			return p, &StorageError{key, fmt.Errorf("term %d is newer than currentTerm %d", e.Term, p.term)}
		}
		prevTerm = e.Term
		p.log = append(p.log, e)
	}
	p.storedLast = stored
	if _, ok := s.(Deleter); ok {
		p.garbage = findGarbage(s, min(first-1, stored), last, p.snap != nil, p.slot)
	}
	return p, nil
}

// findGarbage lists the keys that a crash in the middle of a compaction, an installation or
// a truncation left behind: log entries at or below the snapshot (deleted in ascending order,
// so what is left is a run ending at it, or at log/last when that is lower), entries above the
// last (deleted from the top, so a run starting after it), and the snapshot slot not in use.
func findGarbage(s Storage, below, above uint64, hasSnap bool, slot int) []string {
	var keys []string
	for i := below; i > 0; i-- {
		k := KeyLogEntry(i)
		if _, ok := s.Get(k); !ok {
			break
		}
		keys = append(keys, k)
	}
	slices.Reverse(keys) // delete in ascending order, as compaction does
	var over []string
	for i := above + 1; ; i++ {
		k := KeyLogEntry(i)
		if _, ok := s.Get(k); !ok {
			break
		}
		over = append(over, k)
	}
	// Delete from the top down, as truncation does, so that what a crash leaves of them is
	// again a run starting just after the last.
	slices.Reverse(over)
	keys = append(keys, over...)
	for sl := range 2 {
		if _, ok := s.Get(KeySnapshotData(sl)); ok && !(hasSnap && sl == slot) {
			keys = append(keys, KeySnapshotData(sl))
		}
	}
	return keys
}

// MapStorage is an in-memory Storage for tests and simulations. Its zero value is ready to use.
// It counts the writes it takes, so that tests can check what persistence costs.
type MapStorage struct {
	m map[string][]byte
	// log holds the values of the keys KeyLogEntry(i) at log[i-base]: the simulator writes one
	// per entry per node, and a slice takes them far more cheaply than the map. nil = not
	// stored. The window starts at the lowest stored entry, so that a compacted log's slice
	// does not grow with history.
	log     [][]byte
	base    int
	hasData bool
	Writes  int // Set calls, and one per SetBatch pair
	Bytes   int // value bytes written
}

// NewMapStorage returns an empty MapStorage.
func NewMapStorage() *MapStorage { return &MapStorage{} }

// logIndex returns i when key is KeyLogEntry(i), written as KeyLogEntry writes it.
func logIndex(key string) (int, bool) {
	d := key[min(len(key), len(keyLogPrefix)):]
	if len(key) <= len(keyLogPrefix) || key[:len(keyLogPrefix)] != keyLogPrefix || len(d) > 9 || d[0] == '0' {
		return 0, false
	}
	i := 0
	for j := 0; j < len(d); j++ {
		if d[j] < '0' || d[j] > '9' {
			return 0, false
		}
		i = i*10 + int(d[j]-'0')
	}
	return i, true
}

// Set stores value under key. It keeps value without copying it: the core never modifies a
// value it has written, and other callers must not either.
func (s *MapStorage) Set(key string, value []byte) {
	if value == nil {
		value = []byte{} // nil marks an absent log entry
	}
	s.hasData = true
	if i, ok := logIndex(key); ok {
		switch {
		case len(s.log) == 0:
			s.log, s.base = s.log[:0], i
		case i < s.base: // below the window (not the core's pattern): move it down
			s.log = slices.Insert(s.log, 0, make([][]byte, s.base-i)...)
			s.base = i
		}
		if k := i - s.base; k >= len(s.log) {
			if k >= cap(s.log) { // double: a log grows one entry at a time
				s.log = slices.Grow(s.log, max(k+1, 2*cap(s.log), 64)-len(s.log))
			}
			s.log = s.log[:k+1]
		}
		s.log[i-s.base] = value
	} else {
		if s.m == nil {
			s.m = make(map[string][]byte)
		}
		s.m[key] = value
	}
	s.Writes++
	s.Bytes += len(value)
}

// SetBatch implements BatchStorage.
func (s *MapStorage) SetBatch(kvs []KV) {
	for _, kv := range kvs {
		if kv.Delete {
			s.Delete(kv.Key)
		} else {
			s.Set(kv.Key, kv.Value)
		}
	}
}

// Delete implements Deleter. It counts as a write.
func (s *MapStorage) Delete(key string) {
	if i, ok := logIndex(key); ok {
		if k := i - s.base; k >= 0 && k < len(s.log) {
			s.log[k] = nil
		}
		for len(s.log) > 0 && s.log[0] == nil { // compaction deletes from the bottom up
			s.log, s.base = s.log[1:], s.base+1
		}
	} else {
		delete(s.m, key)
	}
	s.Writes++
}

// Len returns the number of stored keys and the bytes of their values.
func (s *MapStorage) Len() (keys, bytes int) {
	for _, v := range s.m {
		keys, bytes = keys+1, bytes+len(v)
	}
	for _, v := range s.log {
		if v != nil {
			keys, bytes = keys+1, bytes+len(v)
		}
	}
	return keys, bytes
}

// Get returns a copy of the value stored under key.
func (s *MapStorage) Get(key string) ([]byte, bool) {
	if i, ok := logIndex(key); ok {
		if k := i - s.base; k >= 0 && k < len(s.log) && s.log[k] != nil {
			return bytes.Clone(s.log[k]), true
		}
		return nil, false
	}
	v, ok := s.m[key]
	return bytes.Clone(v), ok
}

// HasData reports whether anything was ever stored.
func (s *MapStorage) HasData() bool { return s.hasData }

// Keys returns the stored keys, sorted.
func (s *MapStorage) Keys() []string {
	keys := slices.Collect(maps.Keys(s.m))
	for i, v := range s.log {
		if v != nil {
			keys = append(keys, KeyLogEntry(uint64(s.base+i)))
		}
	}
	slices.Sort(keys)
	return keys
}

// Clone returns an independent copy, with the write counters reset.
func (s *MapStorage) Clone() *MapStorage {
	c := &MapStorage{m: make(map[string][]byte, len(s.m)), log: make([][]byte, len(s.log)), base: s.base, hasData: s.hasData}
	for k, v := range s.m {
		c.m[k] = bytes.Clone(v)
	}
	for i, v := range s.log {
		if v != nil {
			c.log[i] = bytes.Clone(v)
		}
	}
	return c
}
