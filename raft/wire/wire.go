// Package wire is the versioned WebSocket protocol between the hub (server/) and the hosts of
// cluster members: browser pages (wasm/) and native node processes. Frames are JSON text, so
// that they read well in the browser's devtools, and every frame is validated on decode.
//
// Both sides import it, so it lives beside the messages it carries, under raft/, and keeps the
// core's rules: no goroutines, no clock (what needs the wall time, a Recorder's numbering and
// KVShown's pace, takes it from the caller), no network; the hub and the hosts own the
// connections.
//
// A connection hosts one or more members of one cluster:
//
//	client → hub   {"v":2,"type":"hello","cluster":"demo","kind":"browser","members":["b1","b2"]}
//	hub → client   {"v":2,"type":"welcome","cluster":"demo","members":["n1","n2","b1","b2","b3"],
//	                "presence":[{"id":"n1","kind":"native","reachable":true}, ...]}
//	both ways      {"v":2,"type":"msgs","cluster":"demo","msgs":[<raft.Message>, ...]}
//	client → hub   {"v":2,"type":"status","cluster":"demo","status":[{"id":"b1","state":"leader",...}]}
//	hub → client   {"v":2,"type":"presence","cluster":"demo","presence":[...]}   (on every change)
//	hub → client   {"v":2,"type":"submit","cluster":"demo","req":7,"member":"b1","command":"cHV0IHggMQ=="}
//	client → hub   {"v":2,"type":"result","cluster":"demo","req":7,"member":"b1","index":12,"term":3,"value":"..."}
//	hub → client   {"v":2,"type":"error","code":"taken","error":"member b1 is already hosted by ..."}
//
// Membership changes: a hello with "add":true asks that its members, not yet in the cluster's
// configuration, be added (server node -add); a submit with "change":"add n4" or "remove n1"
// instead of a command asks the leader for a membership change, and its result carries the new
// configuration in value once it is committed (failures: code refused, or retry while the
// leader cannot take a change yet); a status may carry the configuration its member uses
// ("config":"n1,n2,n3;n4", voters then learners, and "configIndex"), from which the hub
// follows the cluster's committed configuration; a member removed from it gets an error frame
// with code removed, and its host stops it. A submit with "transfer":"n2" instead of a command
// asks the leader to hand its leadership to n2 (Raft thesis §3.10); its result, once the
// handover has begun, carries the leader's term and "transfer" again (failures: code
// not_leader with leader, or refused).
//
// The hub answers a frame it cannot accept with an error frame, then closes the connection.
// The messages a connection sends must come from members it hosts, and go to members of its
// cluster. A submit asks the host of a member to submit a command to that member's node and to
// answer with one result once the entry has been committed and applied (with its index, term
// and the state machine's answer in value), or at once with error (and leader, when the member
// knows who leads).
//
// Version 2 added InstallSnapshot (raft.MsgSnap and MsgSnapReply, with the Message fields
// Members, Learners, Offset, Data and Done), configuration entries (raft.EntryConfig) and the
// compaction threshold in a welcome's options; a
// version 1 frame is refused with a version error. Joint consensus added, within version 2, the
// optional Outgoing field of InstallSnapshot (a joint configuration's old voters) and joint
// configuration entries ("n1,n2,n3>n4,n5,n6").
package wire

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv"
)

// Version is the protocol version carried in every frame's "v".
const Version = 2

// Limits on what a frame may carry.
const (
	MaxIDLen        = 64   // bytes in a member id or cluster name
	MaxMembers      = 64   // members in a cluster
	MaxMsgsPerFrame = 4096 // raft messages in one msgs frame
	MaxErrorLen     = 1024 // bytes of error text
	MaxTokenLen     = 256  // bytes in a hello's cluster token
	// MaxSnapshotChunk caps the state bytes of one InstallSnapshot message (raft's default
	// chunk is 64 KiB; base64 makes 1 MiB about 1.4 MB of a frame). MaxSnapshotBytes caps a
	// whole snapshot: no chunk may reach past it.
	MaxSnapshotChunk = 1 << 20
	MaxSnapshotBytes = 256 << 20
)

// DefaultCompact is the compaction threshold of a mixed cluster's members when the server
// sets none: a member takes a snapshot of its key-value store once it has applied this many
// entries since its last, so a bbolt file or a page's localStorage holds at most about this
// many log entries besides the state (a native leader up to twice as many, see
// native.Config.Snapshot).
const DefaultCompact = 1000

// Frame types.
const (
	TypeHello    = "hello"
	TypeWelcome  = "welcome"
	TypeMsgs     = "msgs"
	TypeStatus   = "status"
	TypePresence = "presence"
	TypeSubmit   = "submit"
	TypeResult   = "result"
	TypeError    = "error"
)

// Kinds of member hosts.
const (
	KindBrowser = "browser"
	KindNative  = "native"
)

// Envelope is one frame. Which fields a type uses is listed in the package comment; the others
// stay empty.
type Envelope struct {
	V       int    `json:"v"`
	Type    string `json:"type"`
	Cluster string `json:"cluster,omitempty"`

	// hello: the kind of host and the members it hosts. welcome: every member of the cluster.
	Kind    string   `json:"kind,omitempty"`
	Members []string `json:"members,omitempty"`
	// hello: the cluster token, from a host that has one (server node -token); the hub never
	// sends it back.
	Token string `json:"token,omitempty"`
	// hello: the host asks that its member, not yet in the cluster's configuration, be added
	// (server node -add, a page opened with join=ID). The hub then proposes the change.
	Add bool `json:"add,omitempty"`
	// hello: where the host serves the scripting API of its members (server node -http), as
	// host:port; an unspecified host (":8081", "0.0.0.0:8081") means the address the host
	// connects from. Native hosts only.
	API string `json:"api,omitempty"`

	// hello of a native host: the address of its members' direct links (server/internal/peer),
	// host:port. A host of "" or an unspecified IP (":7001", "0.0.0.0:7001") means the host the
	// others reach the hub at: the hub fills in the connection's remote IP.
	Addr string `json:"addr,omitempty"`

	// msgs: Raft messages, each From a member the sender hosts.
	Msgs []raft.Message `json:"msgs,omitempty"`

	// status: the state of members the sender hosts.
	Status []MemberStatus `json:"status,omitempty"`

	// welcome, presence: where each member of the cluster runs and whether it is reachable.
	// A native host's hello: the other native members it links to (kind native, their addr).
	Presence []Presence `json:"presence,omitempty"`
	// welcome: the options of Raft every member runs with (nil: none).
	Options *Options `json:"options,omitempty"`

	// submit, result: the request, the member asked, the command.
	Req     uint64 `json:"req,omitempty"`
	Member  string `json:"member,omitempty"`
	Command []byte `json:"command,omitempty"`
	// submit: instead of a command, a membership change for the member's node to propose,
	// "add ID" or "remove ID"; its result comes once the new configuration is committed, with
	// that configuration (as a raft.EntryConfig entry's command) in value.
	Change string `json:"change,omitempty"`
	// submit: instead of a command, a leadership transfer: the member's node, which leads,
	// hands its leadership to this voter (Raft thesis §3.10); its result comes once the
	// handover has begun, with the leader's term, and says transfer again.
	Transfer string `json:"transfer,omitempty"`
	// result: where the committed entry landed and what applying it answered.
	Index uint64 `json:"index,omitempty"`
	Term  uint64 `json:"term,omitempty"`
	Value []byte `json:"value,omitempty"`
	// result: the leader the member knows of, when it refused because it does not lead.
	Leader string `json:"leader,omitempty"`

	// error (and a failed result): a code from the Code* constants and a sentence.
	Code  string `json:"code,omitempty"`
	Error string `json:"error,omitempty"`
}

// Options are the options of Raft a cluster's members run with (raft.Config's fields of the
// same names). The server sets them; every host applies them to the members it runs.
type Options struct {
	PreVote     bool `json:"preVote,omitempty"`
	CheckQuorum bool `json:"checkQuorum,omitempty"`
	// Compact is the log compaction threshold (raft.Config.CompactThreshold): 0 means
	// DefaultCompact, -1 never compacts.
	Compact int `json:"compact,omitempty"`
	// ElectionTimeoutMs is the shortest election timeout in milliseconds; the longest is twice
	// it. 0 keeps the core's default (150–300 ms).
	ElectionTimeoutMs int `json:"electionTimeoutMs,omitempty"`
}

// Bounds of Options.ElectionTimeoutMs: above the core's 50 ms heartbeat, at most a minute.
const (
	MinElectionTimeoutMs = 100
	MaxElectionTimeoutMs = 60000
)

// Apply sets the options in a member's configuration; o may be nil (every option at its
// default).
func (o *Options) Apply(c *raft.Config) {
	var d Options
	if o != nil {
		d = *o
	}
	c.PreVote, c.CheckQuorum = d.PreVote, d.CheckQuorum
	if d.ElectionTimeoutMs > 0 {
		c.ElectionTimeoutMin = time.Duration(d.ElectionTimeoutMs) * time.Millisecond
		c.ElectionTimeoutMax = 2 * c.ElectionTimeoutMin
	}
	switch {
	case d.Compact == 0:
		c.CompactThreshold = DefaultCompact
	case d.Compact < 0:
		c.CompactThreshold = 0
	default:
		c.CompactThreshold = d.Compact
	}
}

// MemberStatus is what a host reports about one member it runs.
type MemberStatus struct {
	ID      string `json:"id"`
	State   string `json:"state"` // follower, pre-candidate, candidate, leader, dead
	Term    uint64 `json:"term"`
	Leader  string `json:"leader,omitempty"`
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
	Last    uint64 `json:"last"`
	// The configuration the member uses, as a raft.EntryConfig entry's command
	// ("n1,n2,n3;n4": voters, then learners), and the index of the entry that set it (0: the
	// initial member list). It is committed when ConfigIndex ≤ Commit.
	Config      string `json:"config,omitempty"`
	ConfigIndex uint64 `json:"configIndex,omitempty"`

	// Details for the mixed page's node cards (report.go), all bounded: the vote, the
	// snapshot's last index, the newest log entries (LogFrom is the index of Log[0]), the first
	// keys of the key-value store and how many it holds, a leader's view of its followers, and
	// the member's recent events.
	Vote     string         `json:"vote,omitempty"`
	Snapshot uint64         `json:"snapshot,omitempty"`
	LogFrom  uint64         `json:"logFrom,omitempty"`
	Log      []LogLine      `json:"log,omitempty"`
	KV       [][2]string    `json:"kv,omitempty"`
	KVLen    int            `json:"kvLen,omitempty"`
	Progress []ProgressLine `json:"progress,omitempty"`
	Events   []StatusEvent  `json:"events,omitempty"`
}

// Presence says where a member runs and whether the hub can reach it now.
type Presence struct {
	ID        string `json:"id"`
	Kind      string `json:"kind"`           // KindNative or KindBrowser: where it runs (or is meant to run)
	Host      string `json:"host,omitempty"` // "server" for members inside the server process, else the connection's address
	Reachable bool   `json:"reachable"`
	// API is where the member's host serves the scripting API (server node -http), host:port;
	// members forward commands to their leader's.
	API string `json:"api,omitempty"`
	// Addr is where a native member takes direct links (host:port), while it is reachable; an
	// empty host means the host of the hub (a member inside the server listening on every
	// interface).
	Addr string `json:"addr,omitempty"`
}

// Error codes of error frames and failed results.
const (
	CodeBadFrame    = "bad-frame"     // not a valid frame: JSON, fields, values
	CodeVersion     = "version"       // unknown protocol version
	CodeType        = "type"          // unknown or unexpected frame type
	CodeCluster     = "cluster"       // unknown cluster, or not the connection's cluster
	CodeMember      = "member"        // not a member of the cluster
	CodeAuth        = "unauthorized"  // hello: the cluster token is missing or wrong, or the host may not host these members
	CodeTaken       = "taken"         // the member is already hosted elsewhere
	CodeImpersonate = "impersonation" // a message from a member the connection does not host
	CodeTooBig      = "too-big"       // frame over the size limit
	CodeRate        = "rate"          // frames past the rate limit
	CodeSlow        = "slow"          // the connection could not keep up with what it was sent
	CodeShutdown    = "shutdown"      // the server is shutting down
	CodeNotLeader   = "not-leader"    // result: the member does not lead
	CodeFailed      = "failed"        // result: the command was not committed (lost leadership, node stopped)
	CodeRemoved     = "removed"       // the member was removed from the cluster's configuration: its host stops it
	CodeRefused     = "refused"       // result: the leader refused the membership change (in flight, already a member, not a member, the last voter); it is in no log
	CodeRetry       = "retry"         // result: the leader cannot take a membership change yet (no entry of its term committed); it is in no log
)

// Error is a protocol error: what an error frame carries.
type Error struct {
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

func errorf(code, format string, args ...any) *Error {
	return &Error{Code: code, Msg: fmt.Sprintf(format, args...)}
}

// ErrorFrame returns the frame that reports err: its own code for an *Error, bad-frame otherwise.
func ErrorFrame(err error) *Envelope {
	var we *Error
	if !errors.As(err, &we) {
		we = &Error{Code: CodeBadFrame, Msg: err.Error()}
	}
	msg := we.Msg
	if len(msg) > MaxErrorLen {
		msg = msg[:MaxErrorLen]
	}
	return &Envelope{V: Version, Type: TypeError, Code: we.Code, Error: msg}
}

// Encode returns the JSON of e, with e.V set to Version.
func Encode(e *Envelope) ([]byte, error) {
	e.V = Version
	if b, ok := encodeMsgsFast(e); ok {
		return b, nil
	}
	return json.Marshal(e)
}

// Decode parses and validates one frame. It rejects unknown fields, unknown versions and
// types, and fields missing or malformed for the frame's type, with an *Error.
func Decode(b []byte) (*Envelope, error) {
	if e, ok := decodeMsgsFast(b); ok {
		if err := e.Validate(); err != nil {
			return nil, err
		}
		return e, nil
	}
	return decodeGeneral(b)
}

// decodeGeneral is Decode through encoding/json, for every frame.
func decodeGeneral(b []byte) (*Envelope, error) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.DisallowUnknownFields()
	var e Envelope
	if err := d.Decode(&e); err != nil || d.More() {
		// Say what is wrong in the most useful order: not JSON, no or another version (whose
		// new fields are then no fault), no type, then the field error.
		var head struct {
			V    *int    `json:"v"`
			Type *string `json:"type"`
		}
		if herr := json.Unmarshal(b, &head); herr != nil {
			return nil, errorf(CodeBadFrame, "not a JSON object: %v", herr)
		}
		if head.V == nil {
			return nil, errorf(CodeBadFrame, `missing protocol version "v"`)
		}
		if *head.V != Version {
			return nil, errorf(CodeVersion, "protocol version %d is not supported; this server speaks version %d", *head.V, Version)
		}
		if head.Type == nil {
			return nil, errorf(CodeBadFrame, `missing frame "type"`)
		}
		return nil, errorf(CodeBadFrame, "%s frame: %v", *head.Type, err)
	}
	if e.Type == "" && e.V == Version {
		return nil, errorf(CodeBadFrame, `missing frame "type"`)
	}
	if err := e.Validate(); err != nil {
		return nil, err
	}
	return &e, nil
}

// Validate checks that e is a well-formed frame of its type.
func (e *Envelope) Validate() error {
	if e.V == 0 {
		return errorf(CodeBadFrame, `missing protocol version "v"`)
	}
	if e.V != Version {
		return errorf(CodeVersion, "protocol version %d is not supported; this server speaks version %d", e.V, Version)
	}
	needCluster := func() error {
		if err := CheckID("cluster", e.Cluster); err != nil {
			return err
		}
		return nil
	}
	if e.Options != nil && e.Type != TypeWelcome {
		return errorf(CodeBadFrame, "%s: options come only in a welcome", e.Type)
	}
	if o := e.Options; o != nil && o.ElectionTimeoutMs != 0 && (o.ElectionTimeoutMs < MinElectionTimeoutMs || o.ElectionTimeoutMs > MaxElectionTimeoutMs) {
		return errorf(CodeBadFrame, "welcome: election timeout of %d ms is outside %d to %d ms", o.ElectionTimeoutMs, MinElectionTimeoutMs, MaxElectionTimeoutMs)
	}
	switch e.Type {
	case TypeHello:
		if err := needCluster(); err != nil {
			return err
		}
		if e.Kind != KindBrowser && e.Kind != KindNative {
			return errorf(CodeBadFrame, "hello: kind %q is neither %q nor %q", e.Kind, KindBrowser, KindNative)
		}
		if len(e.Members) == 0 {
			return errorf(CodeBadFrame, "hello: no members to host")
		}
		if len(e.Token) > MaxTokenLen {
			return errorf(CodeBadFrame, "hello: token is %d bytes long; at most %d", len(e.Token), MaxTokenLen)
		}
		if e.API != "" {
			if e.Kind != KindNative {
				return errorf(CodeBadFrame, "hello: only native hosts serve an API")
			}
			if err := CheckAPIAddr(e.API); err != nil {
				return errorf(CodeBadFrame, "hello: api: %v", err)
			}
		}
		if e.Addr != "" {
			if e.Kind != KindNative {
				return errorf(CodeBadFrame, "hello: a %s host has no direct-link address", e.Kind)
			}
			if err := CheckAPIAddr(e.Addr); err != nil {
				return errorf(CodeBadFrame, "hello: addr: %v", err)
			}
		}
		if len(e.Presence) > 0 {
			// A native host says the other native members it links to, so that a hub that
			// restarted knows at once that they run natively.
			if e.Kind != KindNative {
				return errorf(CodeBadFrame, "hello: a %s host says no other members' presence", e.Kind)
			}
			if err := checkPresence(e.Presence); err != nil {
				return err
			}
			for _, p := range e.Presence {
				if p.Kind != KindNative {
					return errorf(CodeBadFrame, "hello: presence of %s: a host says only the native members it links to, not %s ones", p.ID, p.Kind)
				}
			}
		}
		return checkIDs("hello", e.Members)
	case TypeWelcome:
		if err := needCluster(); err != nil {
			return err
		}
		if err := checkIDs("welcome", e.Members); err != nil {
			return err
		}
		if e.Options != nil && e.Options.Compact < -1 {
			return errorf(CodeBadFrame, "welcome: compaction threshold %d; want -1 (never), 0 (the default) or more", e.Options.Compact)
		}
		return checkPresence(e.Presence)
	case TypeMsgs:
		if err := needCluster(); err != nil {
			return err
		}
		if len(e.Msgs) == 0 {
			return errorf(CodeBadFrame, "msgs: no messages")
		}
		if len(e.Msgs) > MaxMsgsPerFrame {
			return errorf(CodeBadFrame, "msgs: %d messages; at most %d in a frame", len(e.Msgs), MaxMsgsPerFrame)
		}
		for i := range e.Msgs {
			if err := CheckMessage(&e.Msgs[i]); err != nil {
				return errorf(CodeBadFrame, "msgs[%d]: %v", i, err)
			}
		}
	case TypeStatus:
		if err := needCluster(); err != nil {
			return err
		}
		if len(e.Status) == 0 || len(e.Status) > MaxMembers {
			return errorf(CodeBadFrame, "status: %d members; want 1 to %d", len(e.Status), MaxMembers)
		}
		for _, s := range e.Status {
			if err := CheckID("status id", s.ID); err != nil {
				return err
			}
			if !slices.Contains(states, s.State) {
				return errorf(CodeBadFrame, "status of %s: unknown state %q", s.ID, s.State)
			}
			if s.Applied > s.Commit || s.Commit > s.Last {
				return errorf(CodeBadFrame, "status of %s: want applied ≤ commit ≤ last, have %d, %d, %d", s.ID, s.Applied, s.Commit, s.Last)
			}
			if s.Config != "" {
				if _, err := raft.ParseConfiguration([]byte(s.Config)); err != nil {
					return errorf(CodeBadFrame, "status of %s: configuration %q: %v", s.ID, s.Config, err)
				}
			} else if s.ConfigIndex != 0 {
				return errorf(CodeBadFrame, "status of %s: configIndex without config", s.ID)
			}
			if err := s.checkDetails(); err != nil {
				return err
			}
		}
	case TypePresence:
		if err := needCluster(); err != nil {
			return err
		}
		return checkPresence(e.Presence)
	case TypeSubmit:
		if err := needCluster(); err != nil {
			return err
		}
		if e.Req == 0 {
			return errorf(CodeBadFrame, "submit: missing req")
		}
		if e.Change != "" {
			if _, _, err := ParseChange(e.Change); err != nil {
				return errorf(CodeBadFrame, "submit: %v", err)
			}
			if len(e.Command) > 0 {
				return errorf(CodeBadFrame, "submit: a command or a change, not both")
			}
		}
		if e.Transfer != "" {
			if err := CheckID("submit transfer", e.Transfer); err != nil {
				return err
			}
			if len(e.Command) > 0 || e.Change != "" {
				return errorf(CodeBadFrame, "submit: a transfer, a command or a change, one at a time")
			}
		}
		return CheckID("submit member", e.Member)
	case TypeResult:
		if err := needCluster(); err != nil {
			return err
		}
		if e.Req == 0 {
			return errorf(CodeBadFrame, "result: missing req")
		}
		if err := CheckID("result member", e.Member); err != nil {
			return err
		}
		if e.Transfer != "" {
			if err := CheckID("result transfer", e.Transfer); err != nil {
				return err
			}
		}
		if e.Code == "" && (e.Term == 0 || e.Index == 0 && e.Transfer == "") {
			return errorf(CodeBadFrame, "result: a success needs index and term (a transfer's, term); a failure needs code")
		}
		if e.Leader != "" {
			return CheckID("result leader", e.Leader)
		}
	case TypeError:
		if e.Code == "" || e.Error == "" {
			return errorf(CodeBadFrame, "error: missing code or text")
		}
	case "":
		return errorf(CodeBadFrame, `missing frame "type"`)
	default:
		return errorf(CodeType, "unknown frame type %q", e.Type)
	}
	return nil
}

// ParseChange parses a membership change, "add ID" or "remove ID" (the body of POST
// /api/clusters/NAME/members, and a submit frame's change).
func ParseChange(s string) (raft.ChangeOp, string, error) {
	f := strings.Fields(s)
	if len(f) != 2 {
		return 0, "", fmt.Errorf("membership change %q: want \"add ID\" or \"remove ID\"", s)
	}
	var op raft.ChangeOp
	switch f[0] {
	case "add":
		op = raft.AddServer
	case "remove":
		op = raft.RemoveServer
	default:
		return 0, "", fmt.Errorf("membership change %q: want \"add ID\" or \"remove ID\", not %q", s, f[0])
	}
	if err := CheckID("member id", f[1]); err != nil {
		return 0, "", fmt.Errorf("membership change: %s", err.(*Error).Msg)
	}
	return op, f[1], nil
}

var states = []string{"follower", "pre-candidate", "candidate", "leader", "dead"}

// CheckID checks a member id or cluster name: 1 to MaxIDLen bytes of letters, digits, '-', '_'
// and '.'.
func CheckID(what, id string) error {
	if id == "" {
		return errorf(CodeBadFrame, "missing %s", what)
	}
	if len(id) > MaxIDLen {
		return errorf(CodeBadFrame, "%s is %d bytes long; at most %d", what, len(id), MaxIDLen)
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == '.') {
			return errorf(CodeBadFrame, "%s %q: use letters, digits, '-', '_' and '.'", what, id)
		}
	}
	return nil
}

func checkIDs(what string, ids []string) error {
	if len(ids) > MaxMembers {
		return errorf(CodeBadFrame, "%s: %d members; at most %d", what, len(ids), MaxMembers)
	}
	for i, id := range ids {
		if err := CheckID(what+" member", id); err != nil {
			return err
		}
		if slices.Contains(ids[:i], id) {
			return errorf(CodeBadFrame, "%s: member %q listed twice", what, id)
		}
	}
	return nil
}

func checkPresence(ps []Presence) error {
	if len(ps) > MaxMembers {
		return errorf(CodeBadFrame, "presence: %d members; at most %d", len(ps), MaxMembers)
	}
	for _, p := range ps {
		if err := CheckID("presence id", p.ID); err != nil {
			return err
		}
		if p.Kind != KindBrowser && p.Kind != KindNative {
			return errorf(CodeBadFrame, "presence of %s: kind %q", p.ID, p.Kind)
		}
		if p.API != "" {
			if err := CheckAPIAddr(p.API); err != nil {
				return errorf(CodeBadFrame, "presence of %s: api: %v", p.ID, err)
			}
		}
		if p.Addr != "" {
			if err := CheckAPIAddr(p.Addr); err != nil {
				return errorf(CodeBadFrame, "presence of %s: addr: %v", p.ID, err)
			}
		}
	}
	return nil
}

// CheckMessage checks the fields of a Raft message: a known type, valid distinct ids, a term,
// entries with terms and known types only in AppendEntries, and the InstallSnapshot fields only
// in InstallSnapshot (a snapshot's index and term, its configuration as valid distinct ids, a
// chunk of at most MaxSnapshotChunk bytes that ends within MaxSnapshotBytes).
func CheckMessage(m *raft.Message) error {
	if m.Type < raft.MsgVote || m.Type > raft.MsgSnapReply {
		return fmt.Errorf("unknown message type %d", m.Type)
	}
	if err := CheckID("message From", m.From); err != nil {
		return err
	}
	if err := CheckID("message To", m.To); err != nil {
		return err
	}
	if m.From == m.To {
		return fmt.Errorf("message from %s to itself", m.From)
	}
	if m.Term == 0 {
		return errors.New("message without a term")
	}
	if len(m.Entries) > 0 && m.Type != raft.MsgApp {
		return fmt.Errorf("%s carries entries", m.Type)
	}
	for i, e := range m.Entries {
		if e.Term == 0 || e.Term > m.Term {
			return fmt.Errorf("entry %d has term %d in a message of term %d", i, e.Term, m.Term)
		}
		switch e.Type {
		case raft.EntryCommand, raft.EntryNoop:
		case raft.EntryConfig:
			if _, err := raft.ParseConfiguration(e.Command); err != nil {
				return fmt.Errorf("entry %d: %v", i, err)
			}
		default:
			return fmt.Errorf("entry %d has unknown type %d", i, e.Type)
		}
	}
	switch m.Type {
	case raft.MsgSnap:
		if m.LastLogIndex == 0 || m.LastLogTerm == 0 || m.LastLogTerm > m.Term {
			return fmt.Errorf("InstallSnapshot of index %d and term %d in a message of term %d; want both at least 1, the term at most the message's", m.LastLogIndex, m.LastLogTerm, m.Term)
		}
		if len(m.Members) == 0 {
			return errors.New("InstallSnapshot without the snapshot's members")
		}
		if err := checkIDs("InstallSnapshot", m.Members); err != nil {
			return errors.New(err.(*Error).Msg)
		}
		if m.Learners != nil {
			if err := checkIDs("InstallSnapshot learners", m.Learners); err != nil {
				return errors.New(err.(*Error).Msg)
			}
		}
		if m.Outgoing != nil {
			if err := checkIDs("InstallSnapshot outgoing voters", m.Outgoing); err != nil {
				return errors.New(err.(*Error).Msg)
			}
		}
		if len(m.Data) > MaxSnapshotChunk {
			return fmt.Errorf("InstallSnapshot chunk of %d bytes; at most %d", len(m.Data), MaxSnapshotChunk)
		}
		if m.Offset > MaxSnapshotBytes || uint64(len(m.Data)) > MaxSnapshotBytes-m.Offset {
			return fmt.Errorf("InstallSnapshot chunk at offset %d of %d bytes reaches past the %d bytes a snapshot may have", m.Offset, len(m.Data), MaxSnapshotBytes)
		}
	case raft.MsgSnapReply:
		if m.Offset > MaxSnapshotBytes {
			return fmt.Errorf("InstallSnapshotReply offset %d is past the %d bytes a snapshot may have", m.Offset, MaxSnapshotBytes)
		}
	}
	if m.Type != raft.MsgSnap && (m.Members != nil || m.Learners != nil || m.Outgoing != nil || m.Data != nil || m.Done) {
		return fmt.Errorf("%s carries snapshot members, data or done", m.Type)
	}
	if m.Type != raft.MsgSnap && m.Type != raft.MsgSnapReply && m.Offset != 0 {
		return fmt.Errorf("%s carries a snapshot offset", m.Type)
	}
	return nil
}

// StateName returns the status name of a raft.State.
func StateName(s raft.State) string { return s.String() }

// KVAnswer is the value a host returns in a result for a command of the key-value state
// machine (raft/kv): what applying it did, and for get and delete what it found.
type KVAnswer struct {
	Outcome string `json:"outcome"` // applied, duplicate, superseded, noop, invalid
	Value   string `json:"value,omitempty"`
	Found   bool   `json:"found"`
	Error   string `json:"error,omitempty"` // why an invalid entry was skipped
}

// KVValue encodes a kv.Outcome as the JSON of a KVAnswer.
// Every member applies every entry, so it is written by hand: encoding/json's bytes
// (TestKVValue checks), without its reflection.
func KVValue(o kv.Outcome) []byte {
	b := make([]byte, 0, 48+len(o.Result.Value))
	b = append(b, `{"outcome":`...)
	b = kv.AppendJSONString(b, o.Kind.String())
	if o.Result.Value != "" {
		b = append(b, `,"value":`...)
		b = kv.AppendJSONString(b, o.Result.Value)
	}
	b = append(b, `,"found":`...)
	b = strconv.AppendBool(b, o.Result.Found)
	if o.Err != nil {
		b = append(b, `,"error":`...)
		b = kv.AppendJSONString(b, o.Err.Error())
	}
	return append(b, '}')
}

// MaxAPIAddrLen caps an API address (hello's and presence's api).
const MaxAPIAddrLen = 128

// CheckAPIAddr checks an address of a native host's API or direct links: host:port, with a numeric port and a host of letters,
// digits, '.', '-', ':' (IPv6 in brackets) or none.
func CheckAPIAddr(a string) error {
	if len(a) > MaxAPIAddrLen {
		return fmt.Errorf("%d bytes long; at most %d", len(a), MaxAPIAddrLen)
	}
	// Not net.SplitHostPort: the page imports this package, and net would weigh on its module.
	i := strings.LastIndexByte(a, ':')
	if i < 0 {
		return fmt.Errorf("%q: want host:port", a)
	}
	host, port := a[:i], a[i+1:]
	if strings.HasPrefix(host, "[") && strings.HasSuffix(host, "]") {
		host = host[1 : len(host)-1]
	} else if strings.Contains(host, ":") {
		return fmt.Errorf("%q: want host:port, an IPv6 host in brackets", a)
	}
	n := 0
	for _, r := range port {
		if r < '0' || r > '9' || n > 65535 {
			n = -1
			break
		}
		n = n*10 + int(r-'0')
	}
	if n < 1 || n > 65535 {
		return fmt.Errorf("%q: want a port from 1 to 65535", a)
	}
	for _, r := range host {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' || r == ':') {
			return fmt.Errorf("%q: unexpected %q in the host", a, r)
		}
	}
	return nil
}
