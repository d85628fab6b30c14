//go:build !js

// Tests for the bbolt storage: durability across reopen, restore by the core, and clear
// errors for files that are not ours.
package boltstore

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"raftlab/raft"
)

func open(t *testing.T, path, cluster, id string) *Store {
	t.Helper()
	s, err := Open(path, cluster, id)
	if err != nil {
		t.Fatalf("Open(%q) = %v", path, err)
	}
	return s
}

func TestSetGetReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n1.db")
	s := open(t, path, "demo", "n1")
	if s.HasData() {
		t.Fatal("new store: HasData() = true; want false")
	}
	if _, ok := s.Get("currentTerm"); ok {
		t.Fatal("new store: Get(currentTerm) found a value")
	}
	s.Set("currentTerm", []byte("3"))
	s.SetBatch([]raft.KV{{Key: "log/1", Value: []byte("1 noop")}, {Key: "log/last", Value: []byte("1")}, {Key: "log/1", Value: []byte("2 noop")}})
	if err := s.Err(); err != nil {
		t.Fatalf("Err() = %v", err)
	}
	if !s.HasData() {
		t.Fatal("HasData() = false after Set")
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}

	s = open(t, path, "demo", "n1")
	defer s.Close()
	if !s.HasData() {
		t.Fatal("reopened: HasData() = false")
	}
	for key, want := range map[string]string{"currentTerm": "3", "log/1": "2 noop", "log/last": "1"} {
		if got, ok := s.Get(key); !ok || string(got) != want {
			t.Errorf("reopened: Get(%q) = %q, %t; want %q", key, got, ok, want)
		}
	}
	// Get returns a copy: changing it changes nothing stored.
	v, _ := s.Get("currentTerm")
	v[0] = 'x'
	if got, _ := s.Get("currentTerm"); string(got) != "3" {
		t.Errorf("Get after mutating a returned value = %q; want 3", got)
	}
}

// TestNodeRestores runs a one-member node on the store, closes it, and checks that a new node
// restores its term and log from the file.
func TestNodeRestores(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n1.db")
	s := open(t, path, "demo", "n1")
	cfg := raft.Config{ID: "n1", Members: []string{"n1"}, Storage: s, Seed: 1}
	n, err := raft.NewNode(cfg, 0)
	if err != nil {
		t.Fatal(err)
	}
	n.Campaign(time.Millisecond)
	for i := range 100 {
		if _, _, err := n.Submit(time.Millisecond, []byte("put k "+string(rune('a'+i%26)))); err != nil {
			t.Fatal(err)
		}
	}
	want := n.Status()
	if want.CommitIndex != 101 {
		t.Fatalf("CommitIndex = %d; want 101", want.CommitIndex)
	}
	s.Close()

	s = open(t, path, "demo", "n1")
	defer s.Close()
	cfg.Storage = s
	n2, err := raft.NewNode(cfg, 0)
	if err != nil {
		t.Fatalf("NewNode on reopened store: %v", err)
	}
	got := n2.Status()
	if got.Term != want.Term || got.LastIndex != want.LastIndex || got.LastTerm != want.LastTerm {
		t.Errorf("restored term %d last %d/%d; want %d last %d/%d", got.Term, got.LastIndex, got.LastTerm, want.Term, want.LastIndex, want.LastTerm)
	}
	e, ok := n2.Entry(101)
	if !ok || !bytes.Equal(e.Command, []byte("put k "+string(rune('a'+99%26)))) {
		t.Errorf("restored entry 101 = %+v, %t", e, ok)
	}
}

func TestWritesAfterCloseFail(t *testing.T) {
	s := open(t, filepath.Join(t.TempDir(), "n1.db"), "demo", "n1")
	s.Close()
	s.Set("currentTerm", []byte("1"))
	if s.Err() == nil {
		t.Fatal("Set after Close: Err() = nil; want an error")
	}
}

func TestBadFiles(t *testing.T) {
	lockTimeout = 100 * time.Millisecond
	dir := t.TempDir()

	garbage := filepath.Join(dir, "garbage.db")
	os.WriteFile(garbage, bytes.Repeat([]byte("not a database "), 1000), 0o600)

	truncated := filepath.Join(dir, "truncated.db")
	s := open(t, truncated, "demo", "n1")
	s.Set("currentTerm", []byte("1"))
	s.Close()
	b, _ := os.ReadFile(truncated)
	corrupt := filepath.Join(dir, "corrupt.db")
	b2 := bytes.Clone(b)
	for i := 0; i < 8192 && i < len(b2); i++ { // both meta pages
		b2[i] ^= 0x5a
	}
	os.WriteFile(corrupt, b2, 0o600)

	foreign := filepath.Join(dir, "foreign.db")
	db, err := bolt.Open(foreign, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	db.Update(func(tx *bolt.Tx) error {
		b, _ := tx.CreateBucket([]byte("widgets"))
		return b.Put([]byte("a"), []byte("b"))
	})
	db.Close()

	other := filepath.Join(dir, "other.db")
	open(t, other, "demo", "n2").Close()

	locked := filepath.Join(dir, "locked.db")
	held := open(t, locked, "demo", "n1")
	defer held.Close()

	for _, tc := range []struct {
		name, path, cluster, id, want string
	}{
		{"garbage", garbage, "demo", "n1", "not a raftlab storage file or is corrupt"},
		{"corrupt meta pages", corrupt, "demo", "n1", "not a raftlab storage file or is corrupt"},
		{"foreign bbolt file", foreign, "demo", "n1", "another program"},
		{"other member", other, "demo", "n1", `belongs to member "n2" of cluster "demo", not to member "n1"`},
		{"other cluster", other, "class", "n2", `belongs to member "n2" of cluster "demo", not to member "n2" of cluster "class"`},
		{"directory", dir, "demo", "n1", "is a directory"},
		{"locked", locked, "demo", "n1", "is locked"},
		{"empty id", filepath.Join(dir, "x.db"), "demo", "", "empty cluster name or member id"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before, _ := os.ReadFile(tc.path)
			s, err := Open(tc.path, tc.cluster, tc.id)
			if err == nil {
				s.Close()
				t.Fatalf("Open(%q) succeeded; want an error containing %q", tc.path, tc.want)
			}
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("Open(%q) = %v; want an error containing %q", tc.path, err, tc.want)
			}
			if after, _ := os.ReadFile(tc.path); !bytes.Equal(before, after) {
				t.Errorf("Open(%q) changed the file", tc.path)
			}
		})
	}
}

// TestCorruptValueIsNamed stores a bad log entry: the core's restore names the key.
func TestCorruptValueIsNamed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "n1.db")
	s := open(t, path, "demo", "n1")
	s.SetBatch([]raft.KV{{Key: raft.KeyCurrentTerm, Value: []byte("2")}, {Key: raft.KeyVotedFor, Value: []byte("")},
		{Key: raft.KeyLogEntry(1), Value: []byte("banana")}, {Key: raft.KeyLogLast, Value: []byte("1")}})
	defer s.Close()
	_, err := raft.NewNode(raft.Config{ID: "n1", Members: []string{"n1"}, Storage: s}, 0)
	var se *raft.StorageError
	if !errors.As(err, &se) || se.Key != "log/1" {
		t.Fatalf("NewNode on a corrupt entry = %v; want a *raft.StorageError for log/1", err)
	}
}
