// Package explorer is the block explorer a node serves on its HTTP RPC
// server with --http.explorer: one page (index.html, app.js, style.css,
// embedded in the binary; no build step, no framework, nothing fetched from
// elsewhere) that reads everything it shows from the node's own JSON-RPC,
// POSTed to the same origin.
package explorer

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"net/http"
	"strings"
	"time"
)

// Path is where the page is served.
const Path = "/explorer/"

//go:embed index.html app.js style.css
var files embed.FS

// asset is one embedded file with its content type and ETag.
type asset struct {
	data  []byte
	ctype string
	etag  string
}

// assets by the path under Path ("" is the page). The content types are
// fixed here rather than read from the system's MIME table, which differs
// between machines (application/javascript, text/javascript, none).
var assets = func() map[string]asset {
	m := map[string]asset{}
	for name, ctype := range map[string]string{
		"index.html": "text/html; charset=utf-8",
		"app.js":     "text/javascript; charset=utf-8",
		"style.css":  "text/css; charset=utf-8",
	} {
		data, err := files.ReadFile(name)
		if err != nil {
			panic("explorer: embedded " + name + ": " + err.Error())
		}
		sum := sha256.Sum256(data)
		a := asset{data: data, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
		m[name] = a
		if name == "index.html" {
			m[""] = a
		}
	}
	return m
}()

// csp lets the page load only its own script and style and talk only to
// its own origin; no inline script, no frames around it.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Mount serves the explorer under Path when on, and answers a browser's
// GET / (one that accepts text/html) with a redirect there; everything
// else, the JSON-RPC POSTs to / included, goes to next. When off, Path and
// what is under it are 404 (the rpc package would answer a GET there 200,
// empty, as its health check).
func Mount(on bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		switch {
		case p == "/explorer" || strings.HasPrefix(p, Path):
			if !on {
				http.Error(w, "404 page not found: the explorer is off on this node (start it with --http.explorer)", http.StatusNotFound)
				return
			}
			serve(w, r)
		case on && p == "/" && r.URL.RawQuery == "" && (r.Method == http.MethodGet || r.Method == http.MethodHead) &&
			strings.Contains(r.Header.Get("Accept"), "text/html"):
			http.Redirect(w, r, Path, http.StatusFound)
		default:
			next.ServeHTTP(w, r)
		}
	})
}

func serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/explorer" {
		http.Redirect(w, r, Path, http.StatusMovedPermanently)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "405 method not allowed: the explorer's files are read with GET", http.StatusMethodNotAllowed)
		return
	}
	a, ok := assets[strings.TrimPrefix(r.URL.Path, Path)]
	if !ok {
		http.NotFound(w, r)
		return
	}
	h := w.Header()
	h.Set("Content-Type", a.ctype)
	h.Set("ETag", a.etag)
	h.Set("Cache-Control", "no-cache") // revalidate: a new binary may serve a new page
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Security-Policy", csp)
	h.Set("Referrer-Policy", "no-referrer")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(a.data))
}
