// The player: steps through a scenario on a simulated cluster.

package scenario

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"raftlab/raft"
	"raftlab/raft/sim"
)

// DefaultWithin bounds how long a step waits for its Until condition.
const DefaultWithin = 5 * time.Second

// Player runs one scenario. A page drives the cluster's clock itself between Begin and Done;
// a headless player (tests, Seek) calls Finish.
type Player struct {
	Scenario *Scenario
	Cluster  *sim.Cluster

	step    int // the current step, -1 before the first
	began   time.Duration
	asking  *ActionSpec
	vars    map[string]string
	applied map[string]map[string]int // node → command → times applied in this lifetime
	// cmdIndex is where each command was first applied (on any node): a node that restores a
	// snapshot up to i has the commands up to i in its state without applying them.
	cmdIndex map[string]uint64
}

// NewPlayer builds the scenario's cluster. options, if set, may add to the simulator's options
// (an OnEvent hook for the page, say); the scenario's own settings win.
func NewPlayer(sc *Scenario, options func(*sim.Options)) (*Player, error) {
	p := &Player{Scenario: sc, step: -1, vars: map[string]string{}, applied: map[string]map[string]int{}, cmdIndex: map[string]uint64{}}
	o := sim.Options{}
	if options != nil {
		options(&o)
	}
	onApply := o.OnApply
	o.Nodes, o.IDs, o.Seed, o.Unreliable = sc.Config.Nodes, nil, sc.Config.Seed, sc.Config.Unreliable
	o.Raft.ElectionTimeoutMin = time.Duration(sc.Config.ElectionTimeoutMin)
	o.Raft.ElectionTimeoutMax = time.Duration(sc.Config.ElectionTimeoutMax)
	o.Raft.MaxEntriesPerMsg = sc.Config.MaxEntriesPerMsg
	o.Raft.Bugs, o.Raft.PreVote, o.Raft.CheckQuorum = sc.Config.Bugs, sc.Config.PreVote, sc.Config.CheckQuorum
	o.Raft.JointConsensus = sc.Config.JointConsensus
	o.Raft.CompactThreshold = sc.Config.Compact
	o.OnApply = func(id string, e raft.CommitEntry) {
		if e.Type == raft.EntryCommand {
			if p.applied[id] == nil {
				p.applied[id] = map[string]int{}
			}
			p.applied[id][string(e.Command)]++
			if _, ok := p.cmdIndex[string(e.Command)]; !ok {
				p.cmdIndex[string(e.Command)] = e.Index
			}
		}
		if onApply != nil {
			onApply(id, e)
		}
	}
	onSnapshot := o.OnSnapshot
	o.OnSnapshot = func(id string, s *raft.Snapshot) {
		p.applied[id] = map[string]int{}
		for cmd, i := range p.cmdIndex {
			if i <= s.Index {
				p.applied[id][cmd]++
			}
		}
		if onSnapshot != nil {
			onSnapshot(id, s)
		}
	}
	onEvent := o.OnEvent
	o.OnEvent = func(e raft.Event) {
		if e.Kind == raft.EvCrash {
			p.applied[e.Node] = nil // a restarted node applies everything again
		}
		if onEvent != nil {
			onEvent(e)
		}
	}
	c, err := sim.New(o)
	if err != nil {
		return nil, err
	}
	p.Cluster = c
	return p, nil
}

// Step returns the index of the current step (-1 before the first).
func (p *Player) Step() int { return p.step }

// Asking returns the action the current step waits for the person to perform, or nil.
func (p *Player) Asking() *ActionSpec { return p.asking }

// Begin enters step i (which must be the next one): binds its names, and performs its actions
// unless it first asks the person for one.
func (p *Player) Begin(i int) error {
	if i != p.step+1 || i >= len(p.Scenario.Steps) {
		return fmt.Errorf("scenario: cannot begin step %d after step %d", i+1, p.step+1)
	}
	// Every event due now comes first, as when a person acts in free play: a step's pause
	// point can come between two events of the same time.
	p.Cluster.RunUntil(p.Cluster.Now())
	p.step = i
	st := &p.Scenario.Steps[i]
	for name, ref := range st.Let {
		id, err := p.resolve(ref)
		if err != nil {
			return fmt.Errorf("step %d let %s: %w", i+1, name, err)
		}
		p.vars[name] = id
	}
	p.began = p.Cluster.Now()
	if st.Ask != nil {
		a := *st.Ask
		var err error
		if a.Kind == string(sim.ActAddServer) && !strings.HasPrefix(a.Node, "$") {
			// a server that joins now: not in the cluster yet
		} else if a.Node, err = p.resolveOpt(a.Node); err != nil { // "$leader" means the leader now
			return fmt.Errorf("step %d ask: %w", i+1, err)
		}
		if a.Peer, err = p.resolveOpt(a.Peer); err != nil {
			return fmt.Errorf("step %d ask: %w", i+1, err)
		}
		p.asking = &a
		return nil
	}
	return p.doActions()
}

func (p *Player) doActions() error {
	st := &p.Scenario.Steps[p.step]
	for _, a := range st.Do {
		if err := p.perform(a); err != nil {
			return fmt.Errorf("step %d: %w", p.step+1, err)
		}
	}
	p.began = p.Cluster.Now()
	return nil
}

// Act performs an action of the person. If the step is waiting for it, the step goes on.
// It reports whether the action was the one asked for.
func (p *Player) Act(a sim.Action) (bool, error) {
	if err := p.Cluster.Do(a); err != nil {
		return false, err
	}
	if p.asking == nil || !p.matches(*p.asking, a) {
		return false, nil
	}
	p.asking = nil
	return true, p.doActions()
}

func (p *Player) matches(ask ActionSpec, a sim.Action) bool {
	if len(ask.Voters) > 0 {
		want, err := p.action(ask)
		if err != nil || !slices.Equal(slices.Sorted(slices.Values(want.Voters)), slices.Sorted(slices.Values(a.Voters))) {
			return false
		}
	}
	return sim.ActionKind(ask.Kind) == a.Kind && (ask.Node == "" || ask.Node == a.Node) && (ask.Peer == "" || ask.Peer == a.Peer)
}

// Done reports whether the current step has reached its pause point.
func (p *Player) Done() bool {
	if p.step < 0 || p.asking != nil {
		return false
	}
	st := &p.Scenario.Steps[p.step]
	switch {
	case st.Until != nil:
		ok, _ := p.Holds(*st.Until)
		return ok
	case st.For > 0:
		return p.Cluster.Now() >= p.began+time.Duration(st.For)
	}
	return true
}

// Advance runs the cluster toward simulated time t, one event at a time, stopping exactly at
// the pause point if the step reaches it first. It reports whether the step is done. A page
// calls it once per animation frame.
func (p *Player) Advance(t time.Duration) bool {
	if p.step < 0 || p.asking != nil {
		return false // waiting for the person: time stands still
	}
	if st := &p.Scenario.Steps[p.step]; st.Until == nil {
		t = min(t, p.Deadline())
	}
	for !p.Done() {
		next, ok := p.Cluster.Next()
		if !ok || next > t {
			p.Cluster.RunUntil(t)
			return p.Done()
		}
		p.Cluster.Step()
	}
	return true
}

// Deadline returns the simulated time by which the current step must be done.
func (p *Player) Deadline() time.Duration {
	st := &p.Scenario.Steps[p.step]
	if st.Until == nil {
		return p.began + time.Duration(st.For)
	}
	within := time.Duration(st.Within)
	if within == 0 {
		within = DefaultWithin
	}
	return p.began + within
}

// Finish runs the current step to its pause point, performing an asked-for action itself.
func (p *Player) Finish() error {
	if p.asking != nil {
		a, err := p.action(*p.asking)
		if err != nil {
			return err
		}
		if _, err := p.Act(a); err != nil {
			return err
		}
	}
	st := &p.Scenario.Steps[p.step]
	if st.Until == nil {
		p.Cluster.RunUntil(p.Deadline())
		return nil
	}
	if !p.Cluster.RunUntilTrue(p.Deadline()-p.Cluster.Now(), p.Done) {
		return fmt.Errorf("scenario %s step %d (%s): %s did not happen within %v",
			p.Scenario.ID, p.step+1, st.Title, describe(*st.Until), p.Deadline()-p.began)
	}
	return nil
}

// Check verifies the current step's claims.
func (p *Player) Check() []error {
	var errs []error
	st := &p.Scenario.Steps[p.step]
	for _, c := range st.Expect {
		if ok, why := p.Holds(c); !ok {
			errs = append(errs, fmt.Errorf("scenario %s step %d (%s): expected %s: %s", p.Scenario.ID, p.step+1, st.Title, describe(c), why))
		}
	}
	return errs
}

// Seek returns a new player that has played steps 0…step-1 and begun step.
func Seek(sc *Scenario, step int, options func(*sim.Options)) (*Player, error) {
	if step < 0 || step >= len(sc.Steps) {
		return nil, fmt.Errorf("scenario %s: no step %d (it has %d)", sc.ID, step+1, len(sc.Steps))
	}
	p, err := NewPlayer(sc, options)
	if err != nil {
		return nil, err
	}
	for i := 0; i < step; i++ {
		if err := p.Begin(i); err != nil {
			return nil, err
		}
		if err := p.Finish(); err != nil {
			return nil, err
		}
	}
	return p, p.Begin(step)
}

func (p *Player) perform(a ActionSpec) error {
	act, err := p.action(a)
	if err != nil {
		return err
	}
	return p.Cluster.Do(act)
}

func (p *Player) action(a ActionSpec) (sim.Action, error) {
	act := sim.Action{At: p.Cluster.Now(), Kind: sim.ActionKind(a.Kind), Command: a.Command, Commands: a.Commands, On: a.On, Rate: a.Rate,
		Min: time.Duration(a.Min), Max: time.Duration(a.Max), Groups: make([][]string, len(a.Groups))}
	var err error
	if act.Kind == sim.ActAddServer && !strings.HasPrefix(a.Node, "$") {
		act.Node = a.Node // a server that is not in the cluster yet
	} else if act.Node, err = p.resolveOpt(a.Node); err != nil {
		return act, err
	}
	if act.Peer, err = p.resolveOpt(a.Peer); err != nil {
		return act, err
	}
	for _, id := range a.Voters {
		v := id // a server that joins now: not in the cluster yet
		if strings.HasPrefix(id, "$") {
			if v, err = p.resolve(id); err != nil {
				return act, err
			}
		}
		act.Voters = append(act.Voters, v)
	}
	for i, g := range a.Groups {
		act.Groups[i] = make([]string, len(g))
		for j, id := range g {
			if act.Groups[i][j], err = p.resolve(id); err != nil {
				return act, err
			}
		}
	}
	return act, nil
}

func (p *Player) resolveOpt(ref string) (string, error) {
	if ref == "" {
		return "", nil
	}
	return p.resolve(ref)
}

// resolve turns "$leader", "$name" (from Let) or a node id into a node id.
func (p *Player) resolve(ref string) (string, error) {
	switch {
	case ref == "$leader":
		id, ok := p.Cluster.Leader()
		if !ok {
			return "", fmt.Errorf("no leader to stand for $leader")
		}
		return id, nil
	case strings.HasPrefix(ref, "$"):
		id, ok := p.vars[ref[1:]]
		if !ok {
			return "", fmt.Errorf("unknown name %s", ref)
		}
		return id, nil
	}
	for _, id := range p.Cluster.IDs() {
		if id == ref {
			return id, nil
		}
	}
	return "", fmt.Errorf("unknown node %q", ref)
}

// Holds evaluates a condition; when it fails, the string says what was seen instead.
func (p *Player) Holds(c Cond) (bool, string) {
	cl := p.Cluster
	nodes := cl.IDs()
	if c.Node != "" {
		id, err := p.resolve(c.Node)
		if err != nil {
			return false, err.Error()
		}
		nodes = []string{id}
	}
	switch c.Cond {
	case "leader":
		for _, id := range nodes {
			if st := cl.Status(id); st.State == raft.Leader && p.hasMajority(id) {
				return true, ""
			}
		}
		return false, "no such leader"
	case "no-leader":
		for _, id := range nodes {
			if st := cl.Status(id); st.State == raft.Leader && p.hasMajority(id) {
				return false, fmt.Sprintf("%s leads term %d", id, st.Term)
			}
		}
		return true, ""
	case "state":
		var seen []string
		for _, id := range nodes {
			st := cl.Status(id)
			if st.State.String() == c.State {
				return true, ""
			}
			seen = append(seen, fmt.Sprintf("%s is %s", id, st.State))
		}
		return false, strings.Join(seen, ", ")
	case "term", "commit":
		for _, id := range nodes {
			st := cl.Status(id)
			if st.State == raft.Dead && c.Node == "" {
				continue
			}
			v := st.Term
			if c.Cond == "commit" {
				v = st.CommitIndex
			}
			if v < c.Min || (c.Max != nil && v > *c.Max) {
				return false, fmt.Sprintf("%s has %s %d", id, c.Cond, v)
			}
		}
		return true, ""
	case "committed":
		n := 0
		for _, id := range cl.IDs() {
			if cl.Alive(id) && p.applied[id][c.Command] > 0 {
				n++
			}
		}
		if n >= c.Nodes && (!c.Exact || n == c.Nodes) {
			return true, ""
		}
		if n == 1 {
			return false, "applied on 1 node"
		}
		return false, fmt.Sprintf("applied on %d nodes", n)
	case "not-committed":
		for _, id := range cl.IDs() {
			if p.applied[id][c.Command] > 0 {
				return false, fmt.Sprintf("applied on %s", id)
			}
		}
		return true, ""
	case "entry":
		n := cl.Node(nodes[0])
		if n == nil {
			return false, nodes[0] + " is down"
		}
		e, ok := n.Entry(c.Index)
		if !ok {
			return false, fmt.Sprintf("%s has no entry %d", nodes[0], c.Index)
		}
		return e.Term == c.Term, fmt.Sprintf("%s's entry %d has term %d", nodes[0], c.Index, e.Term)
	case "last-index":
		st := cl.Status(nodes[0])
		return st.LastIndex >= c.Min, fmt.Sprintf("%s's log ends at %d", nodes[0], st.LastIndex)
	case "match":
		peer, err := p.resolve(c.Peer)
		if err != nil {
			return false, err.Error()
		}
		st := cl.Status(nodes[0])
		m := st.Progress[peer].Match
		return st.State == raft.Leader && m >= c.Min, fmt.Sprintf("%s (%s) has match %d for %s", nodes[0], st.State, m, peer)
	case "no-violation":
		if err := cl.Violation(); err != nil {
			return false, err.Error()
		}
		return true, ""
	case "violation":
		err := cl.Violation()
		if err == nil {
			return false, "no violation"
		}
		return strings.Contains(err.Error(), c.Contains), err.Error()
	}
	return false, "unknown condition " + c.Cond
}

// hasMajority: id can reach a majority (itself included) of live nodes over uncut links.
func (p *Player) hasMajority(id string) bool {
	// A quorum of the configuration id uses (of a joint one, a majority of each half).
	conf, _ := p.Cluster.Node(id).Configuration()
	return conf.HasQuorum(func(q string) bool { return q == id || (p.Cluster.Alive(q) && p.Cluster.Connected(id, q)) })
}

func describe(c Cond) string {
	var b strings.Builder
	b.WriteString(c.Cond)
	add := func(k, v string) {
		if v != "" && v != "0" && v != "false" {
			fmt.Fprintf(&b, " %s=%s", k, v)
		}
	}
	add("node", c.Node)
	add("peer", c.Peer)
	add("state", c.State)
	add("min", fmt.Sprint(c.Min))
	if c.Max != nil {
		fmt.Fprintf(&b, " max=%d", *c.Max)
	}
	add("term", fmt.Sprint(c.Term))
	add("index", fmt.Sprint(c.Index))
	add("command", c.Command)
	add("nodes", fmt.Sprint(c.Nodes))
	add("contains", c.Contains)
	return b.String()
}

// Right returns the indexes of the current step's question's right choices: the one marked
// correct, or those whose condition holds now. Call it at the step's pause point.
func (p *Player) Right() []int {
	var right []int
	if p.step < 0 || p.Scenario.Steps[p.step].Question == nil {
		return nil
	}
	for i, ch := range p.Scenario.Steps[p.step].Question.Choices {
		if ch.Correct {
			right = append(right, i)
		} else if ch.When != nil {
			if ok, _ := p.Holds(*ch.When); ok {
				right = append(right, i)
			}
		}
	}
	return right
}

// Describe says what a condition checks, as the check report writes it ("state node=n1
// state=leader").
func Describe(c Cond) string { return describe(c) }
