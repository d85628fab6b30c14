//go:build !js

// Fast paths for encoding msgs frames, and decoding them exactly as Encode writes them: encoding/json's
// reflection costs ~1.5 µs per log entry, which dominated the hub's CPU under load. Anything
// the fast path does not recognise (whitespace, escapes, other key spellings or orders of the
// envelope) goes to the general decoder, which stays the reference; a fuzz target checks that
// the two agree on every frame the fast path accepts.
package wire

import (
	"bytes"
	"encoding/base64"
	"slices"
	"strconv"

	"raftlab/raft"
)

var msgsPrefix = []byte(`{"v":` + strconv.Itoa(Version) + `,"type":"msgs","cluster":"`)

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

// messageKeys are raft.Message's JSON keys, as encoding/json writes them, in its field order.
// TestFastPathCoversMessage fails when raft.Message gains a field that is missing here.
var messageKeys = [...]string{"Type", "From", "To", "Term", "LastLogIndex", "LastLogTerm", "PrevLogIndex",
	"PrevLogTerm", "Entries", "Commit", "Success", "Index", "ConflictTerm", "ConflictIndex",
	"Members", "Learners", "Outgoing", "Offset", "Data", "Done"}

func keyBit(k string) uint32 {
	for i, name := range messageKeys {
		if k == name {
			return 1 << i
		}
	}
	return 0
}

func (p *scan) message() (raft.Message, bool) {
	var m raft.Message
	if !p.lit("{") {
		return m, false
	}
	var seen uint32 // one bit a key, to refuse repeated keys
	for first := true; ; first = false {
		if p.lit("}") {
			return m, !first
		}
		if !first && !p.lit(",") {
			return m, false
		}
		k, ok := p.key()
		if !ok {
			return m, false
		}
		bit := keyBit(k)
		if bit == 0 || seen&bit != 0 {
			return m, false
		}
		seen |= bit
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
		case "Success", "Done":
			var v bool
			switch {
			case p.lit("true"):
				v = true
			case p.lit("false"):
			default:
				return m, false
			}
			if k == "Success" {
				m.Success = v
			} else {
				m.Done = v
			}
			continue
		case "Members", "Learners", "Outgoing":
			ms, ok := p.strings()
			if !ok {
				return m, false
			}
			switch k {
			case "Members":
				m.Members = ms
			case "Learners":
				m.Learners = ms
			default:
				m.Outgoing = ms
			}
			continue
		case "Data":
			if !p.lit(`"`) {
				return m, false
			}
			s, ok := p.plainBytes()
			if !ok {
				return m, false
			}
			d := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
			n, err := base64.StdEncoding.Decode(d, s)
			if err != nil {
				return m, false
			}
			m.Data = d[:n:n]
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
		case "Offset":
			u = &m.Offset
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

// strings reads an array of plain strings (ids).
func (p *scan) strings() ([]string, bool) {
	if !p.lit("[") {
		return nil, false
	}
	ss := []string{}
	if p.lit("]") {
		return ss, true
	}
	for {
		if !p.lit(`"`) {
			return nil, false
		}
		s, ok := p.plainString()
		if !ok {
			return nil, false
		}
		ss = append(ss, s)
		if p.lit(",") {
			continue
		}
		if !p.lit("]") {
			return nil, false
		}
		return ss, true
	}
}

// entries reads a non-empty array of entries, each {"Term":…,"Type":…,"Command":…} in that
// order, as Encode writes them.
func (p *scan) entries() ([]raft.Entry, bool) {
	if !p.lit("[") {
		return nil, false
	}
	// One allocation for the entries and one for all their commands, sized from what is left
	// of the frame (an upper bound).
	es := make([]raft.Entry, 0, min(bytes.Count(p.b[p.i:], []byte(`{"Term":`)), MaxMsgsPerFrame))
	var arena []byte
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
			need := base64.StdEncoding.DecodedLen(len(s))
			if cap(arena)-len(arena) < need {
				arena = make([]byte, 0, max(need, base64.StdEncoding.DecodedLen(len(p.b)-p.i)))
			}
			n, err := base64.StdEncoding.Decode(arena[len(arena):len(arena)+need], s)
			if err != nil {
				return nil, false
			}
			if n == 0 {
				e.Command = []byte{} // as encoding/json decodes ""
			} else {
				e.Command = arena[len(arena) : len(arena)+n : len(arena)+n]
				arena = arena[:len(arena)+n]
			}
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

// encodeMsgsFast writes a msgs frame byte for byte as json.Marshal would, without reflection.
// ok is false for anything but a plain msgs frame with strings that need no escaping.
func encodeMsgsFast(e *Envelope) ([]byte, bool) {
	if e.Type != TypeMsgs || e.Kind != "" || e.Members != nil || e.Status != nil || e.Presence != nil ||
		e.Req != 0 || e.Member != "" || e.Command != nil || e.Index != 0 || e.Term != 0 || e.Value != nil ||
		e.Leader != "" || e.Code != "" || e.Error != "" || e.Add || e.Change != "" || e.Transfer != "" || e.Token != "" || e.API != "" || e.Addr != "" || e.Options != nil || len(e.Msgs) == 0 || !plain(e.Cluster) || e.Cluster == "" {
		return nil, false
	}
	size := 64
	for i := range e.Msgs {
		m := &e.Msgs[i]
		if !plain(m.From) || !plain(m.To) {
			return nil, false
		}
		for _, id := range slices.Concat(m.Members, m.Learners, m.Outgoing) {
			if !plain(id) {
				return nil, false
			}
			size += len(id) + 3
		}
		size += 200 + base64.StdEncoding.EncodedLen(len(m.Data))
		for _, en := range m.Entries {
			size += 48 + base64.StdEncoding.EncodedLen(len(en.Command))
		}
	}
	b := make([]byte, 0, size)
	b = strconv.AppendInt(append(b, `{"v":`...), int64(e.V), 10)
	b = append(b, `,"type":"msgs","cluster":"`...)
	b = append(b, e.Cluster...)
	b = append(b, `","msgs":[`...)
	for i := range e.Msgs {
		m := &e.Msgs[i]
		if i > 0 {
			b = append(b, ',')
		}
		b = strconv.AppendUint(append(b, `{"Type":`...), uint64(m.Type), 10)
		b = append(append(append(b, `,"From":"`...), m.From...), '"')
		b = append(append(append(b, `,"To":"`...), m.To...), '"')
		b = strconv.AppendUint(append(b, `,"Term":`...), m.Term, 10)
		b = appendOmitUint(b, `,"LastLogIndex":`, m.LastLogIndex)
		b = appendOmitUint(b, `,"LastLogTerm":`, m.LastLogTerm)
		b = appendOmitUint(b, `,"PrevLogIndex":`, m.PrevLogIndex)
		b = appendOmitUint(b, `,"PrevLogTerm":`, m.PrevLogTerm)
		if len(m.Entries) > 0 {
			b = append(b, `,"Entries":[`...)
			for j, en := range m.Entries {
				if j > 0 {
					b = append(b, ',')
				}
				b = strconv.AppendUint(append(b, `{"Term":`...), en.Term, 10)
				b = strconv.AppendUint(append(b, `,"Type":`...), uint64(en.Type), 10)
				if en.Command == nil {
					b = append(b, `,"Command":null}`...)
				} else {
					b = base64.StdEncoding.AppendEncode(append(b, `,"Command":"`...), en.Command)
					b = append(b, `"}`...)
				}
			}
			b = append(b, ']')
		}
		b = appendOmitUint(b, `,"Commit":`, m.Commit)
		if m.Success {
			b = append(b, `,"Success":true`...)
		}
		b = appendOmitUint(b, `,"Index":`, m.Index)
		b = appendOmitUint(b, `,"ConflictTerm":`, m.ConflictTerm)
		b = appendOmitUint(b, `,"ConflictIndex":`, m.ConflictIndex)
		b = appendIDs(b, `,"Members":[`, m.Members)
		b = appendIDs(b, `,"Learners":[`, m.Learners)
		b = appendIDs(b, `,"Outgoing":[`, m.Outgoing)
		b = appendOmitUint(b, `,"Offset":`, m.Offset)
		if len(m.Data) > 0 {
			b = base64.StdEncoding.AppendEncode(append(b, `,"Data":"`...), m.Data)
			b = append(b, '"')
		}
		if m.Done {
			b = append(b, `,"Done":true`...)
		}
		b = append(b, '}')
	}
	return append(b, "]}"...), true
}

func appendOmitUint(b []byte, key string, v uint64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendUint(append(b, key...), v, 10)
}

// plain reports whether json.Marshal writes s as it is: printable ASCII without the characters
// it escapes.
func plain(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// appendIDs writes a list of plain ids under key, as json.Marshal would; nothing for none.
func appendIDs(b []byte, key string, ids []string) []byte {
	if len(ids) == 0 {
		return b
	}
	b = append(b, key...)
	for j, id := range ids {
		if j > 0 {
			b = append(b, ',')
		}
		b = append(append(append(b, '"'), id...), '"')
	}
	return append(b, ']')
}
