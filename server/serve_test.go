// Tests of serving the page: content types, precompressed variants, cache validation, and the
// message of a server whose page was not built.

//go:build !js

package main

import (
	"bytes"
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"

	"raftlab/web"
)

func gz(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.Bytes()
}

func builtFS(t *testing.T) fstest.MapFS {
	return fstest.MapFS{
		"index.html":           {Data: []byte("<!doctype html><title>raftlab</title>")},
		"index.html.gz":        {Data: gz(t, "<!doctype html><title>raftlab</title>")},
		"app.js":               {Data: []byte("console.log(1)")},
		"app.js.br":            {Data: []byte("brotli bytes")},
		"app.js.gz":            {Data: gz(t, "console.log(1)")},
		"raftlab.wasm":         {Data: []byte("\x00asm\x01\x00\x00\x00")},
		"raftlab.wasm.gz":      {Data: gz(t, "\x00asm\x01\x00\x00\x00")},
		"app.css":              {Data: []byte("body{}")},
		"scenario.schema.json": {Data: []byte(`{"title":"raftlab scenario"}`)},
		"NOT_BUILT":            {Data: []byte("placeholder")},
	}
}

func get(t *testing.T, h http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, path, nil)
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestServePage(t *testing.T) {
	mux, err := newServeMux(builtFS(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		path, acceptEncoding string
		code                 int
		ctype, encoding      string
		body                 string
	}{
		{"/", "", 200, "text/html; charset=utf-8", "", "<!doctype html><title>raftlab</title>"},
		{"/", "gzip, deflate", 200, "text/html; charset=utf-8", "gzip", ""},
		{"/index.html", "br", 200, "text/html; charset=utf-8", "", "<!doctype html><title>raftlab</title>"},
		{"/app.js", "gzip, deflate, br", 200, "text/javascript; charset=utf-8", "br", "brotli bytes"},
		{"/app.js", "br;q=0, gzip", 200, "text/javascript; charset=utf-8", "gzip", ""},
		{"/app.js", "identity", 200, "text/javascript; charset=utf-8", "", "console.log(1)"},
		{"/raftlab.wasm", "gzip", 200, "application/wasm", "gzip", ""},
		{"/raftlab.wasm", "", 200, "application/wasm", "", "\x00asm\x01\x00\x00\x00"},
		{"/app.css", "gzip", 200, "text/css; charset=utf-8", "", "body{}"},
		{"/scenario.schema.json", "", 200, "application/json", "", `{"title":"raftlab scenario"}`},
		{"/missing.js", "", 404, "", "", ""},
		{"/NOT_BUILT", "", 404, "", "", ""},
		{"/app.js.gz", "", 404, "", "", ""},
		{"/go.mod", "", 404, "", "", ""},
		{"/dist/index.html", "", 404, "", "", ""},
	}
	for _, tt := range tests {
		w := get(t, mux, "GET", tt.path, map[string]string{"Accept-Encoding": tt.acceptEncoding})
		if w.Code != tt.code {
			t.Errorf("GET %s (Accept-Encoding %q): status %d; want %d", tt.path, tt.acceptEncoding, w.Code, tt.code)
			continue
		}
		if tt.code != 200 {
			continue
		}
		h := w.Header()
		if got := h.Get("Content-Type"); got != tt.ctype {
			t.Errorf("GET %s: Content-Type %q; want %q", tt.path, got, tt.ctype)
		}
		if got := h.Get("Content-Encoding"); got != tt.encoding {
			t.Errorf("GET %s (Accept-Encoding %q): Content-Encoding %q; want %q", tt.path, tt.acceptEncoding, got, tt.encoding)
		}
		if h.Get("Cache-Control") != "no-cache" || h.Get("ETag") == "" || !strings.Contains(h.Get("Vary"), "Accept-Encoding") {
			t.Errorf("GET %s: Cache-Control %q ETag %q Vary %q; want no-cache with an ETag, varying by encoding", tt.path, h.Get("Cache-Control"), h.Get("ETag"), h.Get("Vary"))
		}
		body := w.Body.Bytes()
		if tt.encoding == "gzip" {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("GET %s: gzip body: %v", tt.path, err)
			}
			body, _ = io.ReadAll(zr)
			if want, _ := builtFS(t)[strings.TrimPrefix(tt.path, "/")]; tt.path != "/" && !bytes.Equal(body, want.Data) {
				t.Errorf("GET %s gzip: body %q; want %q", tt.path, body, want.Data)
			}
		} else if tt.body != "" && string(body) != tt.body {
			t.Errorf("GET %s: body %q; want %q", tt.path, body, tt.body)
		}
	}
}

func TestServeRevalidation(t *testing.T) {
	mux, _ := newServeMux(builtFS(t))
	first := get(t, mux, "GET", "/app.js", map[string]string{"Accept-Encoding": "gzip"})
	etag := first.Header().Get("ETag")
	again := get(t, mux, "GET", "/app.js", map[string]string{"Accept-Encoding": "gzip", "If-None-Match": etag})
	if again.Code != http.StatusNotModified {
		t.Errorf("GET /app.js with If-None-Match %s: status %d; want 304", etag, again.Code)
	}
	// Another encoding is another representation: its ETag differs.
	plain := get(t, mux, "GET", "/app.js", nil)
	if plain.Header().Get("ETag") == etag {
		t.Errorf("identity and gzip variants share ETag %s", etag)
	}
	if w := get(t, mux, "POST", "/", nil); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST /: status %d; want 405", w.Code)
	}
	if w := get(t, mux, "HEAD", "/raftlab.wasm", nil); w.Code != 200 || w.Header().Get("Content-Type") != "application/wasm" {
		t.Errorf("HEAD /raftlab.wasm: status %d type %q", w.Code, w.Header().Get("Content-Type"))
	}
}

func TestServeNotBuilt(t *testing.T) {
	mux, err := newServeMux(fstest.MapFS{"NOT_BUILT": {Data: []byte("placeholder")}})
	if err != nil {
		t.Fatal(err)
	}
	w := get(t, mux, "GET", "/", nil)
	if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "go run build.go") {
		t.Errorf("GET / on an unbuilt page: %d %q; want 503 saying how to build", w.Code, w.Body.String())
	}
	w = get(t, mux, "GET", "/raftlab.wasm", nil)
	if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), web.BuildHint) {
		t.Errorf("GET /raftlab.wasm on an unbuilt page: %d %q; want 404 saying how to build", w.Code, w.Body.String())
	}
}

func TestAccepts(t *testing.T) {
	tests := []struct {
		header, coding string
		want           bool
	}{
		{"gzip, deflate, br", "br", true},
		{"gzip, deflate, br", "gzip", true},
		{"gzip;q=0", "gzip", false},
		{"gzip; q=0.5", "gzip", true},
		{"GZIP", "gzip", true},
		{"", "gzip", false},
		{"brotli", "br", false},
		{"br;q=bogus", "br", false},
	}
	for _, tt := range tests {
		if got := accepts(tt.header, tt.coding); got != tt.want {
			t.Errorf("accepts(%q, %q) = %v; want %v", tt.header, tt.coding, got, tt.want)
		}
	}
}

func TestRunServeFlags(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := runServe([]string{"-addr"}, &out, &errOut); code != 2 {
		t.Errorf("runServe(-addr) = %d; want 2", code)
	}
	if code := runServe([]string{"extra"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `unexpected argument "extra"`) {
		t.Errorf("runServe(extra) = %d, %q; want 2 and a message", code, errOut.String())
	}
	errOut.Reset()
	if code := runServe([]string{"-addr", "256.0.0.1:99999"}, &out, &errOut); code != 1 || errOut.Len() == 0 {
		t.Errorf("runServe on a bad address = %d, %q; want 1 and the error", code, errOut.String())
	}
}
