package native

import (
	"errors"
	"testing"

	"raftlab/raft/driver"
)

// Each outcome of raft/driver reaches Submit as this package's result or error, with the texts
// that the API and the logs show.
func TestAnswer(t *testing.T) {
	stopped := errors.New("native: node stopped: node n1: disk full")
	for _, tc := range []struct {
		name string
		o    driver.Outcome
		res  Result
		is   error
		text string
	}{
		{"committed", driver.Outcome{Index: 7, Term: 2, Value: []byte("ok")}, Result{Index: 7, Term: 2, Value: []byte("ok")}, nil, ""},
		{"replaced", driver.Outcome{Err: driver.ErrReplaced}, Result{}, ErrReplaced,
			"native: the command was lost to a leader change; it was not committed"},
		{"in a snapshot", driver.Outcome{Err: driver.ErrInSnapshot}, Result{}, ErrInSnapshot,
			"native: after a leader change the command's entry was replaced by the new leader's snapshot; whether it was committed is unknown"},
		{"stopped", driver.Outcome{Err: stopped}, Result{}, stopped, stopped.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var n Node
			p := &proposal{reply: make(chan submitReply, 1)}
			n.answer(p, tc.o)
			r := <-p.reply
			if string(r.res.Value) != string(tc.res.Value) || r.res.Index != tc.res.Index || r.res.Term != tc.res.Term {
				t.Errorf("result %+v; want %+v", r.res, tc.res)
			}
			if tc.is == nil {
				if r.err != nil {
					t.Errorf("error %v; want none", r.err)
				}
				return
			}
			if !errors.Is(r.err, tc.is) || !errors.Is(r.err, tc.o.Err) || r.err.Error() != tc.text {
				t.Errorf("error %q; want %q, which is %v", r.err, tc.text, tc.is)
			}
		})
	}
}
