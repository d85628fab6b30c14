//go:build js

// In the browser the page's module uses encoding/json alone: its frames are few, and the fast
// paths' code would count against the page's download budget.
package wire

func decodeMsgsFast([]byte) (*Envelope, bool) { return nil, false }

func encodeMsgsFast(*Envelope) ([]byte, bool) { return nil, false }
