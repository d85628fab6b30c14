// Course features of the lab: every run is recorded (seed, configuration, the person's actions
// with their simulated times), encoded into share links, replayed exactly, and cut at any
// earlier time to go back and fork.

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"raftlab/raft"
	"raftlab/raft/sim"
)

// Notes the lab writes into the trace (and so into the recorded actions) when the person
// switches the client load: a replay switches it at the same simulated time.
const (
	loadOnNote  = "client load on"
	loadOffNote = "client load off"
)

func loadNote(on bool) string {
	if on {
		return loadOnNote
	}
	return loadOffNote
}

// course is the part of a Lab that records, replays and guides.
type course struct {
	base    sim.Run           // the run's configuration, without actions
	initial map[string]string // the cluster's keys in storage when it started
	fresh   bool              // the cluster started from empty storage: a link reproduces it
	memory  string            // why the run is kept in memory, not localStorage ("" in free play)
	future  []sim.Action      // recorded actions after now: played as time moves forward
	end     time.Duration     // the furthest time this run has reached (the slider's end)
	broken  time.Duration     // when the checker found a violation (valid if brokeOK)
	brokeOK bool

	guide    *guide   // a guided scenario (guide.go), or nil
	timeline timeline // messages and marks for the timeline diagram (timeline.go)
}

// begin notes where the cluster starts from: the keys of its storage.
func (c *course) begin(store KeyValue, cfg Config, cluster string, keys []string) {
	c.setBase(cfg)
	prefix := clusterPrefix(cluster)
	c.initial = map[string]string{}
	for _, k := range keys {
		if strings.HasPrefix(k, prefix) {
			if v, ok := store.GetItem(k); ok {
				c.initial[k] = v
			}
		}
	}
	c.fresh = len(c.initial) <= 1 // only the cluster record, just written
}

// onEvent follows the notes that switch the client load, in a recording and in its replay.
func (c *course) onEvent(l *Lab, e raft.Event) {
	c.timeline.onEvent(e)
	if e.Kind == raft.EvViolation && !c.brokeOK {
		c.broken, c.brokeOK = e.Time, true
	}
	if e.Kind != raft.EvNote {
		return
	}
	switch e.Detail {
	case loadOnNote:
		if !l.load {
			l.load, l.loadNext = true, e.Time
		}
	case loadOffNote:
		l.load = false
	default:
		if strings.HasPrefix(e.Detail, followerReadNote) {
			l.onFollowerRead(e.Detail)
		}
	}
}

// due performs the next recorded future action if it comes before the next event (an action
// at time t comes after every event due at t, as when the person did it) and not after
// target. It reports whether it did.
func (c *course) due(l *Lab, target, next time.Duration, pending bool) bool {
	if len(c.future) == 0 {
		return false
	}
	a := c.future[0]
	if a.At > target || (pending && next <= a.At) || (l.load && l.loadNext <= a.At) {
		return false
	}
	c.future = c.future[1:]
	l.c.RunUntil(a.At)
	if err := l.do(a, l.c.Do); err != nil {
		// The same action succeeded when it was recorded; a replay that refuses it has diverged.
		l.nodeErr[a.Node] = fmt.Sprintf("replay: recorded action %s failed: %v", a, err)
	}
	l.checkStorage()
	return true
}

// loadFirst reports whether a load tick at t comes before the next recorded action (a tick
// and an action at the same time: the tick first, as when the person acted after a frame).
func (c *course) loadFirst(t time.Duration) bool {
	return len(c.future) == 0 || t <= c.future[0].At
}

// beforeAct runs what is due at the present moment before the person's action, so that the
// action comes after every event of its time, as a replay of it will.
func (c *course) beforeAct(l *Lab, _ Action) error {
	if c.guide != nil {
		l.c.RunUntil(l.c.Now())
		return nil
	}
	l.Advance(0, time.Hour)
	return nil
}

// act performs the person's action on the cluster (through the scenario player in guided
// mode). Acting in the past forks: the recorded future is dropped.
func (l *Lab) act(a sim.Action) error {
	if g := l.course.guide; g != nil {
		return l.do(a, func(a sim.Action) error { return g.act(l, a) })
	}
	if err := l.do(a, l.c.Do); err != nil {
		return err
	}
	if len(l.course.future) > 0 {
		l.course.future = nil
		l.course.end = l.c.Now()
	}
	return nil
}

// Run returns the run so far: its configuration and every recorded action, including those
// still ahead of the present after a seek back.
func (l *Lab) Run() *sim.Run {
	r := l.course.base
	r.Actions = append(l.c.Recorded(), l.course.future...)
	return &r
}

// End is the furthest simulated time the run has reached.
func (l *Lab) End() time.Duration { return max(l.course.end, l.c.Now()) }

// Share describes the run as a link's parts.
type Share struct {
	// Run is the sim.Run as JSON. The page deflates it and encodes it in base64url, as
	// sim.Run.Encode does (compression happens in the browser: the wasm module stays small).
	Run   json.RawMessage `json:"run"`
	Now   float64         `json:"now"`   // simulated ms: the link opens the run at this time
	Fresh bool            `json:"fresh"` // false: the cluster started from stored state a link cannot carry
	Hash  string          `json:"hash"`  // the trace hash at Now
}

// Share returns the run's link parts.
func (l *Lab) Share() (Share, error) {
	if l.course.guide != nil {
		return Share{}, errors.New("a guided scenario is shared by its name and step, not as a run")
	}
	b, err := json.Marshal(l.Run())
	if err != nil {
		return Share{}, err
	}
	return Share{Run: b, Now: ms(l.c.Now()), Fresh: l.course.fresh, Hash: l.c.TraceHash()}, nil
}

// ParseRun reads a run's JSON (a link after the page inflated it; see sim.DecodeRun) and
// validates it.
func ParseRun(b []byte) (*sim.Run, error) {
	var r sim.Run
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("run: damaged link (%v)", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}

// OpenRun replays run in memory up to simulated time until; its later actions play as time
// moves forward. initial, if set, is the storage the cluster started from. memory says why the
// run is not in localStorage, for the page.
func OpenRun(run *sim.Run, until time.Duration, initial map[string]string, memory string) (*Lab, error) {
	if err := run.Validate(); err != nil {
		return nil, err
	}
	if until < 0 {
		return nil, fmt.Errorf("run: time %v is before the start", until)
	}
	store := NewMemStore()
	for _, k := range slices.Sorted(maps.Keys(initial)) {
		if err := store.SetItem(k, initial[k]); err != nil {
			return nil, err
		}
	}
	l, err := newLab(store, runConfig(run), func(o sim.Options) (*sim.Cluster, error) {
		ro := run.Options()
		o.Unreliable, o.Unordered, o.LatencyMin, o.LatencyMax = ro.Unreliable, ro.Unordered, ro.LatencyMin, ro.LatencyMax
		return sim.New(o)
	})
	if err != nil {
		return nil, err
	}
	base := *run
	base.Actions = nil
	l.course.base = base
	l.course.memory = memory
	l.cluster = "memory:" + l.cluster // not localStorage: other tabs' writes there are no conflict
	if initial != nil {
		l.course.initial, l.course.fresh = maps.Clone(initial), len(initial) <= 1
	}
	l.course.future = slices.Clone(run.Actions)
	l.Advance(until, time.Hour)
	l.course.end = until
	return l, nil
}

// Seek returns the run replayed to simulated time t (0 … End) in a new lab in memory; the
// recorded actions after t play again as time moves forward, until the person acts.
func (l *Lab) Seek(t time.Duration) (*Lab, error) {
	if l.course.guide != nil {
		return nil, errors.New("in a guided scenario, go back with Back or by choosing a step")
	}
	end := l.End()
	if t < 0 || t > end {
		return nil, fmt.Errorf("time %v is outside this run (0 to %v)", t, end)
	}
	memory := l.course.memory
	if memory == "" {
		memory = "time travel"
	}
	nl, err := OpenRun(l.Run(), t, l.course.initial, memory)
	if err != nil {
		return nil, err
	}
	nl.course.end = end
	nl.timerMax = l.timerMax
	return nl, nil
}

// Timeline is where the run stands, for the page's time slider.
type Timeline struct {
	Now     float64  `json:"now"`
	End     float64  `json:"end"`
	Future  int      `json:"future"` // recorded actions still ahead
	Actions int      `json:"actions"`
	Memory  string   `json:"memory"` // why the run is in memory; "" when nodes use localStorage
	Fresh   bool     `json:"fresh"`
	Guided  bool     `json:"guided"`
	Seed    uint64   `json:"seed"`
	Nodes   int      `json:"nodes"`
	Bugs    []string `json:"bugs"`
	Options []string `json:"options"` // Raft options on (pre-vote)
	Compact int      `json:"compact"` // the log compaction threshold (0: off)
	// ViolationAt is the simulated ms of the checker's violation (-1: none): the page offers to
	// replay to just before it.
	ViolationAt float64 `json:"violationAt"`
}

// Timeline reports the run's extent.
func (l *Lab) Timeline() Timeline {
	t := Timeline{Now: ms(l.c.Now()), End: ms(l.End()), Future: len(l.course.future),
		Actions: len(l.c.Recorded()) + len(l.course.future), Memory: l.course.memory,
		Fresh: l.course.fresh, Guided: l.course.guide != nil, Seed: l.course.base.Seed,
		Nodes: l.course.base.Nodes, Bugs: bugNames(l.course.base), Options: optionNames(l.course.base), Compact: l.course.base.Compact, ViolationAt: -1}
	if l.course.brokeOK {
		t.ViolationAt = ms(l.course.broken)
	}
	return t
}

// BeforeViolation replays the run to just before the checker's violation (1 µs before the
// event that broke a property), so that the person can step into it.
func (l *Lab) BeforeViolation() (*Lab, error) {
	if !l.course.brokeOK {
		return nil, errors.New("the checker has found no violation in this run")
	}
	return l.Seek(max(l.course.broken-time.Microsecond, 0))
}

// BreakIt starts a cluster of n nodes in memory with the named break-it switches planted,
// options (optionSwitches) on, and compaction threshold compact.
func BreakIt(n int, seed uint64, names []string, compact int) (*Lab, error) {
	r := sim.Run{Version: sim.RunVersion, Nodes: n, Seed: seed, Compact: compact}
	for _, name := range names {
		found := false
		for _, list := range [...][]bugSwitch{bugSwitches, optionSwitches} {
			for _, s := range list {
				if s.Name == name {
					*s.field(&r), found = true, true
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("no break-it switch or option %q", name)
		}
	}
	switch n {
	case 3, 5, 7, 9:
	default:
		return nil, fmt.Errorf("lab: %d nodes; choose 3, 5, 7 or 9", n)
	}
	why := "break-it switches"
	if len(bugNames(r)) == 0 {
		why = "options"
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return OpenRun(&r, 0, nil, why)
}

// TraceHash is the hash of every event so far: equal hashes at equal times mean equal runs.
func (l *Lab) TraceHash() string { return l.c.TraceHash() }

// setBase records the configuration of a free-play or guided lab.
func (c *course) setBase(cfg Config) {
	c.base = cfg.run()
}

// bugNames lists the break-it switches that are on.
func bugNames(r sim.Run) []string { return switchesOn(bugSwitches, r) }

// optionNames lists the options that are on.
func optionNames(r sim.Run) []string { return switchesOn(optionSwitches, r) }

func switchesOn(list []bugSwitch, r sim.Run) []string {
	out := []string{}
	for _, s := range list {
		if *s.field(&r) {
			out = append(out, s.Name)
		}
	}
	return out
}

// bugSwitch is one break-it switch as the page offers it.
type bugSwitch struct {
	Name  string               `json:"name"`
	Label string               `json:"label"`
	field func(*sim.Run) *bool `json:"-"`
}

// bugSwitches are the core's raft.Bugs and, last, the key-value service's follower reads
// (which the checker of the client history catches, not the live checker) and snapshots
// without sessions.
var bugSwitches = []bugSwitch{
	{"ForgetVote", "don't persist votedFor", func(r *sim.Run) *bool { return &r.Bugs.ForgetVote }},
	{"CommitByCounting", "commit earlier-term entries by counting replicas", func(r *sim.Run) *bool { return &r.Bugs.CommitByCounting }},
	{"FixedElectionTimeout", "fixed (not randomized) election timeouts", func(r *sim.Run) *bool { return &r.Bugs.FixedElectionTimeout }},
	{"SkipConsistencyCheck", "follower skips the log consistency check", func(r *sim.Run) *bool { return &r.Bugs.SkipConsistencyCheck }},
	{"IgnoreHigherTerm", "leader ignores a higher term", func(r *sim.Run) *bool { return &r.Bugs.IgnoreHigherTerm }},
	{"VoteByLogLength", "voters compare log length, not the last term", func(r *sim.Run) *bool { return &r.Bugs.VoteByLogLength }},
	{"CompactUnapplied", "compact log entries not yet applied", func(r *sim.Run) *bool { return &r.Bugs.CompactUnapplied }},
	{"ChangeBeforeCommit", "accept a membership change before committing an entry of the term", func(r *sim.Run) *bool { return &r.Bugs.ChangeBeforeCommit }},
	{"FollowerReads", "serve reads from a follower", func(r *sim.Run) *bool { return &r.FollowerReads }},
	{"ForgetSessions", "snapshots forget the client sessions", func(r *sim.Run) *bool { return &r.ForgetSessions }},
}

// optionSwitches are correct extensions of Raft, off by default, that a person can turn on to
// compare (the page's Options panel).
var optionSwitches = []bugSwitch{
	{"PreVote", "pre-vote (Raft thesis §9.6)", func(r *sim.Run) *bool { return &r.PreVote }},
	{"CheckQuorum", "check quorum: a leader cut off from a majority steps down", func(r *sim.Run) *bool { return &r.CheckQuorum }},
	{"JointConsensus", "joint consensus: membership changes pass through C_old,new (Raft §6), several servers at once", func(r *sim.Run) *bool { return &r.JointConsensus }},
}

// storageNamespace prefixes the clusters' names in storage ("" for the page itself), so that
// labs embedded in one host page keep their nodes apart: raftlab/<namespace>/lab5/n1/...
var storageNamespace string

// SetNamespace sets the storage namespace for the clusters started after it: letters, digits
// and '-', at most 32; "" is the page's own.
func SetNamespace(ns string) error {
	if len(ns) > 32 {
		return fmt.Errorf("namespace %q: at most 32 characters", ns)
	}
	for _, r := range ns {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return fmt.Errorf("namespace %q: use letters, digits and '-'", ns)
		}
	}
	storageNamespace = ""
	if ns != "" {
		storageNamespace = ns + "/"
	}
	return nil
}
