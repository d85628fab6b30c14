// Package kv is raftlab's key-value state machine: text commands that a person can type, the
// log entry that carries them with a client session, and the store that applies committed
// entries in order, exactly once per client request.
//
// A command is one line of text:
//
//	put <key> <value>     set key to value
//	append <key> <value>  add value to the end of key's value (an absent key counts as "")
//	get <key>             read key; reads go through the log, so they are linearizable
//	delete <key>          remove key
//
// A key is one word; a value is the rest of the line. Either may be written as a Go-quoted
// string ("two words", "", "tab\there") when it holds spaces at its ends, control characters,
// or is empty. ParseCommand rejects malformed text with an error that says what is wrong, so
// that nothing malformed reaches the log.
//
// In the log, a command travels inside a Request that names the client and its sequence
// number (see EncodeRequest). The Store remembers each client's last request and its answer,
// so that a request retried after a timeout or a leader change is applied once and answered
// from the session.
package kv

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits on a command's parts, so that a typed or received command stays small.
const (
	MaxKeyLen   = 256  // bytes
	MaxValueLen = 4096 // bytes
)

// Op is a command's operation.
type Op uint8

const (
	OpGet Op = iota + 1
	OpPut
	OpAppend
	OpDelete
)

var opNames = [...]string{OpGet: "get", OpPut: "put", OpAppend: "append", OpDelete: "delete"}

func (o Op) String() string {
	if o >= OpGet && o <= OpDelete {
		return opNames[o]
	}
	return fmt.Sprintf("Op(%d)", uint8(o))
}

// HasValue reports whether the operation takes a value (put and append).
func (o Op) HasValue() bool { return o == OpPut || o == OpAppend }

// Command is one key-value operation. Value is empty for get and delete.
type Command struct {
	Op    Op
	Key   string
	Value string
}

// Put, Append, Get and Delete build commands.
func Put(key, value string) Command    { return Command{Op: OpPut, Key: key, Value: value} }
func Append(key, value string) Command { return Command{Op: OpAppend, Key: key, Value: value} }
func Get(key string) Command           { return Command{Op: OpGet, Key: key} }
func Delete(key string) Command        { return Command{Op: OpDelete, Key: key} }

// Validate reports what is wrong with c, if anything: an unknown operation, an empty or
// oversized key, a value where none belongs, an oversized value, or text that is not UTF-8.
func (c Command) Validate() error {
	switch {
	case c.Op < OpGet || c.Op > OpDelete:
		return fmt.Errorf("kv: unknown operation %v", c.Op)
	case c.Key == "":
		return errors.New("kv: empty key")
	case len(c.Key) > MaxKeyLen:
		return fmt.Errorf("kv: key is %d bytes; at most %d", len(c.Key), MaxKeyLen)
	case !utf8.ValidString(c.Key):
		return errors.New("kv: key is not valid UTF-8")
	case !c.Op.HasValue() && c.Value != "":
		return fmt.Errorf("kv: %s takes no value", c.Op)
	case len(c.Value) > MaxValueLen:
		return fmt.Errorf("kv: value is %d bytes; at most %d", len(c.Value), MaxValueLen)
	case !utf8.ValidString(c.Value):
		return errors.New("kv: value is not valid UTF-8")
	}
	return nil
}

// String returns the command as text that ParseCommand reads back to the same command.
// Keys and values are quoted only when they need it.
func (c Command) String() string {
	s := c.Op.String() + " " + quoteKey(c.Key)
	if c.Op.HasValue() {
		s += " " + quoteValue(c.Value)
	}
	return s
}

// usage is the grammar, shown in errors.
func usage(op Op) string {
	if op.HasValue() {
		return op.String() + " <key> <value>"
	}
	return op.String() + " <key>"
}

// ParseCommand reads one command from text (see the package documentation for the grammar).
// The operation's name is case-insensitive. The error says what is wrong and how the command
// is written.
func ParseCommand(text string) (Command, error) {
	s := strings.TrimSpace(text)
	if s == "" {
		return Command{}, errors.New("kv: empty command; want put <key> <value>, append <key> <value>, get <key> or delete <key>")
	}
	word, rest := cutWord(s)
	var op Op
	switch strings.ToLower(word) {
	case "get":
		op = OpGet
	case "put":
		op = OpPut
	case "append":
		op = OpAppend
	case "delete":
		op = OpDelete
	default:
		return Command{}, fmt.Errorf("kv: unknown command %q; want put, append, get or delete", word)
	}
	if rest == "" {
		return Command{}, fmt.Errorf("kv: %s needs a key: %s", op, usage(op))
	}
	key, rest, err := readToken(rest)
	if err != nil {
		return Command{}, fmt.Errorf("kv: %s: key: %v", op, err)
	}
	c := Command{Op: op, Key: key}
	if op.HasValue() {
		if rest == "" {
			return Command{}, fmt.Errorf("kv: %s needs a value after the key (write \"\" for an empty one): %s", op, usage(op))
		}
		if rest[0] == '"' {
			v, after, err := readToken(rest)
			if err != nil {
				return Command{}, fmt.Errorf("kv: %s: value: %v", op, err)
			}
			if after != "" {
				return Command{}, fmt.Errorf("kv: %s: unexpected %q after the quoted value", op, after)
			}
			c.Value = v
		} else {
			if indexControl(rest) >= 0 {
				return Command{}, fmt.Errorf("kv: %s: value %q holds a control character; quote it", op, rest)
			}
			c.Value = rest
		}
	} else if rest != "" {
		return Command{}, fmt.Errorf("kv: %s takes only a key, not %q: %s", op, rest, usage(op))
	}
	if err := c.Validate(); err != nil {
		return Command{}, err
	}
	return c, nil
}

// cutWord splits s (trimmed, non-empty) at its first run of white space.
func cutWord(s string) (word, rest string) {
	i := indexSpace(s)
	if i < 0 {
		return s, ""
	}
	return s[:i], strings.TrimLeftFunc(s[i:], unicode.IsSpace)
}

// indexSpace is strings.IndexFunc(s, unicode.IsSpace), without a call per byte while s is
// ASCII (every command the log holds is parsed on every member: this was a tenth of applying
// one).
func indexSpace(s string) int {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf:
			if j := strings.IndexFunc(s[i:], unicode.IsSpace); j >= 0 {
				return i + j
			}
			return -1
		case c == ' ', c >= '\t' && c <= '\r':
			return i
		}
	}
	return -1
}

// indexControl is strings.IndexFunc(s, unicode.IsControl), likewise.
func indexControl(s string) int {
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c >= utf8.RuneSelf:
			if j := strings.IndexFunc(s[i:], unicode.IsControl); j >= 0 {
				return i + j
			}
			return -1
		case c < ' ', c == 0x7f:
			return i
		}
	}
	return -1
}

// readToken reads one word or one Go-quoted string from the front of s (which starts with a
// non-space character) and returns it and what follows, with leading space removed.
func readToken(s string) (tok, rest string, err error) {
	if s[0] != '"' {
		tok, rest = cutWord(s)
		if indexControl(tok) >= 0 {
			return "", "", fmt.Errorf("%q holds a control character; quote it", tok)
		}
		return tok, rest, nil
	}
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", fmt.Errorf("bad quoted string %s: want a Go string literal such as \"two words\"", s)
	}
	tok, _ = strconv.Unquote(q)
	rest = s[len(q):]
	if rest != "" && !unicode.IsSpace(rune(rest[0])) {
		return "", "", fmt.Errorf("unexpected %q right after the quoted string %s", rest, q)
	}
	return tok, strings.TrimLeftFunc(rest, unicode.IsSpace), nil
}

// quoteKey quotes a key unless it is one plain word.
func quoteKey(k string) string {
	if k == "" || k[0] == '"' || strings.IndexFunc(k, func(r rune) bool {
		return unicode.IsSpace(r) || unicode.IsControl(r) || r == utf8.RuneError
	}) >= 0 {
		return strconv.Quote(k)
	}
	return k
}

// quoteValue quotes a value unless it reads back as itself: not empty, no quote first, no
// space at either end, no control characters.
func quoteValue(v string) string {
	if v == "" || v[0] == '"' || strings.TrimSpace(v) != v || strings.IndexFunc(v, func(r rune) bool {
		return unicode.IsControl(r) || r == utf8.RuneError
	}) >= 0 {
		return strconv.Quote(v)
	}
	return v
}
