//go:build !js

// Leadership transfer through the hub (Raft thesis §3.10): POST
// /api/clusters/{name}/transfer?to=ID asks whichever member leads, wherever it runs (in the
// server, a node process or a page), to hand its leadership to ID, and answers once ID leads.
package hub

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"raftlab/raft"
	"raftlab/raft/wire"
	"raftlab/server/native"
)

// transferrer is a Local that can hand over its leadership (a *native.Node).
type transferrer interface {
	TransferLeadership(ctx context.Context, to string) (native.Result, error)
}

// requestTransfer asks the host of member, which should lead, to hand its leadership to to.
// It returns once the handover has begun, with the leader's term.
func (h *Hub) requestTransfer(ctx context.Context, clusterName, member, to string) (native.Result, error) {
	switch x := h.hostOf(clusterName, member).(type) {
	case localHost:
		tr, ok := x.node.(transferrer)
		if !ok {
			return native.Result{}, notTaken(&refusedError{fmt.Errorf("member %s cannot hand over its leadership", member), false})
		}
		res, err := tr.TransferLeadership(ctx, to)
		var refused *native.RefusedError
		if errors.As(err, &refused) {
			err = notTaken(&refusedError{fmt.Errorf("%s: %w", member, err), false})
		}
		return res, err
	case *conn:
		return x.request(ctx, &wire.Envelope{Type: wire.TypeSubmit, Cluster: clusterName, Member: member, Transfer: to})
	}
	return native.Result{}, notTaken(fmt.Errorf("%w: nobody hosts %s", ErrNoHost, member))
}

// TransferResult is the answer to a POST /api/clusters/{name}/transfer that succeeded.
type TransferResult struct {
	Transfer string `json:"transfer"`       // the member that leads now
	From     string `json:"from,omitempty"` // the leader that handed over ("" when to led already)
	Term     uint64 `json:"term"`           // the term to leads
}

// ReadTransfer reads a POST /api/clusters/{name}/transfer request of cluster name, whose
// configuration is conf: ?timeout= (default 5 s) and ?to=, the voter to lead. It refuses a
// bad ?timeout or ?to= (400) and an id that is not a voter of conf (409).
func ReadTransfer(r *http.Request, name string, conf raft.Configuration) (to string, timeout time.Duration, aerr *APIError) {
	timeout, err := requestTimeout(r)
	if err != nil {
		return "", 0, &APIError{http.StatusBadRequest, outcomeMalformed, err.Error()}
	}
	to = r.URL.Query().Get("to")
	if err := wire.CheckID("member id", to); err != nil {
		return "", 0, &APIError{http.StatusBadRequest, outcomeMalformed, fmt.Sprintf("?to=: the member to lead: %s", err.(*wire.Error).Msg)}
	}
	if !conf.IsVoter(to) {
		return "", 0, &APIError{http.StatusConflict, outcomeConflict, fmt.Sprintf("%s is not a voter of cluster %s (%s): only a voter can lead", to, name, conf)}
	}
	return to, timeout, nil
}

// serveTransfer is POST /api/clusters/{name}/transfer?to=ID.
func (h *Hub) serveTransfer(w http.ResponseWriter, r *http.Request) {
	fail := func(status int, outcome, msg string) {
		h.api.requests.WithLabelValues("transfer", outcome).Inc()
		apiError(w, status, msg)
	}
	name := r.PathValue("name")
	conf, _, ok := h.Configuration(name)
	if !ok {
		fail(http.StatusNotFound, outcomeNotFound, fmt.Sprintf("no cluster %q", name))
		return
	}
	to, timeout, aerr := ReadTransfer(r, name, conf)
	if aerr != nil {
		fail(aerr.Status, aerr.Outcome, aerr.Msg)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), timeout)
	defer cancel()
	if info, _ := h.Info(name); info.Leader == to {
		h.api.requests.WithLabelValues("transfer", outcomeOK).Inc()
		writeJSON(w, http.StatusOK, TransferResult{Transfer: to, Term: info.Term})
		return
	}
	h.cfg.Logf("api: transfer the leadership of cluster %s to %s (from %s)", name, to, r.RemoteAddr)
	var res native.Result
	leader, err := h.viaLeader(ctx, name, "transfer", "begun", "begun", func(target string) (bool, error) {
		// A target that does not lead (to itself, say) answers NotLeader with its leader.
		var err error
		res, err = h.requestTransfer(ctx, name, target, to)
		var ref *refusedError
		return errors.As(err, &ref), err
	})
	var ref *refusedError
	switch {
	case errors.As(err, &ref):
		fail(http.StatusConflict, outcomeConflict, ref.Error())
		return
	case err != nil && errors.Is(err, errNotAppended):
		fail(http.StatusServiceUnavailable, outcomeNotAppended, strings.Replace(err.Error(), "not appended: ", "", 1))
		return
	case err != nil:
		fail(http.StatusGatewayTimeout, outcomeUnknown, err.Error())
		return
	}
	h.cfg.Logf("api: %s began handing its leadership of cluster %s (term %d) to %s", leader, name, res.Term, to)
	// Answer once to leads a later term, as the members report it.
	for {
		info, _ := h.Info(name)
		if info.Leader == to && info.Term > res.Term {
			h.cfg.Logf("api: %s leads cluster %s in term %d", to, name, info.Term)
			h.api.requests.WithLabelValues("transfer", outcomeOK).Inc()
			writeJSON(w, http.StatusOK, TransferResult{Transfer: to, From: leader, Term: info.Term})
			return
		}
		select {
		case <-ctx.Done():
			fail(http.StatusGatewayTimeout, outcomeUnknown, fmt.Sprintf("%s began handing its leadership (term %d) to %s, which was not seen leading within %v: it may still take over; if it does not within an election timeout, %s takes commands again", leader, res.Term, to, timeout, leader))
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}
