//go:build !js

package peer

import (
	"math/rand/v2"
	"reflect"
	"testing"

	"raftlab/raft"
	"raftlab/raft/msgtest"
)

// TestCodecCoversMessage reflects over every field of raft.Message: each one, set on its own,
// must survive an encode and decode, so that a field added to raft.Message cannot be dropped on
// the direct links without this test failing.
func TestCodecCoversMessage(t *testing.T) {
	mt := reflect.TypeFor[raft.Message]()
	if mt.NumField() != len(fields) {
		t.Errorf("raft.Message has %d fields, the codec knows %d (%v): teach codec.go the new ones", mt.NumField(), len(fields), fields)
	}
	for i := range mt.NumField() {
		if name := mt.Field(i).Name; i < len(fields) && fields[i] != name {
			t.Errorf("field %d of raft.Message is %s; the codec has %q there (it follows the field order)", i, name, fields[i])
		}
	}
	msgtest.EachField(t, "codec.go", func(t *testing.T, _ string, m raft.Message) {
		var back raft.Message
		if err := DecodeMessage(AppendMessage(nil, &m), &back); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(back, m) {
			t.Fatalf("decoded\n%+v\nwant\n%+v", back, m)
		}
	})
	// Nil and empty slices stay apart (wire.CheckMessage tells them apart).
	m := raft.Message{Type: raft.MsgApp, From: "n1", To: "n2", Term: 1, Entries: []raft.Entry{}, Members: []string{}, Data: []byte{}}
	var back raft.Message
	if err := DecodeMessage(AppendMessage(nil, &m), &back); err != nil || !reflect.DeepEqual(back, m) {
		t.Fatalf("empty slices: %v\n%+v\nwant\n%+v", err, back, m)
	}
}

// TestDecodeRejectsGarbage: truncated, extended and random bytes give an error, never a panic.
func TestDecodeRejectsGarbage(t *testing.T) {
	m := raft.Message{Type: raft.MsgApp, From: "n1", To: "n2", Term: 3, PrevLogIndex: 9, PrevLogTerm: 2, Commit: 8,
		Entries: []raft.Entry{{Term: 3, Command: []byte("put x 1")}, {Term: 3, Command: []byte("put y 2")}}}
	b := AppendMessage(nil, &m)
	var out raft.Message
	for n := range len(b) {
		if err := DecodeMessage(b[:n], &out); err == nil {
			t.Fatalf("decoded a message truncated to %d of %d bytes", n, len(b))
		}
	}
	if err := DecodeMessage(append(b, 0), &out); err == nil {
		t.Fatal("decoded a message with a byte after it")
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		g := append([]byte(nil), b...)
		for range 1 + r.IntN(4) {
			g[r.IntN(len(g))] = byte(r.Uint32())
		}
		DecodeMessage(g, &out) // must not panic
		junk := make([]byte, r.IntN(64))
		for i := range junk {
			junk[i] = byte(r.Uint32())
		}
		DecodeMessage(junk, &out)
	}
	// A count that claims more entries than the bytes could hold is refused before allocating.
	huge := []byte{byte(raft.MsgApp), 2, 'n', '1', 2, 'n', '2', 1, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f}
	if err := DecodeMessage(huge, &out); err == nil {
		t.Fatal("decoded a message claiming billions of entries")
	}
}

// TestEncodeAllocs: encoding into a buffer with room allocates nothing, and decoding an
// AppendEntries costs its entries, one buffer for the commands, and nothing per id.
func TestEncodeAllocs(t *testing.T) {
	m := raft.Message{Type: raft.MsgApp, From: "n1", To: "n2", Term: 3, PrevLogIndex: 9, PrevLogTerm: 2, Commit: 8,
		Entries: []raft.Entry{{Term: 3, Command: []byte("put x 1")}, {Term: 3, Command: []byte("put y 2")}}}
	buf := make([]byte, 0, 1024)
	if a := testing.AllocsPerRun(100, func() { buf = AppendMessage(buf[:0], &m) }); a != 0 {
		t.Errorf("AppendMessage: %v allocations; want 0", a)
	}
	d := decoder{intern: [2]string{"n1", "n2"}}
	var out raft.Message
	if a := testing.AllocsPerRun(100, func() {
		d.b, d.err = buf, nil
		if err := d.message(&out); err != nil {
			t.Fatal(err)
		}
	}); a > 2 {
		t.Errorf("decoding an AppendEntries of 2 entries: %v allocations; want at most 2", a)
	}
}
