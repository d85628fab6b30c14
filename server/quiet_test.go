//go:build !js

// The quiet-cluster test: a mixed cluster of five native members (two in the server, three
// `server node` processes) under load from concurrent API clients, with a follower killed and
// restarted at a fixed period, must not hold a single election.

package main

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
)

var (
	quietDuration = flag.Duration("quiet.duration", 20*time.Second, "TestQuietCluster: how long to run the load")
	quietRestart  = flag.Duration("quiet.restart", 5*time.Second, "TestQuietCluster: how often to kill -9 and restart a follower")
	quietClients  = flag.Int("quiet.clients", 12, "TestQuietCluster: concurrent API clients")
	quietBurn     = flag.Int("quiet.burn", 0, "TestQuietCluster: goroutines that spin in the test process during the load, to load the machine further")
	quietArgs     = flag.String("quiet.args", "", "TestQuietCluster: extra server flags, space-separated (e.g. -prevote=false)")
)

// TestQuietCluster: no fault but follower restarts, so no election: the term and the leader
// stay those the cluster had when the load started. (Members may still time out and ask for
// pre-votes, which the others refuse while they hear the leader; the test logs each.)
func TestQuietCluster(t *testing.T) {
	if testing.Short() {
		t.Skip("process test")
	}
	dir := t.TempDir()
	args := []string{"-cluster", "demo", "-members", "n1,n2,n3,n4,n5", "-native", "n1,n2", "-data", filepath.Join(dir, "server")}
	if *quietArgs != "" {
		args = append(args, strings.Fields(*quietArgs)...)
	}
	srv, base := startServer(t, "127.0.0.1:0", args...)
	nodes := map[string]*proc{}
	var logs []*proc // every process that ran, for the election count at the end
	logs = append(logs, srv)
	figures := &quietFigures{drops: map[string]float64{}}
	addrs := map[string]string{}
	startNode := func(id string) {
		nodes[id] = startProc(t, id, "node", "-cluster", "demo", "-id", id, "-join", "ws://"+base+"/ws", "-data", filepath.Join(dir, id), "-http", "127.0.0.1:0")
		addrs[id] = nodes[id].waitOutput(t, nodeHTTPRE)[1]
		logs = append(logs, nodes[id])
	}
	for _, id := range []string{"n3", "n4", "n5"} {
		startNode(id)
	}
	waitUntil(t, "a leader and every member reachable", func() bool {
		c := clusterInfo(t, base)
		if c.Leader == "" {
			return false
		}
		for _, m := range c.Members {
			if !m.Reachable || m.Commit < c.member(c.Leader).Commit {
				return false
			}
		}
		return true
	})
	start := clusterInfo(t, base)
	// Election timeouts count from here: the first election is not one.
	skip := map[*proc]int{}
	for _, p := range logs {
		skip[p] = len(p.output())
	}
	t.Logf("load starts: leader %s, term %d, load average %s", start.Leader, start.Term, loadAvg())

	var ok, failed atomic.Int64
	var failures sync.Map // status -> count
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range *quietBurn {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for x := 0; ; x++ {
				if x%1_000_000 == 0 {
					select {
					case <-stop:
						return
					default:
					}
				}
			}
		}()
	}
	for c := range *quietClients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := &http.Client{Timeout: 15 * time.Second}
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				resp, err := client.Post("http://"+base+"/api/clusters/demo/commands?timeout=10s", "text/plain",
					strings.NewReader(fmt.Sprintf("put k%d %d", c, i)))
				if err != nil {
					failed.Add(1)
					continue
				}
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					ok.Add(1)
				} else {
					failed.Add(1)
					v, _ := failures.LoadOrStore(resp.StatusCode, new(atomic.Int64))
					v.(*atomic.Int64).Add(1)
				}
			}
		}()
	}

	// Restart a follower every period, in turn.
	deadline := time.Now().Add(*quietDuration)
	restarts := 0
	for time.Now().Add(*quietRestart).Before(deadline.Add(time.Millisecond)) {
		next := time.Now().Add(*quietRestart)
		for time.Now().Before(next) {
			time.Sleep(50 * time.Millisecond)
		}
		// A follower for sure: the API names the leader and the victim says it follows.
		var victim string
		waitUntil(t, "a follower to restart", func() bool {
			c := clusterInfo(t, base)
			for i := range 3 {
				id := []string{"n3", "n4", "n5"}[(restarts+i)%3]
				if m := c.member(id); c.Leader != "" && id != c.Leader && m.State == "follower" && m.Reachable {
					victim = id
					return true
				}
			}
			return false
		})
		figures.add(scrape(t, "http://"+addrs[victim]+"/metrics"))
		nodes[victim].kill(t)
		startNode(victim)
		restarts++
		t.Logf("%v: restarted follower %s (load average %s)", time.Since(deadline.Add(-*quietDuration)).Round(time.Second), victim, loadAvg())
	}
	for time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	wg.Wait()
	end := clusterInfo(t, base)
	figures.add(scrape(t, "http://"+base+"/metrics"))
	for _, id := range []string{"n3", "n4", "n5"} {
		figures.add(scrape(t, "http://"+addrs[id]+"/metrics"))
	}
	t.Logf("metrics: %s", figures)

	timeoutRE := regexp.MustCompile(`(?m)^.*election timeout.*$`)
	var timeouts []string
	for _, p := range logs {
		timeouts = append(timeouts, timeoutRE.FindAllString(p.output()[skip[p]:], -1)...)
	}
	var codes []string
	failures.Range(func(k, v any) bool {
		codes = append(codes, fmt.Sprintf("%v×%d", k, v.(*atomic.Int64).Load()))
		return true
	})
	t.Logf("after %v: %d restarts, %d commands committed, %d failed %v, term %d → %d, leader %s → %s, %d election timeouts, load average %s",
		*quietDuration, restarts, ok.Load(), failed.Load(), codes, start.Term, end.Term, start.Leader, end.Leader, len(timeouts), loadAvg())
	for _, l := range timeouts {
		t.Log(l)
	}
	if ok.Load() == 0 || restarts == 0 {
		t.Errorf("%d commands committed and %d followers restarted: the test did not load the cluster", ok.Load(), restarts)
	}
	// An election raises the term; a pre-vote that the others refuse does not.
	if end.Term != start.Term || end.Leader != start.Leader {
		t.Errorf("term %d → %d, leader %s → %s in %v without a fault; want no election", start.Term, end.Term, start.Leader, end.Leader, *quietDuration)
	}
	// On failure, the histograms say who could not run, and for how long.
	if t.Failed() {
		for _, a := range []string{base, addrs["n3"], addrs["n4"], addrs["n5"]} {
			if resp, err := http.Get("http://" + a + "/metrics"); err == nil {
				b, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				for _, l := range strings.Split(string(b), "\n") {
					if strings.HasPrefix(l, "raftlab_") && strings.Contains(l, "_bucket") {
						t.Logf("%s: %s", a, l)
					}
				}
			}
		}
	}
}

// loadAvg returns the machine's load averages, for the log.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

// quietFigures sums what the processes' /metrics said: drops by reason, and timer firings by
// lateness.
type quietFigures struct {
	drops             map[string]float64
	ticks, late50     float64 // timer firings, and those more than 50 ms late
	writes, slow50    float64 // synced storage writes, and those that took more than 50 ms
	frames, waited50  float64 // frames through the hub's send queues, and those that waited more than 50 ms
	timeouts, started float64
}

func (f *quietFigures) add(fams map[string]*dto.MetricFamily) {
	if fam := fams["raftlab_messages_dropped_total"]; fam != nil {
		for _, m := range fam.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "reason" {
					f.drops[l.GetValue()] += m.GetCounter().GetValue()
				}
			}
		}
	}
	over := func(name string, count, slow *float64) {
		if fam := fams[name]; fam != nil {
			for _, m := range fam.GetMetric() {
				h := m.GetHistogram()
				*count += float64(h.GetSampleCount())
				for _, b := range h.GetBucket() {
					if b.GetUpperBound() == 0.05 {
						*slow += float64(h.GetSampleCount() - b.GetCumulativeCount())
					}
				}
			}
		}
	}
	over("raftlab_timer_late_seconds", &f.ticks, &f.late50)
	over("raftlab_storage_write_seconds", &f.writes, &f.slow50)
	over("raftlab_hub_queue_wait_seconds", &f.frames, &f.waited50)
	v, _ := metricValue(fams, "raftlab_election_timeouts_total", nil)
	f.timeouts += v
	v, _ = metricValue(fams, "raftlab_elections_started_total", nil)
	f.started += v
}

func (f *quietFigures) String() string {
	return fmt.Sprintf("dropped %v; %.0f timer firings, %.0f of them over 50 ms late; %.0f storage writes, %.0f of them over 50 ms; %.0f frames through the hub's queues, %.0f of them waited over 50 ms; %.0f election timeouts and %.0f elections started since the processes started (the first election included)",
		f.drops, f.ticks, f.late50, f.writes, f.slow50, f.frames, f.waited50, f.timeouts, f.started)
}
