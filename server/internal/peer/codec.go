//go:build !js

package peer

import (
	"encoding/binary"
	"errors"
	"fmt"

	"raftlab/raft"
	"raftlab/raft/wire"
)

// The binary encoding of one raft.Message, a frame's body. Every field of raft.Message is
// written, in the order of fields below (TestCodecCoversMessage fails when raft.Message gains a
// field this list does not have):
//
//	type        1 byte
//	From, To    uvarint length, bytes
//	Term, LastLogIndex, LastLogTerm, PrevLogIndex, PrevLogTerm   uvarint each
//	Entries     uvarint count+1 (0: nil); each: Term uvarint, Type 1 byte, Command as a byte slice
//	Commit      uvarint
//	Success     1 byte (0 or 1)
//	Index, ConflictTerm, ConflictIndex                           uvarint each
//	Members, Learners, Outgoing   uvarint count+1 (0: nil); each id as uvarint length, bytes
//	Offset      uvarint
//	Data        a byte slice
//	Done        1 byte (0 or 1)
//
// A byte slice is a uvarint length+1 (0: nil) and its bytes, so that nil and empty survive the
// trip (wire.CheckMessage tells them apart). Nothing may follow the last field.
var fields = []string{
	"Type", "From", "To", "Term", "LastLogIndex", "LastLogTerm", "PrevLogIndex", "PrevLogTerm",
	"Entries", "Commit", "Success", "Index", "ConflictTerm", "ConflictIndex",
	"Members", "Learners", "Outgoing", "Offset", "Data", "Done",
}

// AppendMessage appends the encoding of m to b.
func AppendMessage(b []byte, m *raft.Message) []byte {
	b = append(b, byte(m.Type))
	b = appendString(b, m.From)
	b = appendString(b, m.To)
	b = binary.AppendUvarint(b, m.Term)
	b = binary.AppendUvarint(b, m.LastLogIndex)
	b = binary.AppendUvarint(b, m.LastLogTerm)
	b = binary.AppendUvarint(b, m.PrevLogIndex)
	b = binary.AppendUvarint(b, m.PrevLogTerm)
	if m.Entries == nil {
		b = append(b, 0)
	} else {
		b = binary.AppendUvarint(b, uint64(len(m.Entries))+1)
		for i := range m.Entries {
			e := &m.Entries[i]
			b = binary.AppendUvarint(b, e.Term)
			b = append(b, byte(e.Type))
			b = appendBytes(b, e.Command)
		}
	}
	b = binary.AppendUvarint(b, m.Commit)
	b = appendBool(b, m.Success)
	b = binary.AppendUvarint(b, m.Index)
	b = binary.AppendUvarint(b, m.ConflictTerm)
	b = binary.AppendUvarint(b, m.ConflictIndex)
	b = appendStrings(b, m.Members)
	b = appendStrings(b, m.Learners)
	b = appendStrings(b, m.Outgoing)
	b = binary.AppendUvarint(b, m.Offset)
	b = appendBytes(b, m.Data)
	b = appendBool(b, m.Done)
	return b
}

func appendString(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendBytes(b, p []byte) []byte {
	if p == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(p))+1)
	return append(b, p...)
}

func appendStrings(b []byte, ss []string) []byte {
	if ss == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(ss))+1)
	for _, s := range ss {
		b = appendString(b, s)
	}
	return b
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// Decoding limits: a frame is bounded by the transport, and these bound what one frame can
// make the decoder allocate.
const (
	maxIDLen     = wire.MaxIDLen
	maxListLen   = wire.MaxMembers
	maxEntries   = 1 << 16
	maxStringLen = 1 << 10
)

var errShort = errors.New("message truncated")

// decoder reads a message from b. Strings equal to one of intern are returned without a copy
// (the connection's two ids), so that a message costs no allocation for them.
type decoder struct {
	b      []byte
	err    error
	intern [2]string
}

func (d *decoder) fail(err error) {
	if d.err == nil {
		d.err = err
	}
	d.b = nil
}

func (d *decoder) uvarint() uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail(errShort)
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) byte1() byte {
	if d.err != nil {
		return 0
	}
	if len(d.b) == 0 {
		d.fail(errShort)
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) bool1(what string) bool {
	switch d.byte1() {
	case 0:
		return false
	case 1:
		return true
	}
	d.fail(fmt.Errorf("%s is neither 0 nor 1", what))
	return false
}

func (d *decoder) take(n uint64) []byte {
	if d.err != nil {
		return nil
	}
	if n > uint64(len(d.b)) {
		d.fail(errShort)
		return nil
	}
	p := d.b[:n:n]
	d.b = d.b[n:]
	return p
}

func (d *decoder) str(what string, max uint64) string {
	n := d.uvarint()
	if n > max {
		d.fail(fmt.Errorf("%s of %d bytes; at most %d", what, n, max))
		return ""
	}
	p := d.take(n)
	for _, s := range d.intern {
		if string(p) == s { // compared without a copy
			return s
		}
	}
	return string(p)
}

// bytes returns a slice of d.b (nil, false for a nil slice).
func (d *decoder) bytes() ([]byte, bool) {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil, false
	}
	return d.take(n - 1), true
}

func (d *decoder) strings(what string) []string {
	n := d.uvarint()
	if n == 0 || d.err != nil {
		return nil
	}
	n--
	if n > maxListLen {
		d.fail(fmt.Errorf("%s: %d ids; at most %d", what, n, maxListLen))
		return nil
	}
	ss := make([]string, n)
	for i := range ss {
		ss[i] = d.str(what+" id", maxIDLen)
	}
	return ss
}

// DecodeMessage decodes one message encoded by AppendMessage. The message's byte slices are
// copies (one allocation for all its commands), so b may be reused. It checks the encoding
// only; wire.CheckMessage checks the values.
func DecodeMessage(b []byte, m *raft.Message) error {
	d := decoder{b: b}
	return d.message(m)
}

func (d *decoder) message(m *raft.Message) error {
	*m = raft.Message{}
	m.Type = raft.MsgType(d.byte1())
	m.From = d.str("From", maxIDLen)
	m.To = d.str("To", maxIDLen)
	m.Term = d.uvarint()
	m.LastLogIndex = d.uvarint()
	m.LastLogTerm = d.uvarint()
	m.PrevLogIndex = d.uvarint()
	m.PrevLogTerm = d.uvarint()
	if n := d.uvarint(); n > 0 && d.err == nil {
		n--
		// Each entry takes at least 3 bytes: a bound before allocating.
		if n > maxEntries || n > uint64(len(d.b))/3 {
			d.fail(fmt.Errorf("%d entries in %d bytes", n, len(d.b)))
		} else {
			m.Entries = make([]raft.Entry, n)
			if n > 0 {
				// The commands are slices of one copy of the rest of the frame: one
				// allocation for all of them, and the frame's buffer may be reused.
				d.b = append(make([]byte, 0, len(d.b)), d.b...)
			}
			for i := range m.Entries {
				e := &m.Entries[i]
				e.Term = d.uvarint()
				e.Type = raft.EntryType(d.byte1())
				e.Command, _ = d.bytes()
			}
		}
	}
	m.Commit = d.uvarint()
	m.Success = d.bool1("Success")
	m.Index = d.uvarint()
	m.ConflictTerm = d.uvarint()
	m.ConflictIndex = d.uvarint()
	m.Members = d.strings("Members")
	m.Learners = d.strings("Learners")
	m.Outgoing = d.strings("Outgoing")
	m.Offset = d.uvarint()
	if p, ok := d.bytes(); ok {
		m.Data = append(make([]byte, 0, len(p)), p...)
	}
	m.Done = d.bool1("Done")
	if d.err == nil && len(d.b) > 0 {
		d.fail(fmt.Errorf("%d bytes after the message", len(d.b)))
	}
	if d.err != nil {
		*m = raft.Message{}
		return d.err
	}
	return nil
}
