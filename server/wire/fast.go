// A fast path for decoding msgs frames exactly as Encode writes them: encoding/json's
// reflection costs ~1.5 µs per log entry, which dominated the hub's CPU under load. Anything
// the fast path does not recognise (whitespace, escapes, other key spellings or orders of the
// envelope) goes to the general decoder, which stays the reference; a fuzz target checks that
// the two agree on every frame the fast path accepts.
package wire

import (
	"bytes"
	"encoding/base64"

	"raftlab/raft"
)

var msgsPrefix = []byte(`{"v":1,"type":"msgs","cluster":"`)

// decodeMsgsFast parses a msgs frame written by Encode. ok is false when it cannot, and the
// caller must then use the general decoder. It does not validate (Validate does).
func decodeMsgsFast(b []byte) (e *Envelope, ok bool) {
	if !bytes.HasPrefix(b, msgsPrefix) {
		return nil, false
	}
	p := &scan{b: b, i: len(msgsPrefix)}
	cluster, ok := p.plainString()
	if !ok || !p.lit(`,"msgs":[`) {
		return nil, false
	}
	e = &Envelope{V: Version, Type: TypeMsgs, Cluster: cluster}
	for {
		m, ok := p.message()
		if !ok {
			return nil, false
		}
		e.Msgs = append(e.Msgs, m)
		if p.lit(",") {
			continue
		}
		if !p.lit("]}") || p.i != len(p.b) {
			return nil, false
		}
		return e, true
	}
}

type scan struct {
	b []byte
	i int
}

func (p *scan) lit(s string) bool {
	if len(p.b)-p.i < len(s) || string(p.b[p.i:p.i+len(s)]) != s {
		return false
	}
	p.i += len(s)
	return true
}

// plainString reads the rest of a string whose opening quote is consumed: printable ASCII
// without escapes (ids, base64).
func (p *scan) plainString() (string, bool) {
	s, ok := p.plainBytes()
	return string(s), ok
}

func (p *scan) plainBytes() ([]byte, bool) {
	start := p.i
	for p.i < len(p.b) {
		c := p.b[p.i]
		switch {
		case c == '"':
			p.i++
			return p.b[start : p.i-1], true
		case c < 0x20 || c >= 0x7f || c == '\\':
			return nil, false
		}
		p.i++
	}
	return nil, false
}

// uint reads a JSON unsigned integer that fits in max.
func (p *scan) uint(max uint64) (uint64, bool) {
	start := p.i
	var v uint64
	for p.i < len(p.b) && p.b[p.i] >= '0' && p.b[p.i] <= '9' {
		d := uint64(p.b[p.i] - '0')
		if v > (max-d)/10 {
			return 0, false
		}
		v = v*10 + d
		p.i++
	}
	n := p.i - start
	if n == 0 || (n > 1 && p.b[start] == '0') {
		return 0, false
	}
	// A fraction or exponent makes it no integer: leave it to the general decoder.
	if p.i < len(p.b) && (p.b[p.i] == '.' || p.b[p.i] == 'e' || p.b[p.i] == 'E') {
		return 0, false
	}
	return v, true
}

// key reads `"Name":` and returns Name.
func (p *scan) key() (string, bool) {
	if !p.lit(`"`) {
		return "", false
	}
	k, ok := p.plainString()
	if !ok || !p.lit(":") {
		return "", false
	}
	return k, true
}

const maxU64 = ^uint64(0)

func (p *scan) message() (raft.Message, bool) {
	var m raft.Message
	if !p.lit("{") {
		return m, false
	}
	seen := map[string]bool{}
	for first := true; ; first = false {
		if p.lit("}") {
			return m, !first
		}
		if !first && !p.lit(",") {
			return m, false
		}
		k, ok := p.key()
		if !ok || seen[k] {
			return m, false
		}
		seen[k] = true
		var u *uint64
		switch k {
		case "Type":
			v, ok := p.uint(255)
			if !ok {
				return m, false
			}
			m.Type = raft.MsgType(v)
			continue
		case "From", "To":
			if !p.lit(`"`) {
				return m, false
			}
			s, ok := p.plainString()
			if !ok {
				return m, false
			}
			if k == "From" {
				m.From = s
			} else {
				m.To = s
			}
			continue
		case "Success":
			switch {
			case p.lit("true"):
				m.Success = true
			case p.lit("false"):
				m.Success = false
			default:
				return m, false
			}
			continue
		case "Entries":
			es, ok := p.entries()
			if !ok {
				return m, false
			}
			m.Entries = es
			continue
		case "Term":
			u = &m.Term
		case "LastLogIndex":
			u = &m.LastLogIndex
		case "LastLogTerm":
			u = &m.LastLogTerm
		case "PrevLogIndex":
			u = &m.PrevLogIndex
		case "PrevLogTerm":
			u = &m.PrevLogTerm
		case "Commit":
			u = &m.Commit
		case "Index":
			u = &m.Index
		case "ConflictTerm":
			u = &m.ConflictTerm
		case "ConflictIndex":
			u = &m.ConflictIndex
		default:
			return m, false
		}
		v, ok := p.uint(maxU64)
		if !ok {
			return m, false
		}
		*u = v
	}
}

// entries reads a non-empty array of entries, each {"Term":…,"Type":…,"Command":…} in that
// order, as Encode writes them.
func (p *scan) entries() ([]raft.Entry, bool) {
	if !p.lit("[") {
		return nil, false
	}
	var es []raft.Entry
	for {
		var e raft.Entry
		if !p.lit(`{"Term":`) {
			return nil, false
		}
		t, ok := p.uint(maxU64)
		if !ok || !p.lit(`,"Type":`) {
			return nil, false
		}
		e.Term = t
		ty, ok := p.uint(255)
		if !ok || !p.lit(`,"Command":`) {
			return nil, false
		}
		e.Type = raft.EntryType(ty)
		switch {
		case p.lit("null"):
		case p.lit(`"`):
			s, ok := p.plainBytes()
			if !ok {
				return nil, false
			}
			e.Command = make([]byte, base64.StdEncoding.DecodedLen(len(s)))
			n, err := base64.StdEncoding.Decode(e.Command, s)
			if err != nil {
				return nil, false
			}
			e.Command = e.Command[:n]
		default:
			return nil, false
		}
		if !p.lit("}") {
			return nil, false
		}
		es = append(es, e)
		if p.lit(",") {
			continue
		}
		if !p.lit("]") {
			return nil, false
		}
		return es, true
	}
}
