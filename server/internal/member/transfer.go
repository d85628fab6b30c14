//go:build !js

package member

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"raftlab/raft"
	"raftlab/server/internal/hub"
	"raftlab/server/native"
)

// serveTransfer is POST /api/clusters/{name}/transfer?to=ID on this member's API, with the
// server's answers (hub.ReadTransfer, hub.TransferResult): 200 once ID leads a later term as
// this member sees it (at once, without from, when ID leads already); 400 for a bad ?to= or
// ?timeout; 409 when ID is not a voter or the leader refuses; 503 when no leader took the
// request; 504 when the handover began, or may have, but ID was not seen leading in time.
// The request is admitted as a command is (no Origin header; the token when there is one).
func (m *Member) serveTransfer(w http.ResponseWriter, r *http.Request) {
	if !m.admit(w, r) {
		return
	}
	to, timeout, aerr := hub.ReadTransfer(r, m.cfg.Cluster, m.Node().Status().Config)
	if aerr != nil {
		hub.WriteError(w, aerr.Status, aerr.Msg)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	status, answer := m.transfer(ctx, to, timeout, r.Header.Get(forwardedHeader) != "")
	hub.WriteJSON(w, status, answer)
}

// transfer hands the leadership to to: through this member's node when it leads, otherwise
// through the API of the leader it knows of (one hop: a forwarded request is answered by the
// member it reaches, or refused with 503), and waits until to leads a later term, as this
// member sees it, or ctx ends. It returns the HTTP status and the answer.
func (m *Member) transfer(ctx context.Context, to string, timeout time.Duration, forwarded bool) (int, any) {
	var (
		lastErr      error
		mayHaveBegun bool   // a request may have begun a handover
		begun        bool   // one did: this node's, or the leader's that answered 200
		via, from    string // the leader asked, and the one that handed over
		minTerm      uint64 // once begun, to must lead this term or a later one
	)
	for {
		n := m.Node()
		s := n.Status()
		if s.Leader == to && s.Term >= minTerm {
			return http.StatusOK, hub.TransferResult{Transfer: to, From: from, Term: s.Term}
		}
		if ctx.Err() != nil {
			break
		}
		switch {
		case begun: // wait for to to lead
		case s.State == raft.Leader:
			res, err := n.TransferLeadership(ctx, to)
			var refused *native.RefusedError
			switch {
			case err == nil:
				m.cfg.Logf("%s: began handing its leadership of cluster %s (term %d) to %s, as its API was asked", m.cfg.ID, m.cfg.Cluster, res.Term, to)
				begun, via, from, minTerm = true, m.cfg.ID, m.cfg.ID, res.Term+1
				continue
			case errors.As(err, &refused): // to is this node, or another transfer is under way
				return http.StatusConflict, apiErr("%s: %v", m.cfg.ID, err)
			}
			lastErr = fmt.Errorf("%s: %w", m.cfg.ID, err)
			if !notAppended(err) {
				mayHaveBegun = true
			}
		case forwarded:
			return http.StatusServiceUnavailable, map[string]string{"error": fmt.Sprintf("%s does not lead (term %d); leader: %q", m.cfg.ID, s.Term, s.Leader), "leader": s.Leader}
		case s.Leader == "":
			lastErr = fmt.Errorf("%s knows of no leader in term %d", m.cfg.ID, s.Term)
		case m.leaderAPIUnknown(s.Leader):
			lastErr = fmt.Errorf("the leader, %s, has no API address known to %s (it runs without -http, or the hub never said)", s.Leader, m.cfg.ID)
		default:
			who, addr := m.leaderAPI(s.Leader)
			// The reserve also lets this member see to lead after a 200.
			status, body, sent, err := m.forwardPost(ctx, addr, "transfer", url.Values{"to": {to}}, nil, reserve(ctx))
			var out hub.TransferResult
			switch {
			case err != nil:
				lastErr = fmt.Errorf("forwarding to %s: %v", who, err)
				mayHaveBegun = mayHaveBegun || sent
			case status == http.StatusOK && json.Unmarshal(body, &out) == nil && out.Transfer == to:
				// to leads out.Term as the leader sees it; this member waits to see it too.
				begun, via, from, minTerm = true, s.Leader, out.From, out.Term
				continue
			case status == http.StatusOK:
				lastErr = fmt.Errorf("forwarded to %s: an answer that is not a transfer's: %s", who, body)
				mayHaveBegun = true
			case status == http.StatusServiceUnavailable: // it no longer leads, or took nothing
				lastErr = fmt.Errorf("forwarded to %s: %s", who, apiMessage(body))
			default:
				// Refused (400, 401, 404, 409, 429), or begun and not seen in time (504, at the
				// deadline: asking again would find the handover under way): the leader's
				// answer, as this API says it.
				return status, apiErr("forwarded to %s: %s", who, apiMessage(body))
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
	switch {
	case begun && from == m.cfg.ID:
		return http.StatusGatewayTimeout, apiErr("%s began handing its leadership (term %d) to %s, which was not seen leading within %v: it may still take over; if it does not within an election timeout, %s takes commands again", from, minTerm-1, to, timeout, from)
	case begun:
		return http.StatusGatewayTimeout, apiErr("%s answered that %s leads term %d, which %s did not see within %v", via, to, minTerm, m.cfg.ID, timeout)
	case !mayHaveBegun:
		return http.StatusServiceUnavailable, apiErr("no leader took the transfer before the timeout, so it was not begun and never will be (last: %v)", lastErr)
	}
	return http.StatusGatewayTimeout, apiErr("timeout: the transfer was not known to have begun in time; it may still begin (last: %v)", lastErr)
}

// apiErr is an error answer, {"error": sentence}.
func apiErr(format string, args ...any) map[string]string {
	return map[string]string{"error": fmt.Sprintf(format, args...)}
}
