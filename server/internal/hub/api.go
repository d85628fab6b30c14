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
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/raft/wire"
	"raftlab/server/native"
)

// MemberInfo is what GET /api/clusters/{name} reports about one member.
type MemberInfo struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`           // native or browser
	Host      string `json:"host,omitempty"` // "server", or the address of the connection hosting it
	Reachable bool   `json:"reachable"`
	// Voter says whether the member votes in the cluster's configuration (the latest committed
	// one the server knows of); Learner, that it receives the log without voting; Joining,
	// that it is not in the configuration yet but asked to be added.
	Voter   bool `json:"voter"`
	Learner bool `json:"learner,omitempty"`
	Joining bool `json:"joining,omitempty"`
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
	// Dropped counts the messages to the member that the server dropped, by reason (see
	// linkstats): queue_full, unreachable, not_running, unreliable.
	Dropped map[string]uint64 `json:"dropped,omitempty"`
	// Detail is what the member's node card shows, with ?detail=1 (the mixed page asks for
	// it): its latest report's log, store and events; nil without a report.
	Detail *MemberDetail `json:"detail,omitempty"`
}

// MemberDetail is a member's node card: the details of its latest status (wire.MemberStatus),
// each bounded.
type MemberDetail struct {
	Vote        string              `json:"vote,omitempty"`
	Config      string              `json:"config,omitempty"` // "n1,n2,n3;n4": voters, then learners
	ConfigIndex uint64              `json:"configIndex"`
	Snapshot    uint64              `json:"snapshot,omitempty"`
	LogFrom     uint64              `json:"logFrom,omitempty"`
	Log         []wire.LogLine      `json:"log,omitempty"`
	KV          [][2]string         `json:"kv,omitempty"`
	KVLen       int                 `json:"kvLen"`
	Progress    []wire.ProgressLine `json:"progress,omitempty"`
	Events      []wire.StatusEvent  `json:"events,omitempty"`
}

// DetailOf is the node card of a status report's details (a member's own API serves its own).
func DetailOf(s *wire.MemberStatus) *MemberDetail {
	return &MemberDetail{Vote: s.Vote, Config: s.Config, ConfigIndex: s.ConfigIndex, Snapshot: s.Snapshot, LogFrom: s.LogFrom,
		Log: s.Log, KV: s.KV, KVLen: s.KVLen, Progress: s.Progress, Events: s.Events}
}

// detailer is a Local that describes its member for the node cards (member.LocalNode).
type detailer interface {
	Details(s *wire.MemberStatus)
}

// ClusterInfo is the answer to GET /api/clusters/{name}.
type ClusterInfo struct {
	Name   string `json:"name"`
	Leader string `json:"leader,omitempty"` // the reachable leader of the highest term, if any
	Term   uint64 `json:"term"`
	// The configuration: the latest committed one the server knows of, and the index of the
	// entry that set it (0: the initial -members list).
	Voters      []string     `json:"voters"`
	Learners    []string     `json:"learners,omitempty"`
	ConfigIndex uint64       `json:"configIndex"`
	Members     []MemberInfo `json:"members"`
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
func (h *Hub) Info(name string) (ClusterInfo, bool) { return h.info(name, false) }

// InfoDetail is Info with each member's node card (MemberInfo.Detail).
func (h *Hub) InfoDetail(name string) (ClusterInfo, bool) { return h.info(name, true) }

func (h *Hub) info(name string, detail bool) (ClusterInfo, bool) {
	h.mu.RLock()
	c, ok := h.clusters[name]
	if !ok {
		h.mu.RUnlock()
		return ClusterInfo{}, false
	}
	info := ClusterInfo{Name: name, Voters: slices.Clone(c.conf.Voters), Learners: slices.Clone(c.conf.Learners), ConfigIndex: c.confIndex}
	locals := map[string]Local{}
	for _, p := range c.presenceLocked() {
		mi := MemberInfo{ID: p.ID, Kind: p.Kind, Host: p.Host, Reachable: p.Reachable,
			Voter: c.conf.IsVoter(p.ID), Learner: c.conf.IsLearner(p.ID), Joining: c.joining[p.ID]}
		if d := h.cfg.Links.DroppedTo(name, p.ID); len(d) > 0 {
			mi.Dropped = d
		}
		if lh, ok := c.hosts[p.ID].(localHost); ok {
			locals[p.ID] = lh.node
		} else if s, ok := c.status[p.ID]; ok {
			mi.State, mi.Term, mi.Leader, mi.Commit, mi.Applied, mi.Last = s.State, s.Term, s.Leader, s.Commit, s.Applied, s.Last
			mi.StatusAgeMS = time.Since(s.at).Milliseconds()
			if detail {
				mi.Detail = DetailOf(&s.MemberStatus)
			}
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
			if s.ConfigCommitted && s.ConfigIndex > info.ConfigIndex {
				h.observeConfig(name, s.Config, s.ConfigIndex)
			}
			if d, ok := n.(detailer); ok && detail && s.State != raft.Dead {
				// The card from one moment, which may be a little later than the line above.
				ms := wire.MemberStatus{ID: mi.ID, Applied: s.Applied}
				if d.Details(&ms); ms.State != "" {
					mi.State, mi.Term, mi.Leader, mi.Commit, mi.Applied, mi.Last = ms.State, ms.Term, ms.Leader, ms.Commit, ms.Applied, ms.Last
					mi.Detail = DetailOf(&ms)
				}
			}
		}
	}
	for _, mi := range info.Members {
		if mi.Reachable && mi.State == raft.Leader.String() && mi.Term >= info.Term {
			info.Leader, info.Term = mi.ID, mi.Term
		}
	}
	return info, true
}

// hostOf returns what hosts member of the cluster: a local node, a connection, or nil.
func (h *Hub) hostOf(clusterName, member string) host {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if c, ok := h.clusters[clusterName]; ok {
		return c.hosts[member]
	}
	return nil
}

// Submit asks the host of member to submit cmd to it, and waits for the committed result.
// A member that does not lead answers with a *raft.NotLeaderError.
func (h *Hub) Submit(ctx context.Context, clusterName, member string, cmd []byte) (native.Result, error) {
	switch x := h.hostOf(clusterName, member).(type) {
	case localHost:
		return x.node.Submit(ctx, cmd)
	case *conn:
		return x.submit(ctx, member, cmd)
	}
	return native.Result{}, notTaken(fmt.Errorf("%w: nobody hosts %s", ErrNoHost, member))
}

func (c *conn) submit(ctx context.Context, member string, cmd []byte) (native.Result, error) {
	return c.request(ctx, &wire.Envelope{Type: wire.TypeSubmit, Cluster: c.cluster.name, Member: member, Command: cmd})
}

// request sends a submit frame (a command or a membership change) and waits for its result.
func (c *conn) request(ctx context.Context, sub *wire.Envelope) (native.Result, error) {
	member := sub.Member
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
	sub.Req = req
	b, err := wire.Encode(sub)
	if err != nil {
		return native.Result{}, notTaken(err)
	}
	if !c.queue(b) {
		return native.Result{}, notTaken(fmt.Errorf("%w: the send queue of the connection hosting %s is full", ErrNoHost, member))
	}
	select {
	case e, ok := <-ch:
		if !ok {
			return native.Result{}, fmt.Errorf("the connection hosting %s closed after the command was sent to it", member)
		}
		switch e.Code {
		case "":
			return native.Result{Index: e.Index, Term: e.Term, Value: e.Value}, nil
		case wire.CodeNotLeader:
			return native.Result{}, &raft.NotLeaderError{ID: member, Leader: e.Leader, Term: e.Term}
		case wire.CodeRefused:
			return native.Result{}, notTaken(&refusedError{fmt.Errorf("%s: %s", member, e.Error), strings.Contains(e.Error, raft.ErrChangeInFlight.Error())})
		case wire.CodeRetry:
			return native.Result{}, notTaken(&retryError{fmt.Errorf("%s: %s", member, e.Error)})
		}
		return native.Result{}, fmt.Errorf("%s: %s", member, e.Error)
	case <-c.quit:
		return native.Result{}, fmt.Errorf("the connection hosting %s closed after the command was sent to it", member)
	case <-ctx.Done():
		return native.Result{}, ctx.Err()
	}
}

// notTakenError wraps the error of a submit that certainly did not reach any log: the command
// was never handed to a member, or the member refused it at once.
type notTakenError struct{ err error }

func (e *notTakenError) Error() string { return e.err.Error() }
func (e *notTakenError) Unwrap() error { return e.err }

func notTaken(err error) error { return &notTakenError{err} }

// certainlyNotAppended reports whether a submit's error proves that the command is in no log
// and never will be: the member was not reachable, it was not the leader, or the command did
// not reach its node. Anything else (a timeout after it was sent, a connection lost while
// waiting, a leader that stopped) leaves it unknown: the command may still commit.
func certainlyNotAppended(err error) bool {
	var nt *notTakenError
	var nl *raft.NotLeaderError
	return errors.As(err, &nt) || errors.As(err, &nl) || errors.Is(err, raft.ErrTransferring) || errors.Is(err, native.ErrNotSubmitted)
}

// API limits.
const (
	maxCommandBody    = 16 << 10
	defaultAPITimeout = 5 * time.Second
	maxAPITimeout     = time.Minute
)

// API outcomes, the values of the outcome label of raftlab_api_requests_total.
const (
	outcomeOK          = "ok"           // 200
	outcomeMalformed   = "malformed"    // 400: a command the parser refuses, or a bad ?timeout
	outcomeNotFound    = "not_found"    // 404: no such cluster
	outcomeTooLarge    = "too_large"    // 413
	outcomeNotAppended = "not_appended" // 503: certainly in no log
	outcomeUnknown     = "unknown"      // 504: not known to be committed in time; may still apply
	outcomeConflict    = "conflict"     // 409: a membership change or transfer the leader refused
)

// APIMetrics are the scripting API's figures: requests by endpoint and outcome, and how long
// a committed command took, from its arrival to its answer. The server's hub has one; a node
// process's own API (server node -http) has its own, with the same names.
type APIMetrics struct {
	requests *prometheus.CounterVec
	commit   prometheus.Histogram
}

// NewAPIMetrics returns the API's metrics, all zero.
func NewAPIMetrics() *APIMetrics {
	return &APIMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "raftlab_api_requests_total",
			Help: "Requests to the scripting API, by endpoint (cluster, commands, members, transfer) and outcome (ok, malformed, not_found, too_large, conflict, not_appended, unknown).",
		}, []string{"endpoint", "outcome"}),
		commit: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "raftlab_api_commit_seconds",
			Help:    "Seconds from a command's arrival at POST /api/clusters/NAME/commands to its answer, for the commands answered 200 (committed and applied).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}),
	}
}

// Collectors returns the metrics, for a Prometheus registry.
func (a *APIMetrics) Collectors() []prometheus.Collector {
	return []prometheus.Collector{a.requests, a.commit}
}

// Count counts a request to endpoint that was answered status, began at began: its outcome
// is the status's (see the outcome constants), and a command answered 200 is timed. A refusal
// no outcome names (401 and 403, before the API proper; 429) is not counted, as the server's
// guard does not count it either.
func (a *APIMetrics) Count(endpoint string, status int, began time.Time) {
	var outcome string
	switch status {
	case http.StatusOK:
		outcome = outcomeOK
		if endpoint == "commands" {
			a.commit.Observe(time.Since(began).Seconds())
		}
	case http.StatusBadRequest:
		outcome = outcomeMalformed
	case http.StatusNotFound:
		outcome = outcomeNotFound
	case http.StatusConflict:
		outcome = outcomeConflict
	case http.StatusRequestEntityTooLarge:
		outcome = outcomeTooLarge
	case http.StatusServiceUnavailable:
		outcome = outcomeNotAppended
	case http.StatusGatewayTimeout:
		outcome = outcomeUnknown
	default:
		return
	}
	a.requests.WithLabelValues(endpoint, outcome).Inc()
}

// Collectors returns the scripting API's metrics, for a Prometheus registry.
func (h *Hub) Collectors() []prometheus.Collector {
	return h.api.Collectors()
}

// APIHandler serves GET /api/clusters/{name} and POST /api/clusters/{name}/commands, behind
// the origin and token checks of guardAPI.
func (h *Hub) APIHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/clusters/{name}", func(w http.ResponseWriter, r *http.Request) {
		// ?detail=1 adds each member's node card (the mixed page's); any other value is refused.
		var detail bool
		switch r.URL.Query().Get("detail") {
		case "", "0":
		case "1":
			detail = true
		default:
			h.api.requests.WithLabelValues("cluster", outcomeMalformed).Inc()
			apiError(w, http.StatusBadRequest, "detail: want 1 (each member's node card) or 0")
			return
		}
		info, ok := h.info(r.PathValue("name"), detail)
		if !ok {
			h.api.requests.WithLabelValues("cluster", outcomeNotFound).Inc()
			apiError(w, http.StatusNotFound, fmt.Sprintf("no cluster %q", r.PathValue("name")))
			return
		}
		h.api.requests.WithLabelValues("cluster", outcomeOK).Inc()
		writeJSON(w, http.StatusOK, info)
	})
	mux.HandleFunc("POST /api/clusters/{name}/commands", h.serveCommand)
	mux.HandleFunc("POST /api/clusters/{name}/members", h.serveMembers)
	mux.HandleFunc("POST /api/clusters/{name}/transfer", h.serveTransfer)
	return h.guardAPI(mux)
}

func (h *Hub) serveCommand(w http.ResponseWriter, r *http.Request) {
	began := time.Now()
	fail := func(status int, outcome, msg string) {
		h.api.requests.WithLabelValues("commands", outcome).Inc()
		apiError(w, status, msg)
	}
	name := r.PathValue("name")
	if _, ok := h.Members(name); !ok {
		fail(http.StatusNotFound, outcomeNotFound, fmt.Sprintf("no cluster %q", name))
		return
	}
	req, timeout, aerr := ReadCommand(w, r)
	if aerr != nil {
		fail(aerr.Status, aerr.Outcome, aerr.Msg)
		return
	}
	cmd := req.Command
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	res, member, err := h.submitToLeader(ctx, name, req.Encode())
	if err != nil {
		if errors.Is(err, errNotAppended) {
			fail(http.StatusServiceUnavailable, outcomeNotAppended, err.Error())
		} else {
			fail(http.StatusGatewayTimeout, outcomeUnknown, err.Error())
		}
		return
	}
	out := CommandResult{Command: cmd.String(), Member: member, Index: res.Index, Term: res.Term}
	if err := json.Unmarshal(res.Value, &out.KVAnswer); err != nil {
		out.KVAnswer = wire.KVAnswer{Outcome: "applied"}
	}
	h.api.requests.WithLabelValues("commands", outcomeOK).Inc()
	h.api.commit.Observe(time.Since(began).Seconds())
	writeJSON(w, http.StatusOK, out)
}

// APIError is a request the scripting API refuses before it reaches a cluster: its HTTP
// status, the outcome label of raftlab_api_requests_total, and the sentence to answer.
type APIError struct {
	Status  int
	Outcome string
	Msg     string
}

// ReadCommand reads a POST /api/clusters/{name}/commands request: ?timeout= (default 5 s),
// the command in the body, and the client session it belongs to. A script that gives
// ?client=ID&seq=N (N from 1, the next one only after the last was answered) can retry a
// request that timed out with the same pair: however many attempts reach the log, the
// command is applied once, and a retry of an applied one answers "duplicate". Without them
// the request is a session of its own, retried across leader changes only within itself.
func ReadCommand(w http.ResponseWriter, r *http.Request) (kv.Request, time.Duration, *APIError) {
	timeout, err := requestTimeout(r)
	if err != nil {
		return kv.Request{}, 0, &APIError{http.StatusBadRequest, outcomeMalformed, err.Error()}
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxCommandBody))
	if err != nil {
		return kv.Request{}, 0, &APIError{http.StatusRequestEntityTooLarge, outcomeTooLarge, fmt.Sprintf("command over %d bytes", maxCommandBody)}
	}
	cmd, err := kv.ParseCommand(strings.TrimSpace(string(body)))
	if err != nil {
		return kv.Request{}, 0, &APIError{http.StatusBadRequest, outcomeMalformed, "malformed command: " + err.Error()}
	}
	req := kv.Request{Command: cmd}
	q := r.URL.Query()
	client, seq := q.Get("client"), q.Get("seq")
	switch {
	case client == "" && seq == "":
		var id [8]byte
		rand.Read(id[:])
		req.ClientID, req.Seq = "api-"+hex.EncodeToString(id[:]), 1
	case client == "" || seq == "":
		return kv.Request{}, 0, &APIError{http.StatusBadRequest, outcomeMalformed, "?client= and ?seq= go together: a client id and its request's sequence number, from 1"}
	default:
		n, err := strconv.ParseUint(seq, 10, 64)
		if err != nil || n == 0 {
			return kv.Request{}, 0, &APIError{http.StatusBadRequest, outcomeMalformed, fmt.Sprintf("seq %q: want a sequence number from 1", seq)}
		}
		req.ClientID, req.Seq = client, n
	}
	if err := req.Validate(); err != nil {
		return kv.Request{}, 0, &APIError{http.StatusBadRequest, outcomeMalformed, "malformed command: " + err.Error()}
	}
	return req, timeout, nil
}

// errNotAppended: the command certainly is in no log (503).
var errNotAppended = errors.New("not appended")

// submitToLeader submits cmd through whichever member leads (viaLeader). Every attempt carries
// the same request (one client session), so however many of them reach a log it is applied
// once.
func (h *Hub) submitToLeader(ctx context.Context, name string, cmd []byte) (native.Result, string, error) {
	var res native.Result
	target, err := h.viaLeader(ctx, name, "command", "applied", "applied, once", func(target string) (bool, error) {
		var err error
		res, err = h.Submit(ctx, name, target, cmd)
		return false, err
	})
	return res, target, err
}

// viaLeader calls try with the member that claims to lead, follows NotLeader hints to members
// of the cluster, and otherwise tries the reachable members in turn, every 50 ms, until try
// succeeds, says its error is final, or ctx ends. It returns the member that succeeded. When
// ctx ends, the error wraps errNotAppended only if every attempt certainly failed to reach a
// log (certainlyNotAppended); otherwise the request may still take effect. what names the
// request in that error ("command"), done and later what it was not and may still be
// ("applied", "applied, once").
func (h *Hub) viaLeader(ctx context.Context, name, what, done, later string, try func(target string) (final bool, err error)) (string, error) {
	var lastErr error
	mayHaveApplied := false
	hint := ""
	for attempt := 0; ctx.Err() == nil; attempt++ {
		target := hint
		hint = ""
		if target == "" {
			target = h.pickTarget(name, attempt)
		}
		if target != "" {
			final, err := try(target)
			if err == nil {
				return target, nil
			}
			if final {
				return target, err
			}
			lastErr = err
			if !certainlyNotAppended(err) {
				mayHaveApplied = true
			}
			var nl *raft.NotLeaderError
			if errors.As(err, &nl) && nl.Leader != "" && nl.Leader != target && h.isMember(name, nl.Leader) {
				hint = nl.Leader
				continue
			}
		} else {
			lastErr = errors.New("no member is reachable")
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !mayHaveApplied {
		return "", fmt.Errorf("%w: no leader took the %s before the timeout, so it was not %s and never will be (last: %v)", errNotAppended, what, done, lastErr)
	}
	return "", fmt.Errorf("timeout: the %s was not known to be committed in time; it may still be %s (last: %v)", what, later, lastErr)
}

// pickTarget returns the member that claims to lead, or a reachable member in turn (one not
// in the configuration yet cannot lead).
func (h *Hub) pickTarget(name string, attempt int) string {
	info, _ := h.Info(name)
	if info.Leader != "" {
		return info.Leader
	}
	var reach []string
	for _, m := range info.Members {
		if m.Reachable && !m.Joining {
			reach = append(reach, m.ID)
		}
	}
	if len(reach) == 0 {
		return ""
	}
	return reach[attempt%len(reach)]
}

// isMember reports whether id is one of the cluster's members (a NotLeader hint worth following).
func (h *Hub) isMember(name, id string) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	c := h.clusters[name]
	return c != nil && slices.Contains(c.members, id)
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

// requestTimeout reads a request's ?timeout= (defaultAPITimeout when absent).
func requestTimeout(r *http.Request) (time.Duration, error) {
	t := r.URL.Query().Get("timeout")
	if t == "" {
		return defaultAPITimeout, nil
	}
	d, err := time.ParseDuration(t)
	if err != nil || d <= 0 || d > maxAPITimeout {
		return 0, fmt.Errorf("timeout %q: want a duration such as 2s, at most %v", t, maxAPITimeout)
	}
	return d, nil
}

// WriteJSON writes v as the API's indented JSON answer, with status.
func WriteJSON(w http.ResponseWriter, status int, v any) { writeJSON(w, status, v) }

// WriteError writes the API's error answer, {"error": msg}, with status.
func WriteError(w http.ResponseWriter, status int, msg string) { apiError(w, status, msg) }
