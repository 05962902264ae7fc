package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ethereum/go-ethereum/rpc"
	"github.com/urfave/cli/v2"

	"github.com/quern-chain/quern/node"
)

func TestNodeCommandErrors(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"node"}, "no network selected: pass --dev for the devnet or --genesis FILE"},
		{[]string{"node", "--genesis", "/nonexistent/genesis.json", "--mine"}, "--mine needs --miner.address"},
		{[]string{"node", "--dev", "--log.level", "loud"}, "unknown log level"},
		{[]string{"node", "--dev", "extra"}, "unexpected argument"},
	} {
		var stdout, stderr bytes.Buffer
		args := append([]string{"quern"}, tc.args...)
		args = append(args[:2], append([]string{"--datadir", t.TempDir()}, args[2:]...)...)
		if code := run(context.Background(), args, nil, &stdout, &stderr); code != 1 {
			t.Errorf("%v: exit %d, want 1", tc.args, code)
		}
		if !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: stderr %q, want %q", tc.args, stderr.String(), tc.want)
		}
	}
}

var rpcLine = regexp.MustCompile(`rpc=(http://127\.0\.0\.1:[0-9]+)`)

// TestNodeCommand runs `quern node --dev --mine` in process, finds its RPC
// port in the log as a script would, queries it, and stops it by cancelling
// the context as SIGINT does in main.
func TestNodeCommand(t *testing.T) {
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout bytes.Buffer
	stderr := &syncBuffer{}
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"quern", "node", "--dev", "--mine", "--datadir", dir,
			"--rpc.addr", "127.0.0.1:0", "--p2p.listen", "/ip4/127.0.0.1/tcp/0,/ip4/127.0.0.1/udp/0/quic-v1"}, nil, &stdout, stderr)
	}()

	var url string
	deadline := time.Now().Add(30 * time.Second)
	for url == "" {
		select {
		case code := <-done:
			t.Fatalf("node exited early with %d:\n%s", code, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no rpc= line in the log:\n%s", stderr)
		}
		if m := rpcLine.FindStringSubmatch(stderr.String()); m != nil {
			url = m[1]
		}
		time.Sleep(20 * time.Millisecond)
	}

	c, err := rpc.Dial(url)
	if err != nil {
		t.Fatal(err)
	}
	info, err := node.Quern.NodeInfo.Call(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	if !info.Mining || info.Network != "dev" || len(info.Addrs) < 2 || !strings.Contains(info.Addrs[0], "/p2p/") {
		t.Fatalf("nodeInfo %+v", info)
	}
	log := stderr.String()
	for _, want := range []string{"INSECURE", "genesis=0x", "coinbase=0x", "p2p=/ip4/127.0.0.1/"} {
		if !strings.Contains(log, want) {
			t.Errorf("start log lacks %q:\n%s", want, log)
		}
	}

	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Fatalf("exit %d after shutdown:\n%s", code, stderr)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("node did not stop within 30 s of the shutdown signal")
	}
	if !strings.Contains(stderr.String(), "quern node stopped") {
		t.Fatalf("no clean stop in the log:\n%s", stderr)
	}
}

// TestNodeConfigLayers: defaults < --config file < flags given.
func TestNodeConfigLayers(t *testing.T) {
	file := filepath.Join(t.TempDir(), "quern.toml")
	os.WriteFile(file, []byte("mine = true\ncompute = \"cpu\"\n[rpc]\naddr = \"127.0.0.1:9000\"\n[p2p]\nlisten = [\"/ip4/127.0.0.1/tcp/4001\"]\n"), 0o644)
	var got node.Config
	app := &cli.App{Commands: []*cli.Command{{
		Name: "node", Flags: nodeCommand.Flags,
		Action: func(c *cli.Context) (err error) { got, err = nodeConfig(c); return err },
	}}}
	if err := app.Run([]string{"quern", "node", "--config", file, "--rpc.addr", "127.0.0.1:9001"}); err != nil {
		t.Fatal(err)
	}
	if !got.Mine || got.Compute != "cpu" || got.RPCAddr != "127.0.0.1:9001" ||
		len(got.P2PListen) != 1 || got.P2PListen[0] != "/ip4/127.0.0.1/tcp/4001" ||
		got.LogLevel != node.DefaultLogLevel || got.DataDir != node.DefaultDataDir() {
		t.Fatalf("layered config %+v", got)
	}
	os.WriteFile(file, []byte("mine = true\nbogus = 1\n"), 0o644)
	if err := app.Run([]string{"quern", "node", "--config", file}); err == nil || !strings.Contains(err.Error(), "unknown key(s) bogus") {
		t.Fatalf("unknown key: %v", err)
	}
}
