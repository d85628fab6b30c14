// Tests of the command grammar and the request encoding.

package kv

import (
	"math/rand/v2"
	"strings"
	"testing"
	"unicode"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in   string
		want Command
	}{
		{"put x 1", Put("x", "1")},
		{"  PUT   x   hello world  ", Put("x", "hello world")},
		{"append log a b", Append("log", "a b")},
		{"get x", Get("x")},
		{"Delete x", Delete("x")},
		{`put x ""`, Put("x", "")},
		{`put "a key" " padded "`, Put("a key", " padded ")},
		{`append k "tab\there"`, Append("k", "tab\there")},
		{`get "x"`, Get("x")},
		{"put x \"quoted\" and more", Command{}}, // error, checked below
		{"put héllo wörld", Put("héllo", "wörld")},
		{`put x a"b`, Put("x", `a"b`)},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.in)
		if tt.want == (Command{}) {
			if err == nil {
				t.Errorf("ParseCommand(%q) = %v; want an error", tt.in, got)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseCommand(%q) = %#v, %v; want %#v", tt.in, got, err, tt.want)
		}
	}
}

func TestParseCommandErrors(t *testing.T) {
	tests := []struct {
		in      string
		errPart string // the error must say this
	}{
		{"", "empty command"},
		{"   ", "empty command"},
		{"pt x 1", `unknown command "pt"`},
		{"put", "put needs a key"},
		{"put x", "needs a value"},
		{"append x", "append <key> <value>"},
		{"get", "get needs a key"},
		{"get x y", "get takes only a key"},
		{"delete x y", "delete <key>"},
		{`put "" 1`, "empty key"},
		{`put "unterminated 1`, "bad quoted string"},
		{`put "a"b 1`, "right after the quoted string"},
		{`put x "v" extra`, "after the quoted value"},
		{"put x a\x01b", "control character"},
		{"put k\x01 v", "control character"},
		{"put " + strings.Repeat("k", MaxKeyLen+1) + " v", "key is 257 bytes"},
		{"put k " + strings.Repeat("v", MaxValueLen+1), "value is 4097 bytes"},
		{`put "\xff" v`, "not valid UTF-8"},
		{"put k \xff", "not valid UTF-8"},
	}
	for _, tt := range tests {
		got, err := ParseCommand(tt.in)
		if err == nil {
			t.Errorf("ParseCommand(%q) = %v; want an error saying %q", tt.in, got, tt.errPart)
			continue
		}
		if !strings.Contains(err.Error(), tt.errPart) {
			t.Errorf("ParseCommand(%q) error %q; want it to say %q", tt.in, err, tt.errPart)
		}
	}
}

func TestCommandStringRoundTrip(t *testing.T) {
	cmds := []Command{
		Put("x", "1"), Put("x", "two words"), Put("x", ""), Put("x", " lead"), Put("x", "trail "),
		Put("x", `"quoted"`), Put("x", "new\nline"), Put("a b", "v"), Put(`"k`, "v"),
		Append("x", "é"), Get("x"), Delete("key with space"), Put("k", "a\u00a0b"),
	}
	for _, c := range cmds {
		s := c.String()
		got, err := ParseCommand(s)
		if err != nil || got != c {
			t.Errorf("ParseCommand(%q) (from %#v) = %#v, %v; want the same command", s, c, got, err)
		}
	}
	if s := Put("x", "hello world").String(); s != "put x hello world" {
		t.Errorf("String() = %q; want plain text when nothing needs quoting", s)
	}
}

func TestValidate(t *testing.T) {
	bad := []Command{{}, {Op: 9, Key: "x"}, Get(""), {Op: OpGet, Key: "x", Value: "v"}, Delete(strings.Repeat("k", 300))}
	for _, c := range bad {
		if err := c.Validate(); err == nil {
			t.Errorf("%#v.Validate() = nil; want an error", c)
		}
	}
}

func TestRequestEncoding(t *testing.T) {
	tests := []struct {
		r    Request
		text string
	}{
		{Request{ClientID: "c1", Seq: 7, Command: Put("x", "1")}, "c1#7 put x 1"},
		{Request{ClientID: "page:3f-a_b.c", Seq: 1, Command: Get("x")}, "page:3f-a_b.c#1 get x"},
		{Request{Command: Append("x", "a b")}, "append x a b"},
	}
	for _, tt := range tests {
		if got := string(tt.r.Encode()); got != tt.text {
			t.Errorf("%#v.Encode() = %q; want %q", tt.r, got, tt.text)
		}
		got, err := DecodeRequest([]byte(tt.text))
		if err != nil || got != tt.r {
			t.Errorf("DecodeRequest(%q) = %#v, %v; want %#v", tt.text, got, err, tt.r)
		}
	}
}

func TestDecodeRequestErrors(t *testing.T) {
	for _, in := range []string{
		"", "c1#7", "c1#7 ", "c1#x put x 1", "c1#-1 put x 1", "c1#0 put x 1", "#3 put x 1",
		"c 1#3 put x 1", "c/1#3 put x 1", strings.Repeat("c", 65) + "#1 get x", "c1#1 frobnicate x",
		"c1#1 get", "\x00\x01",
	} {
		if r, err := DecodeRequest([]byte(in)); err == nil {
			t.Errorf("DecodeRequest(%q) = %#v; want an error", in, r)
		}
	}
}

func FuzzDecodeRequest(f *testing.F) {
	for _, s := range []string{"c1#7 put x 1", "get x", `put "a b" ""`, "c#1 delete k"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := DecodeRequest(b)
		if err != nil {
			return
		}
		if err := r.Validate(); err != nil {
			t.Fatalf("DecodeRequest(%q) = %#v, which does not validate: %v", b, r, err)
		}
		again, err := DecodeRequest(r.Encode())
		if err != nil || again != r {
			t.Fatalf("DecodeRequest(Encode(%#v)) = %#v, %v; want the same request", r, again, err)
		}
	})
}

// TestIndexSpaceControl: the ASCII fast paths find what strings.IndexFunc finds with
// unicode.IsSpace and unicode.IsControl, on ASCII, Latin-1 and other text, and bad UTF-8.
func TestIndexSpaceControl(t *testing.T) {
	alphabet := []string{"a", "Z", "0", " ", "\t", "\n", "\v", "\f", "\r", "\x00", "\x1f", "\x7f", "~", "\"", "é", "\u0085", "\u00a0", "\u2028", "\u3000", "日", "\x80", "\xff", "\u200b"}
	r := rand.New(rand.NewPCG(5, 6))
	for range 20000 {
		var b strings.Builder
		for range r.IntN(8) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		s := b.String()
		if got, want := indexSpace(s), strings.IndexFunc(s, unicode.IsSpace); got != want {
			t.Fatalf("indexSpace(%q) = %d; want %d", s, got, want)
		}
		if got, want := indexControl(s), strings.IndexFunc(s, unicode.IsControl); got != want {
			t.Fatalf("indexControl(%q) = %d; want %d", s, got, want)
		}
	}
}
