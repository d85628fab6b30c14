//go:build !js

// Hardening of the HTTP server: timeouts, and a bound on the requests one client has in
// progress at a time.
package main

import (
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"raftlab/server/internal/hub"
)

// Timeouts of the http.Server. A command may wait up to a minute to commit (?timeout=, at most
// 1 min), so a response may take that long to write; WebSocket connections are exempt (the
// upgrade clears the deadlines, and the hub's pings bound them).
const (
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 75 * time.Second
	idleTimeout       = 2 * time.Minute
)

// hardenedServer is the http.Server of the server and of a node process's -http: the timeouts
// above, and at most maxRequestsPerClient requests in progress per client address on every
// path but skip.
func hardenedServer(h http.Handler, skip string) *http.Server {
	return &http.Server{Handler: limitPerClient(h, maxRequestsPerClient, skip), ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout: readTimeout, WriteTimeout: writeTimeout, IdleTimeout: idleTimeout}
}

// maxRequestsPerClient bounds the HTTP requests one client address has in progress; more get
// 429. A class behind one NAT address shares it: a page load makes a handful of requests and a
// command holds one until it commits.
const maxRequestsPerClient = 64

// perClient is middleware that applies maxRequestsPerClient to every path but skip (/ws, whose
// connections last and which the hub limits per connection).
type perClient struct {
	next http.Handler
	max  int
	skip string

	mu       sync.Mutex
	inflight map[string]int // by remote IP
}

func limitPerClient(next http.Handler, max int, skip string) *perClient {
	return &perClient{next: next, max: max, skip: skip, inflight: make(map[string]int)}
}

func (p *perClient) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == p.skip {
		p.next.ServeHTTP(w, r)
		return
	}
	ip, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		ip = r.RemoteAddr
	}
	p.mu.Lock()
	if p.inflight[ip] >= p.max {
		p.mu.Unlock()
		w.Header().Set("Retry-After", "1")
		msg := fmt.Sprintf("too many requests in progress from %s (at most %s at a time)", ip, strconv.Itoa(p.max))
		if strings.HasPrefix(r.URL.Path, "/api/") {
			hub.WriteError(w, http.StatusTooManyRequests, msg) // the API answers JSON, its errors too
		} else {
			http.Error(w, msg, http.StatusTooManyRequests)
		}
		return
	}
	p.inflight[ip]++
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.inflight[ip]--; p.inflight[ip] == 0 {
			delete(p.inflight, ip)
		}
		p.mu.Unlock()
	}()
	p.next.ServeHTTP(w, r)
}
