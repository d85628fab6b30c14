// Serving the lab page: the default command, with content types, precompressed assets and
// cache validation; the mixed-cluster hub (mixed.go) mounts beside it.

//go:build !js

package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"html"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path"
	"strconv"
	"strings"
	"syscall"
	"time"

	"raftlab/web"
)

// contentTypes maps the extensions of the built page to their media types.
var contentTypes = map[string]string{
	".html": "text/html; charset=utf-8",
	".js":   "text/javascript; charset=utf-8",
	".css":  "text/css; charset=utf-8",
	".wasm": "application/wasm",
	".map":  "application/json",
	".json": "application/json", // scenario.schema.json
	".svg":  "image/svg+xml",
	".png":  "image/png",
	".ico":  "image/x-icon",
}

// encodings lists the precompressed variants build.go writes, best first.
var encodings = []struct{ name, ext string }{{"br", ".br"}, {"gzip", ".gz"}}

// pageHandler serves the built page in fsys. Assets are revalidated on every load (no-cache
// with a strong ETag per variant), so a rebuilt page is picked up at once while an unchanged
// one costs a 304.
type pageHandler struct {
	fsys  fs.FS
	built bool
	etags map[string]string // file name -> quoted ETag
}

func newPageHandler(fsys fs.FS) (*pageHandler, error) {
	h := &pageHandler{fsys: fsys, built: web.Built(fsys), etags: make(map[string]string)}
	err := fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		f, err := fsys.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		sum := sha256.New()
		if _, err := io.Copy(sum, f); err != nil {
			return err
		}
		h.etags[p] = `"` + hex.EncodeToString(sum.Sum(nil)[:12]) + `"`
		return nil
	})
	return h, err
}

func (h *pageHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	name := strings.TrimPrefix(path.Clean("/"+r.URL.Path), "/")
	if name == "" {
		name = "index.html"
	}
	if !h.built {
		h.serveNotBuilt(w, r, name)
		return
	}
	ctype, ok := contentTypes[path.Ext(name)]
	if !ok || !fs.ValidPath(name) || h.etags[name] == "" {
		http.NotFound(w, r)
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("Cache-Control", "no-cache")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Add("Vary", "Accept-Encoding")
	file, etag := name, h.etags[name]
	for _, enc := range encodings {
		if t := h.etags[name+enc.ext]; t != "" && accepts(r.Header.Get("Accept-Encoding"), enc.name) {
			file, etag = name+enc.ext, t
			hd.Set("Content-Encoding", enc.name)
			break
		}
	}
	hd.Set("ETag", etag)
	f, err := h.fsys.Open(file)
	if err != nil {
		http.Error(w, "cannot open "+file, http.StatusInternalServerError)
		return
	}
	defer f.Close()
	rs, ok := f.(io.ReadSeeker)
	if !ok {
		http.Error(w, "asset is not seekable", http.StatusInternalServerError)
		return
	}
	// ServeContent answers If-None-Match with 304 and sets Content-Length.
	http.ServeContent(w, r, name, time.Time{}, rs)
}

// serveNotBuilt tells the person how to build the page instead of a blank 404.
func (h *pageHandler) serveNotBuilt(w http.ResponseWriter, r *http.Request, name string) {
	w.Header().Set("Cache-Control", "no-store")
	if name != "index.html" {
		http.Error(w, web.BuildHint, http.StatusNotFound)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(http.StatusServiceUnavailable)
	fmt.Fprintf(w, "<!doctype html><title>raftlab: page not built</title><h1>raftlab: the page is not built</h1><p>%s</p>\n", html.EscapeString(web.BuildHint))
}

// accepts reports whether an Accept-Encoding header value admits coding (q > 0).
func accepts(header, coding string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(name), coding) {
			continue
		}
		params = strings.TrimSpace(params)
		if q, ok := strings.CutPrefix(params, "q="); ok {
			v, err := strconv.ParseFloat(q, 64)
			return err == nil && v > 0
		}
		return true
	}
	return false
}

// newServeMux routes the page; other handlers (the WebSocket hub) join it here.
func newServeMux(fsys fs.FS) (*http.ServeMux, error) {
	ph, err := newPageHandler(fsys)
	if err != nil {
		return nil, fmt.Errorf("reading the embedded page: %v", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/", ph)
	return mux, nil
}

// runServe is the default command: serve the lab page until interrupted.
func runServe(args []string, stdout, stderr io.Writer) int {
	flags := flag.NewFlagSet("server", flag.ContinueOnError)
	flags.SetOutput(stderr)
	addr := flags.String("addr", "localhost:8080", "address to serve the lab page on (host:port; :8080 listens on every interface; port 0 picks a free one)")
	cluster := addClusterFlags(flags)
	flags.Usage = func() {
		fmt.Fprintln(stderr, "usage: server [flags]\n\nServes the raftlab page (built by `go run build.go`, embedded in this binary), and with\n-cluster a mixed cluster of browser and native members (see the README's Mixed clusters).\n\nflags:")
		flags.PrintDefaults()
		fmt.Fprintln(stderr)
		usage(stderr)
	}
	if code, ok := parseFlags(flags, args, "server", stderr); !ok {
		return code
	}
	if flags.NArg() > 0 {
		fmt.Fprintf(stderr, "server: unexpected argument %q (see server -h)\n", flags.Arg(0))
		return 2
	}
	mux, err := newServeMux(web.Dist())
	if err != nil {
		fmt.Fprintf(stderr, "server: %v\n", err)
		return 1
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		fmt.Fprintf(stderr, "server: %v\n", err)
		return 1
	}
	defer ln.Close()
	m, err := cluster.start(func(format string, args ...any) { fmt.Fprintf(stderr, "server: "+format+"\n", args...) }, isLoopback(ln.Addr()))
	if err != nil {
		fmt.Fprintf(stderr, "server: %v (see server -h)\n", err)
		var ue *usageError
		if errors.As(err, &ue) {
			return 2
		}
		return 1
	}
	defer m.close()
	m.mount(mux)
	if !web.Built(web.Dist()) {
		fmt.Fprintf(stderr, "server: warning: %s\n", web.BuildHint)
	}
	fmt.Fprintf(stdout, "raftlab: serving the lab on %s\n", pageURL(ln.Addr()))
	if d := m.describe(); d != "" {
		fmt.Fprintf(stdout, "raftlab: hosting %s\n", d)
	}
	if h := m.joinHint(pageURL(ln.Addr())); h != "" {
		fmt.Fprintf(stdout, "raftlab: %s\n", h)
	}
	for _, line := range m.access() {
		fmt.Fprintf(stdout, "raftlab: %s\n", line)
	}
	srv := hardenedServer(mux, "/ws")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }() // exits when srv is shut down
	select {
	case err := <-done:
		fmt.Fprintf(stderr, "server: %v\n", err)
		return 1
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return 0
}

// isLoopback reports whether a listener can be reached only from this machine.
func isLoopback(a net.Addr) bool {
	ta, ok := a.(*net.TCPAddr)
	return ok && ta.IP.IsLoopback()
}

// pageURL is the address a person opens for a listener.
func pageURL(a net.Addr) string {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return "http://" + a.String() + "/"
	}
	host := "localhost"
	if !ta.IP.IsUnspecified() && !ta.IP.IsLoopback() {
		host = ta.IP.String()
	}
	return "http://" + net.JoinHostPort(host, strconv.Itoa(ta.Port)) + "/"
}
