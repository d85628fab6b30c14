//go:build !js

package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape GETs a /metrics page and parses it with Prometheus's text parser.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", url, resp.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: the Prometheus text parser refused it: %v", url, err)
	}
	return fams
}

// metricValue returns the value of the sample of family name whose labels include want, and
// whether there is one. Counters, gauges and untyped samples have a value; a histogram gives
// its sample count.
func metricValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
	total, found := 0.0, false
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		found = true
		switch {
		case m.Counter != nil:
			total += m.Counter.GetValue()
		case m.Gauge != nil:
			total += m.Gauge.GetValue()
		case m.Histogram != nil:
			total += float64(m.Histogram.GetSampleCount())
		case m.Untyped != nil:
			total += m.Untyped.GetValue()
		}
	}
	return total, found
}

var nodeHTTPRE = regexp.MustCompile(`serving http://([^/]+)/metrics`)

// TestMetricsScrape: /metrics on the server and on `server node -http` parse with Prometheus's
// text parser and report the members, their elections, the messages and the API.
func TestMetricsScrape(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	// b1 is a member nobody hosts: messages to it are dropped as unreachable.
	_, base := startServer(t, "127.0.0.1:0", "-cluster", "demo", "-members", "n1,n2,n3,b1", "-native", "n1,n2", "-data", filepath.Join(dir, "server"))
	n3 := startProc(t, "n3", "node", "-cluster", "demo", "-id", "n3", "-join", "ws://"+base+"/ws", "-data", filepath.Join(dir, "n3"), "-http", "127.0.0.1:0")
	n3addr := n3.waitOutput(t, nodeHTTPRE)[1]
	waitUntil(t, "a leader", func() bool { return clusterInfo(t, base).Leader != "" })
	for i := range 5 {
		mustCommand(t, base, fmt.Sprintf("put k%d %d", i, i))
	}
	if code, _ := command(t, base, "put"); code != http.StatusBadRequest {
		t.Fatalf("a malformed command = %d; want 400", code)
	}
	// n3's own API, with the leadership in the server (n1, whom the server's API makes lead):
	// n1 serves no API of its own, so n3 forwards to the server's, which reaches n1 through
	// the hub. A command, a transfer to n2 (also in the server), a malformed command, a GET.
	if code, out := transfer(t, base, "?to=n1&timeout=10s"); code != http.StatusOK {
		t.Fatalf("transfer to n1 through the server: %d %v", code, out)
	}
	if code, out := command(t, n3addr, "put n3 x"); code != http.StatusOK || out["member"] != "n1" {
		t.Fatalf("a command through n3's API while n1 leads: %d %v; want 200 from n1, through the server", code, out)
	}
	if code, out := transfer(t, n3addr, "?to=n2&timeout=10s"); code != http.StatusOK || out["transfer"] != "n2" {
		t.Fatalf("transfer to n2 through n3's API while n1 leads: %d %v; want 200", code, out)
	}
	if code, _ := command(t, n3addr, "put"); code != http.StatusBadRequest {
		t.Fatalf("a malformed command through n3's API = %d; want 400", code)
	}
	clusterInfo(t, n3addr)
	info := clusterInfo(t, base)
	srv := scrape(t, "http://"+base+"/metrics")
	node := scrape(t, "http://"+n3addr+"/metrics")

	for _, m := range []struct {
		fams map[string]*dto.MetricFamily
		id   string
	}{{srv, "n1"}, {srv, "n2"}, {node, "n3"}} {
		l := map[string]string{"cluster": "demo", "member": m.id}
		for _, name := range []string{"raftlab_member_term", "raftlab_member_commit_index", "raftlab_member_applied_index", "raftlab_member_last_index",
			"raftlab_elections_started_total", "raftlab_elections_won_total", "raftlab_election_timeouts_total", "raftlab_timer_late_seconds",
			"raftlab_storage_write_seconds", "raftlab_messages_sent_total"} {
			if _, ok := metricValue(m.fams, name, l); !ok {
				t.Errorf("no %s for %s", name, m.id)
			}
		}
		if v, _ := metricValue(m.fams, "raftlab_member_term", l); v < 1 || uint64(v) > info.Term {
			t.Errorf("%s: term %v; the cluster is in term %d", m.id, v, info.Term)
		}
		if v, _ := metricValue(m.fams, "raftlab_member_applied_index", l); v < 1 {
			t.Errorf("%s: applied index %v; want the commands applied", m.id, v)
		}
		state := "follower"
		if m.id == info.Leader {
			state = "leader"
		}
		if v, _ := metricValue(m.fams, "raftlab_member_state", map[string]string{"member": m.id, "state": state}); v != 1 {
			t.Errorf("%s: raftlab_member_state{state=%q} = %v; want 1 (the API says the leader is %s)", m.id, state, v, info.Leader)
		}
	}
	won := 0.0
	for _, f := range []map[string]*dto.MetricFamily{srv, node} {
		v, _ := metricValue(f, "raftlab_elections_won_total", nil)
		won += v
	}
	if won < 1 {
		t.Errorf("elections won in all = %v; want at least the leader's", won)
	}
	if v, _ := metricValue(srv, "raftlab_messages_dropped_total", map[string]string{"to": "b1", "reason": "unreachable"}); v < 1 {
		t.Errorf("messages to b1, whom nobody hosts, dropped as unreachable: %v; want some", v)
	}
	if v, _ := metricValue(node, "raftlab_messages_delivered_total", map[string]string{"member": "n3"}); v < 1 {
		t.Errorf("messages delivered to n3 in its process: %v; want some", v)
	}
	if v, _ := metricValue(srv, "raftlab_api_requests_total", map[string]string{"endpoint": "commands", "outcome": "ok"}); v != 6 {
		t.Errorf("API commands answered 200: %v; want 6 (5, and the one n3 forwarded)", v)
	}
	if v, _ := metricValue(srv, "raftlab_api_requests_total", map[string]string{"endpoint": "commands", "outcome": "malformed"}); v != 1 {
		t.Errorf("API commands answered 400: %v; want 1", v)
	}
	if v, _ := metricValue(srv, "raftlab_api_commit_seconds", nil); v != 6 {
		t.Errorf("commit latency observations: %v; want 6", v)
	}
	if _, ok := metricValue(srv, "raftlab_hub_queue_wait_seconds", nil); !ok {
		t.Error("no raftlab_hub_queue_wait_seconds")
	}
	// The node's API counts its own requests, as the server's does.
	for _, c := range []struct {
		endpoint, outcome string
		want              float64
	}{{"commands", "ok", 1}, {"commands", "malformed", 1}, {"cluster", "ok", 1}, {"transfer", "ok", 1}, {"transfer", "conflict", 0}} {
		if v, _ := metricValue(node, "raftlab_api_requests_total", map[string]string{"endpoint": c.endpoint, "outcome": c.outcome}); v != c.want {
			t.Errorf("n3's API: %s answered %s: %v; want %v", c.endpoint, c.outcome, v, c.want)
		}
	}
	if v, _ := metricValue(node, "raftlab_api_commit_seconds", nil); v != 1 {
		t.Errorf("n3's API: commit latency observations: %v; want 1", v)
	}
	if _, ok := srv["go_goroutines"]; !ok {
		t.Error("no Go runtime metrics on the server")
	}
}
