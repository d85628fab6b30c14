// Package lincheck checks key-value histories for linearizability with porcupine, and writes
// porcupine's HTML visualization of a history that fails.
//
// A history is the list of client operations with their call and return times (virtual time
// in the simulator). An operation whose answer never came (the client gave up, or the run
// ended) is recorded with Unknown set: it may or may not have taken effect, at any time after
// its call. The model is partitioned per key, which keeps the check fast.
package lincheck

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"time"

	"github.com/anishathalye/porcupine"

	"raftlab/raft/kv"
)

// Input is an operation's request: a kv command.
type Input = kv.Command

// Output is an operation's answer. Unknown marks an operation that was never answered.
type Output struct {
	kv.Result
	Unknown bool
}

// Op is one operation of a history.
type Op struct {
	Client int // the client, numbered from 0 (a row of the visualization)
	Input  Input
	Output Output
	Call   time.Duration
	Return time.Duration // ignored when Output.Unknown
}

// History gathers the operations of a run.
type History struct {
	ops []porcupine.Operation
}

// Add records an answered operation.
func (h *History) Add(client int, in Input, call time.Duration, out kv.Result, ret time.Duration) {
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: int64(call),
		Output: Output{Result: out}, Return: int64(ret)})
}

// AddUnknown records an operation called at call whose answer never came. A get without an
// answer changes nothing and is left out.
func (h *History) AddUnknown(client int, in Input, call time.Duration) {
	if in.Op == kv.OpGet {
		return
	}
	h.ops = append(h.ops, porcupine.Operation{ClientId: client, Input: in, Call: int64(call),
		Output: Output{Unknown: true}, Return: math.MaxInt64})
}

// AddOp records op.
func (h *History) AddOp(op Op) {
	if op.Output.Unknown {
		h.AddUnknown(op.Client, op.Input, op.Call)
		return
	}
	h.Add(op.Client, op.Input, op.Call, op.Output.Result, op.Return)
}

// Clone returns a copy of h.
func (h *History) Clone() *History {
	return &History{ops: slices.Clone(h.ops)}
}

// Len returns the number of operations recorded.
func (h *History) Len() int { return len(h.ops) }

// Operations returns the history in porcupine's form.
func (h *History) Operations() []porcupine.Operation { return h.ops }

// state is the value of one key: the model is partitioned per key.
type state struct {
	value  string
	exists bool
}

// Model is the sequential specification of the store, one key per partition.
var Model = porcupine.Model{
	Partition: func(history []porcupine.Operation) [][]porcupine.Operation {
		byKey := make(map[string]int)
		var parts [][]porcupine.Operation
		for _, op := range history {
			k := op.Input.(Input).Key
			i, ok := byKey[k]
			if !ok {
				i = len(parts)
				byKey[k] = i
				parts = append(parts, nil)
			}
			parts[i] = append(parts[i], op)
		}
		return parts
	},
	Init: func() any { return state{} },
	Step: func(st, input, output any) (bool, any) {
		s, in, out := st.(state), input.(Input), output.(Output)
		switch in.Op {
		case kv.OpGet:
			ok := out.Unknown || (out.Found == s.exists && out.Value == s.value)
			return ok, s
		case kv.OpPut:
			return true, state{value: in.Value, exists: true}
		case kv.OpAppend:
			return true, state{value: s.value + in.Value, exists: true}
		case kv.OpDelete:
			return out.Unknown || out.Found == s.exists, state{}
		}
		return false, s
	},
	DescribeOperation: func(input, output any) string {
		in, out := input.(Input), output.(Output)
		var res string
		switch {
		case out.Unknown:
			res = "?"
		case in.Op == kv.OpGet && out.Found:
			res = strconv.Quote(out.Value)
		case in.Op == kv.OpGet || in.Op == kv.OpDelete && !out.Found:
			res = "not found"
		case in.Op == kv.OpDelete:
			res = "deleted"
		default:
			res = "ok"
		}
		return in.String() + " → " + res
	},
	DescribeState: func(st any) string {
		s := st.(state)
		if !s.exists {
			return "(absent)"
		}
		return strconv.Quote(s.value)
	},
}

// Result is the verdict on a history.
type Result struct {
	// Outcome is porcupine.Ok, porcupine.Illegal, or porcupine.Unknown when the check ran out
	// of time.
	Outcome porcupine.CheckResult
	info    porcupine.LinearizationInfo
}

// Ok reports whether the history is linearizable.
func (r Result) Ok() bool { return r.Outcome == porcupine.Ok }

// TimedOut reports whether the check gave up before reaching a verdict.
func (r Result) TimedOut() bool { return r.Outcome == porcupine.Unknown }

// Check checks h. A timeout of 0 means no limit.
func Check(h *History, timeout time.Duration) Result {
	res, info := porcupine.CheckOperationsVerbose(Model, h.ops, timeout)
	return Result{Outcome: res, info: info}
}

// WriteVisualization writes porcupine's HTML page for the checked history to path: each
// client's operations on a timeline and, for a failure, the longest linearizable prefix.
func (r Result) WriteVisualization(path string) error {
	if err := porcupine.VisualizePath(Model, r.info, path); err != nil {
		return fmt.Errorf("lincheck: writing visualization: %w", err)
	}
	return nil
}

// Report writes the visualization of a failed check into dir (the system's temporary
// directory when dir is ""), as linearizability-<name>.html, and returns the file's path.
func (r Result) Report(dir, name string) (string, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("lincheck: %w", err)
	}
	path := filepath.Join(dir, "linearizability-"+name+".html")
	if err := r.WriteVisualization(path); err != nil {
		return "", err
	}
	return path, nil
}
