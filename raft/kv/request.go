// Requests: a command with its client session, encoded as readable text in the log entry.

package kv

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// MaxClientIDLen caps a client id.
const MaxClientIDLen = 64

// Request is what goes into the log: a command and the session it belongs to. ClientID names
// the client and Seq numbers its requests from 1; a client sends request Seq+1 only after
// request Seq was answered, and retries a request with the same Seq. A Request with an empty
// ClientID (and Seq 0) is outside any session: it is applied every time it is committed.
type Request struct {
	ClientID string
	Seq      uint64
	Command  Command
}

// Validate reports what is wrong with r: a bad client id, a session without a sequence
// number (or the reverse), or a bad command.
func (r Request) Validate() error {
	if err := r.validateSession(); err != nil {
		return err
	}
	return r.Command.Validate()
}

// validateSession is Validate without the command's checks.
func (r Request) validateSession() error {
	switch {
	case r.ClientID == "" && r.Seq != 0:
		return fmt.Errorf("kv: sequence number %d without a client id", r.Seq)
	case r.ClientID != "" && r.Seq == 0:
		return fmt.Errorf("kv: client %q: sequence numbers start at 1", r.ClientID)
	}
	if r.ClientID != "" {
		if err := ValidateClientID(r.ClientID); err != nil {
			return err
		}
	}
	return nil
}

// ValidateClientID reports whether id can name a client: 1 to 64 letters, digits, and
// the characters . _ : -
func ValidateClientID(id string) error {
	if id == "" || len(id) > MaxClientIDLen {
		return fmt.Errorf("kv: client id %q: want 1 to %d characters", id, MaxClientIDLen)
	}
	for _, r := range id {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:-", r)) {
			return fmt.Errorf("kv: client id %q: %q is not a letter, digit, '.', '_', ':' or '-'", id, r)
		}
	}
	return nil
}

// String returns the request as it is stored in the log: "c1#7 put x 1", that is the client
// id, '#', the sequence number, a space and the command; or the command alone outside a
// session.
func (r Request) String() string {
	if r.ClientID == "" {
		return r.Command.String()
	}
	return r.ClientID + "#" + strconv.FormatUint(r.Seq, 10) + " " + r.Command.String()
}

// Encode returns the bytes of the log entry for r. It does not validate r; call Validate
// (or build the command with ParseCommand) first.
func (r Request) Encode() []byte { return []byte(r.String()) }

// DecodeRequest reads a log entry written by Encode, checking every part.
func DecodeRequest(b []byte) (Request, error) {
	s := string(b)
	var r Request
	head, rest, _ := strings.Cut(s, " ")
	if client, seq, ok := strings.Cut(head, "#"); ok {
		n, err := strconv.ParseUint(seq, 10, 64)
		if err != nil {
			return Request{}, fmt.Errorf("kv: request %q: bad sequence number %q", s, seq)
		}
		r.ClientID, r.Seq = client, n
		s = rest
	}
	if strings.TrimSpace(s) == "" {
		return Request{}, errors.New("kv: request without a command")
	}
	c, err := ParseCommand(s)
	if err != nil {
		return Request{}, err
	}
	r.Command = c // ParseCommand validated it
	if err := r.validateSession(); err != nil {
		return Request{}, err
	}
	return r, nil
}
