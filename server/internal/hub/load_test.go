//go:build !js

// The load test: 200 concurrent connections exchanging traffic, with the heap bounded and no
// goroutine left behind once they close.
package hub_test

import (
	"fmt"
	"net/http"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"raftlab/raft"
	"raftlab/raft/wire"
	"raftlab/server/internal/hub"
)

func TestLoad200Connections(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const (
		clusters  = 40
		perClust  = 5 // 200 connections
		frames    = 100
		heapBound = 96 << 20
	)
	runtime.GC()
	baseline := runtime.NumGoroutine()
	all := map[string][]string{}
	for c := range clusters {
		var ms []string
		for m := range perClust {
			ms = append(ms, fmt.Sprintf("m%d", m))
		}
		all[fmt.Sprintf("c%02d", c)] = ms
	}
	s := newServer(t, hub.Config{}, all)

	// Sample the heap while the test runs.
	var peak atomic.Uint64
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stopSampling:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()

	type client struct {
		ws       *websocket.Conn
		cluster  string
		id       string
		received atomic.Int64
		done     chan struct{}
	}
	var clients []*client
	for c := range clusters {
		for m := range perClust {
			cl := &client{cluster: fmt.Sprintf("c%02d", c), id: fmt.Sprintf("m%d", m), done: make(chan struct{})}
			ws, _, err := websocket.DefaultDialer.Dial(s.url, nil)
			if err != nil {
				t.Fatalf("connection %d: %v", len(clients), err)
			}
			cl.ws = ws
			b, _ := wire.Encode(&wire.Envelope{Type: wire.TypeHello, Cluster: cl.cluster, Kind: wire.KindBrowser, Members: []string{cl.id}})
			if err := ws.WriteMessage(websocket.TextMessage, b); err != nil {
				t.Fatal(err)
			}
			clients = append(clients, cl)
		}
	}
	// Every client reads until its connection closes, counting the Raft messages it gets.
	for _, cl := range clients {
		go func() {
			defer close(cl.done)
			for {
				_, b, err := cl.ws.ReadMessage()
				if err != nil {
					return
				}
				if e, err := wire.Decode(b); err == nil && e.Type == wire.TypeMsgs {
					cl.received.Add(int64(len(e.Msgs)))
				}
			}
		}()
	}
	// Wait until every member is hosted, so that no message is sent to an absent member.
	waitFor(t, "every member to be hosted", 10*time.Second, func() bool {
		for name := range all {
			for _, m := range getInfo(t, s, name).Members {
				if !m.Reachable {
					return false
				}
			}
		}
		return true
	})
	if got := s.hub.Conns(); got != clusters*perClust {
		t.Fatalf("hub has %d connections; want %d", got, clusters*perClust)
	}
	// Every client sends frames messages round-robin to the other members of its cluster.
	var wg sync.WaitGroup
	var sendErrs atomic.Int64
	for _, cl := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range frames {
				to := fmt.Sprintf("m%d", (int(cl.id[1]-'0')+1+i%(perClust-1))%perClust)
				b, _ := wire.Encode(&wire.Envelope{Type: wire.TypeMsgs, Cluster: cl.cluster, Msgs: []raft.Message{
					{Type: raft.MsgAppReply, From: cl.id, To: to, Term: 1, Success: true, Index: uint64(i)},
				}})
				if err := cl.ws.WriteMessage(websocket.TextMessage, b); err != nil {
					sendErrs.Add(1)
					return
				}
				if i%10 == 9 {
					time.Sleep(time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	if n := sendErrs.Load(); n > 0 {
		t.Fatalf("%d clients could not send", n)
	}
	want := int64(len(clients) * frames)
	total := func() int64 {
		var n int64
		for _, cl := range clients {
			n += cl.received.Load()
		}
		return n
	}
	waitFor(t, "the messages to arrive", 20*time.Second, func() bool { return total() >= want })
	if got := total(); got != want {
		t.Errorf("received %d messages; sent %d", got, want)
	}

	for _, cl := range clients {
		cl.ws.Close()
		<-cl.done
	}
	waitFor(t, "the hub to drop every connection", 10*time.Second, func() bool { return s.hub.Conns() == 0 })
	close(stopSampling)
	<-sampled
	if p := peak.Load(); p > heapBound {
		t.Errorf("heap in use peaked at %d MiB; want at most %d MiB", p>>20, heapBound>>20)
	} else {
		t.Logf("heap in use peaked at %.1f MiB with %d connections", float64(p)/(1<<20), len(clients))
	}
	// Idle keep-alive connections of the API calls above are not the hub's.
	// What may remain is the test server's accept loop, which runs until the server closes.
	http.DefaultClient.CloseIdleConnections()
	waitForGoroutines(t, baseline+1)
}

// waitForGoroutines waits until no more than n goroutines run, and lists them if they don't.
func waitForGoroutines(t *testing.T, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > n {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("%d goroutines left; want at most %d:\n%s", runtime.NumGoroutine(), n, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestCloseLeavesNoGoroutines shuts the hub down with connections and members open.
func TestCloseLeavesNoGoroutines(t *testing.T) {
	runtime.GC()
	baseline := runtime.NumGoroutine()
	s := newServer(t, hub.Config{}, map[string][]string{"demo": {"b1", "b2", "b3"}})
	var cs []*rawClient
	for _, id := range []string{"b1", "b2", "b3"} {
		c := dial(t, s.url, nil)
		c.hello("demo", id)
		cs = append(cs, c)
	}
	s.hub.Close()
	for _, c := range cs {
		c.expectError(wire.CodeShutdown, "shutting down")
		c.ws.Close()
	}
	if s.hub.Conns() != 0 {
		t.Errorf("after Close: %d connections", s.hub.Conns())
	}
	if _, _, err := websocket.DefaultDialer.Dial(s.url, nil); err == nil {
		t.Error("a closed hub accepted a connection")
	}
	s.srv.Close()
	waitForGoroutines(t, baseline)
}
