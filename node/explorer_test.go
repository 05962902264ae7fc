package node

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// httpGet fetches url without following redirects.
func httpGet(t *testing.T, url string, accept string) (int, http.Header, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, res.Header, string(body)
}

// TestExplorerOnTheRPCServer: a --dev node serves the explorer by default,
// next to JSON-RPC; HTTPExplorer false turns it off (404); the TOML key
// [http] explorer sets it, and without it --dev decides.
func TestExplorerOnTheRPCServer(t *testing.T) {
	tn := startNode(t, "explorer", testConfig(t.TempDir()))
	url := tn.RPCEndpoint()
	for path, ctype := range map[string]string{
		"/explorer/": "text/html; charset=utf-8", "/explorer/app.js": "text/javascript; charset=utf-8",
		"/explorer/style.css": "text/css; charset=utf-8",
	} {
		if code, hdr, body := httpGet(t, url+path, ""); code != http.StatusOK || hdr.Get("Content-Type") != ctype || body == "" {
			t.Errorf("GET %s: HTTP %d, %q, %d bytes; want 200 %s", path, code, hdr.Get("Content-Type"), len(body), ctype)
		}
	}
	if code, hdr, _ := httpGet(t, url+"/", "text/html"); code != http.StatusFound || hdr.Get("Location") != "/explorer/" {
		t.Errorf("browser GET /: HTTP %d to %q, want 302 to /explorer/", code, hdr.Get("Location"))
	}
	if code, _, body := post(t, url, "", http.MethodPost, nil, blockNumberCall); code != http.StatusOK || !strings.Contains(body, `"result"`) {
		t.Errorf("JSON-RPC next to the explorer: HTTP %d %q", code, body)
	}
	// The vhost check covers the page as it covers the RPC.
	if code, _, _ := post(t, url+"/explorer/", "evil.example", http.MethodGet, nil, ""); code != http.StatusForbidden {
		t.Errorf("GET /explorer/ with Host evil.example: HTTP %d, want 403", code)
	}

	off := false
	cfg := testConfig(t.TempDir())
	cfg.HTTPExplorer = &off
	url = startNode(t, "no-explorer", cfg).RPCEndpoint()
	for _, path := range []string{"/explorer/", "/explorer/app.js", "/explorer/style.css"} {
		if code, _, body := httpGet(t, url+path, ""); code != http.StatusNotFound || !strings.Contains(body, "--http.explorer") {
			t.Errorf("explorer off: GET %s: HTTP %d %q, want 404", path, code, body)
		}
	}
	if code, hdr, _ := httpGet(t, url+"/", "text/html"); code == http.StatusFound {
		t.Errorf("explorer off: GET / redirected to %q", hdr.Get("Location"))
	}

	// Defaults and the config file.
	for _, tc := range []struct {
		dev  bool
		file string
		want bool
	}{
		{true, "", true}, {false, "", false},
		{true, "[http]\nexplorer = false\n", false}, {false, "[http]\nexplorer = true\n", true},
	} {
		cfg := DefaultConfig()
		cfg.Dev = tc.dev
		if tc.file != "" {
			if err := ApplyConfigFile(writeConfig(t, tc.file), &cfg); err != nil {
				t.Fatal(err)
			}
		}
		if !tc.dev {
			cfg.GenesisFile = "g.json"
		}
		eff, err := cfg.Effective()
		if err != nil {
			t.Fatal(err)
		}
		if eff.HTTPExplorer == nil || *eff.HTTPExplorer != tc.want || eff.explorerOn() != tc.want {
			t.Errorf("dev %v, file %q: explorer %v, want %v", tc.dev, tc.file, eff.HTTPExplorer, tc.want)
		}
		var sb strings.Builder
		if err := WriteConfigFile(&sb, eff); err != nil || !strings.Contains(sb.String(), "[http]") {
			t.Errorf("dumped config lacks [http] explorer: %v\n%s", err, sb.String())
		}
	}
}
