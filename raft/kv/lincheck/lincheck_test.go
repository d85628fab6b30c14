// Tests that the checker accepts linearizable histories and rejects a stale read.

package lincheck

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"

	"raftlab/raft/kv"
)

const ms = time.Millisecond

func found(v string) kv.Result { return kv.Result{Value: v, Found: true} }

// A stale read: client 0's put of 2 returned at 20 ms; client 1's get called afterwards (at
// 30 ms) still sees 1. No order of these operations explains it.
func staleRead() *History {
	var h History
	h.Add(0, kv.Put("x", "1"), 0, kv.Result{}, 10*ms)
	h.Add(0, kv.Put("x", "2"), 11*ms, kv.Result{}, 20*ms)
	h.Add(1, kv.Get("x"), 30*ms, found("1"), 40*ms)
	return &h
}

func TestStaleReadRejected(t *testing.T) {
	r := Check(staleRead(), 10*time.Second)
	if r.Outcome != porcupine.Illegal || r.Ok() {
		t.Fatalf("Check(stale read) = %s; want %s", r.Outcome, porcupine.Illegal)
	}
	dir := t.TempDir()
	path, err := r.Report(dir, "seed-42")
	if err != nil {
		t.Fatal(err)
	}
	if want := dir + "/linearizability-seed-42.html"; path != want {
		t.Errorf("Report path = %q; want %q", path, want)
	}
	page, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// The page describes the offending operation with the model's own words.
	if !strings.Contains(string(page), "<html") || !strings.Contains(string(page), `get x → \"1\"`) {
		t.Errorf("visualization (%d bytes) lacks the page or the operation get x → \"1\"", len(page))
	}
}

func TestLinearizableHistories(t *testing.T) {
	tests := []struct {
		name string
		ops  []Op
		ok   bool
	}{
		{"concurrent read may see either value", []Op{
			{Client: 0, Input: kv.Put("x", "1"), Call: 0, Return: 10 * ms},
			{Client: 0, Input: kv.Put("x", "2"), Call: 11 * ms, Return: 30 * ms},
			{Client: 1, Input: kv.Get("x"), Output: Output{Result: found("1")}, Call: 15 * ms, Return: 20 * ms},
			{Client: 2, Input: kv.Get("x"), Output: Output{Result: found("2")}, Call: 16 * ms, Return: 21 * ms},
		}, true},
		{"reads disagree on order once both returned", []Op{
			{Client: 0, Input: kv.Put("x", "1"), Call: 0, Return: 10 * ms},
			{Client: 0, Input: kv.Put("x", "2"), Call: 11 * ms, Return: 50 * ms},
			{Client: 1, Input: kv.Get("x"), Output: Output{Result: found("2")}, Call: 15 * ms, Return: 20 * ms},
			{Client: 2, Input: kv.Get("x"), Output: Output{Result: found("1")}, Call: 25 * ms, Return: 30 * ms},
		}, false},
		{"appends in order", []Op{
			{Client: 0, Input: kv.Append("x", "a"), Call: 0, Return: 10 * ms},
			{Client: 1, Input: kv.Append("x", "b"), Call: 5 * ms, Return: 12 * ms},
			{Client: 2, Input: kv.Get("x"), Output: Output{Result: found("ab")}, Call: 13 * ms, Return: 14 * ms},
		}, true},
		{"a lost append cannot come back", []Op{
			{Client: 0, Input: kv.Append("x", "a"), Call: 0, Return: 10 * ms},
			{Client: 1, Input: kv.Get("x"), Output: Output{Result: found("aa")}, Call: 13 * ms, Return: 14 * ms},
		}, false},
		{"an unanswered put may take effect later", []Op{
			{Client: 0, Input: kv.Put("x", "1"), Output: Output{Unknown: true}, Call: 0},
			{Client: 1, Input: kv.Get("x"), Call: 5 * ms, Return: 6 * ms},
			{Client: 1, Input: kv.Get("x"), Output: Output{Result: found("1")}, Call: 100 * ms, Return: 101 * ms},
		}, true},
		{"an unanswered put may never take effect", []Op{
			{Client: 0, Input: kv.Put("x", "1"), Output: Output{Unknown: true}, Call: 0},
			{Client: 1, Input: kv.Get("x"), Call: 100 * ms, Return: 101 * ms},
		}, true},
		{"delete reports what it found", []Op{
			{Client: 0, Input: kv.Put("x", "1"), Call: 0, Return: 10 * ms},
			{Client: 1, Input: kv.Delete("x"), Output: Output{Result: kv.Result{Found: false}}, Call: 20 * ms, Return: 30 * ms},
		}, false},
		{"keys are independent", []Op{
			{Client: 0, Input: kv.Put("x", "1"), Call: 0, Return: 10 * ms},
			{Client: 1, Input: kv.Get("y"), Call: 20 * ms, Return: 30 * ms},
			{Client: 1, Input: kv.Delete("x"), Output: Output{Result: kv.Result{Found: true}}, Call: 31 * ms, Return: 32 * ms},
			{Client: 0, Input: kv.Get("x"), Call: 40 * ms, Return: 41 * ms},
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h History
			for _, op := range tt.ops {
				h.AddOp(op)
			}
			if got := Check(&h, 10*time.Second); got.Ok() != tt.ok {
				t.Errorf("Check = %s; want ok=%t", got.Outcome, tt.ok)
			}
		})
	}
}

func TestUnknownGetLeftOut(t *testing.T) {
	var h History
	h.AddUnknown(0, kv.Get("x"), 0)
	h.AddUnknown(0, kv.Put("x", "1"), 0)
	if h.Len() != 1 {
		t.Errorf("Len() = %d after an unanswered get and put; want 1 (the get changes nothing)", h.Len())
	}
}
