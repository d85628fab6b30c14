// Tests for the wire protocol: round trips, rejection of malformed frames, and a fuzz target
// for the decoder.
package wire

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"raftlab/raft"
	"raftlab/raft/kv"
)

func TestRoundTrip(t *testing.T) {
	frames := []*Envelope{
		{Type: TypeHello, Cluster: "demo", Kind: KindBrowser, Members: []string{"b1", "b2"}},
		{Type: TypeHello, Cluster: "demo", Kind: KindNative, Members: []string{"n3"}, Addr: ":7003"},
		{Type: TypePresence, Cluster: "demo", Presence: []Presence{{ID: "n3", Kind: KindNative, Host: "127.0.0.1:5000", Reachable: true, Addr: "[::1]:7003"}}},
		{Type: TypeWelcome, Cluster: "demo", Members: []string{"n1", "b1"}, Presence: []Presence{{ID: "n1", Kind: KindNative, Host: "server", Reachable: true}, {ID: "b1", Kind: KindBrowser}}},
		{Type: TypeWelcome, Cluster: "demo", Members: []string{"n1", "b1"}, Options: &Options{PreVote: true, CheckQuorum: true}},
		{Type: TypeWelcome, Cluster: "demo", Members: []string{"n1", "b1"}, Options: &Options{Compact: -1}},
		{Type: TypeWelcome, Cluster: "demo", Members: []string{"n1", "b1"}, Options: &Options{ElectionTimeoutMs: 1000}},
		{Type: TypeMsgs, Cluster: "demo", Msgs: []raft.Message{
			{Type: raft.MsgApp, From: "n1", To: "b1", Term: 3, PrevLogIndex: 4, PrevLogTerm: 2, Commit: 4,
				Entries: []raft.Entry{{Term: 3, Type: raft.EntryNoop}, {Term: 3, Type: raft.EntryCommand, Command: []byte("put x 1")}}},
			{Type: raft.MsgVoteReply, From: "n1", To: "b2", Term: 3, Success: true},
			{Type: raft.MsgPreVote, From: "b2", To: "n1", Term: 4, LastLogIndex: 6, LastLogTerm: 3},
			{Type: raft.MsgPreVoteReply, From: "n1", To: "b2", Term: 4, Success: true},
			{Type: raft.MsgTimeoutNow, From: "n1", To: "b2", Term: 4},
			{Type: raft.MsgSnap, From: "n1", To: "b2", Term: 4, LastLogIndex: 240, LastLogTerm: 3, Members: []string{"n1", "b1", "b2"},
				Offset: 65536, Data: []byte(`{"applied":240,"data":{"x":"1"}}`), Done: true},
			{Type: raft.MsgSnapReply, From: "b2", To: "n1", Term: 4, Index: 240, Offset: 65536},
			{Type: raft.MsgSnapReply, From: "b2", To: "n1", Term: 4, Index: 240, Success: true},
		}},
		{Type: TypeStatus, Cluster: "demo", Status: []MemberStatus{{ID: "b1", State: "leader", Term: 3, Leader: "b1", Commit: 5, Applied: 5, Last: 6}}},
		{Type: TypeSubmit, Cluster: "demo", Req: 9, Member: "b1", Command: []byte("put x 1")},
		{Type: TypeResult, Cluster: "demo", Req: 9, Member: "b1", Index: 7, Term: 3, Value: []byte("ok")},
		{Type: TypeSubmit, Cluster: "demo", Req: 10, Member: "b1", Transfer: "n2"},
		{Type: TypeResult, Cluster: "demo", Req: 10, Member: "b1", Term: 3, Transfer: "n2"},
		{Type: TypeResult, Cluster: "demo", Req: 9, Member: "b1", Code: CodeNotLeader, Error: "b1 does not lead", Leader: "n1"},
		{Type: TypeError, Code: CodeTaken, Error: "member b1 is already hosted"},
	}
	for _, f := range frames {
		b, err := Encode(f)
		if err != nil {
			t.Fatalf("Encode(%s): %v", f.Type, err)
		}
		got, err := Decode(b)
		if err != nil {
			t.Fatalf("Decode(%s) = %v", b, err)
		}
		if !reflect.DeepEqual(got, f) {
			t.Errorf("Decode(Encode(%+v)) = %+v", f, got)
		}
	}
}

func TestDecodeRejects(t *testing.T) {
	long := strings.Repeat("x", MaxIDLen+1)
	for _, tc := range []struct {
		name, frame, code, want string
	}{
		{"not json", `hello`, CodeBadFrame, "not a JSON object"},
		{"array", `[1,2]`, CodeBadFrame, "not a JSON object"},
		{"no version", `{"type":"hello"}`, CodeBadFrame, "missing protocol version"},
		{"old version", `{"v":1,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"a","To":"b","Term":1}]}`, CodeVersion, "protocol version 1 is not supported; this server speaks version 2"},
		{"future version", `{"v":3,"type":"hello","shiny":true}`, CodeVersion, "version 3 is not supported"},
		{"no type", `{"v":2}`, CodeBadFrame, "missing frame"},
		{"unknown type", `{"v":2,"type":"gossip"}`, CodeType, `unknown frame type "gossip"`},
		{"unknown field", `{"v":2,"type":"msgs","cluster":"demo","extra":1}`, CodeBadFrame, "unknown field"},
		{"trailing", `{"v":2,"type":"error","code":"x","error":"y"} {}`, CodeBadFrame, "after top-level value"},
		{"hello without cluster", `{"v":2,"type":"hello","kind":"browser","members":["b1"]}`, CodeBadFrame, "missing cluster"},
		{"hello bad kind", `{"v":2,"type":"hello","cluster":"demo","kind":"toaster","members":["b1"]}`, CodeBadFrame, "kind"},
		{"hello no members", `{"v":2,"type":"hello","cluster":"demo","kind":"browser"}`, CodeBadFrame, "no members"},
		{"hello repeated", `{"v":2,"type":"hello","cluster":"demo","kind":"browser","members":["b1","b1"]}`, CodeBadFrame, "twice"},
		{"hello bad id", `{"v":2,"type":"hello","cluster":"demo","kind":"browser","members":["b 1"]}`, CodeBadFrame, "use letters"},
		{"hello long id", `{"v":2,"type":"hello","cluster":"demo","kind":"browser","members":["` + long + `"]}`, CodeBadFrame, "bytes long"},
		{"msgs empty", `{"v":2,"type":"msgs","cluster":"demo","msgs":[]}`, CodeBadFrame, "no messages"},
		{"msg bad type", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":42,"From":"a","To":"b","Term":1}]}`, CodeBadFrame, "unknown message type 42"},
		{"msg no from", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":1,"To":"b","Term":1}]}`, CodeBadFrame, "missing message From"},
		{"msg to self", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":1,"From":"a","To":"a","Term":1}]}`, CodeBadFrame, "to itself"},
		{"msg no term", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":1,"From":"a","To":"b"}]}`, CodeBadFrame, "without a term"},
		{"msg entry newer term", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"a","To":"b","Term":1,"Entries":[{"Term":2,"Type":1}]}]}`, CodeBadFrame, "entry 0 has term 2"},
		{"vote with entries", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":1,"From":"a","To":"b","Term":1,"Entries":[{"Term":1,"Type":1}]}]}`, CodeBadFrame, "carries entries"},
		{"msg bad entry type", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"a","To":"b","Term":1,"Entries":[{"Term":1,"Type":7}]}]}`, CodeBadFrame, "unknown type 7"},
		{"msg negative", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"a","To":"b","Term":-1}]}`, CodeBadFrame, "msgs frame"},
		{"snap type past the last", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":10,"From":"a","To":"b","Term":1}]}`, CodeBadFrame, "unknown message type 10"},
		{"snap without members", `{"v":2,"type":"msgs","cluster":"demo","msgs":[` + snapMsg(`"Data":"eA=="`) + `]}`, CodeBadFrame, "without the snapshot's members"},
		{"snap bad member", `{"v":2,"type":"msgs","cluster":"demo","msgs":[` + snapMsg(`"Members":["a","b,c"]`) + `]}`, CodeBadFrame, `"b,c": use letters`},
		{"snap repeated member", `{"v":2,"type":"msgs","cluster":"demo","msgs":[` + snapMsg(`"Members":["a","a"]`) + `]}`, CodeBadFrame, "listed twice"},
		{"snap too many members", `{"v":2,"type":"msgs","cluster":"demo","msgs":[` + snapMsg(`"Members":[`+manyIDs(MaxMembers+1)+`]`) + `]}`, CodeBadFrame, "at most 64"},
		{"snap no index", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":8,"From":"a","To":"b","Term":1,"LastLogTerm":1,"Members":["a","b"]}]}`, CodeBadFrame, "InstallSnapshot of index 0"},
		{"snap newer term", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":8,"From":"a","To":"b","Term":1,"LastLogIndex":5,"LastLogTerm":2,"Members":["a","b"]}]}`, CodeBadFrame, "term at most the message's"},
		{"snap bad base64", `{"v":2,"type":"msgs","cluster":"demo","msgs":[` + snapMsg(`"Members":["a","b"],"Data":"%%%"`) + `]}`, CodeBadFrame, "msgs frame"},
		{"snap chunk too big", `{"v":2,"type":"msgs","cluster":"demo","msgs":[` + snapMsg(`"Members":["a","b"],"Data":"`+bigData(MaxSnapshotChunk+1)+`"`) + `]}`, CodeBadFrame, "at most 1048576"},
		{"snap past the limit", `{"v":2,"type":"msgs","cluster":"demo","msgs":[` + snapMsg(`"Members":["a","b"],"Offset":268435455,"Data":"eHg="`) + `]}`, CodeBadFrame, "reaches past"},
		{"snap offset overflow", `{"v":2,"type":"msgs","cluster":"demo","msgs":[` + snapMsg(`"Members":["a","b"],"Offset":18446744073709551615,"Data":"eHg="`) + `]}`, CodeBadFrame, "reaches past"},
		{"snap reply past the limit", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":9,"From":"a","To":"b","Term":1,"Index":4,"Offset":268435457}]}`, CodeBadFrame, "past the"},
		{"append with snap data", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"a","To":"b","Term":1,"Data":"eA=="}]}`, CodeBadFrame, "carries snapshot members, data or done"},
		{"vote with members", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":1,"From":"a","To":"b","Term":1,"Members":["a"]}]}`, CodeBadFrame, "carries snapshot members"},
		{"reply with done", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":9,"From":"a","To":"b","Term":1,"Done":true}]}`, CodeBadFrame, "carries snapshot members, data or done"},
		{"append with offset", `{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"a","To":"b","Term":1,"Offset":3}]}`, CodeBadFrame, "carries a snapshot offset"},
		{"election timeout too short", `{"v":2,"type":"welcome","cluster":"demo","members":["n1"],"options":{"electionTimeoutMs":50}}`, CodeBadFrame, "election timeout of 50 ms"},
		{"election timeout too long", `{"v":2,"type":"welcome","cluster":"demo","members":["n1"],"options":{"electionTimeoutMs":600000}}`, CodeBadFrame, "outside 100 to 60000 ms"},
		{"welcome bad compact", `{"v":2,"type":"welcome","cluster":"demo","members":["a"],"options":{"compact":-2}}`, CodeBadFrame, "compaction threshold -2"},
		{"status bad state", `{"v":2,"type":"status","cluster":"demo","status":[{"id":"b1","state":"king","term":1,"commit":0,"applied":0,"last":0}]}`, CodeBadFrame, "unknown state"},
		{"status applied past commit", `{"v":2,"type":"status","cluster":"demo","status":[{"id":"b1","state":"leader","term":1,"commit":1,"applied":2,"last":2}]}`, CodeBadFrame, "applied ≤ commit"},
		{"submit no req", `{"v":2,"type":"submit","cluster":"demo","member":"b1"}`, CodeBadFrame, "missing req"},
		{"result neither", `{"v":2,"type":"result","cluster":"demo","req":1,"member":"b1"}`, CodeBadFrame, "needs index and term"},
		{"submit transfer bad id", `{"v":2,"type":"submit","cluster":"demo","req":1,"member":"b1","transfer":"n 2"}`, CodeBadFrame, "submit transfer"},
		{"submit transfer and command", `{"v":2,"type":"submit","cluster":"demo","req":1,"member":"b1","transfer":"n2","command":"cHV0IHggMQ=="}`, CodeBadFrame, "one at a time"},
		{"submit transfer and change", `{"v":2,"type":"submit","cluster":"demo","req":1,"member":"b1","transfer":"n2","change":"add n4"}`, CodeBadFrame, "one at a time"},
		{"result transfer without term", `{"v":2,"type":"result","cluster":"demo","req":1,"member":"b1","transfer":"n2"}`, CodeBadFrame, "a transfer's, term"},
		{"error empty", `{"v":2,"type":"error"}`, CodeBadFrame, "missing code"},
		{"browser hello with addr", `{"v":2,"type":"hello","cluster":"demo","kind":"browser","members":["b1"],"addr":"127.0.0.1:7001"}`, CodeBadFrame, "a browser host has no direct-link address"},
		{"hello addr without port", `{"v":2,"type":"hello","cluster":"demo","kind":"native","members":["n1"],"addr":"127.0.0.1"}`, CodeBadFrame, "want host:port"},
		{"hello addr port 0", `{"v":2,"type":"hello","cluster":"demo","kind":"native","members":["n1"],"addr":"127.0.0.1:0"}`, CodeBadFrame, "port from 1 to 65535"},
		{"hello addr bad host", `{"v":2,"type":"hello","cluster":"demo","kind":"native","members":["n1"],"addr":"a b:7001"}`, CodeBadFrame, "in the host"},
		{"presence bad addr", `{"v":2,"type":"presence","cluster":"demo","presence":[{"id":"n1","kind":"native","reachable":true,"addr":"x:99999"}]}`, CodeBadFrame, "presence of n1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Decode([]byte(tc.frame))
			var we *Error
			if !errors.As(err, &we) {
				t.Fatalf("Decode(%s) = %v; want a *wire.Error", tc.frame, err)
			}
			if we.Code != tc.code || !strings.Contains(we.Msg, tc.want) {
				t.Errorf("Decode(%s) = %v; want code %q and text containing %q", tc.frame, err, tc.code, tc.want)
			}
		})
	}
}

// snapMsg is an InstallSnapshot chunk from a to b with extra fields.
func snapMsg(extra string) string {
	return `{"Type":8,"From":"a","To":"b","Term":2,"LastLogIndex":5,"LastLogTerm":1,` + extra + `}`
}

func manyIDs(n int) string {
	var ids []string
	for i := range n {
		ids = append(ids, fmt.Sprintf(`"m%d"`, i))
	}
	return strings.Join(ids, ",")
}

// bigData is n bytes in base64.
func bigData(n int) string { return base64.StdEncoding.EncodeToString(make([]byte, n)) }

func TestErrorFrame(t *testing.T) {
	f := ErrorFrame(errors.New(strings.Repeat("e", 5000)))
	if f.Code != CodeBadFrame || len(f.Error) != MaxErrorLen {
		t.Errorf("ErrorFrame(long plain error) = code %q, %d bytes; want %q, %d", f.Code, len(f.Error), CodeBadFrame, MaxErrorLen)
	}
	if err := f.Validate(); err != nil {
		t.Errorf("ErrorFrame: invalid frame: %v", err)
	}
}

// FuzzDecode checks that Decode never panics, and that what it accepts encodes back to a frame
// it accepts again, unchanged.
func FuzzDecode(f *testing.F) {
	f.Add([]byte(`{"v":2,"type":"hello","cluster":"demo","kind":"browser","members":["b1","b2"]}`))
	f.Add([]byte(`{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":3,"From":"n1","To":"b1","Term":3,"PrevLogIndex":4,"PrevLogTerm":2,"Entries":[{"Term":3,"Type":0,"Command":"cHV0IHggMQ=="}],"Commit":4}]}`))
	f.Add([]byte(`{"v":2,"type":"status","cluster":"demo","status":[{"id":"b1","state":"leader","term":3,"commit":5,"applied":5,"last":6}]}`))
	f.Add([]byte(`{"v":2,"type":"result","cluster":"demo","req":9,"member":"b1","code":"not-leader","error":"no","leader":"n1"}`))
	f.Add([]byte(`{"v":3}`))
	f.Add([]byte(`{"v":2,"type":"msgs","cluster":"demo","msgs":[{"Type":8,"From":"n1","To":"b1","Term":3,"LastLogIndex":9,"LastLogTerm":2,"Members":["n1","b1"],"Offset":4,"Data":"eHl6","Done":true}]}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Decode(b)
		if err != nil {
			var we *Error
			if !errors.As(err, &we) || we.Code == "" || we.Msg == "" {
				t.Fatalf("Decode(%q) = %v; want a *wire.Error with code and text", b, err)
			}
			return
		}
		out, err := Encode(e)
		if err != nil {
			t.Fatalf("Encode(Decode(%q)): %v", b, err)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(%q))) = %v", b, err)
		}
		if !reflect.DeepEqual(normalize(e), normalize(again)) {
			t.Fatalf("round trip changed the frame:\n%+v\n%+v", e, again)
		}
	})
}

// normalize maps empty slices to nil: omitempty drops them, so both decode alike.
func normalize(e *Envelope) *Envelope {
	c := *e
	c.Msgs = nil
	for _, m := range e.Msgs {
		if len(m.Entries) == 0 {
			m.Entries = nil
		}
		if len(m.Members) == 0 {
			m.Members = nil
		}
		if len(m.Data) == 0 {
			m.Data = nil
		}
		for i := range m.Entries {
			if len(m.Entries[i].Command) == 0 {
				m.Entries[i].Command = nil
			}
		}
		c.Msgs = append(c.Msgs, m)
	}
	if len(c.Members) == 0 {
		c.Members = nil
	}
	if len(c.Status) == 0 {
		c.Status = nil
	}
	if len(c.Presence) == 0 {
		c.Presence = nil
	}
	if len(c.Command) == 0 {
		c.Command = nil
	}
	if len(c.Value) == 0 {
		c.Value = nil
	}
	return &c
}

func TestOptionsApply(t *testing.T) {
	for _, tc := range []struct {
		o    *Options
		want raft.Config
	}{
		{nil, raft.Config{CompactThreshold: DefaultCompact}},
		{&Options{}, raft.Config{CompactThreshold: DefaultCompact}},
		{&Options{PreVote: true, Compact: -1}, raft.Config{PreVote: true}},
		{&Options{CheckQuorum: true, Compact: 20}, raft.Config{CheckQuorum: true, CompactThreshold: 20}},
		// The election timeout runs from ElectionTimeoutMs to twice it; 0 leaves the core's default.
		{&Options{ElectionTimeoutMs: 1000}, raft.Config{CompactThreshold: DefaultCompact, ElectionTimeoutMin: time.Second, ElectionTimeoutMax: 2 * time.Second}},
	} {
		c := raft.Config{ID: "n1", PreVote: true, CheckQuorum: true, CompactThreshold: 7}
		tc.o.Apply(&c)
		if c.PreVote != tc.want.PreVote || c.CheckQuorum != tc.want.CheckQuorum || c.CompactThreshold != tc.want.CompactThreshold || c.ID != "n1" {
			t.Errorf("%+v.Apply: pre-vote %t, check quorum %t, threshold %d; want %t, %t, %d", tc.o, c.PreVote, c.CheckQuorum, c.CompactThreshold,
				tc.want.PreVote, tc.want.CheckQuorum, tc.want.CompactThreshold)
		}
		if c.ElectionTimeoutMin != tc.want.ElectionTimeoutMin || c.ElectionTimeoutMax != tc.want.ElectionTimeoutMax {
			t.Errorf("%+v.Apply: election timeout %v–%v; want %v–%v", tc.o, c.ElectionTimeoutMin, c.ElectionTimeoutMax, tc.want.ElectionTimeoutMin, tc.want.ElectionTimeoutMax)
		}
	}
}

func TestCheckAPIAddr(t *testing.T) {
	for _, a := range []string{"127.0.0.1:8081", "localhost:1", ":8081", "[::1]:65535", "node-2.example.org:80"} {
		if err := CheckAPIAddr(a); err != nil {
			t.Errorf("%q: %v", a, err)
		}
	}
	for _, a := range []string{"", "localhost", "localhost:0", "localhost:65536", "localhost:http", "::1:80", "a b:80", "a/b:80", "x:1" + strings.Repeat("0", 200)} {
		if err := CheckAPIAddr(a); err == nil {
			t.Errorf("%q: no error", a)
		}
	}
}

// TestKVValue: KVValue writes what encoding/json writes for the KVAnswer.
func TestKVValue(t *testing.T) {
	for _, o := range []kv.Outcome{
		{Kind: kv.Applied},
		{Kind: kv.Applied, Result: kv.Result{Value: "1", Found: true}},
		{Kind: kv.Duplicate, Result: kv.Result{Value: "a\"<b>\n\xff", Found: true}},
		{Kind: kv.Invalid, Err: errors.New("kv: bad \"command\"")},
		{Kind: kv.Noop},
	} {
		a := KVAnswer{Outcome: o.Kind.String(), Value: o.Result.Value, Found: o.Result.Found}
		if o.Err != nil {
			a.Error = o.Err.Error()
		}
		want, _ := json.Marshal(a)
		if got := KVValue(o); string(got) != string(want) {
			t.Errorf("KVValue(%+v) = %s; want %s", o, got, want)
		}
	}
}
