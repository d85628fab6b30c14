//go:build !js

// Tests of the codec's fast paths against encoding/json (the fast paths are left out of js).
package wire

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"raftlab/raft"
	"raftlab/raft/msgtest"
)

// FuzzFastDecode checks the msgs fast path against the general decoder: whatever the fast path
// accepts, the general decoder decodes to the same envelope.
func FuzzFastDecode(f *testing.F) {
	seed, _ := Encode(appendFrame())
	f.Add(seed)
	f.Add([]byte(`{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":4,"From":"n2","To":"n1","Term":3,"Success":true,"Index":7}]}`))
	f.Add([]byte(`{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"n1","To":"n2","Term":3,"Entries":[{"Term":3,"Type":1,"Command":null},{"Term":3,"Type":0,"Command":""}]}]}`))
	f.Add([]byte(`{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":8,"From":"n1","To":"n2","Term":3,"LastLogIndex":9,"LastLogTerm":2,"Members":["n1","n2"],"Offset":4,"Data":"eHl6","Done":true}]}`))
	f.Add([]byte(`{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":8,"From":"n1","To":"n2","Term":3,"Members":[],"Data":"","Done":false}]}`))
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
		`{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"n\u0031","To":"n2","Term":3}]}`,
		`{"v":2,"type":"msgs","cluster":"demo","msgs":[{"type":3,"From":"n1","To":"n2","Term":3}]}`,
		`{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"n1","To":"n2","Term":3,"Term":4}]}`,
		`{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"n1","To":"n2","Term":1e3}]}`,
		`{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"n1","To":"n2","Term":3}]} `,
	} {
		if _, ok := decodeMsgsFast([]byte(s)); ok {
			t.Errorf("the fast path took %s; it should leave it to encoding/json", s)
		}
	}
}

// FuzzFastEncode checks that the msgs fast path writes what json.Marshal writes.
func FuzzFastEncode(f *testing.F) {
	f.Add(uint8(3), "n1", "n2", uint64(3), uint64(4), uint64(2), uint64(9), true, []byte("put x 1"), false, "demo", "n3")
	f.Add(uint8(1), "n<1", "n2", uint64(1), uint64(0), uint64(0), uint64(0), false, []byte(nil), true, "de\"mo", "")
	f.Fuzz(func(t *testing.T, typ uint8, from, to string, term, a, b, c uint64, success bool, cmd []byte, noop bool, cluster, member string) {
		m := raft.Message{Type: raft.MsgType(typ), From: from, To: to, Term: term, LastLogIndex: a, LastLogTerm: b,
			PrevLogIndex: c, PrevLogTerm: a, Commit: b, Success: success, Index: c, ConflictTerm: a, ConflictIndex: b,
			Offset: c, Data: cmd, Done: noop}
		if member != "" {
			m.Members = []string{from, member}
		}
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

// TestFastPathCoversMessage reflects over every field of raft.Message: the fast paths must
// encode each one exactly as json.Marshal does and decode it back, so that a field added to
// raft.Message cannot be dropped on the wire without this test failing.
func TestFastPathCoversMessage(t *testing.T) {
	mt := reflect.TypeFor[raft.Message]()
	if mt.NumField() != len(messageKeys) {
		t.Errorf("raft.Message has %d fields, the fast path knows %d keys (%v): teach fast.go the new ones", mt.NumField(), len(messageKeys), messageKeys)
	}
	for i := range mt.NumField() {
		if name := mt.Field(i).Name; i < len(messageKeys) && messageKeys[i] != name {
			t.Errorf("field %d of raft.Message is %s; messageKeys has %q there (keys follow the field order)", i, name, messageKeys[i])
		}
	}
	msgtest.EachField(t, "fast.go", func(t *testing.T, field string, m raft.Message) {
		e := &Envelope{V: Version, Type: TypeMsgs, Cluster: "demo", Msgs: []raft.Message{m}}
		want, err := json.Marshal(e)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(string(want), `"`+field+`":`) {
			t.Fatalf("json.Marshal left %s out of %s", field, want)
		}
		got, ok := encodeMsgsFast(e)
		if !ok {
			t.Fatalf("the fast path refused a message with %s set", field)
		}
		if string(got) != string(want) {
			t.Fatalf("fast encode:\n%s\njson.Marshal:\n%s", got, want)
		}
		back, ok := decodeMsgsFast(got)
		if !ok {
			t.Fatalf("the fast path could not decode %s", got)
		}
		if !reflect.DeepEqual(back.Msgs[0], m) {
			t.Fatalf("fast decode of %s:\n%+v\nwant\n%+v", got, back.Msgs[0], m)
		}
	})
}

// TestFastEncodeGuardCoversEnvelope reflects over every field of Envelope: a msgs frame with
// any other field set must either be refused by the fast path (left to json.Marshal) or be
// written exactly as json.Marshal writes it, so that a field added to Envelope cannot be
// dropped from a frame because the fast path's guard does not know it.
func TestFastEncodeGuardCoversEnvelope(t *testing.T) {
	et := reflect.TypeFor[Envelope]()
	for i := range et.NumField() {
		f := et.Field(i)
		switch f.Name {
		case "V", "Type", "Cluster", "Msgs": // what a msgs frame is made of (Encode sets V)
			continue
		}
		t.Run(f.Name, func(t *testing.T) {
			e := appendFrame()
			e.V = Version
			v := reflect.ValueOf(e).Elem().Field(i)
			switch v.Kind() {
			case reflect.String:
				v.SetString("x")
			case reflect.Bool:
				v.SetBool(true)
			case reflect.Int, reflect.Int64:
				v.SetInt(7)
			case reflect.Uint64, reflect.Uint32, reflect.Uint:
				v.SetUint(7)
			case reflect.Slice:
				s := reflect.MakeSlice(f.Type, 1, 1)
				if f.Type.Elem().Kind() == reflect.Uint8 {
					s.Index(0).SetUint('x')
				}
				v.Set(s)
			case reflect.Pointer:
				v.Set(reflect.New(f.Type.Elem()))
			default:
				t.Fatalf("Envelope.%s is a %s, which this test cannot set: teach it, and the fast path's guard", f.Name, f.Type)
			}
			want, err := json.Marshal(e)
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := encodeMsgsFast(e); ok && string(got) != string(want) {
				t.Fatalf("with Envelope.%s set the fast path wrote\n%.300s\njson.Marshal writes\n%.300s\n(add the field to encodeMsgsFast's guard)", f.Name, got, want)
			}
		})
	}
}
