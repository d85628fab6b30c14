//go:build !js

// Package boltstore is durable raft.Storage on bbolt: one file per cluster member, every write
// batch one transaction, fsynced before the call that made it returns.
package boltstore

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
	bolterrors "go.etcd.io/bbolt/errors"

	"raftlab/raft"
	"raftlab/server/internal/durhist"
)

// FormatVersion is the version of the file layout written under the meta bucket.
const FormatVersion = "1"

var (
	bucketMeta = []byte("raftlab-meta")
	bucketRaft = []byte("raft")

	keyFormat  = []byte("format")
	keyCluster = []byte("cluster")
	keyMember  = []byte("member")
)

// lockTimeout bounds how long Open waits for another process to release the file.
var lockTimeout = 2 * time.Second

// Store is a raft.Storage, raft.BatchStorage and raft.Deleter backed by one bbolt file: log
// compaction deletes the keys it drops, and bbolt reuses their pages (the file does not
// shrink, but it stops growing once compaction keeps up). The raft.Storage
// interface has no error results, so a failed write makes the store fail for good: Err reports
// the first failure, every later write is refused, and the driver must stop the node before
// anything that depended on the lost write leaves it. It is safe for concurrent use, but the
// core calls it from one goroutine.
type Store struct {
	db   *bolt.DB
	path string

	mu      sync.Mutex
	err     error
	hasData bool

	writes durhist.H // how long each synced write took
}

// Open opens (creating if needed) the storage file at path for member id of cluster. A file
// that is not a bbolt database, is corrupt, belongs to another program, or belongs to another
// cluster or member gives an error that says so; nothing in it is changed.
func Open(path, cluster, id string) (*Store, error) {
	if cluster == "" || id == "" {
		return nil, errors.New("boltstore: empty cluster name or member id")
	}
	fi, statErr := os.Stat(path)
	existed := statErr == nil
	if existed && fi.IsDir() {
		return nil, fmt.Errorf("boltstore: %s is a directory, not a storage file", path)
	}
	if existed && fi.Size() == 0 {
		// bbolt would quietly initialise an empty file; an empty file where we expect data
		// is worth saying so, but it holds nothing to lose, so initialise it like a new one.
		existed = false
	}
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: lockTimeout, NoFreelistSync: true, FreelistType: bolt.FreelistMapType})
	if err != nil {
		switch {
		case errors.Is(err, bolterrors.ErrTimeout):
			return nil, fmt.Errorf("boltstore: %s is locked: is another raftlab process using it?", path)
		case errors.Is(err, bolterrors.ErrInvalid), errors.Is(err, bolterrors.ErrVersionMismatch),
			errors.Is(err, bolterrors.ErrChecksum):
			return nil, fmt.Errorf("boltstore: %s is not a raftlab storage file or is corrupt: %w", path, err)
		}
		return nil, fmt.Errorf("boltstore: open %s: %w", path, err)
	}
	s := &Store{db: db, path: path}
	if err := s.init(existed, cluster, id); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// init checks the meta bucket of an existing file, or writes it into a new one.
func (s *Store) init(existed bool, cluster, id string) error {
	var hasMeta, hasOther bool
	err := s.db.View(func(tx *bolt.Tx) error {
		return tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			switch {
			case bytes.Equal(name, bucketMeta):
				hasMeta = true
			case !bytes.Equal(name, bucketRaft):
				hasOther = true
			}
			return nil
		})
	})
	if err != nil {
		return fmt.Errorf("boltstore: %s is corrupt: %w", s.path, err)
	}
	if hasOther || (existed && !hasMeta && s.hasBucket(bucketRaft)) {
		return fmt.Errorf("boltstore: %s is a bbolt file of another program, not raftlab storage", s.path)
	}
	if !hasMeta {
		return s.db.Update(func(tx *bolt.Tx) error {
			m, err := tx.CreateBucket(bucketMeta)
			if err != nil {
				return err
			}
			if _, err := tx.CreateBucketIfNotExists(bucketRaft); err != nil {
				return err
			}
			for _, kv := range [][2][]byte{{keyFormat, []byte(FormatVersion)}, {keyCluster, []byte(cluster)}, {keyMember, []byte(id)}} {
				if err := m.Put(kv[0], kv[1]); err != nil {
					return err
				}
			}
			return nil
		})
	}
	return s.db.View(func(tx *bolt.Tx) error {
		m := tx.Bucket(bucketMeta)
		if f := m.Get(keyFormat); string(f) != FormatVersion {
			return fmt.Errorf("boltstore: %s has storage format %q; this program reads format %q", s.path, f, FormatVersion)
		}
		if c, mid := m.Get(keyCluster), m.Get(keyMember); string(c) != cluster || string(mid) != id {
			return fmt.Errorf("boltstore: %s belongs to member %q of cluster %q, not to member %q of cluster %q", s.path, mid, c, id, cluster)
		}
		r := tx.Bucket(bucketRaft)
		if r == nil {
			return fmt.Errorf("boltstore: %s is corrupt: no %q bucket", s.path, bucketRaft)
		}
		k, _ := r.Cursor().First()
		s.hasData = k != nil
		return nil
	})
}

func (s *Store) hasBucket(name []byte) bool {
	found := false
	_ = s.db.View(func(tx *bolt.Tx) error {
		found = tx.Bucket(name) != nil
		return nil
	})
	return found
}

// Path returns the file's path.
func (s *Store) Path() string { return s.path }

// Set writes one key in its own transaction.
func (s *Store) Set(key string, value []byte) { s.SetBatch([]raft.KV{{Key: key, Value: value}}) }

// Delete deletes one key in its own transaction.
func (s *Store) Delete(key string) { s.SetBatch([]raft.KV{{Key: key, Delete: true}}) }

// SetBatch writes every pair, and deletes every key marked Delete, in order in one
// transaction, synced to disk before it returns: all or nothing. After a failure the store
// refuses every write; see Err.
func (s *Store) SetBatch(kvs []raft.KV) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return
	}
	began := time.Now()
	defer func() { s.writes.Observe(time.Since(began)) }()
	err := s.db.Update(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketRaft)
		for _, kv := range kvs {
			var err error
			if kv.Delete {
				err = b.Delete([]byte(kv.Key))
			} else {
				err = b.Put([]byte(kv.Key), kv.Value)
			}
			if err != nil {
				return fmt.Errorf("key %q: %w", kv.Key, err)
			}
		}
		return nil
	})
	if err != nil {
		s.err = fmt.Errorf("boltstore: write to %s failed: %w", s.path, err)
		return
	}
	for _, kv := range kvs {
		if !kv.Delete {
			s.hasData = true
			break
		}
	}
}

// WriteTimes returns the histogram of how long each synced write took.
func (s *Store) WriteTimes() durhist.Snapshot { return s.writes.Snapshot() }

// Get returns a copy of the value stored under key. A read that fails (a closed or failed
// store) reports the key missing, which the core's restore turns into an error naming it.
func (s *Store) Get(key string) ([]byte, bool) {
	var v []byte
	var ok bool
	err := s.db.View(func(tx *bolt.Tx) error {
		got := tx.Bucket(bucketRaft).Get([]byte(key))
		if got != nil {
			v, ok = bytes.Clone(got), true
		}
		return nil
	})
	if err != nil {
		return nil, false
	}
	return v, ok
}

// HasData reports whether anything was ever stored.
func (s *Store) HasData() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.hasData
}

// Err returns the first write failure, or nil. Once it is non-nil the store takes no writes.
func (s *Store) Err() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.err
}

// Close closes the file. Writes after Close fail (see Err).
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = fmt.Errorf("boltstore: %s is closed", s.path)
	}
	return s.db.Close()
}
