//go:build !js

// Package metrics serves /metrics in the Prometheus text format, for the server and for
// `server node` processes: each native member's state and election counters, the messages
// the process moved (sent, delivered, dropped with the reason), and whatever else the caller
// registers (the scripting API's requests and commit latency). Values are read when /metrics
// is scraped; nothing here is on a hot path.
package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"raftlab/raft"
	"raftlab/server/internal/durhist"
	"raftlab/server/internal/linkstats"
	"raftlab/server/native"
)

// Member is one native member this process runs.
type Member struct {
	Cluster, ID string
	Stats       func() native.Stats
	// Writes, if set, is the histogram of its storage's synced writes.
	Writes func() durhist.Snapshot
}

// New returns a registry with the Go runtime's and the process's collectors, the members that
// members returns at each scrape, and the message counters of links.
func New(members func() []Member, links *linkstats.Counters) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	reg.MustRegister(&collector{members: members, links: links})
	return reg
}

// QueueWait exposes the histogram that snap returns as raftlab_hub_queue_wait_seconds.
func QueueWait(snap func() durhist.Snapshot) prometheus.Collector {
	return &histCollector{snap: snap}
}

var descQueueWait = prometheus.NewDesc("raftlab_hub_queue_wait_seconds", "How long frames waited in the send queues of the hub's connections before they were written.", nil, nil)

type histCollector struct{ snap func() durhist.Snapshot }

func (c *histCollector) Describe(ch chan<- *prometheus.Desc) { ch <- descQueueWait }
func (c *histCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- histogram(descQueueWait, c.snap(), nil)
}

// Handler serves reg at /metrics.
func Handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}

var (
	memberLabels = []string{"cluster", "member"}
	descTerm     = prometheus.NewDesc("raftlab_member_term", "The member's current term.", memberLabels, nil)
	descState    = prometheus.NewDesc("raftlab_member_state", "1 for the member's current role (follower, pre-candidate, candidate, leader, dead), 0 for the others.", append(memberLabels, "state"), nil)
	descCommit   = prometheus.NewDesc("raftlab_member_commit_index", "The highest log index the member knows to be committed.", memberLabels, nil)
	descApplied  = prometheus.NewDesc("raftlab_member_applied_index", "The highest log index the member has applied to its key-value store.", memberLabels, nil)
	descLast     = prometheus.NewDesc("raftlab_member_last_index", "The index of the last entry in the member's log.", memberLabels, nil)
	descTimeouts = prometheus.NewDesc("raftlab_election_timeouts_total", "Election timers that fired on the member (each starts a pre-vote, or with pre-vote off an election).", memberLabels, nil)
	descStarted  = prometheus.NewDesc("raftlab_elections_started_total", "Elections the member started as a candidate (each raises its term).", memberLabels, nil)
	descWon      = prometheus.NewDesc("raftlab_elections_won_total", "Times the member became leader.", memberLabels, nil)
	descLeaders  = prometheus.NewDesc("raftlab_leader_changes_total", "Times the member learned of a new leader (itself included).", memberLabels, nil)
	descLate     = prometheus.NewDesc("raftlab_timer_late_seconds", "How long after its deadline the member's goroutine fired its election or heartbeat timer: time it could not run (CPU starvation, a slow storage write).", memberLabels, nil)
	descWrites   = prometheus.NewDesc("raftlab_storage_write_seconds", "How long each of the member's synced storage writes (one bbolt transaction per step) took.", memberLabels, nil)
	descSent     = prometheus.NewDesc("raftlab_messages_sent_total", "Raft messages from the member that this process sent on (its own members' messages; in the server also those the hub relays).", memberLabels, nil)
	descDeliv    = prometheus.NewDesc("raftlab_messages_delivered_total", "Raft messages to the member that this process delivered (into a native member's inbox, or onto the send queue of the connection hosting it).", memberLabels, nil)
	descDropped  = prometheus.NewDesc("raftlab_messages_dropped_total", "Raft messages this process dropped, by reason: queue_full (a send queue or a member's inbox was full), unreachable (nobody hosts the destination, or the link to the hub is down), unreliable (unreliable mode).", []string{"cluster", "from", "to", "reason"}, nil)
)

var states = []raft.State{raft.Follower, raft.PreCandidate, raft.Candidate, raft.Leader, raft.Dead}

type collector struct {
	members func() []Member
	links   *linkstats.Counters
}

func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTerm, descState, descCommit, descApplied, descLast, descTimeouts, descStarted, descWon, descLeaders, descLate, descWrites, descSent, descDeliv, descDropped} {
		ch <- d
	}
}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	for _, m := range c.members() {
		s := m.Stats()
		l := []string{m.Cluster, m.ID}
		gauge := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, float64(v), l...)
		}
		counter := func(d *prometheus.Desc, v uint64) {
			ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), l...)
		}
		gauge(descTerm, s.Term)
		for _, st := range states {
			v := 0.0
			if s.State == st {
				v = 1
			}
			ch <- prometheus.MustNewConstMetric(descState, prometheus.GaugeValue, v, m.Cluster, m.ID, st.String())
		}
		gauge(descCommit, s.Commit)
		gauge(descApplied, s.Applied)
		gauge(descLast, s.Last)
		counter(descTimeouts, s.ElectionTimeouts)
		counter(descStarted, s.ElectionsStarted)
		counter(descWon, s.ElectionsWon)
		counter(descLeaders, s.LeaderChanges)
		ch <- histogram(descLate, s.TimerLate, l)
		if m.Writes != nil {
			ch <- histogram(descWrites, m.Writes(), l)
		}
	}
	if c.links == nil {
		return
	}
	totals, dropped := c.links.Snapshot()
	for _, t := range totals {
		ch <- prometheus.MustNewConstMetric(descSent, prometheus.CounterValue, float64(t.Sent), t.Cluster, t.ID)
		ch <- prometheus.MustNewConstMetric(descDeliv, prometheus.CounterValue, float64(t.Delivered), t.Cluster, t.ID)
	}
	for k, v := range dropped {
		ch <- prometheus.MustNewConstMetric(descDropped, prometheus.CounterValue, float64(v), k.Cluster, k.From, k.To, k.Reason)
	}
}

func histogram(d *prometheus.Desc, s durhist.Snapshot, labels []string) prometheus.Metric {
	buckets := make(map[float64]uint64, len(durhist.Bounds))
	for i, b := range durhist.Bounds {
		buckets[b.Seconds()] = s.Cumulative[i]
	}
	return prometheus.MustNewConstHistogram(d, s.Count, s.Sum.Seconds(), buckets, labels...)
}
