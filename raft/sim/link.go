// Share links: a run as a URL-safe string (deflated JSON in base64url), and back.

// The lab page's module is built with the raftlabpage tag, which leaves this file out: the
// page deflates links in the browser (CompressionStream), and compress/flate's package
// initialization alone costs the module 12 KB of its gzip budget.

//go:build !raftlabpage

package sim

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Encode returns the run as a URL-safe string (deflated JSON in base64url).
func (r *Run) Encode() string {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	json.NewEncoder(w).Encode(r)
	w.Close()
	return base64.RawURLEncoding.EncodeToString(buf.Bytes())
}

// maxRunJSON bounds what a link may inflate to.
const maxRunJSON = 4 << 20

// DecodeRun parses what Encode wrote; a damaged or foreign string is an error, never a panic.
func DecodeRun(s string) (*Run, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, fmt.Errorf("run: not a raftlab run link (%v)", err)
	}
	js, err := io.ReadAll(io.LimitReader(flate.NewReader(bytes.NewReader(b)), maxRunJSON+1))
	if err != nil {
		return nil, fmt.Errorf("run: damaged link (%v)", err)
	}
	if len(js) > maxRunJSON {
		return nil, errors.New("run: link too large")
	}
	var r Run
	dec := json.NewDecoder(bytes.NewReader(js))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("run: damaged link (%v)", err)
	}
	if err := r.Validate(); err != nil {
		return nil, err
	}
	return &r, nil
}
