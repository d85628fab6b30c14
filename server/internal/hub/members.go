//go:build !js

// Membership changes (issue 11): the configuration lives in the members' logs, and the hub
// follows it. The -members list is only the initial configuration; the hub adopts every newer
// committed configuration that a member reports (a status frame, a local node's status, the
// result of a change), routes to its members, tells the hosts of removed members, admits a
// connection for an id outside the configuration only when it asks to be added, and serves
// POST /api/clusters/{name}/members.
package hub

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"raftlab/raft"
	"raftlab/raft/wire"
	"raftlab/server/native"
)

// changer is a Local that can propose membership changes (a *native.Node).
type changer interface {
	ProposeChange(ctx context.Context, op raft.ChangeOp, id string) (native.Result, error)
}

// maxExtra bounds the ids the hub remembers outside a cluster's configuration (servers being
// added, removed ones, joiners).
const maxExtra = 1024

// Configuration returns the latest committed configuration of a cluster that the hub knows
// of, and the index of the entry that set it (0 for the initial member list).
func (h *Hub) Configuration(name string) (raft.Configuration, uint64, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	c, ok := h.clusters[name]
	if !ok {
		return raft.Configuration{}, 0, false
	}
	return c.conf, c.confIndex, true
}

// isDest reports whether a message may go to id: a member, a server asking to join or being
// added, or a removed member (whose messages are dropped, for members that have not learned
// of the removal yet). It expects h.mu held.
func (c *cluster) isDest(id string) bool {
	return slices.Contains(c.members, id) || c.extra[id]
}

// noteExtraLocked remembers id as a destination outside the configuration.
func (c *cluster) noteExtraLocked(id string) {
	if len(c.extra) < maxExtra {
		c.extra[id] = true
	}
}

// observeConfig adopts a committed configuration that a member reports, if it is newer than
// the one the hub knows of. It takes h.mu.
func (h *Hub) observeConfig(name string, conf raft.Configuration, index uint64) {
	h.mu.Lock()
	c := h.clusters[name]
	var after func()
	if c != nil {
		after = h.adoptLocked(c, conf, index)
	}
	h.mu.Unlock()
	if after != nil {
		after()
	}
}

// adoptLocked makes conf, committed at index, the cluster's configuration if it is newer than
// the one the hub knows of. It returns what to do once h.mu is released (tell the hosts of the
// removed members, broadcast presence), or nil. It expects h.mu held for writing.
func (h *Hub) adoptLocked(c *cluster, conf raft.Configuration, index uint64) func() {
	if index <= c.confIndex || len(conf.Voters) == 0 {
		return nil
	}
	old := c.conf
	c.conf, c.confIndex = conf, index
	if old.Equal(conf) {
		return nil
	}
	all := conf.Members()
	var members, removed []string
	for _, m := range c.members {
		if slices.Contains(all, m) {
			members = append(members, m)
		} else {
			removed = append(removed, m)
		}
	}
	for _, m := range all {
		if !slices.Contains(members, m) {
			members = append(members, m)
			if _, ok := c.kinds[m]; !ok {
				c.kinds[m] = wire.KindBrowser
			}
			delete(c.joining, m)
		}
	}
	c.members = members
	var conns []*conn
	var locals []string
	for _, m := range removed {
		c.noteExtraLocked(m)
		switch x := c.hosts[m].(type) {
		case *conn:
			// A connection whose members are all gone is told so and closed; a page that
			// hosts others too keeps them (its removed member learns it from its own log).
			gone := true
			for _, cm := range x.members {
				gone = gone && !slices.Contains(all, cm)
			}
			if gone && !slices.Contains(conns, x) {
				conns = append(conns, x)
			}
		case localHost:
			delete(c.hosts, m)
			locals = append(locals, m)
		}
	}
	name := c.name
	return func() {
		h.cfg.Logf("hub: cluster %s's configuration is now %s (committed at index %d)", name, conf, index)
		for _, cn := range conns {
			cn.fail(errorf(wire.CodeRemoved, "member %s was removed from cluster %s (its configuration is now %s)", strings.Join(cn.members, ","), name, conf),
				websocket.CloseNormalClosure, false)
			h.cfg.Logf("hub: told %s that %s was removed from cluster %s", cn.describe(), strings.Join(cn.members, ","), name)
		}
		for _, m := range locals {
			if h.cfg.OnRemoved != nil {
				h.cfg.OnRemoved(name, m)
			}
		}
		h.broadcastPresence(c)
	}
}

// statusConfig returns the committed configuration a status reports, if any.
func statusConfig(s wire.MemberStatus) (raft.Configuration, uint64, bool) {
	if s.Config == "" || s.ConfigIndex == 0 || s.ConfigIndex > s.Commit {
		return raft.Configuration{}, 0, false
	}
	conf, err := raft.ParseConfiguration([]byte(s.Config))
	if err != nil {
		return raft.Configuration{}, 0, false // validated on decode
	}
	return conf, s.ConfigIndex, true
}

// refusedError: the leader refused a membership change (409); it is in no log. inFlight says
// the reason was another change in flight.
type refusedError struct {
	err      error
	inFlight bool
}

func (e *refusedError) Error() string { return e.err.Error() }
func (e *refusedError) Unwrap() error { return e.err }

// errRetry: the leader cannot take a change yet (it has not committed an entry of its term);
// it is in no log, and trying again shortly may succeed.
type retryError struct{ err error }

func (e *retryError) Error() string { return e.err.Error() }
func (e *retryError) Unwrap() error { return e.err }

// proposeChange asks the host of member to propose a change to it and waits until the new
// configuration commits.
func (h *Hub) proposeChange(ctx context.Context, clusterName, member string, op raft.ChangeOp, id string) (native.Result, error) {
	switch x := h.hostOf(clusterName, member).(type) {
	case localHost:
		ch, ok := x.node.(changer)
		if !ok {
			return native.Result{}, notTaken(&refusedError{fmt.Errorf("member %s cannot change the configuration", member), false})
		}
		res, err := ch.ProposeChange(ctx, op, id)
		var nl *raft.NotLeaderError
		var refused *native.RefusedError
		switch {
		case err == nil, errors.As(err, &nl):
		case errors.Is(err, raft.ErrNoCommitInTerm), errors.Is(err, raft.ErrTransferring):
			err = notTaken(&retryError{err})
		case errors.As(err, &refused):
			err = notTaken(&refusedError{err, errors.Is(err, raft.ErrChangeInFlight)})
		}
		return res, err
	case *conn:
		return x.request(ctx, &wire.Envelope{Type: wire.TypeSubmit, Cluster: clusterName, Member: member, Change: op.String() + " " + id})
	}
	return native.Result{}, notTaken(fmt.Errorf("%w: nobody hosts %s", ErrNoHost, member))
}

// inFlightGrace is how long a change waits for one in flight to commit before it is refused:
// a change commits in a round trip, and the leader promotes a caught-up learner by itself, so a
// change right after an add would otherwise be refused for a change nobody asked for.
const inFlightGrace = time.Second

// changeViaLeader proposes a change through whichever member leads, following NotLeader hints
// and retrying while the leader cannot take it yet, until ctx ends. It returns the committed
// configuration and its index. A refusal (already a member, not a member, the last voter) is
// a *refusedError at once; another change in flight is one after inFlightGrace.
func (h *Hub) changeViaLeader(ctx context.Context, name string, op raft.ChangeOp, id string) (raft.Configuration, native.Result, string, error) {
	began := time.Now()
	var conf raft.Configuration
	var res native.Result
	target, err := h.viaLeader(ctx, name, "change", "made", "made", func(target string) (bool, error) {
		var err error
		res, err = h.proposeChange(ctx, name, target, op, id)
		if err != nil {
			var ref *refusedError
			return errors.As(err, &ref) && (!ref.inFlight || time.Since(began) >= inFlightGrace), err
		}
		var perr error
		if conf, perr = raft.ParseConfiguration(res.Value); perr != nil {
			return true, fmt.Errorf("%s answered the change with configuration %q: %v", target, res.Value, perr)
		}
		h.observeConfig(name, conf, res.Index)
		return false, nil
	})
	if err != nil {
		return raft.Configuration{}, res, target, err
	}
	return conf, res, target, nil
}

// ChangeResult is the answer to a committed POST /api/clusters/{name}/members.
type ChangeResult struct {
	Change   string   `json:"change"` // "add n4", "remove n1"
	Member   string   `json:"member"` // the leader that took it
	Index    uint64   `json:"index"`  // the configuration entry's index
	Term     uint64   `json:"term"`
	Voters   []string `json:"voters"`
	Learners []string `json:"learners,omitempty"`
}

const maxChangeBody = 1024

// serveMembers is POST /api/clusters/{name}/members with "add ID" or "remove ID".
func (h *Hub) serveMembers(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, outcome, msg string) {
		h.api.requests.WithLabelValues("members", outcome).Inc()
		apiError(w, status, msg)
	}
	name := r.PathValue("name")
	if _, _, ok := h.Configuration(name); !ok {
		fail(http.StatusNotFound, outcomeNotFound, fmt.Sprintf("no cluster %q", name))
		return
	}
	timeout, err := requestTimeout(r)
	if err != nil {
		fail(http.StatusBadRequest, outcomeMalformed, err.Error())
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxChangeBody))
	if err != nil {
		fail(http.StatusRequestEntityTooLarge, outcomeTooLarge, fmt.Sprintf("change over %d bytes", maxChangeBody))
		return
	}
	op, id, err := wire.ParseChange(string(body))
	if err != nil {
		fail(http.StatusBadRequest, outcomeMalformed, err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if op == raft.AddServer {
		h.mu.Lock()
		if c := h.clusters[name]; c != nil && !slices.Contains(c.members, id) {
			c.noteExtraLocked(id) // the leader sends to it as soon as it proposes the change
		}
		h.mu.Unlock()
	}
	h.cfg.Logf("api: %s %s in cluster %s (from %s)", op, id, name, r.RemoteAddr)
	conf, res, leader, err := h.changeViaLeader(ctx, name, op, id)
	var ref *refusedError
	switch {
	case errors.As(err, &ref):
		fail(http.StatusConflict, outcomeConflict, ref.Error())
		return
	case err != nil && errors.Is(err, errNotAppended):
		fail(http.StatusServiceUnavailable, outcomeNotAppended, err.Error())
		return
	case err != nil:
		fail(http.StatusGatewayTimeout, outcomeUnknown, err.Error())
		return
	}
	h.cfg.Logf("api: %s %s in cluster %s committed at index %d: %s", op, id, name, res.Index, conf)
	if op == raft.AddServer && !conf.IsVoter(id) {
		// Added as a learner: answer once the leader has made it a voter.
		for !conf.IsVoter(id) {
			select {
			case <-ctx.Done():
				fail(http.StatusGatewayTimeout, outcomeUnknown, fmt.Sprintf("%s was added to cluster %s as a learner (committed at index %d) but did not become a voter within %v: a learner becomes a voter once it has caught up with the leader's log, so it must be running (server node -id %s, or a page)", id, name, res.Index, timeout, id))
				return
			case <-time.After(50 * time.Millisecond):
			}
			h.Info(name) // refreshes the configuration from the members in the server
			var idx uint64
			conf, idx, _ = h.Configuration(name)
			if conf.IsVoter(id) {
				res.Index = idx
			}
		}
		h.cfg.Logf("api: %s is a voter of cluster %s (index %d)", id, name, res.Index)
	}
	h.api.requests.WithLabelValues("members", outcomeOK).Inc()
	writeJSON(w, http.StatusOK, ChangeResult{Change: op.String() + " " + id, Member: leader, Index: res.Index, Term: res.Term, Voters: conf.Voters, Learners: conf.Learners})
}

// requestAdd asks the leader to add id, hosted by cn, which said hello asking to be added. It
// tries again while the leader cannot take the change, until the change commits, id is a
// member, or the connection closes.
func (h *Hub) requestAdd(name, id string, cn *conn) {
	defer h.wg.Done()
	backoff := 200 * time.Millisecond
	for {
		if conf, _, ok := h.Configuration(name); !ok || conf.IsMember(id) {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		go func() {
			select {
			case <-cn.quit:
			case <-ctx.Done():
			}
			cancel()
		}()
		h.cfg.Logf("hub: asking cluster %s's leader to add %s (it asked to join)", name, id)
		conf, res, leader, err := h.changeViaLeader(ctx, name, raft.AddServer, id)
		cancel()
		if err == nil {
			h.cfg.Logf("hub: %s added %s to cluster %s as a learner (index %d, now %s); the leader makes it a voter once it has caught up", leader, id, name, res.Index, conf)
			return
		}
		h.cfg.Logf("hub: adding %s to cluster %s: %v", id, name, err)
		select {
		case <-cn.quit:
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}
