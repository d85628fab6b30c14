//go:build !js

// The scripting API: GET /api/clusters/{name} and POST /api/clusters/{name}/commands, and the
// submit path through whichever host runs the leader.
package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/server/native"
	"raftlab/server/wire"
)

// MemberInfo is what GET /api/clusters/{name} reports about one member.
type MemberInfo struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`           // native or browser
	Host      string `json:"host,omitempty"` // "server", or the address of the connection hosting it
	Reachable bool   `json:"reachable"`
	// The member's own report (a remote host's latest status frame); State is "" when the
	// member has not reported since it was last connected.
	State   string `json:"state,omitempty"`
	Term    uint64 `json:"term"`
	Leader  string `json:"leader,omitempty"`
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
	Last    uint64 `json:"last"`
	// StatusAgeMS is how old the report is, in milliseconds (0 for members in the server).
	StatusAgeMS int64 `json:"statusAgeMs"`
}

// ClusterInfo is the answer to GET /api/clusters/{name}.
type ClusterInfo struct {
	Name    string       `json:"name"`
	Leader  string       `json:"leader,omitempty"` // the reachable leader of the highest term, if any
	Term    uint64       `json:"term"`
	Members []MemberInfo `json:"members"`
}

// CommandResult is the answer to a committed POST /api/clusters/{name}/commands.
type CommandResult struct {
	Command string `json:"command"`
	Member  string `json:"member"` // the leader that took it
	Index   uint64 `json:"index"`
	Term    uint64 `json:"term"`
	wire.KVAnswer
}

// Info reports a cluster's members.
func (h *Hub) Info(name string) (ClusterInfo, bool) {
	h.mu.RLock()
	c, ok := h.clusters[name]
	if !ok {
		h.mu.RUnlock()
		return ClusterInfo{}, false
	}
	info := ClusterInfo{Name: name}
	locals := map[string]Local{}
	for _, p := range c.presenceLocked() {
		mi := MemberInfo{ID: p.ID, Kind: p.Kind, Host: p.Host, Reachable: p.Reachable}
		if lh, ok := c.hosts[p.ID].(localHost); ok {
			locals[p.ID] = lh.node
		} else if s, ok := c.status[p.ID]; ok {
			mi.State, mi.Term, mi.Leader, mi.Commit, mi.Applied, mi.Last = s.State, s.Term, s.Leader, s.Commit, s.Applied, s.Last
			mi.StatusAgeMS = time.Since(s.at).Milliseconds()
		}
		info.Members = append(info.Members, mi)
	}
	h.mu.RUnlock()
	// Ask local nodes outside the lock: Status waits for the node's goroutine.
	for i := range info.Members {
		mi := &info.Members[i]
		if n, ok := locals[mi.ID]; ok {
			s := n.Status()
			mi.State, mi.Term, mi.Leader, mi.Commit, mi.Applied, mi.Last = s.State.String(), s.Term, s.Leader, s.CommitIndex, s.Applied, s.LastIndex
		}
	}
	for _, mi := range info.Members {
		if mi.Reachable && mi.State == raft.Leader.String() && mi.Term >= info.Term {
			info.Leader, info.Term = mi.ID, mi.Term
		}
	}
	return info, true
}

// Submit asks the host of member to submit cmd to it, and waits for the committed result.
// A member that does not lead answers with a *raft.NotLeaderError.
func (h *Hub) Submit(ctx context.Context, clusterName, member string, cmd []byte) (native.Result, error) {
	h.mu.RLock()
	c, ok := h.clusters[clusterName]
	var hst host
	if ok {
		hst = c.hosts[member]
	}
	h.mu.RUnlock()
	switch x := hst.(type) {
	case localHost:
		return x.node.Submit(ctx, cmd)
	case *conn:
		return x.submit(ctx, member, cmd)
	}
	return native.Result{}, fmt.Errorf("%w: nobody hosts %s", ErrNoHost, member)
}

func (c *conn) submit(ctx context.Context, member string, cmd []byte) (native.Result, error) {
	req := c.h.nextReq.Add(1)
	ch := make(chan *wire.Envelope, 1)
	c.waitMu.Lock()
	if c.waiting == nil {
		c.waiting = make(map[uint64]chan *wire.Envelope)
	}
	c.waiting[req] = ch
	c.waitMu.Unlock()
	defer func() {
		c.waitMu.Lock()
		delete(c.waiting, req)
		c.waitMu.Unlock()
	}()
	b, err := wire.Encode(&wire.Envelope{Type: wire.TypeSubmit, Cluster: c.cluster.name, Req: req, Member: member, Command: cmd})
	if err != nil {
		return native.Result{}, err
	}
	c.queue(b)
	select {
	case e, ok := <-ch:
		if !ok {
			return native.Result{}, fmt.Errorf("%w: the connection hosting %s closed", ErrNoHost, member)
		}
		switch e.Code {
		case "":
			return native.Result{Index: e.Index, Term: e.Term, Value: e.Value}, nil
		case wire.CodeNotLeader:
			return native.Result{}, &raft.NotLeaderError{ID: member, Leader: e.Leader, Term: e.Term}
		}
		return native.Result{}, fmt.Errorf("%s: %s", member, e.Error)
	case <-c.quit:
		return native.Result{}, fmt.Errorf("%w: the connection hosting %s closed", ErrNoHost, member)
	case <-ctx.Done():
		return native.Result{}, ctx.Err()
	}
}

// API limits.
const (
	maxCommandBody    = 16 << 10
	defaultAPITimeout = 5 * time.Second
	maxAPITimeout     = time.Minute
)

// APIHandler serves GET /api/clusters/{name} and POST /api/clusters/{name}/commands.
func (h *Hub) APIHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/clusters/{name}", func(w http.ResponseWriter, r *http.Request) {
		info, ok := h.Info(r.PathValue("name"))
		if !ok {
			apiError(w, http.StatusNotFound, fmt.Sprintf("no cluster %q", r.PathValue("name")))
			return
		}
		writeJSON(w, http.StatusOK, info)
	})
	mux.HandleFunc("POST /api/clusters/{name}/commands", h.serveCommand)
	return mux
}

func (h *Hub) serveCommand(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("name")
	members, ok := h.Members(name)
	if !ok {
		apiError(w, http.StatusNotFound, fmt.Sprintf("no cluster %q", name))
		return
	}
	timeout := defaultAPITimeout
	if t := r.URL.Query().Get("timeout"); t != "" {
		d, err := time.ParseDuration(t)
		if err != nil || d <= 0 || d > maxAPITimeout {
			apiError(w, http.StatusBadRequest, fmt.Sprintf("timeout %q: want a duration such as 2s, at most %v", t, maxAPITimeout))
			return
		}
		timeout = d
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCommandBody))
	if err != nil {
		apiError(w, http.StatusRequestEntityTooLarge, fmt.Sprintf("command over %d bytes", maxCommandBody))
		return
	}
	text := strings.TrimSpace(string(body))
	cmd, err := kv.ParseCommand(text)
	if err != nil {
		apiError(w, http.StatusBadRequest, "malformed command: "+err.Error())
		return
	}
	// Each request is its own client session, so that a retry after a leader change is
	// applied once.
	var id [8]byte
	rand.Read(id[:])
	req := kv.Request{ClientID: "api-" + hex.EncodeToString(id[:]), Seq: 1, Command: cmd}
	if err := req.Validate(); err != nil {
		apiError(w, http.StatusBadRequest, "malformed command: "+err.Error())
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	res, member, err := h.submitToLeader(ctx, name, members, req.Encode())
	if err != nil {
		status := http.StatusGatewayTimeout
		if errors.Is(err, errNoLeader) {
			status = http.StatusServiceUnavailable
		}
		apiError(w, status, err.Error())
		return
	}
	out := CommandResult{Command: cmd.String(), Member: member, Index: res.Index, Term: res.Term}
	if err := json.Unmarshal(res.Value, &out.KVAnswer); err != nil {
		out.KVAnswer = wire.KVAnswer{Outcome: "applied"}
	}
	writeJSON(w, http.StatusOK, out)
}

var errNoLeader = errors.New("no leader")

// submitToLeader tries the leader it believes in, follows NotLeader hints, and otherwise
// retries across reachable members until ctx ends.
func (h *Hub) submitToLeader(ctx context.Context, name string, members []string, cmd []byte) (native.Result, string, error) {
	var lastErr error
	sawLeader := false
	hint := ""
	for attempt := 0; ; attempt++ {
		target := hint
		hint = ""
		if target == "" {
			info, _ := h.Info(name)
			target = info.Leader
			if target != "" {
				sawLeader = true
			} else {
				// Nobody claims to lead: ask the reachable members in turn.
				var reach []string
				for _, m := range info.Members {
					if m.Reachable {
						reach = append(reach, m.ID)
					}
				}
				if len(reach) > 0 {
					target = reach[attempt%len(reach)]
				}
			}
		}
		if target != "" {
			res, err := h.Submit(ctx, name, target, cmd)
			if err == nil {
				return res, target, nil
			}
			lastErr = err
			var nl *raft.NotLeaderError
			if errors.As(err, &nl) {
				if nl.Leader != "" && nl.Leader != target && slices.Contains(members, nl.Leader) {
					hint, sawLeader = nl.Leader, true
					continue
				}
			} else if ctx.Err() == nil && !errors.Is(err, ErrNoHost) {
				sawLeader = true // the leader took it but could not commit it (yet)
			}
		} else {
			lastErr = errors.New("no member is reachable")
		}
		select {
		case <-ctx.Done():
			if !sawLeader {
				return native.Result{}, "", fmt.Errorf("%w: no member could take the command before the timeout (last: %v)", errNoLeader, lastErr)
			}
			return native.Result{}, "", fmt.Errorf("timeout: the command was not committed in time (last: %v)", lastErr)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(v)
}

func apiError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"error": msg})
}
