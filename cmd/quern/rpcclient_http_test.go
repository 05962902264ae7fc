package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/urfave/cli/v2"

	"github.com/quern-chain/quern/node"
)

// An HTTP refusal says what the node refused and why, not that the RPC
// address may be wrong.
func TestExplainHTTPRefusals(t *testing.T) {
	for _, tc := range []struct {
		code       int
		body, want string
	}{
		{http.StatusRequestEntityTooLarge, "request body of 40000000 bytes is over this node's limit of 33579008 bytes (the largest transaction, hex-encoded, in a JSON-RPC envelope)\n",
			"refused the request as too large (HTTP 413): request body of 40000000 bytes is over this node's limit of 33579008 bytes"},
		{http.StatusForbidden, "invalid host \"node.example\": not in this node's --rpc.vhosts\n",
			"refused the request (HTTP 403: invalid host \"node.example\": not in this node's --rpc.vhosts): use its IP address in --rpc, or start it with --rpc.vhosts naming this host"},
		{http.StatusNotFound, "nothing here", "answered HTTP 404 Not Found (is that the node's RPC address?)"},
	} {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, strings.TrimSuffix(tc.body, "\n"), tc.code)
		}))
		nc, err := dialNode(context.Background(), srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		_, err = node.Quern.BlockNumber.Call(context.Background(), nc)
		nc.Close()
		srv.Close()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("HTTP %d: %v, want %q", tc.code, err, tc.want)
		}
		if tc.code != http.StatusNotFound && strings.Contains(err.Error(), "RPC address") {
			t.Errorf("HTTP %d: %v still blames the RPC address", tc.code, err)
		}
	}
}

// --rpc.vhosts and --rpc.corsdomain layer as the other settings do.
func TestNodeRPCHostFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "quern.toml")
	os.WriteFile(file, []byte("[rpc]\nvhosts = [\"file.example\"]\ncorsdomain = [\"https://file.example\"]\n"), 0o644)
	var got node.Config
	app := &cli.App{Commands: []*cli.Command{{
		Name: "node", Flags: nodeCommand.Flags,
		Action: func(c *cli.Context) (err error) { got, err = nodeConfig(c); return err },
	}}}
	for _, tc := range []struct {
		args         []string
		vhosts, cors string
	}{
		{nil, "localhost", ""},
		{[]string{"--config", file}, "file.example", "https://file.example"},
		{[]string{"--config", file, "--rpc.vhosts", "a.example,b.example", "--rpc.corsdomain", "*"}, "a.example,b.example", "*"},
		{[]string{"--rpc.vhosts", "*"}, "*", ""},
	} {
		if err := app.Run(append([]string{"quern", "node"}, tc.args...)); err != nil {
			t.Fatal(err)
		}
		if v, c := strings.Join(got.RPCVHosts, ","), strings.Join(got.RPCCorsDomains, ","); v != tc.vhosts || c != tc.cors {
			t.Errorf("%v: vhosts %q corsdomain %q, want %q %q", tc.args, v, c, tc.vhosts, tc.cors)
		}
	}
}
