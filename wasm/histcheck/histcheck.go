// Package histcheck checks the lab page's key-value client history for linearizability with
// porcupine (through raft/kv/lincheck). The page's module records the history
// (wasm/history.go) and hands it over as JSON; the checker module (wasm/checker) runs this
// package, so that porcupine stays out of the page's own module.
package histcheck

import (
	"bytes"
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"raftlab/raft/kv"
	"raftlab/raft/kv/lincheck"
)

// MaxOps bounds the operations a history may hold (the page stops recording well before).
const MaxOps = 100_000

// Op is one operation of the page's history (wasm/history.go histOp; fields the check does
// not need are ignored).
type Op struct {
	Op    string `json:"op"`
	Key   string `json:"key"`
	Value string `json:"value"`
	// C and R order calls and returns: strictly increasing in the order they happened.
	C     int64  `json:"c"`
	R     int64  `json:"r"`
	State string `json:"state"` // ok, pending (outcome unknown) or lost (certainly not applied)
	Found bool   `json:"found"`
	Out   string `json:"out"`
}

// History is the page's client history.
type History struct {
	// Fresh: the cluster started empty, so every key starts absent. Otherwise each key's value
	// at the start is unknown (the cluster started from stored data).
	Fresh bool `json:"fresh"`
	Ops   []Op `json:"ops"`
}

// Parse reads a history's JSON and validates it; bad input is an error, never a panic.
func Parse(b []byte) (*History, error) {
	var h History
	if err := json.Unmarshal(b, &h); err != nil {
		return nil, fmt.Errorf("history: not a client history (%v)", err)
	}
	if len(h.Ops) > MaxOps {
		return nil, fmt.Errorf("history: %d operations; at most %d", len(h.Ops), MaxOps)
	}
	for i, o := range h.Ops {
		if _, err := o.command(); err != nil {
			return nil, fmt.Errorf("history: operation %d: %v", i+1, err)
		}
		switch {
		case o.State != "ok" && o.State != "pending" && o.State != "lost":
			return nil, fmt.Errorf("history: operation %d: state %q; want ok, pending or lost", i+1, o.State)
		case o.State == "ok" && o.R < o.C:
			return nil, fmt.Errorf("history: operation %d returns before its call", i+1)
		}
	}
	return &h, nil
}

func (o Op) command() (kv.Command, error) {
	for op := kv.OpGet; op <= kv.OpDelete; op++ {
		if op.String() == o.Op {
			c := kv.Command{Op: op, Key: o.Key, Value: o.Value}
			return c, c.Validate()
		}
	}
	return kv.Command{}, fmt.Errorf("unknown operation %q", o.Op)
}

// Lincheck returns the history in lincheck's form: lost operations left out, pending ones
// with an unknown outcome. The page's operations have no client: each goes to the first
// client (a row of the visualization) with nothing outstanding at its call.
func (h *History) Lincheck() *lincheck.History {
	ops := slices.Clone(h.Ops)
	slices.SortStableFunc(ops, func(a, b Op) int { return cmp.Compare(a.C, b.C) })
	var lh lincheck.History
	var busy []int64 // per client: when its last operation returned (MaxInt64: never)
	for _, o := range ops {
		c, err := o.command()
		if err != nil || o.State == "lost" || o.State == "pending" && c.Op == kv.OpGet {
			continue // never applied, or a read without an answer (it tells nothing)
		}
		client := slices.IndexFunc(busy, func(r int64) bool { return r < o.C })
		if client < 0 {
			client = len(busy)
			busy = append(busy, 0)
		}
		busy[client] = o.R
		if o.State == "pending" {
			busy[client] = math.MaxInt64
		}
		lh.AddOp(lincheck.Op{Client: client, Input: c, Call: time.Duration(o.C), Return: time.Duration(o.R),
			Output: lincheck.Output{Result: kv.Result{Value: o.Out, Found: o.Found}, Unknown: o.State == "pending"}})
	}
	return &lh
}

// Model returns the sequential specification the history is checked against: lincheck.Model
// for a fresh cluster, and for one started from stored data the same store with each key's
// first value unknown.
func (h *History) Model() porcupine.Model {
	if h.Fresh {
		return lincheck.Model
	}
	return unknownStart
}

// Outcomes of a check.
const (
	Linearizable    = "linearizable"
	NotLinearizable = "not linearizable"
	Unknown         = "unknown" // the check ran out of time
)

// Verdict is the result of a check.
type Verdict struct {
	Outcome string   `json:"outcome"`
	Keys    []string `json:"keys,omitempty"` // the keys whose operations cannot be linearized
	Ops     int      `json:"ops"`            // operations checked (lost ones left out)
	Ms      float64  `json:"ms"`             // wall time of the check
	// HTML is porcupine's visualization of a history that is not linearizable: every client's
	// operations on a timeline, and the longest linearizable prefix of each key.
	HTML string `json:"html,omitempty"`
}

// Check checks h, giving up after timeout (0: no limit), and for a failure names the keys
// and, with visualize, writes porcupine's visualization.
func Check(h *History, timeout time.Duration, visualize bool) Verdict {
	start := time.Now()
	model := h.Model()
	ops := h.Lincheck().Operations()
	res, info := porcupine.CheckOperationsVerbose(model, ops, timeout)
	v := Verdict{Outcome: Linearizable, Ops: len(ops)}
	switch res {
	case porcupine.Unknown:
		v.Outcome = Unknown
	case porcupine.Illegal:
		v.Outcome = NotLinearizable
		for _, part := range model.Partition(ops) {
			if porcupine.CheckOperationsTimeout(model, part, timeout) == porcupine.Illegal {
				v.Keys = append(v.Keys, part[0].Input.(kv.Command).Key)
			}
		}
		slices.Sort(v.Keys)
		if visualize {
			var b bytes.Buffer
			if err := porcupine.Visualize(model, info, &b); err == nil {
				v.HTML = b.String()
			}
		}
	}
	v.Ms = float64(time.Since(start).Microseconds()) / 1000
	return v
}

// CheckJSON parses a history and checks it: the checker module's one call.
func CheckJSON(b []byte, timeout time.Duration, visualize bool) (Verdict, error) {
	h, err := Parse(b)
	if err != nil {
		return Verdict{}, err
	}
	return Check(h, timeout, visualize), nil
}

// ---- a key whose first value is unknown ------------------------------------------------------

// state is one key's value. Until an operation fixes it (a read sees it, a put or a delete
// sets it) the value is unknown: known is false, and suffix holds what appends added since.
type state struct {
	known, exists bool
	value         string
	suffix        string // appended to the unknown value
	appended      bool   // an append made the key exist, whatever it was
}

var unknownStart = porcupine.Model{
	Partition: lincheck.Model.Partition,
	Init:      func() any { return state{} },
	Step: func(st, input, output any) (bool, any) {
		s, in, out := st.(state), input.(lincheck.Input), output.(lincheck.Output)
		switch in.Op {
		case kv.OpGet:
			switch {
			case out.Unknown:
				return true, s
			case s.known:
				return out.Found == s.exists && out.Value == s.value, s
			case s.appended && (!out.Found || !strings.HasSuffix(out.Value, s.suffix)):
				return false, s
			}
			return true, state{known: true, exists: out.Found, value: out.Value}
		case kv.OpPut:
			return true, state{known: true, exists: true, value: in.Value}
		case kv.OpAppend:
			if s.known {
				return true, state{known: true, exists: true, value: s.value + in.Value}
			}
			return true, state{suffix: s.suffix + in.Value, appended: true}
		case kv.OpDelete:
			ok := out.Unknown || !s.known && (out.Found || !s.appended) || s.known && out.Found == s.exists
			return ok, state{known: true}
		}
		return false, s
	},
	DescribeOperation: lincheck.Model.DescribeOperation,
	DescribeState: func(st any) string {
		s := st.(state)
		switch {
		case !s.known && s.appended:
			return "(unknown)+" + fmt.Sprintf("%q", s.suffix)
		case !s.known:
			return "(unknown: from stored data)"
		case !s.exists:
			return "(absent)"
		}
		return fmt.Sprintf("%q", s.value)
	},
}
