// Package msgtest serves the tests of raft.Message's codecs (the WebSocket fast path in
// raft/wire, the direct links' binary codec in server/internal/peer): a message with each of
// its fields set in turn, so that a field added to raft.Message that a codec does not carry
// fails that codec's test. Only tests import it.
package msgtest

import (
	"reflect"
	"testing"

	"raftlab/raft"
)

// Base is the message every variant starts from.
var Base = raft.Message{Type: raft.MsgSnap, From: "n1", To: "b2", Term: 5}

// EachField calls check with a field's name, in a subtest named after it, once for every field of
// raft.Message with a copy of Base in which that field, and only that one, holds a value other
// than Base's. A field of a type it does not know fails the test and names codec, whose
// encoder must learn it too.
func EachField(t *testing.T, codec string, check func(t *testing.T, field string, m raft.Message)) {
	mt := reflect.TypeFor[raft.Message]()
	for i := range mt.NumField() {
		f := mt.Field(i)
		t.Run(f.Name, func(t *testing.T) {
			m := Base
			v := reflect.ValueOf(&m).Elem().Field(i)
			switch {
			case f.Name == "Type":
				v.SetUint(uint64(raft.MsgSnapReply))
			case f.Name == "From" || f.Name == "To":
				v.SetString("n3")
			case v.Kind() >= reflect.Uint && v.Kind() <= reflect.Uint64:
				v.SetUint(1<<v.Type().Bits() - 3)
			case v.Kind() == reflect.Bool:
				v.SetBool(true)
			case v.Kind() == reflect.String:
				v.SetString("x-1")
			case f.Type == reflect.TypeFor[[]byte]():
				v.SetBytes([]byte("snapshot \x00\xff state"))
			case f.Type == reflect.TypeFor[[]string]():
				v.Set(reflect.ValueOf([]string{"n1", "b2", "n3"}))
			case f.Type == reflect.TypeFor[[]raft.Entry]():
				v.Set(reflect.ValueOf([]raft.Entry{{Term: 5, Command: []byte("put x 1")}, {Term: 5, Type: raft.EntryNoop}, {Term: 4, Command: []byte{}}}))
			default:
				t.Fatalf("raft.Message.%s has type %s: teach msgtest (and %s) to carry it", f.Name, f.Type, codec)
			}
			if reflect.DeepEqual(m, Base) {
				t.Fatalf("msgtest did not change %s", f.Name)
			}
			check(t, f.Name, m)
		})
	}
}
