//go:build !js

package member

import (
	"maps"
	"slices"
	"strings"
	"sync"

	"raftlab/raft"
	"raftlab/server/internal/peer"
)

// maxHeld bounds the addresses a Roster keeps for members outside the configuration.
const maxHeld = 1024

// Roster keeps a member's direct links to the members of its cluster's configuration. Once
// the configuration the member's node uses is committed, a peer outside it (a member removed,
// one that asked to join and was not added, one a stale saved welcome names) is forgotten by
// the transport: its link is closed and it is not dialed again, even when it dials in (a
// removed member that has not heard of its removal keeps dialing). Its latest address is held,
// and it is dialed again there once a configuration in use names it again (it was added back).
// Before the node runs, every peer is dialed: the configuration is not known yet.
//
// Learn and DialBack take the addresses the member hears of; Observe takes the node's
// configuration, which its host reads now and then. Its methods are safe for concurrent use.
type Roster struct {
	id, cluster string
	logf        func(format string, args ...any)

	mu        sync.Mutex
	tr        *peer.Transport
	known     bool     // Observe was called
	conf      []string // the voters and learners of the configuration in use
	committed bool     // whether the entry that set it is committed
	held      map[string]string
	said      map[string]bool // held peers whose dialing in was logged
}

// NewRoster returns a roster for member id of cluster; Attach gives it its transport.
func NewRoster(cluster, id string, logf func(format string, args ...any)) *Roster {
	return &Roster{id: id, cluster: cluster, logf: logf, held: map[string]string{}, said: map[string]bool{}}
}

// Attach sets the transport the roster keeps (once peer.Listen has returned it; DialBack may
// run before).
func (r *Roster) Attach(tr *peer.Transport) {
	r.mu.Lock()
	r.tr = tr
	r.mu.Unlock()
}

// knows reports whether the roster has been told a configuration.
func (r *Roster) knows() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.known
}

// outsideLocked reports whether id is outside the committed configuration in use.
func (r *Roster) outsideLocked(id string) bool {
	return r.known && r.committed && !slices.Contains(r.conf, id)
}

func (r *Roster) holdLocked(id, addr string) {
	if _, ok := r.held[id]; ok || len(r.held) < maxHeld {
		r.held[id] = addr
	}
}

// Learn takes a peer's direct-link address (from the hub, or a saved welcome): the transport
// dials it there, unless it is outside the configuration, whose address is held.
func (r *Roster) Learn(id, addr string) {
	if id == r.id || addr == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.outsideLocked(id) {
		r.holdLocked(id, addr)
		return
	}
	if r.tr != nil {
		r.tr.SetPeer(id, addr)
	}
}

// DialBack is the transport's peer.Config.DialBack: a peer that dialed in is dialed back
// unless it is outside the configuration (its address is then held, and the first time it is
// said in the log).
func (r *Roster) DialBack(id, addr string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if !r.outsideLocked(id) {
		return true
	}
	r.holdLocked(id, addr)
	if !r.said[id] && len(r.said) < maxHeld {
		r.said[id] = true
		r.logf("%s: %s dialed in over a direct link, but it is not in cluster %s's configuration (%s): not dialing it back (it may not know it was removed)", r.id, id, r.cluster, strings.Join(r.conf, ","))
	}
	return false
}

// Observe takes the configuration the member's node uses now and whether it is committed
// (raft.Status's Config and ConfigCommitted), and forgets or dials again the peers it
// removes or adds back.
func (r *Roster) Observe(c raft.Configuration, index uint64, committed bool) {
	members := c.Members()
	if len(members) == 0 {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.known, r.conf, r.committed = true, members, committed
	if r.tr == nil {
		return
	}
	for _, id := range slices.Sorted(maps.Keys(r.held)) {
		if slices.Contains(members, id) {
			addr := r.held[id]
			delete(r.held, id)
			delete(r.said, id)
			r.logf("%s: %s is in cluster %s's configuration (%s, index %d): dialing it at %s", r.id, id, r.cluster, c, index, addr)
			r.tr.SetPeer(id, addr)
		}
	}
	if !committed {
		return
	}
	peers := r.tr.Peers()
	for _, id := range slices.Sorted(maps.Keys(peers)) {
		if !slices.Contains(members, id) {
			r.holdLocked(id, peers[id])
			r.logf("%s: %s is not in cluster %s's configuration (%s, committed at index %d): closed the direct link to it and stopped dialing it, until it is added back", r.id, id, r.cluster, c, index)
			r.tr.SetPeer(id, "")
		}
	}
}
