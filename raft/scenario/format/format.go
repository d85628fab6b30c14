// Package format is the scenario file format: the types a scenario file decodes into, their
// validation (every problem named by its place in the file) and the limits. It does not import
// the simulator, so that the page's checker module can validate a course's file cheaply; the
// scenario package plays what it describes.
package format

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"raftlab/raft"
)

// Scenario is one guided story.
type Scenario struct {
	ID      string `json:"id"`
	Title   string `json:"title"`
	Summary string `json:"summary"`
	Config  Config `json:"config"`
	Steps   []Step `json:"steps"`
}

// Config is the cluster a scenario runs on.
type Config struct {
	Nodes int    `json:"nodes"`
	Seed  uint64 `json:"seed"`
	// Optional; zero means the defaults (150–300 ms, 50 ms).
	ElectionTimeoutMin Duration  `json:"electionTimeoutMin,omitempty"`
	ElectionTimeoutMax Duration  `json:"electionTimeoutMax,omitempty"`
	MaxEntriesPerMsg   int       `json:"maxEntriesPerMsg,omitempty"`
	Unreliable         bool      `json:"unreliable,omitempty"`
	Bugs               raft.Bugs `json:"bugs,omitempty"`
	PreVote            bool      `json:"preVote,omitempty"`
	CheckQuorum        bool      `json:"checkQuorum,omitempty"`
	// JointConsensus: membership changes by joint consensus (raft.Config.JointConsensus).
	JointConsensus bool `json:"jointConsensus,omitempty"`
	// Compact is the log compaction threshold (raft.Config.CompactThreshold); 0 never.
	Compact int `json:"compact,omitempty"`
}

// Step is one pause point of a scenario.
type Step struct {
	Title string `json:"title"`
	Text  string `json:"text"`
	// Let binds names to nodes when the step begins: {"old": "$leader"} makes "$old" usable in
	// this and later steps.
	Let map[string]string `json:"let,omitempty"`
	// Ask, if set, waits for the person to perform this action (the page highlights it); a
	// headless player performs it itself.
	Ask *ActionSpec `json:"ask,omitempty"`
	// Do are performed when the step begins (after Ask).
	Do []ActionSpec `json:"do,omitempty"`
	// The step ends when For has passed since it began, or when Until holds (checked after
	// every event), whichever is set; Within bounds the wait for Until (default 5 s).
	For    Duration `json:"for,omitempty"`
	Until  *Cond    `json:"until,omitempty"`
	Within Duration `json:"within,omitempty"`
	// Expect lists what the narration claims once the step has ended; tests check each one.
	Expect []Cond `json:"expect,omitempty"`
	// Question, if set, is asked before the step plays; the answer is known at its pause point.
	Question *Question `json:"question,omitempty"`
}

// Question asks the student to predict what the step will show.
type Question struct {
	Prompt  string   `json:"prompt"`
	Choices []Choice `json:"choices"`
	// Explain is shown with the answer.
	Explain string `json:"explain,omitempty"`
}

// Choice is one answer to a question. Either every choice of a question has When (the choice
// is right if its condition holds at the step's pause point: what happens decides) or exactly
// one is Correct (the author decides).
type Choice struct {
	Text    string `json:"text"`
	Correct bool   `json:"correct,omitempty"`
	When    *Cond  `json:"when,omitempty"`
}

// ActionSpec is a sim.Action without a time; node names may be "$leader" or a Let name.
type ActionSpec struct {
	Kind     string     `json:"kind"` // a sim.ActionKind
	Node     string     `json:"node,omitempty"`
	Peer     string     `json:"peer,omitempty"`
	Groups   [][]string `json:"groups,omitempty"`
	Command  string     `json:"command,omitempty"`
	Commands []string   `json:"commands,omitempty"`
	On       bool       `json:"on,omitempty"`
	Rate     float64    `json:"rate,omitempty"` // reorder, duplicate: the share of messages, 0 to 1
	Min      Duration   `json:"min,omitempty"`  // latency actions
	Max      Duration   `json:"max,omitempty"`
	Prompt   string     `json:"prompt,omitempty"` // for Ask: what to tell the person
	// Voters, for set-voters: the voters wanted (servers not yet started join, as with
	// add-server; with config.jointConsensus several change at once).
	Voters []string `json:"voters,omitempty"`
}

// Cond is a condition on the cluster, used to end steps and to check their claims.
//
//	leader         Node is leader (any node if Node is ""), reachable by a quorum of its configuration
//	no-leader      no node that reaches a majority is leader
//	state          Node (some node, if Node is "") is in State ("follower", "candidate", "leader", "dead")
//	term           Node's term (every live node's if Node is "") is at least Min (and at most Max)
//	commit         Node's commit index (every live node's if "") is at least Min (and at most Max)
//	committed      Command has been applied on at least Nodes live nodes (exactly, if Exact)
//	not-committed  Command has been applied nowhere
//	entry          Node's log holds an entry of Term at Index
//	last-index     Node's log ends at Min or later
//	match          leader Node's progress for Peer has Match at least Min
//	violation      the checker stopped the run with a message containing Contains
//	no-violation   the checker found nothing wrong
type Cond struct {
	Cond     string  `json:"cond"`
	Node     string  `json:"node,omitempty"`
	Peer     string  `json:"peer,omitempty"`
	State    string  `json:"state,omitempty"`
	Min      uint64  `json:"min,omitempty"`
	Max      *uint64 `json:"max,omitempty"`
	Term     uint64  `json:"term,omitempty"`
	Index    uint64  `json:"index,omitempty"`
	Command  string  `json:"command,omitempty"`
	Nodes    int     `json:"nodes,omitempty"`
	Exact    bool    `json:"exact,omitempty"`
	Contains string  `json:"contains,omitempty"`
}

// Duration is a time.Duration written as a Go duration string ("300ms") in JSON.
type Duration time.Duration

// UnmarshalJSON parses "300ms".
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("duration: want a string such as \"300ms\": %v", err)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes "300ms".
func (d Duration) MarshalJSON() ([]byte, error) { return json.Marshal(time.Duration(d).String()) }

// Decode reads a scenario that has been validated with ParseFile: a shipped one (the tests
// validate them) or a course's file that the page's checker module validated. It refuses what
// does not decode into the types and a cluster it cannot build, and checks nothing else:
// ParseFile's checks stay out of the page's own wasm module.
func Decode(b []byte) (*Scenario, error) {
	var sc Scenario
	dec := json.NewDecoder(strings.NewReader(string(b)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sc); err != nil {
		return nil, fmt.Errorf("scenario: %v", err)
	}
	if sc.Config.Nodes < 1 || sc.Config.Nodes > 9 || len(sc.Steps) == 0 || len(sc.Steps) > MaxSteps {
		return nil, fmt.Errorf("scenario %q: %d nodes and %d steps; want 1 to 9 nodes and 1 to %d steps", sc.ID, sc.Config.Nodes, len(sc.Steps), MaxSteps)
	}
	return &sc, nil
}
