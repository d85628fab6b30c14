//go:build !js

// A page hosting browser members of a mixed cluster survives a restart of the server: it
// reconnects with backoff and its members rejoin with their state.

package main

import (
	"net"
	"net/http"
	"testing"

	"raftlab/raft/wire"
	"raftlab/web"
)

// startMixed serves the cluster demo (natives n1, n2 in the server; b1, b2, b3 for a page) on
// addr ("127.0.0.1:0" for any port) with the natives' files in dir; stop closes everything, as
// a server shutting down does.
func startMixed(t *testing.T, addr, dir string) (base string, m *mixed, stop func()) {
	t.Helper()
	return startMixedWith(t, addr, dir, wire.Options{})
}

// startMixedWith is startMixed with options of Raft for the cluster (-prevote, -checkquorum).
func startMixedWith(t *testing.T, addr, dir string, o wire.Options) (base string, m *mixed, stop func()) {
	t.Helper()
	return startMixedFlags(t, addr, &clusterFlags{cluster: "demo", members: "n1,n2,b1,b2,b3", native: "n1,n2", data: dir, options: o})
}

// startMixedFlags serves the cluster that f describes.
func startMixedFlags(t *testing.T, addr string, f *clusterFlags) (base string, m *mixed, stop func()) {
	t.Helper()
	m, err := f.start(t.Logf, true) // tests listen on loopback
	if err != nil {
		t.Fatal(err)
	}
	mux, err := newServeMux(web.Dist())
	if err != nil {
		t.Fatal(err)
	}
	m.mount(mux)
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		m.close()
		t.Fatal(err)
	}
	srv := &http.Server{Handler: mux}
	go srv.Serve(ln) // returns when Close is called
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			m.close()
			srv.Close()
		}
	}
	t.Cleanup(stop)
	return ln.Addr().String(), m, stop
}

// browsersUp reports whether the page's members b1, b2 and b3 have joined and report a state.
func browsersUp(c apiCluster) bool {
	for _, id := range []string{"b1", "b2", "b3"} {
		if mm := c.member(id); !mm.Reachable || mm.Kind != "browser" || mm.State == "" {
			return false
		}
	}
	return true
}

func TestBrowserMixedServerRestart(t *testing.T) {
	b := startBrowser(t)
	dir := t.TempDir()
	base, _, stop := startMixed(t, "127.0.0.1:0", dir)
	info := func() apiCluster { return clusterInfo(t, base) }
	browserUp := func() bool { c := info(); return browsersUp(c) && c.Leader != "" }

	p := b.open(t, "http://"+base+"/?cluster=demo")
	waitUntil(t, "the page's members to join and a leader", browserUp)
	pageSubmit(p, "put a 1")
	waitUntil(t, "n1 to hold the put", func() bool {
		return info().member("n1").Commit >= info().member("b1").Commit && info().member("n1").Commit > 0
	})
	n1Last := info().member("n1").Last

	stop()
	p.waitFor("the page to notice the server is gone", `raftlabWasm.mixedSnapshot().includes("lost the server")`)
	p.waitFor("the page to say so above the ring", `document.getElementById("connState").dataset.state === "lost" && document.getElementById("connState").textContent.startsWith("Lost the server at ")`)
	p.waitFor("n1's card to say it shows n1's last report", `document.querySelector(".card[data-node=n1] .err").textContent === "the server is away: this is its last report"`)
	p.screenshot("mixed-lost.png")

	// The same address and data: the page's next reconnect finds the new server.
	_, _, stop2 := startMixed(t, base, dir)
	defer stop2()
	waitUntil(t, "the page's members to rejoin the restarted server", browserUp)
	p.waitFor("the page to say it reconnected", `raftlabWasm.mixedSnapshot().includes("reconnected to the server")`)
	p.waitFor("the page to say so above the ring", `document.getElementById("connState").dataset.state === "reconnected" && document.getElementById("connState").textContent.startsWith("Reconnected to the server at ")`)
	p.waitFor("the event log to tell both", `(t => t.includes("lost the server") && t.includes("reconnected to the server"))(document.getElementById("events").textContent)`)
	pageSubmit(p, "append a 2")
	pageSubmit(p, "get a")
	p.waitFor("get a answered 12", `document.getElementById("submitMsg").textContent.endsWith('→ "12"')`)
	if got := info().member("n1").Last; got < n1Last {
		t.Errorf("n1 restarted with %d log entries; it had %d on disk", got, n1Last)
	}
	// While the server was down, the browser logged its failed requests and WebSocket; nothing else.
	p.noProblemsBut("net::ERR_CONNECTION_REFUSED", "WebSocket connection to")
}
