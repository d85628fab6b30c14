//go:build !js

// Tests of the codec's fast paths against encoding/json (the fast paths are left out of js).
package wire

import (
	"encoding/json"
	"reflect"
	"testing"

	"raftlab/raft"
)

// FuzzFastDecode checks the msgs fast path against the general decoder: whatever the fast path
// accepts, the general decoder decodes to the same envelope.
func FuzzFastDecode(f *testing.F) {
	seed, _ := Encode(appendFrame())
	f.Add(seed)
	f.Add([]byte(`{"v":1,"type":"msgs","cluster":"demo","msgs":[{"Type":4,"From":"n2","To":"n1","Term":3,"Success":true,"Index":7}]}`))
	f.Add([]byte(`{"v":1,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"n1","To":"n2","Term":3,"Entries":[{"Term":3,"Type":1,"Command":null},{"Term":3,"Type":0,"Command":""}]}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		fast, ok := decodeMsgsFast(b)
		if !ok {
			return
		}
		var slow Envelope
		if err := json.Unmarshal(b, &slow); err != nil {
			t.Fatalf("fast path accepted %q; encoding/json: %v", b, err)
		}
		if !reflect.DeepEqual(fast, &slow) {
			t.Fatalf("fast path and encoding/json disagree on %q:\n%+v\n%+v", b, fast, &slow)
		}
		fe, ferr := Decode(b)
		ge, gerr := decodeGeneral(b)
		if (ferr == nil) != (gerr == nil) || (ferr == nil && !reflect.DeepEqual(fe, ge)) {
			t.Fatalf("Decode and decodeGeneral disagree on %q: %v / %v", b, ferr, gerr)
		}
	})
}

func TestFastPathTaken(t *testing.T) {
	b, _ := Encode(appendFrame())
	if _, ok := decodeMsgsFast(b); !ok {
		t.Fatalf("the fast path refused a frame Encode wrote: %s", b)
	}
	for _, s := range []string{
		`{"v":1,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"n\u0031","To":"n2","Term":3}]}`,
		`{"v":1,"type":"msgs","cluster":"demo","msgs":[{"type":3,"From":"n1","To":"n2","Term":3}]}`,
		`{"v":1,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"n1","To":"n2","Term":3,"Term":4}]}`,
		`{"v":1,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"n1","To":"n2","Term":1e3}]}`,
		`{"v":1,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"n1","To":"n2","Term":3}]} `,
	} {
		if _, ok := decodeMsgsFast([]byte(s)); ok {
			t.Errorf("the fast path took %s; it should leave it to encoding/json", s)
		}
	}
}

// FuzzFastEncode checks that the msgs fast path writes what json.Marshal writes.
func FuzzFastEncode(f *testing.F) {
	f.Add(uint8(3), "n1", "n2", uint64(3), uint64(4), uint64(2), uint64(9), true, []byte("put x 1"), false, "demo")
	f.Add(uint8(1), "n<1", "n2", uint64(1), uint64(0), uint64(0), uint64(0), false, []byte(nil), true, "de\"mo")
	f.Fuzz(func(t *testing.T, typ uint8, from, to string, term, a, b, c uint64, success bool, cmd []byte, noop bool, cluster string) {
		m := raft.Message{Type: raft.MsgType(typ), From: from, To: to, Term: term, LastLogIndex: a, LastLogTerm: b,
			PrevLogIndex: c, PrevLogTerm: a, Commit: b, Success: success, Index: c, ConflictTerm: a, ConflictIndex: b}
		if len(cmd) > 0 || noop {
			m.Entries = []raft.Entry{{Term: term, Type: raft.EntryCommand, Command: cmd}, {Term: a, Type: raft.EntryNoop}}
		}
		e := &Envelope{V: Version, Type: TypeMsgs, Cluster: cluster, Msgs: []raft.Message{m, m}}
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if got, ok := encodeMsgsFast(e); ok && string(got) != string(want) {
			t.Fatalf("fast encode:\n%s\njson.Marshal:\n%s", got, want)
		}
	})
}
