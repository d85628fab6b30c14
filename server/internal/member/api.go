//go:build !js

// The member's own scripting API (server node -http): the server's GET /api/clusters/{name},
// POST /api/clusters/{name}/commands and POST /api/clusters/{name}/transfer, answered by this
// member, so that a script can use the cluster while the server is down.
package member

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv"
	"raftlab/raft/wire"
	"raftlab/server/internal/hub"
	"raftlab/server/native"

	"github.com/prometheus/client_golang/prometheus"
)

// forwardedHeader marks a command one member forwarded to another, which answers it itself
// or refuses it (503), and never forwards it again.
const forwardedHeader = "X-Raftlab-Forwarded-By"

// APIHandler serves GET /api/clusters/{name} (this member's view of the cluster) and POST
// /api/clusters/{name}/commands. A command is submitted to this member's node when it leads,
// and otherwise forwarded to the API of the leader it knows of (the hub tells every member
// where the others serve theirs; the addresses are kept when the hub goes away). The answers
// are the server's: 200 committed and applied; 503 certainly in no log, so never applied;
// 504 not known to be committed in time: the command may still be applied later, once.
// POST /api/clusters/{name}/transfer?to=ID hands the leadership to ID the same way
// (serveTransfer). Commands and transfers need no Origin header (the API is for scripts, not
// pages) and, when the member has a cluster token, Authorization: Bearer TOKEN.
//
// Each request is counted in the member's own raftlab_api_requests_total and
// raftlab_api_commit_seconds (APICollectors), as the server counts its own.
func (m *Member) APIHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/clusters/{name}", m.counted("cluster", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("name") != m.cfg.Cluster {
			hub.WriteError(w, http.StatusNotFound, fmt.Sprintf("no cluster %q here: this member is in cluster %q", r.PathValue("name"), m.cfg.Cluster))
			return
		}
		// ?detail=1, as on the server: this member's own node card (it has no other's).
		var detail bool
		switch r.URL.Query().Get("detail") {
		case "", "0":
		case "1":
			detail = true
		default:
			hub.WriteError(w, http.StatusBadRequest, "detail: want 1 (this member's node card) or 0")
			return
		}
		hub.WriteJSON(w, http.StatusOK, m.info(detail))
	}))
	mux.HandleFunc("POST /api/clusters/{name}/commands", m.counted("commands", m.serveCommand))
	mux.HandleFunc("POST /api/clusters/{name}/transfer", m.counted("transfer", m.serveTransfer))
	return mux
}

// APICollectors returns the metrics of the member's API, for a Prometheus registry.
func (m *Member) APICollectors() []prometheus.Collector { return m.api.Collectors() }

// counted counts each answer of h in the member's API metrics, under endpoint.
func (m *Member) counted(endpoint string, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		began := time.Now()
		h(sw, r)
		m.api.Count(endpoint, sw.status, began)
	}
}

// statusWriter remembers the status a handler answered.
type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
}

func (s *statusWriter) WriteHeader(code int) {
	if !s.wrote {
		s.status, s.wrote = code, true
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	s.wrote = true
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// info is this member's view: its own state in full, with its node card when detail is set
// (its newest log entries, key-value contents, a leader's view of its followers, its recent
// events: what its status reports carry); for the others, what its configuration says, where
// they run and serve their API, and whether a direct link to them is up (reachable; a member
// in a page, reached through the server, never is). The others' cards are not here: their
// reports go to the server, whose GET ?detail=1 has every member's.
func (m *Member) info(detail bool) hub.ClusterInfo {
	n := m.Node()
	s := n.Status()
	info := hub.ClusterInfo{Name: m.cfg.Cluster, Term: s.Term, Voters: s.Config.Voters, Learners: s.Config.Learners, ConfigIndex: s.ConfigIndex}
	if info.Voters == nil {
		info.Voters = []string{}
	}
	if s.Leader != "" {
		info.Leader = s.Leader
	}
	ids := s.Config.Members()
	if !s.Config.IsMember(m.cfg.ID) {
		ids = append(ids, m.cfg.ID)
	}
	peers := m.peer.Peers()
	for _, id := range ids {
		mi := hub.MemberInfo{ID: id, Kind: m.kind(id), Voter: s.Config.IsVoter(id), Learner: s.Config.IsLearner(id), Host: m.APIAddr(id)}
		if _, known := peers[id]; mi.Kind == "" && known {
			// The hub has not said (a member started from its saved welcome, the server
			// down): a member with a direct-link address runs natively.
			mi.Kind = wire.KindNative
		}
		if id == m.cfg.ID {
			mi.Kind, mi.Host, mi.Reachable = wire.KindNative, "self", true
			mi.State, mi.Term, mi.Leader, mi.Commit, mi.Applied, mi.Last = s.State.String(), s.Term, s.Leader, s.CommitIndex, s.Applied, s.LastIndex
			if rep := m.reporter(); detail && rep != nil && s.State != raft.Dead {
				// The card from one moment, which may be a little later than the line above.
				ms := wire.MemberStatus{ID: id}
				if rep.Details(n, &ms); ms.State != "" {
					mi.State, mi.Term, mi.Leader, mi.Commit, mi.Applied, mi.Last = ms.State, ms.Term, ms.Leader, ms.Commit, ms.Applied, ms.Last
					mi.Detail = hub.DetailOf(&ms)
				}
			}
		} else {
			mi.Reachable = m.peer.Up(id)
			if p, ok := s.Progress[id]; ok {
				mi.Last = p.Match // the leader's view: replicated up to here
			}
		}
		info.Members = append(info.Members, mi)
	}
	return info
}

// admit answers a POST that this member's API refuses before reading it: one for another
// cluster (404), from a page (403), or without the cluster token when the member has one
// (401). It reports whether the request may go on.
func (m *Member) admit(w http.ResponseWriter, r *http.Request) bool {
	if r.PathValue("name") != m.cfg.Cluster {
		hub.WriteError(w, http.StatusNotFound, fmt.Sprintf("no cluster %q here: this member is in cluster %q", r.PathValue("name"), m.cfg.Cluster))
		return false
	}
	if r.Header.Get("Origin") != "" {
		hub.WriteError(w, http.StatusForbidden, "a member's API takes commands from scripts, not from pages (the request has an Origin header); pages use the server's")
		return false
	}
	if m.cfg.Token != "" {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(m.cfg.Token)) != 1 {
			w.Header().Set("WWW-Authenticate", `Bearer realm="raftlab"`)
			hub.WriteError(w, http.StatusUnauthorized, "this member needs the cluster token: send Authorization: Bearer TOKEN (the server prints the token at start)")
			return false
		}
	}
	return true
}

func (m *Member) serveCommand(w http.ResponseWriter, r *http.Request) {
	if !m.admit(w, r) {
		return
	}
	req, timeout, aerr := hub.ReadCommand(w, r)
	if aerr != nil {
		hub.WriteError(w, aerr.Status, aerr.Msg)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	status, body := m.command(ctx, req, r.Header.Get(forwardedHeader) != "")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(body)
}

// command submits req, or forwards it to the leader, until it is answered or ctx ends. Every
// attempt carries the same client session, so however many reach a log it is applied once.
// It returns the HTTP status and the JSON body to answer.
func (m *Member) command(ctx context.Context, req kv.Request, forwarded bool) (int, []byte) {
	cmd := req.Encode()
	var lastErr error
	mayHaveApplied := false
	for ctx.Err() == nil {
		n := m.Node()
		s := n.Status()
		switch {
		case s.State == raft.Leader:
			res, err := n.Submit(ctx, cmd)
			if err == nil {
				out := hub.CommandResult{Command: req.Command.String(), Member: m.cfg.ID, Index: res.Index, Term: res.Term}
				if err := json.Unmarshal(res.Value, &out.KVAnswer); err != nil {
					out.KVAnswer = wire.KVAnswer{Outcome: "applied"}
				}
				return http.StatusOK, jsonBody(out)
			}
			lastErr = fmt.Errorf("%s: %w", m.cfg.ID, err)
			if !notAppended(err) {
				mayHaveApplied = true
			}
		case forwarded:
			// One hop only: the member that forwarded it retries, with the leader it knows.
			msg := fmt.Sprintf("%s does not lead (term %d); leader: %q", m.cfg.ID, s.Term, s.Leader)
			return http.StatusServiceUnavailable, jsonBody(map[string]string{"error": msg, "leader": s.Leader})
		case s.Leader == "":
			lastErr = fmt.Errorf("%s knows of no leader in term %d", m.cfg.ID, s.Term)
		case m.leaderAPIUnknown(s.Leader):
			lastErr = fmt.Errorf("the leader, %s, has no API address known to %s (it runs without -http, or the hub never said)", s.Leader, m.cfg.ID)
		default:
			who, addr := m.leaderAPI(s.Leader)
			status, body, sent, err := m.forward(ctx, addr, req)
			switch {
			case err == nil && status == http.StatusOK:
				return status, body
			case err == nil && status != http.StatusServiceUnavailable && status != http.StatusGatewayTimeout:
				// The request itself is refused (400, 401, 404, 413, 429): the leader's answer,
				// said as this API says an error whatever its form (a 429 is plain text).
				return status, jsonBody(map[string]string{"error": fmt.Sprintf("forwarded to %s: %s", who, apiMessage(body))})
			case err == nil && status == http.StatusGatewayTimeout:
				// The leader took it and ran out of the time it was given (all but the
				// reserve): asking again in what is left would find the same.
				return status, jsonBody(map[string]string{"error": fmt.Sprintf("forwarded to %s: %s", who, apiMessage(body))})
			case err == nil: // 503: it no longer leads, or certainly took nothing
				lastErr = fmt.Errorf("forwarded to %s: %s", who, apiMessage(body))
			default:
				lastErr = fmt.Errorf("forwarding to %s: %v", who, err)
				if sent {
					mayHaveApplied = true
				}
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	if !mayHaveApplied {
		return http.StatusServiceUnavailable, jsonBody(map[string]string{"error": fmt.Sprintf("not appended: no leader took the command before the timeout, so it was not applied and never will be (last: %v)", lastErr)})
	}
	return http.StatusGatewayTimeout, jsonBody(map[string]string{"error": fmt.Sprintf("timeout: the command was not known to be committed in time; it may still be applied, once (last: %v)", lastErr)})
}

// notAppended reports whether a Submit error proves the command is in no log: the node did
// not lead, or did not take it.
func notAppended(err error) bool {
	var nl *raft.NotLeaderError
	var refused *native.RefusedError
	return errors.As(err, &nl) || errors.As(err, &refused) || errors.Is(err, native.ErrNotSubmitted) ||
		errors.Is(err, raft.ErrTransferring) || errors.Is(err, raft.ErrNoCommitInTerm)
}

// leaderAPI says where a request for leader goes: to the leader's own API, or, for a leader
// that serves none (a member the server runs, one in a page, a process without -http), to
// the server's, which reaches it through the hub while the server is up. who names the
// target in answers ("n2 at 127.0.0.1:9002"); addr is its host:port or base URL.
func (m *Member) leaderAPI(leader string) (who, addr string) {
	if a := m.APIAddr(leader); a != "" {
		return leader + " at " + a, a
	}
	return fmt.Sprintf("the server at %s (the leader, %s, serves no API of its own)", m.serverAPI, leader), m.serverAPI
}

// leaderAPIUnknown reports whether leaderAPI has nowhere to send a request for leader.
func (m *Member) leaderAPIUnknown(leader string) bool {
	return m.APIAddr(leader) == "" && m.serverAPI == ""
}

// serverAPIBase is the base URL of the server's API, from the hub's WebSocket URL (ws://HOST/ws
// → http://HOST), or "" when it cannot be told.
func serverAPIBase(hubURL string) string {
	u, err := url.Parse(hubURL)
	if err != nil || u.Host == "" {
		return ""
	}
	scheme := map[string]string{"ws": "http", "wss": "https", "http": "http", "https": "https"}[u.Scheme]
	if scheme == "" {
		return ""
	}
	return scheme + "://" + u.Host + strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/ws")
}

// apiClient forwards commands; each request is bounded by its context.
var apiClient = &http.Client{}

// forward posts req to the API at addr, with the time left in ctx. sent says whether the
// request may have reached the other member (so the command may be in its log).
func (m *Member) forward(ctx context.Context, addr string, req kv.Request) (status int, body []byte, sent bool, err error) {
	q := url.Values{"client": {req.ClientID}, "seq": {strconv.FormatUint(req.Seq, 10)}}
	return m.forwardPost(ctx, addr, "commands", q, []byte(req.Command.String()), reserve(ctx))
}

// reserve is the time a member keeps when it forwards a request to the leader: a tenth of
// what is left (up to 200 ms), so that the leader's answer, a 504 with its reason included,
// comes back before this member's own deadline.
func reserve(ctx context.Context) time.Duration {
	if d, ok := ctx.Deadline(); ok {
		return min(time.Until(d)/10, 200*time.Millisecond)
	}
	return 0
}

// forwardPost posts body to POST /api/clusters/{cluster}/{endpoint}?q at addr (host:port, or
// a base URL), marked as
// forwarded by this member, with its token and as ?timeout= the time left in ctx less
// reserve (what this member keeps to act on the answer). sent says whether the request may
// have reached the other member.
func (m *Member) forwardPost(ctx context.Context, addr, endpoint string, q url.Values, body []byte, reserve time.Duration) (status int, answer []byte, sent bool, err error) {
	if d, ok := ctx.Deadline(); ok {
		left := time.Until(d) - reserve
		if left < time.Millisecond {
			return 0, nil, false, context.DeadlineExceeded
		}
		q.Set("timeout", left.Round(time.Millisecond).String())
	}
	base := addr
	if !strings.Contains(addr, "://") {
		base = "http://" + addr
	}
	u := base + "/api/clusters/" + url.PathEscape(m.cfg.Cluster) + "/" + endpoint + "?" + q.Encode()
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return 0, nil, false, err
	}
	hr.Header.Set(forwardedHeader, m.cfg.ID)
	if m.cfg.Token != "" {
		hr.Header.Set("Authorization", "Bearer "+m.cfg.Token)
	}
	resp, err := apiClient.Do(hr)
	if err != nil {
		// A failed dial sent nothing; after that the request may have arrived.
		var oe *net.OpError
		return 0, nil, !(errors.As(err, &oe) && oe.Op == "dial"), err
	}
	defer resp.Body.Close()
	answer, err = io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return 0, nil, true, err
	}
	return resp.StatusCode, answer, true, nil
}

func jsonBody(v any) []byte {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	enc.Encode(v)
	return b.Bytes()
}

// apiMessage is the error sentence of an API answer's body.
func apiMessage(body []byte) string {
	var e struct{ Error string }
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return e.Error
	}
	return strings.TrimSpace(string(body))
}
