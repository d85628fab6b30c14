//go:build !js

// Who may do what: the origin and token checks in front of the scripting API (guardAPI) and of
// a connection's hello (checkToken, admitLocked). The rules, which the README's threat model
// explains:
//
//   - Reads (GET, HEAD) are open to whoever can reach the server; CORS headers go only to
//     allowed origins (the server's own and those of AllowOrigins), so another site's page
//     cannot read the answers.
//   - A request that changes something (any other method) and carries an Origin header comes
//     from a browser: the origin must be allowed, or it is refused with 403 whatever else it
//     carries. This stops any web page a student visits from writing into the lab server on
//     their machine (a plain text POST needs no CORS preflight).
//   - A request that changes something without an Origin header (curl, scripts) must carry the
//     cluster token, Authorization: Bearer TOKEN, when the server has one; 401 otherwise. A
//     wrong token is refused even with an allowed origin.
//   - On /ws the handshake's origin is checked the same way (hub.go). A hello from a process
//     (no Origin) or of kind native must carry the token when the server has one. A page (an
//     allowed origin, no token) hosts only the browser members the cluster offers, never one
//     that runs natively, and may ask to join as a new member only with AllowJoin.
//
// Tokens are compared in constant time and never logged or sent back.
package hub

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"raftlab/raft/wire"
)

// originAllowed reports whether a browser's origin may use this server: its own origin (the
// request's Host, and when the server listens on loopback only, a loopback name), or one of
// AllowOrigins.
func (h *Hub) originAllowed(origin, host string) bool {
	u, err := url.Parse(origin)
	if err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" && strings.EqualFold(u.Host, host) &&
		(!h.cfg.LoopbackOnly || isLoopbackName(u.Hostname())) {
		return true
	}
	for _, o := range h.cfg.AllowOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

// isLoopbackName reports whether a host name can only reach this machine. Another name that
// resolves to 127.0.0.1 is what a DNS rebinding attack uses.
func isLoopbackName(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// tokenOK compares a presented token with the cluster token in constant time (hashing first,
// so that the length does not show either).
func (h *Hub) tokenOK(got string) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256([]byte(h.cfg.Token))
	return h.cfg.Token != "" && subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// bearer returns the token of an Authorization: Bearer header, and whether the header was there.
func bearer(r *http.Request) (string, bool) {
	v := r.Header.Get("Authorization")
	if v == "" {
		return "", false
	}
	scheme, tok, _ := strings.Cut(strings.TrimSpace(v), " ")
	if !strings.EqualFold(scheme, "Bearer") {
		return "", true
	}
	return strings.TrimSpace(tok), true
}

const tokenHint = "the token the server printed when it started, or its -token / RAFTLAB_TOKEN"

// guardAPI applies the rules above to the scripting API.
func (h *Hub) guardAPI(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		allowed := origin != "" && h.originAllowed(origin, r.Host)
		if allowed {
			w.Header().Set("Access-Control-Allow-Origin", origin)
		}
		w.Header().Add("Vary", "Origin")
		refuse := func(status int, why string) {
			h.cfg.Logf("api: refused %s %s from %s: %s", r.Method, r.URL.Path, r.RemoteAddr, why)
			if status == http.StatusUnauthorized {
				w.Header().Set("WWW-Authenticate", `Bearer realm="raftlab"`)
			}
			apiError(w, status, why)
		}
		switch r.Method {
		case http.MethodGet, http.MethodHead:
			next.ServeHTTP(w, r)
			return
		case http.MethodOptions: // a CORS preflight
			if !allowed {
				refuse(http.StatusForbidden, originRefusal(origin))
				return
			}
			w.Header().Set("Access-Control-Allow-Methods", "GET, HEAD, POST")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Authorization")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		// Everything else changes something.
		if origin != "" && !allowed {
			refuse(http.StatusForbidden, originRefusal(origin))
			return
		}
		tok, sent := bearer(r)
		switch {
		case sent && !h.tokenOK(tok):
			refuse(http.StatusUnauthorized, "wrong cluster token in Authorization: Bearer; send "+tokenHint)
			return
		case !sent && origin == "" && h.cfg.Token != "":
			refuse(http.StatusUnauthorized, "this server needs its cluster token to change a cluster from outside a browser: send Authorization: Bearer TOKEN, with "+tokenHint)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func originRefusal(origin string) string {
	if origin == "" {
		return "a CORS preflight without an Origin header"
	}
	return fmt.Sprintf("origin %q may not change clusters on this server: start the server with -allow-origin %s to allow it", origin, origin)
}

// checkToken refuses a hello that needs the cluster token and lacks it, or carries a wrong one.
func (h *Hub) checkToken(c *conn, e *wire.Envelope) *wire.Error {
	if e.Token != "" && !h.tokenOK(e.Token) {
		return errorf(wire.CodeAuth, "wrong cluster token; give %s", tokenHint)
	}
	if h.cfg.Token != "" && e.Token == "" && (c.origin == "" || e.Kind == wire.KindNative) {
		return errorf(wire.CodeAuth, "this server needs its cluster token to host members from a process: give server node -token TOKEN (or RAFTLAB_TOKEN), with %s", tokenHint)
	}
	return nil
}

// admitLocked applies a page's limits to a hello that checkToken let through: a connection with
// an Origin and no token hosts only browser members the cluster offers. It expects h.mu held.
func (h *Hub) admitLocked(c *conn, e *wire.Envelope, cl *cluster) *wire.Error {
	if c.origin == "" || e.Token != "" {
		return nil
	}
	if e.Kind != wire.KindBrowser {
		return errorf(wire.CodeAuth, "a page (origin %s) hosts browser members only, not %s ones", c.origin, e.Kind)
	}
	for _, m := range e.Members {
		if !slices.Contains(cl.members, m) && !h.cfg.AllowJoin {
			return errorf(wire.CodeAuth, "%s is not a member of cluster %q, and this server does not let pages join as new members (start it with -allow-join)", m, cl.name)
		}
		if cl.kinds[m] == wire.KindNative {
			return errorf(wire.CodeAuth, "member %s runs as a native process; a page hosts only the cluster's browser members", m)
		}
	}
	return nil
}
