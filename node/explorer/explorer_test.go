package explorer

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// rpcStub stands for the JSON-RPC handler behind the explorer.
var rpcStub = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte(`{"jsonrpc":"2.0","id":1,"result":"rpc"}`))
})

func do(h http.Handler, method, path string, hdr map[string]string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, strings.NewReader(""))
	if method == http.MethodPost {
		r = httptest.NewRequest(method, path, strings.NewReader(`{"jsonrpc":"2.0","id":1,"method":"quern_blockNumber"}`))
	}
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestExplorerServesEmbeddedFiles(t *testing.T) {
	h := Mount(true, rpcStub)
	for _, tc := range []struct{ path, ctype, want string }{
		{"/explorer/", "text/html; charset=utf-8", `<script src="app.js"`},
		{"/explorer/index.html", "text/html; charset=utf-8", "<title>quern explorer</title>"},
		{"/explorer/app.js", "text/javascript; charset=utf-8", "quern_getBlockByNumber"},
		{"/explorer/style.css", "text/css; charset=utf-8", "svg.chart"},
	} {
		w := do(h, http.MethodGet, tc.path, nil)
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != tc.ctype || !strings.Contains(w.Body.String(), tc.want) {
			t.Errorf("GET %s: HTTP %d, Content-Type %q, body has %q: %v; want 200, %q",
				tc.path, w.Code, w.Header().Get("Content-Type"), tc.want, strings.Contains(w.Body.String(), tc.want), tc.ctype)
		}
		if w.Header().Get("X-Content-Type-Options") != "nosniff" || !strings.Contains(w.Header().Get("Content-Security-Policy"), "connect-src 'self'") {
			t.Errorf("GET %s: headers %v lack nosniff or the CSP", tc.path, w.Header())
		}
		// Revalidation by ETag.
		etag := w.Header().Get("ETag")
		if w2 := do(h, http.MethodGet, tc.path, map[string]string{"If-None-Match": etag}); etag == "" || w2.Code != http.StatusNotModified {
			t.Errorf("GET %s with If-None-Match %s: HTTP %d, want 304", tc.path, etag, w2.Code)
		}
	}
	// The page needs nothing from elsewhere: no absolute URLs in it (but
	// SVG's namespace name, which is never fetched).
	for name, a := range assets {
		text := strings.ReplaceAll(string(a.data), "'http://www.w3.org/2000/svg'", "")
		if strings.Contains(text, "http://") || strings.Contains(text, "https://") {
			t.Errorf("%s refers to another origin", name)
		}
	}

	for _, tc := range []struct {
		method, path string
		hdr          map[string]string
		code         int
		loc          string
	}{
		{http.MethodGet, "/explorer", nil, http.StatusMovedPermanently, "/explorer/"},
		{http.MethodGet, "/", map[string]string{"Accept": "text/html,application/xhtml+xml,*/*;q=0.8"}, http.StatusFound, "/explorer/"},
		{http.MethodHead, "/", map[string]string{"Accept": "text/html"}, http.StatusFound, "/explorer/"},
		{http.MethodGet, "/explorer/nope.js", nil, http.StatusNotFound, ""},
		{http.MethodGet, "/explorer/../go.mod", nil, http.StatusNotFound, ""},
		{http.MethodPost, "/explorer/", nil, http.StatusMethodNotAllowed, ""},
	} {
		w := do(h, tc.method, tc.path, tc.hdr)
		if w.Code != tc.code || w.Header().Get("Location") != tc.loc {
			t.Errorf("%s %s: HTTP %d Location %q, want %d %q", tc.method, tc.path, w.Code, w.Header().Get("Location"), tc.code, tc.loc)
		}
	}
	// JSON-RPC on / is untouched, and so is a GET / that is no browser's
	// (the rpc package's health check).
	for _, tc := range []struct{ method string }{{http.MethodPost}, {http.MethodGet}} {
		if w := do(h, tc.method, "/", map[string]string{"Accept": "application/json"}); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"rpc"`) {
			t.Errorf("%s / reached %d %q, want the RPC handler", tc.method, w.Code, w.Body.String())
		}
	}
}

func TestExplorerOff(t *testing.T) {
	h := Mount(false, rpcStub)
	for _, p := range []string{"/explorer/", "/explorer", "/explorer/app.js", "/explorer/style.css"} {
		w := do(h, http.MethodGet, p, nil)
		if w.Code != http.StatusNotFound || !strings.Contains(w.Body.String(), "--http.explorer") {
			t.Errorf("off: GET %s: HTTP %d %q, want 404 naming --http.explorer", p, w.Code, w.Body.String())
		}
	}
	if w := do(h, http.MethodGet, "/", map[string]string{"Accept": "text/html"}); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"rpc"`) {
		t.Errorf("off: a browser's GET / went %d %v, want the RPC handler", w.Code, w.Header())
	}
}
