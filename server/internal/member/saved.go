//go:build !js

package member

import (
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"

	"raftlab/raft/wire"
)

// saved is what a member keeps beside its storage file of what the hub told it last: the
// welcome's member list and options, and the other members' direct-link addresses. A member
// whose hub does not answer at start starts from it (Config.OfflineAfter), so that a node
// process restarted while the server is down rejoins its majority over direct links.
type saved struct {
	Cluster string            `json:"cluster"`
	Members []string          `json:"members"`
	Options *wire.Options     `json:"options,omitempty"`
	Peers   map[string]string `json:"peers,omitempty"`
}

// SavedPath returns where a member keeps what the hub told it last.
func SavedPath(dataDir, id string) string { return filepath.Join(dataDir, id+".hub.json") }

// loadSaved reads the member's saved state; ok is false when there is none usable (it is a
// cache: a file that does not parse, or of another cluster, is ignored and rewritten).
func (m *Member) loadSaved() (saved, bool) {
	if m.cfg.DataDir == "" {
		return saved{}, false
	}
	b, err := os.ReadFile(SavedPath(m.cfg.DataDir, m.cfg.ID))
	if err != nil {
		return saved{}, false
	}
	var s saved
	if err := json.Unmarshal(b, &s); err != nil || s.Cluster != m.cfg.Cluster || len(s.Members) == 0 || len(s.Members) > wire.MaxMembers {
		m.cfg.Logf("%s: ignoring %s: not a saved welcome of cluster %s", m.cfg.ID, SavedPath(m.cfg.DataDir, m.cfg.ID), m.cfg.Cluster)
		return saved{}, false
	}
	for _, id := range s.Members {
		if wire.CheckID("member id", id) != nil {
			return saved{}, false
		}
	}
	if s.Options != nil {
		// The checks a welcome's options get.
		e := wire.Envelope{V: wire.Version, Type: wire.TypeWelcome, Cluster: s.Cluster, Members: s.Members, Options: s.Options}
		if e.Validate() != nil {
			return saved{}, false
		}
	}
	for id, addr := range s.Peers {
		if wire.CheckID("member id", id) != nil || wire.CheckAPIAddr(addr) != nil {
			delete(s.Peers, id)
		}
	}
	return s, true
}

// save writes what the hub told the member last, when it changed; it expects m.mu held. A
// failure is logged: the file only helps a start without the server.
func (m *Member) saveLocked() {
	if m.cfg.DataDir == "" || len(m.saved.Members) == 0 {
		return
	}
	s := m.saved
	s.Cluster = m.cfg.Cluster
	s.Peers = m.peer.Peers()
	if m.written != nil && slices.Equal(m.written.Members, s.Members) && maps.Equal(m.written.Peers, s.Peers) &&
		(m.written.Options == nil) == (s.Options == nil) && (s.Options == nil || *m.written.Options == *s.Options) {
		return
	}
	b, _ := json.MarshalIndent(s, "", "  ")
	path := SavedPath(m.cfg.DataDir, m.cfg.ID)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		m.cfg.Logf("%s: saving the hub's welcome: %v", m.cfg.ID, err)
		return
	}
	if err := os.Rename(tmp, path); err != nil {
		m.cfg.Logf("%s: saving the hub's welcome: %v", m.cfg.ID, err)
		return
	}
	m.written = &s
}

// describeSaved says what a start without the hub starts from, for its log line.
func describeSaved(s saved) string {
	ids := slices.Sorted(maps.Keys(s.Peers))
	if len(ids) == 0 {
		return fmt.Sprintf("members %v, no direct-link addresses", s.Members)
	}
	return fmt.Sprintf("members %v, direct links to %v", s.Members, ids)
}
