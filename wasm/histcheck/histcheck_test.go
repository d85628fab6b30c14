// Tests of the page's history checker: verdicts, failed keys, a cluster started from stored
// data, and bad input.

package histcheck

import (
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"
)

// op builds an answered operation from call to ret (client: only to read the cases).
func op(_ int, name, key, value string, call, ret int64, found bool, out string) Op {
	return Op{Op: name, Key: key, Value: value, C: call, R: ret, State: "ok", Found: found, Out: out}
}

func TestCheckVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fresh bool
		ops   []Op
		want  string
		keys  []string
	}{
		{"read after write", true, []Op{
			op(0, "put", "x", "1", 1, 2, false, ""),
			op(1, "get", "x", "", 3, 4, true, "1"),
		}, Linearizable, nil},
		{"stale read", true, []Op{
			op(0, "put", "x", "1", 1, 2, false, ""),
			op(0, "put", "x", "2", 3, 4, false, ""),
			op(1, "get", "x", "", 5, 6, true, "1"),
			op(1, "get", "y", "", 5, 6, false, ""),
		}, NotLinearizable, []string{"x"}},
		{"concurrent read may see either", true, []Op{
			op(0, "put", "x", "1", 1, 2, false, ""),
			op(0, "put", "x", "2", 3, 10, false, ""),
			op(1, "get", "x", "", 4, 5, true, "1"),
		}, Linearizable, nil},
		{"a read of a value nobody wrote, fresh", true, []Op{
			op(1, "get", "x", "", 1, 2, true, "5"),
		}, NotLinearizable, []string{"x"}},
		{"the same read from stored data", false, []Op{
			op(1, "get", "x", "", 1, 2, true, "5"),
			op(1, "get", "x", "", 3, 4, true, "5"),
		}, Linearizable, nil},
		{"stored data: the first value cannot change by itself", false, []Op{
			op(1, "get", "x", "", 1, 2, true, "5"),
			op(1, "get", "x", "", 3, 4, true, "6"),
		}, NotLinearizable, []string{"x"}},
		{"stored data: an append keeps the unknown start", false, []Op{
			op(0, "append", "x", "b", 1, 2, false, ""),
			op(1, "get", "x", "", 3, 4, true, "ab"),
			op(1, "get", "x", "", 5, 6, true, "ab"),
		}, Linearizable, nil},
		{"stored data: an append that a read does not end with", false, []Op{
			op(0, "append", "x", "b", 1, 2, false, ""),
			op(1, "get", "x", "", 3, 4, true, "ba"),
		}, NotLinearizable, []string{"x"}},
		{"stored data: deleted after an append, it was there", false, []Op{
			op(0, "append", "x", "b", 1, 2, false, ""),
			op(1, "delete", "x", "", 3, 4, false, ""),
		}, NotLinearizable, []string{"x"}},
		{"a pending put may take effect late", true, []Op{
			{Op: "put", Key: "x", Value: "1", C: 1, State: "pending"},
			op(1, "get", "x", "", 2, 3, false, ""),
			op(1, "get", "x", "", 4, 5, true, "1"),
		}, Linearizable, nil},
		{"a lost put never took effect", true, []Op{
			{Op: "put", Key: "x", Value: "1", C: 1, State: "lost"},
			op(1, "get", "x", "", 4, 5, true, "1"),
		}, NotLinearizable, []string{"x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := json.Marshal(History{Fresh: tc.fresh, Ops: tc.ops})
			v, err := CheckJSON(b, time.Minute, true)
			if err != nil {
				t.Fatal(err)
			}
			if v.Outcome != tc.want || !slices.Equal(v.Keys, tc.keys) {
				t.Errorf("verdict %s on keys %v; want %s on %v", v.Outcome, v.Keys, tc.want, tc.keys)
			}
			if (v.HTML != "") != (tc.want == NotLinearizable) || v.HTML != "" && !strings.Contains(v.HTML, "<html") {
				t.Errorf("visualization of %d bytes for %s", len(v.HTML), v.Outcome)
			}
		})
	}
}

func TestParseRefusesBadHistories(t *testing.T) {
	for _, in := range []string{
		``,
		`[]`,
		`{"ops": [{"op": "frobnicate", "key": "x", "state": "ok"}]}`,
		`{"ops": [{"op": "get", "key": "", "state": "ok"}]}`,
		`{"ops": [{"op": "get", "key": "x", "value": "v", "state": "ok"}]}`,
		`{"ops": [{"op": "get", "key": "x", "state": "maybe"}]}`,
		`{"ops": [{"op": "get", "key": "x", "state": "ok", "c": 5, "r": 4}]}`,
	} {
		if _, err := Parse([]byte(in)); err == nil || !strings.HasPrefix(err.Error(), "history: ") {
			t.Errorf("Parse(%q) = %v; want a history: error", in, err)
		}
	}
	if h, err := Parse([]byte(`{"fresh": true, "ops": []}`)); err != nil || !h.Fresh {
		t.Errorf("an empty history: %v, %+v", err, h)
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"fresh": true, "ops": [{"op": "put", "key": "x", "value": "1", "c": 1, "r": 2, "state": "ok"}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		if h, err := Parse(b); err == nil && len(h.Ops) < 50 {
			Check(h, time.Second, true) // never panics on what Parse accepts
		}
	})
}

func TestClientsAreRowsOfConcurrentOperations(t *testing.T) {
	h := &History{Fresh: true, Ops: []Op{
		op(0, "put", "x", "1", 1, 10, false, ""),
		op(0, "put", "y", "1", 2, 3, false, ""),
		op(0, "get", "y", "", 4, 5, true, "1"),
		{Op: "put", Key: "z", Value: "1", C: 6, State: "pending"},
		op(0, "get", "x", "", 11, 12, true, "1"),
		op(0, "get", "z", "", 13, 14, false, ""),
	}}
	var clients []int
	for _, o := range h.Lincheck().Operations() {
		clients = append(clients, o.ClientId)
	}
	if want := []int{0, 1, 1, 1, 0, 0}; !slices.Equal(clients, want) {
		t.Errorf("clients %v; want %v (a new row only for an operation called while every row is busy)", clients, want)
	}
}

func TestCheckRunsOutOfTime(t *testing.T) {
	if runtime.GOOS == "js" {
		// Under wasm, porcupine's timer cannot interrupt the search of one key (goroutines
		// do not preempt each other there): the page stops its worker instead (history.ts).
		t.Skip("porcupine's timeout needs preemption, which js/wasm lacks")
	}
	// Twenty appends all concurrent, then a read no order of them explains: porcupine would
	// try every order.
	var ops []Op
	for i := range 20 {
		ops = append(ops, op(i, "append", "x", string(rune('a'+i)), int64(1+i), int64(100+i), false, ""))
	}
	ops = append(ops, op(0, "get", "x", "", 200, 201, true, "not an order of the appends"))
	start := time.Now()
	v := Check(&History{Fresh: true, Ops: ops}, 100*time.Millisecond, true)
	if v.Outcome != Unknown || v.HTML != "" {
		t.Errorf("verdict %s after %v; want unknown, without a visualization", v.Outcome, time.Since(start))
	}
}
